package app

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/driftwatch/driftwatch/drift"
	"github.com/driftwatch/driftwatch/report"
	"github.com/driftwatch/driftwatch/storage"
	"github.com/driftwatch/driftwatch/storage/storagetest"
	"github.com/driftwatch/driftwatch/web"
)

// Dashboard load: 10 (suite, target) pairs × 100 runs × 100 samples =
// 1,000 runs and 100,000 samples.
const (
	perfPairs   = 10
	perfRuns    = 100
	perfSamples = 100
)

type perfFixture struct {
	store   *storage.Store
	handler http.Handler
	runID   int64 // a run in the middle of the history
	suite   string
	target  string
}

func fillDashboard(tb testing.TB) *perfFixture {
	tb.Helper()
	ctx := context.Background()
	st := storagetest.NewStore(tb)
	f := &perfFixture{store: st}
	t0 := time.Date(2026, 1, 1, 2, 0, 0, 0, time.UTC)
	var batch []storage.Sample
	for p := range perfPairs {
		suite, target := fmt.Sprintf("suite-%d", p%5), fmt.Sprintf("target-%d", p/5)
		sid, err := st.EnsureSuite(ctx, storagetest.ProjectID(tb, st), suite)
		require.NoError(tb, err)
		tid, err := st.EnsureTarget(ctx, storagetest.ProjectID(tb, st), target, "openai", "m")
		require.NoError(tb, err)
		var base int64
		for r := range perfRuns {
			started := t0.Add(time.Duration(r) * 24 * time.Hour)
			run, err := st.CreateRun(ctx, storage.NewRun{SuiteID: sid, TargetID: tid, Trigger: storage.TriggerSchedule, SamplesPerCase: 5, StartedAt: started})
			require.NoError(tb, err)
			pass := 0.8 + 0.1*float64(r%7)/7
			rep := report.Report{Suite: suite, Target: target, RunID: run.ID, Verdict: "STABLE", Status: "completed",
				Identity: &report.Identity{ResolvedModel: fmt.Sprintf("m-%d", r/40)},
				Metrics: report.Metrics{PassRate: &report.Value{Value: pass, Baseline: ptrF(0.85), Delta: ptrF(pass - 0.85), CI: &drift.Interval{Low: pass - 0.9, High: pass - 0.8}},
					RefusalRate: &report.Value{Value: 0.01}, OutputLength: &report.Value{Value: 40}, Samples: perfSamples, Cases: 20, SamplesPerCase: 5}}
			for c := range 20 {
				rep.Cases = append(rep.Cases, report.Case{Key: fmt.Sprintf("case-%02d", c), Samples: 5, Passed: 4, Failed: 1})
			}
			rep.Findings = []drift.Finding{{Metric: "pass_rate", Scope: "suite", Baseline: 0.85, Current: pass, Effect: pass - 0.85, P: 0.3, Q: 0.6, Verdict: "STABLE", Reason: "no change"}}
			verdict, bl := "STABLE", []int64{base}
			if r == 0 {
				verdict, bl, base = "BASELINE", nil, run.ID
			}
			rep.Verdict, rep.BaselineRunIDs = verdict, bl
			sum, err := json.Marshal(rep)
			require.NoError(tb, err)
			require.NoError(tb, st.FinishRun(ctx, run.ID, storage.FinishRun{Status: storage.RunCompleted, Verdict: verdict, Summary: sum,
				BaselineRunIDs: bl, CostUSD: 0.01, FinishedAt: started.Add(time.Minute)}))
			if r == 0 {
				_, err := st.AcceptBaseline(ctx, storage.AcceptBaseline{SuiteID: sid, TargetID: tid, RunIDs: []int64{run.ID}, Note: "first"})
				require.NoError(tb, err)
			}
			for s := range perfSamples {
				score := 1.0
				ans := fmt.Sprint(s % 3)
				batch = append(batch, storage.Sample{RunID: run.ID, CaseKey: fmt.Sprintf("case-%02d", s/5), CaseHash: "h", SampleIdx: s % 5,
					Output: strings.Repeat("The answer is 42. ", 1+s%4), Outcome: storage.OutcomePassed, Passed: true, Score: &score, Answer: &ans,
					Checks: json.RawMessage(`[{"name":"regex","pass":true,"score":1}]`), LatencyMS: float64(100 + s), OutputTokens: 10})
			}
			if p == perfPairs/2 && r == perfRuns/2 {
				f.runID, f.suite, f.target = run.ID, suite, target
			}
		}
		require.NoError(tb, st.WriteSamples(ctx, batch))
		batch = batch[:0]
	}
	require.NoError(tb, st.Analyze(ctx))
	h, err := web.New(web.Options{Data: webData{st: st, project: storage.DefaultProject}})
	require.NoError(tb, err)
	f.handler = h
	return f
}

func ptrF(v float64) *float64 { return &v }

func (f *perfFixture) pages() map[string]string {
	return map[string]string{
		"overview": "/",
		"runs":     "/runs?page=3",
		"run":      fmt.Sprintf("/runs/%d", f.runID),
		"case":     fmt.Sprintf("/runs/%d/cases/case-07", f.runID),
		"trend":    "/trend?suite=" + f.suite + "&target=" + f.target,
		"alerts":   "/alerts",
		"json":     fmt.Sprintf("/runs/%d.json", f.runID),
	}
}

// BenchmarkDashboardPages renders each page against 1,000 runs and 100,000
// samples and reports the median render time per page.
func BenchmarkDashboardPages(b *testing.B) {
	f := fillDashboard(b)
	names := []string{"overview", "runs", "run", "case", "trend", "alerts", "json"}
	pages := f.pages()
	for _, name := range names {
		b.Run(name, func(b *testing.B) {
			var times []time.Duration
			for b.Loop() {
				start := time.Now()
				rec := httptest.NewRecorder()
				f.handler.ServeHTTP(rec, localRequest(http.MethodGet, pages[name], nil))
				times = append(times, time.Since(start))
				if rec.Code != http.StatusOK {
					b.Fatalf("%s: %d", name, rec.Code)
				}
			}
			slices.Sort(times)
			b.ReportMetric(float64(times[len(times)/2].Microseconds())/1000, "median-ms")
		})
	}
}

// TestDashboardQueriesUseIndexes checks the plans of the dashboard's
// selective queries on a realistically filled database: no sequential scan
// of runs or samples.
func TestDashboardQueriesUseIndexes(t *testing.T) {
	t.Parallel()
	f := fillDashboard(t)
	ctx := t.Context()
	rl, err := f.store.GetRun(ctx, f.runID)
	require.NoError(t, err)
	plans, err := f.store.ExplainDashboard(ctx, f.runID, rl.SuiteID, rl.TargetID, "case-07")
	require.NoError(t, err)
	require.NotEmpty(t, plans)
	for name, plan := range plans {
		require.NotContains(t, plan, "Seq Scan on samples", "%s:\n%s", name, plan)
		require.NotContains(t, plan, "Seq Scan on runs", "%s:\n%s", name, plan)
		t.Logf("%s:\n%s", name, plan)
	}
	// Every page answers on the full load.
	for name, path := range f.pages() {
		rec := httptest.NewRecorder()
		f.handler.ServeHTTP(rec, localRequest(http.MethodGet, path, nil))
		require.Equal(t, http.StatusOK, rec.Code, name)
	}
}
