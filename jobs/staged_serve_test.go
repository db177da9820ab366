package jobs_test

import (
	"context"
	"fmt"
	"syscall"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/driftwatch/driftwatch/app"
	"github.com/driftwatch/driftwatch/drift"
	"github.com/driftwatch/driftwatch/sim"
)

// TestStagedNightsUnderServe: under serve (two nodes sharing the batches)
// the first three nights run fixed at K=5 and pool the baseline; then each
// quiet night runs in stages across batch jobs, its analysis jobs take the
// looks, and it stops early as STABLE; after a silent update the night
// reaches K through every stage and is DRIFT.
func TestStagedNightsUnderServe(t *testing.T) {
	t.Parallel()
	const cases = 200
	mixture := []sim.Component{{Weight: 0.7, P: 0.95}, {Weight: 0.3, P: 0.1}}
	worse := sim.Profile{Seed: 1, Mixture: mixture, CollapseFraction: 0.1, CollapseBy: 0.7, Drop: 0.05}
	e := setup(t, envOpts{cases: cases, k: 0, updates: []sim.Update{{Name: "silent", Profile: &worse}}})
	var logs logBuffer
	serveConfig(t, e.cfgPath, &logs, app.ServeOptions{BatchSize: 30})
	serveConfig(t, e.cfgPath, &logs, app.ServeOptions{BatchSize: 30})

	night := func(i int) (drift.Verdict, *drift.Staged, int64) {
		t.Helper()
		before := e.sim.Stats().Requests
		key := fmt.Sprintf("staged-night-%d", i)
		insertRun(t, e, key)
		run := awaitRunDone(t, e, key, 2*time.Minute)
		rep := storedReport(t, run)
		require.Equal(t, "completed", rep.Status, rep.Reason)
		require.NotNil(t, rep.Sampling)
		return drift.Verdict(rep.Verdict), rep.Sampling, e.sim.Stats().Requests - before
	}
	for i := range 3 {
		v, s, calls := night(i)
		require.Contains(t, []drift.Verdict{drift.Baseline, drift.Stable}, v)
		require.Equal(t, drift.ModeFixed, s.Mode, "nights before the pool is complete run fixed")
		require.Equal(t, int64(5*cases), calls)
	}
	const quiet = 3
	var calls int64
	stopped := 0
	for i := range quiet {
		v, s, c := night(3 + i)
		require.Equal(t, drift.Stable, v)
		require.Equal(t, drift.ModeStaged, s.Mode)
		if s.StoppedAt > 0 {
			stopped++
			require.Equal(t, int64(s.SamplesPerCase*cases), c, "a stopped night sends only its stages' samples")
		}
		calls += c
	}
	perCase := float64(calls) / float64(quiet*cases)
	t.Logf("serve: quiet staged nights %.2f calls per case over %d nights (K=5), %d stopped early", perCase, quiet, stopped)
	require.GreaterOrEqual(t, stopped, 2)
	require.Less(t, perCase, 3.0)

	_, err := e.sim.Update("sim-gpt")
	require.NoError(t, err)
	v, s, c := night(quiet + 3)
	require.Equal(t, drift.Drift, v)
	require.Zero(t, s.StoppedAt)
	require.Len(t, s.Looks, 2, "both looks went on")
	require.Equal(t, int64(5*cases), c, "a drifted night reaches K, no sample sent twice")
}

// TestStagedNightSurvivesAKilledWorkerBetweenStages: a worker killed in the
// second stage of a staged night, after its first look went on, loses
// nothing: the rescued jobs finish the stage, the recorded look is not
// taken again, every (case, sample) is stored once and the night reaches
// its verdict.
func TestStagedNightSurvivesAKilledWorkerBetweenStages(t *testing.T) {
	t.Parallel()
	const cases = 200
	mixture := []sim.Component{{Weight: 0.7, P: 0.95}, {Weight: 0.3, P: 0.1}}
	worse := sim.Profile{Seed: 1, Mixture: mixture, CollapseFraction: 0.1, CollapseBy: 0.7, Drop: 0.05}
	e := setup(t, envOpts{cases: cases, k: 0, latency: 2 * time.Millisecond, updates: []sim.Update{{Name: "silent", Profile: &worse}}})
	stop := e.startServe(t, app.ServeOptions{BatchSize: 30})
	for i := range 3 {
		key := fmt.Sprintf("pool-%d", i)
		insertRun(t, e, key)
		awaitRunDone(t, e, key, 2*time.Minute)
	}
	require.NoError(t, stop())
	_, err := e.sim.Update("sim-gpt")
	require.NoError(t, err)

	// The model answers the first stage and 40 samples of the second, then
	// waits until the kill is done.
	release := gateSimAfter(t, e, cases+40)
	defer release()
	insertRun(t, e, "staged-kill")
	// The gated batches must not time out before the kill: each failed
	// attempt would push their retry after the restart further away.
	w1 := startWorker(t, e.cfgPath, "--batch-timeout", "10m", "--rescue-after", "11m")
	var runID int64
	await(t, time.Minute, "look 1 and part of the second stage", func() bool {
		runs := keyedRuns(t, e.st, "staged-kill")
		if len(runs) == 0 {
			return false
		}
		runID = runs[0].ID
		_, looks, err := e.st.Sampling(context.Background(), runID)
		return err == nil && len(looks) == 1 && countSamples(t, e.st, runID) >= cases+40
	})
	require.NoError(t, w1.Process.Signal(syscall.SIGKILL))
	_ = w1.Wait()
	await(t, 30*time.Second, "the killed worker's statements to end", func() bool { return busySessions(t, e) == 0 })
	_, looks, err := e.st.Sampling(context.Background(), runID)
	require.NoError(t, err)
	require.Len(t, looks, 1)
	require.True(t, looks[0].Continued, looks[0].Reason)
	first := looks[0]
	served := e.sim.Stats().Served

	release()
	startWorker(t, e.cfgPath)
	run := awaitRunDone(t, e, "staged-kill", 2*time.Minute)
	rep := storedReport(t, run)
	require.Equal(t, "DRIFT", rep.Verdict, rep.Reason)
	_, looks, err = e.st.Sampling(context.Background(), runID)
	require.NoError(t, err)
	require.Len(t, looks, 2)
	require.Equal(t, first.CreatedAt, looks[0].CreatedAt, "the recorded look was not taken again")
	require.Equal(t, 5*cases, countSamples(t, e.st, runID), "every (case, sample) stored once")
	// After the restart only samples not stored at the kill were requested
	// (at most the ones in flight at the kill again).
	require.LessOrEqual(t, e.sim.Stats().Served-served, int64(5*cases-(cases+40)+64))
}
