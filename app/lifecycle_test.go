package app_test

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/driftwatch/driftwatch/sim"
	"github.com/driftwatch/driftwatch/storage/pglocal"
	"github.com/driftwatch/driftwatch/storage/storagetest"
)

// Four first runs of one suite on one target started at once: exactly one
// becomes the baseline and the other three are compared with it.
func TestConcurrentFirstRunsMakeOneBaseline(t *testing.T) {
	t.Parallel()
	e := setup(t, envOpts{cases: 40, sim: sim.Config{Seed: 3, Models: []sim.Model{{Name: "sim-gpt",
		Profile: sim.Profile{Seed: 1, Accuracy: 0.9, Deterministic: true}}}}})
	// A one-run baseline: with a pool, a stable run that finishes first
	// joins it before the others are compared.
	e.editConfig(t, func(c string) string { return c + "baseline: {runs: 1}\n" })
	reports := make([]jsonReport, 4)
	var wg sync.WaitGroup
	for i := range reports {
		wg.Go(func() {
			path := filepath.Join(e.dir, fmt.Sprintf("r%d.json", i))
			code, _, stderr := e.run(t, context.Background(), "run", "--no-progress", "--json", path)
			if !assertNoErr(t, code < 3, stderr) {
				return
			}
			reports[i] = readReport(t, path)
		})
	}
	wg.Wait()
	var baselines []int64
	for _, r := range reports {
		if r.Verdict == "BASELINE" {
			baselines = append(baselines, r.RunID)
		}
	}
	require.Len(t, baselines, 1, "verdicts: %+v", reports)
	for _, r := range reports {
		if r.RunID != baselines[0] {
			require.Equal(t, "STABLE", r.Verdict, r.Reason)
			require.Equal(t, baselines, r.BaselineRunIDs, "run %d is compared with the one baseline", r.RunID)
		}
	}
}

func assertNoErr(t *testing.T, ok bool, msg string) bool {
	t.Helper()
	if !ok {
		t.Error(msg)
	}
	return ok
}

func readReport(t *testing.T, path string) jsonReport {
	t.Helper()
	b, err := os.ReadFile(path)
	require.NoError(t, err)
	var r jsonReport
	require.NoError(t, json.Unmarshal(b, &r))
	return r
}

// PostgreSQL stopped for 10 s in the middle of `driftwatch run`: the run
// completes, no sample is lost, and no request is sent twice beyond the
// calls in flight when the database went down.
func TestRunSurvivesADatabaseOutage(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	dataDir := storagetest.ClusterDir(t)
	cluster, err := pglocal.Start(ctx, pglocal.Config{DataDir: dataDir})
	if err != nil {
		t.Skipf("no local PostgreSQL binaries to run a private cluster: %v", err)
	}
	t.Cleanup(func() { _ = cluster.Stop(context.Background()) })
	const cases, k = 150, 4
	e := setup(t, envOpts{cases: cases, dbURL: cluster.URL(), sim: sim.Config{Seed: 5, Models: []sim.Model{{Name: "sim-gpt",
		Profile: sim.Profile{Seed: 1, Accuracy: 0.9, Latency: sim.Latency{Fixed: sim.Duration(60 * time.Millisecond)}}}}}})
	type result struct {
		code           int
		stdout, stderr string
	}
	done := make(chan result, 1)
	go func() {
		code, stdout, stderr := e.run(t, ctx, "run", "--no-progress", "--samples", fmt.Sprint(k), "--json", filepath.Join(e.dir, "r.json"))
		done <- result{code, stdout, stderr}
	}()
	deadline := time.Now().Add(60 * time.Second)
	for e.sim.Stats().Served < cases*k/4 {
		require.True(t, time.Now().Before(deadline), "the run did not start sending")
		time.Sleep(20 * time.Millisecond) // polling interval
	}
	require.NoError(t, cluster.Stop(ctx))
	inFlight := e.sim.Stats().InFlight
	time.Sleep(10 * time.Second) // the outage: requests go on while the database is down
	cluster, err = pglocal.Start(ctx, pglocal.Config{DataDir: dataDir})
	require.NoError(t, err)

	var res result
	select {
	case res = <-done:
	case <-time.After(120 * time.Second):
		t.Fatal("the run did not finish after the database came back")
	}
	require.Equal(t, 0, res.code, res.stderr)
	r := readReport(t, filepath.Join(e.dir, "r.json"))
	require.Equal(t, "completed", r.Status)
	require.Equal(t, cases*k, r.Metrics.Samples, "no sample lost")
	st := e.sim.Stats()
	excess := st.Repeated(k)
	t.Logf("served %d for %d samples; in flight at the outage %d; requested twice %d", st.Served, cases*k, inFlight, excess)
	require.LessOrEqual(t, excess, inFlight, "only calls in flight at the outage may be sent again")
}

// Two projects on one database with the same suite and target names keep
// separate baselines: each one's first run is a BASELINE, and later runs
// are compared with their own project's baseline only.
func TestProjectsKeepSeparateBaselines(t *testing.T) {
	t.Parallel()
	dbURL := storagetest.NewDatabaseURL(t)
	cfg := sim.Config{Seed: 3, Models: []sim.Model{{Name: "sim-gpt", Profile: sim.Profile{Seed: 1, Accuracy: 0.9}}}}
	a := setup(t, envOpts{cases: 30, dbURL: dbURL, sim: cfg})
	b := setup(t, envOpts{cases: 30, dbURL: dbURL, sim: cfg})
	b.editConfig(t, func(c string) string { return "project: team-b\n" + c })
	run := func(e *testEnv) jsonReport {
		path := filepath.Join(e.dir, "r.json")
		code, _, stderr := e.run(t, context.Background(), "run", "--no-progress", "--json", path)
		require.Less(t, code, 3, stderr)
		return readReport(t, path)
	}
	a1, b1, a2 := run(a), run(b), run(a)
	require.Equal(t, "BASELINE", a1.Verdict, a1.Reason)
	require.Equal(t, "BASELINE", b1.Verdict, "project team-b has its own first run: %s", b1.Reason)
	require.Equal(t, []int64{a1.RunID}, a2.BaselineRunIDs, "project a compares with its own baseline")
	require.Equal(t, "team-b", b1.Project)
	require.Equal(t, filepath.Base(a.dir), a1.Project, "the default project is named after the config's folder")
}
