package jobs_test

import (
	"bytes"
	"context"
	"encoding/json"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/driftwatch/driftwatch/alert"
	"github.com/driftwatch/driftwatch/app"
	"github.com/driftwatch/driftwatch/cli"
	"github.com/driftwatch/driftwatch/report"
	"github.com/driftwatch/driftwatch/sim"
	"github.com/driftwatch/driftwatch/storage"
)

// The same suite against the same deterministic simulator, run by
// `driftwatch run`, by serve's jobs and by a separate worker process, stores
// the same reports (verdict, metrics with tokens and cost, findings, drifted
// cases, change point) and makes the same alert events: a baseline night,
// then a night after a silent update that collapses a fifth of the cases.
func TestEveryRunPathStoresTheSameReports(t *testing.T) {
	t.Parallel()
	collapse := sim.Profile{Seed: 1, Deterministic: true, Mixture: []sim.Component{{Weight: 0.7, P: 0.95}, {Weight: 0.3, P: 0.1}},
		CollapseFraction: 0.2, CollapseBy: 0.9}
	paths := map[string]func(t *testing.T, e *testEnv, night int){
		"cli": func(t *testing.T, e *testEnv, _ int) {
			var stdout, stderr bytes.Buffer
			code := cli.Main(context.Background(), []string{"run", "--config", e.cfgPath, "--no-progress"}, nil, &stdout, &stderr)
			require.Less(t, code, 3, stderr.String())
		},
		"serve": func(t *testing.T, e *testEnv, night int) {
			if night == 1 {
				e.serve(t, app.ServeOptions{BatchSize: 7})
			}
			key := []string{"", "manual@n1/arith/gpt", "manual@n2/arith/gpt"}[night]
			insertRun(t, e, key)
			awaitRunDone(t, e, key, 60*time.Second)
		},
		"worker": func(t *testing.T, e *testEnv, night int) {
			if night == 1 {
				startWorker(t, e.cfgPath)
			}
			key := []string{"", "manual@n1/arith/gpt", "manual@n2/arith/gpt"}[night]
			insertRun(t, e, key)
			awaitRunDone(t, e, key, 60*time.Second)
		},
	}
	stored := map[string][]*report.Report{}
	for name, runNight := range paths {
		e := setup(t, envOpts{cases: 80, k: 5, latency: time.Millisecond,
			deterministic: true, updates: []sim.Update{{Name: "collapse", Profile: &collapse}}})
		runNight(t, e, 1)
		_, err := e.sim.Update("sim-gpt")
		require.NoError(t, err)
		runNight(t, e, 2)
		for id := int64(1); id <= 2; id++ {
			run, err := e.st.GetRun(context.Background(), id)
			require.NoError(t, err)
			require.Equal(t, storage.RunCompleted, run.Status, "%s run %d: %s", name, id, run.VerdictReason)
			var rep report.Report
			require.NoError(t, json.Unmarshal(run.Summary, &rep))
			stored[name] = append(stored[name], &rep)
		}
	}
	cli := stored["cli"]
	require.Equal(t, "BASELINE", cli[0].Verdict)
	require.Equal(t, "DRIFT", cli[1].Verdict, cli[1].Reason)
	require.NotEmpty(t, cli[1].DriftedCases)
	require.NotNil(t, cli[1].ChangePoint)
	require.Positive(t, cli[1].Metrics.InputTokens)
	require.Positive(t, cli[1].Metrics.OutputTokens)
	now := time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)
	for _, name := range []string{"serve", "worker"} {
		for i, rep := range stored[name] {
			require.Equal(t, comparable(t, cli[i]), comparable(t, rep), "%s, night %d: the stored report differs from the CLI's", name, i+1)
			require.Equal(t, alert.Events(cli[i], now, ""), alert.Events(rep, now, ""), "%s, night %d: alert events", name, i+1)
		}
	}
}

// comparable is a report without what differs from one execution to the
// next: when it ran and how long it took.
func comparable(t *testing.T, rep *report.Report) map[string]any {
	t.Helper()
	b, err := json.Marshal(rep)
	require.NoError(t, err)
	var m map[string]any
	require.NoError(t, json.Unmarshal(b, &m))
	for _, k := range []string{"started_at", "finished_at", "wall_seconds"} {
		delete(m, k)
	}
	return m
}
