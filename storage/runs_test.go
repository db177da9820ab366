package storage_test

import (
	"context"
	"encoding/json"
	"fmt"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/driftwatch/driftwatch/storage"
	"github.com/driftwatch/driftwatch/storage/storagetest"
)

// TestFinishRunKeepsSummary: finishing a run again without a summary (a
// confirmation run's outcome) keeps the stored report.
func TestFinishRunKeepsSummary(t *testing.T) {
	t.Parallel()
	b := setup(t)
	ctx := context.Background()
	run := b.newRun(t)
	require.NoError(t, b.store.FinishRun(ctx, run.ID, storage.FinishRun{Status: storage.RunCompleted, Verdict: "DRIFT",
		Summary: json.RawMessage(`{"run_id": 1}`)}))
	require.NoError(t, b.store.FinishRun(ctx, run.ID, storage.FinishRun{Status: storage.RunCompleted, Verdict: "STABLE", Reason: "not confirmed"}))
	got, err := b.store.GetRun(ctx, run.ID)
	require.NoError(t, err)
	require.Equal(t, "STABLE", got.Verdict)
	require.JSONEq(t, `{"run_id": 1}`, string(got.Summary))
}

// TestFailRunOnlyRunning: FailRun fails a running run and leaves a finished
// one alone.
func TestFailRunOnlyRunning(t *testing.T) {
	t.Parallel()
	b := setup(t)
	ctx := context.Background()
	running, done := b.newRun(t), b.newRun(t)
	require.NoError(t, b.store.FinishRun(ctx, done.ID, storage.FinishRun{Status: storage.RunCompleted, Verdict: "STABLE", Reason: "fine"}))
	for _, id := range []int64{running.ID, done.ID} {
		require.NoError(t, b.store.FailRun(ctx, id, "store samples: connection reset"))
	}
	got, err := b.store.GetRun(ctx, running.ID)
	require.NoError(t, err)
	require.Equal(t, storage.RunFailed, got.Status)
	require.Equal(t, "store samples: connection reset", got.Error)
	require.NotNil(t, got.FinishedAt)
	got, err = b.store.GetRun(ctx, done.ID)
	require.NoError(t, err)
	require.Equal(t, storage.RunCompleted, got.Status)
	require.Equal(t, "fine", got.VerdictReason)
	require.Empty(t, got.Error)
}

// TestRunTotals: tokens, cost and counts are summed over every stored
// sample of the run; skipped samples are not counted as samples.
func TestRunTotals(t *testing.T) {
	t.Parallel()
	b := setup(t)
	ctx := context.Background()
	run, other := b.newRun(t), b.newRun(t)
	ok := sample(run.ID, "a", 0, "fine", "")
	ok.InputTokens, ok.OutputTokens, ok.CostUSD, ok.Outcome = 10, 7, 0.25, storage.OutcomePassed
	auth := sample(run.ID, "a", 1, "", "HTTP 401: invalid api key")
	auth.ErrorKind, auth.Outcome = "auth", storage.OutcomeErrored
	auth2 := sample(run.ID, "b", 0, "", "HTTP 401: second")
	auth2.ErrorKind, auth2.Outcome = "auth", storage.OutcomeErrored
	server := sample(run.ID, "b", 1, "", "HTTP 500")
	server.ErrorKind, server.Outcome = "server", storage.OutcomeErrored
	skipped := sample(run.ID, "c", 0, "", "")
	skipped.Outcome = storage.OutcomeSkipped
	elsewhere := sample(other.ID, "a", 0, "fine", "")
	elsewhere.InputTokens, elsewhere.CostUSD = 1000, 9
	require.NoError(t, b.store.WriteSamples(ctx, []storage.Sample{ok, auth, auth2, server, skipped, elsewhere}))

	tot, err := b.store.RunTotals(ctx, run.ID)
	require.NoError(t, err)
	require.Equal(t, int64(4), tot.Samples)
	require.Equal(t, int64(3), tot.Errored)
	require.Equal(t, map[string]int64{"auth": 2, "server": 1}, tot.ErrorKinds)
	require.Equal(t, "HTTP 401: invalid api key", tot.FirstError)
	require.Equal(t, int64(10), tot.InputTokens)
	require.Equal(t, int64(7+7+7+7+7), tot.OutputTokens)
	require.InDelta(t, 0.25, tot.CostUSD, 1e-9)

	empty, err := b.store.RunTotals(ctx, b.newRun(t).ID)
	require.NoError(t, err)
	require.Zero(t, empty.Samples)
	require.Empty(t, empty.FirstError)
}

// TestDominantIdentity: a run in the middle of an identity's range (neither
// its first nor its last run) still finds the identity from its samples.
func TestDominantIdentity(t *testing.T) {
	t.Parallel()
	b := setup(t)
	ctx := context.Background()
	runs := []storage.Run{b.newRun(t), b.newRun(t), b.newRun(t)}
	for _, r := range runs {
		require.NoError(t, b.store.RecordIdentity(ctx, b.targetID, r.ID, "id1", json.RawMessage(`{"resolved_model":"m-1"}`)))
		require.NoError(t, b.store.WriteSamples(ctx, []storage.Sample{sample(r.ID, "a", 0, "x", ""), sample(r.ID, "a", 1, "x", "")}))
	}
	// One sample of the middle run came from another identity.
	require.NoError(t, b.store.RecordIdentity(ctx, b.targetID, runs[1].ID, "id2", json.RawMessage(`{"resolved_model":"m-2"}`)))
	odd := sample(runs[1].ID, "b", 0, "y", "")
	odd.IdentityHash = "id2"
	require.NoError(t, b.store.WriteSamples(ctx, []storage.Sample{odd}))

	id, err := b.store.DominantIdentity(ctx, b.targetID, []int64{runs[1].ID})
	require.NoError(t, err)
	require.Equal(t, "id1", id.IdentityHash)
	require.JSONEq(t, `{"resolved_model":"m-1"}`, string(id.Identity))

	_, err = b.store.DominantIdentity(ctx, b.targetID, []int64{424242})
	require.ErrorIs(t, err, storage.ErrNotFound)
}

// TestPassCountHistoryBeforeTheRun: the change-point history of a run is the
// completed runs of its suite on its target started before it, oldest
// first. A run resumed after later runs completed (run --resume of a
// stopped run) does not see them: its report dates changes as of its own
// place in the series, with the run last. Other suites and targets, runs
// that are not completed, confirmation runs and summaries without
// metrics.passed are left out.
func TestPassCountHistoryBeforeTheRun(t *testing.T) {
	t.Parallel()
	b := setup(t)
	ctx := context.Background()
	otherSuite, err := b.store.EnsureSuite(ctx, storagetest.ProjectID(t, b.store), "other")
	require.NoError(t, err)
	t0 := time.Now().Add(-time.Hour).UTC().Truncate(time.Second)
	trigger, verdict := storage.TriggerCLI, ""
	run := func(suiteID int64, at time.Duration, status string, summary string) int64 {
		t.Helper()
		r, err := b.store.CreateRun(ctx, storage.NewRun{SuiteID: suiteID, TargetID: b.targetID, Trigger: trigger,
			SamplesPerCase: 1, HarnessVersion: "test", StartedAt: t0.Add(at)})
		require.NoError(t, err)
		if status != "" {
			require.NoError(t, b.store.FinishRun(ctx, r.ID, storage.FinishRun{Status: status, Verdict: verdict, Summary: json.RawMessage(summary)}))
		}
		return r.ID
	}
	counts := func(passed, samples, errors int) string {
		return fmt.Sprintf(`{"metrics": {"passed": %d, "samples": %d, "error_count": %d}}`, passed, samples, errors)
	}
	first := run(b.suiteID, 0, storage.RunCompleted, counts(8, 10, 1))
	verdict = "DRIFT"
	run(otherSuite, time.Minute, storage.RunCompleted, counts(1, 10, 0))
	run(b.suiteID, 2*time.Minute, storage.RunStopped, counts(2, 5, 0))
	run(b.suiteID, 3*time.Minute, storage.RunCompleted, `{"metrics": {"samples": 10, "error_count": 0}}`)
	// A confirmation run is not another night: it is left out.
	trigger = storage.TriggerConfirm
	run(b.suiteID, 3*time.Minute+30*time.Second, storage.RunCompleted, counts(4, 10, 0))
	trigger = storage.TriggerCLI
	second := run(b.suiteID, 4*time.Minute, storage.RunCompleted, counts(9, 10, 0))
	verdict = ""
	current := run(b.suiteID, 5*time.Minute, "", "") // stopped, resumed after the next completed
	run(b.suiteID, 6*time.Minute, storage.RunCompleted, counts(3, 10, 0))

	hist, err := b.store.PassCountHistory(ctx, b.suiteID, b.targetID, current, 364)
	require.NoError(t, err)
	require.Equal(t, []storage.RunPassCount{{RunID: first, Passed: 8, Total: 9}, {RunID: second, Passed: 9, Total: 10, Verdict: "DRIFT"}}, hist, "with each run's stored verdict")

	hist, err = b.store.PassCountHistory(ctx, b.suiteID, b.targetID, current, 1)
	require.NoError(t, err)
	require.Equal(t, []storage.RunPassCount{{RunID: second, Passed: 9, Total: 10, Verdict: "DRIFT"}}, hist, "the last limit runs before it")
}

// TestPassZHistoryBeforeTheRun: the CUSUM history of a run is the pass_z of
// the completed runs compared with the same baseline and started before it,
// oldest first: runs with another baseline, DRIFT runs and runs started
// after it (a stopped run resumed later) are left out.
func TestPassZHistoryBeforeTheRun(t *testing.T) {
	t.Parallel()
	b := setup(t)
	ctx := context.Background()
	t0 := time.Now().Add(-time.Hour).UTC().Truncate(time.Second)
	base := []int64{}
	run := func(at time.Duration, verdict string, baseline []int64, z float64) int64 {
		t.Helper()
		r, err := b.store.CreateRun(ctx, storage.NewRun{SuiteID: b.suiteID, TargetID: b.targetID, Trigger: storage.TriggerCLI,
			SamplesPerCase: 1, HarnessVersion: "test", StartedAt: t0.Add(at)})
		require.NoError(t, err)
		if verdict != "" {
			require.NoError(t, b.store.FinishRun(ctx, r.ID, storage.FinishRun{Status: storage.RunCompleted, Verdict: verdict,
				BaselineRunIDs: baseline, Summary: json.RawMessage(fmt.Sprintf(`{"pass_z": %g}`, z))}))
		}
		return r.ID
	}
	baseline := run(0, "BASELINE", nil, 0)
	base = append(base, baseline)
	run(time.Minute, "STABLE", base, -1.5)
	run(2*time.Minute, "DRIFT", base, -4)
	run(3*time.Minute, "STABLE", []int64{424242}, -9) // another baseline
	run(4*time.Minute, "STABLE", base, -0.5)
	current := run(5*time.Minute, "", nil, 0)
	run(6*time.Minute, "STABLE", base, -7) // started after the current run

	z, err := b.store.PassZHistory(ctx, b.suiteID, b.targetID, base, current)
	require.NoError(t, err)
	require.Equal(t, []float64{-1.5, -0.5}, z)
}

// TestBackdateRunsMovesRunsAndTheirBaselines: a replayed night moves back
// by the given duration, with the baseline made of it; other runs stay.
func TestBackdateRunsMovesRunsAndTheirBaselines(t *testing.T) {
	t.Parallel()
	b := setup(t)
	ctx := context.Background()
	old, other := b.newRun(t), b.newRun(t)
	require.NoError(t, b.store.FinishRun(ctx, old.ID, storage.FinishRun{Status: storage.RunCompleted}))
	bl, err := b.store.AcceptBaseline(ctx, storage.AcceptBaseline{SuiteID: b.suiteID, TargetID: b.targetID, RunIDs: []int64{old.ID}, AcceptedBy: "test"})
	require.NoError(t, err)
	before, err := b.store.GetRun(ctx, old.ID)
	require.NoError(t, err)

	require.NoError(t, b.store.BackdateRuns(ctx, []int64{old.ID}, 13*24*time.Hour))
	after, err := b.store.GetRun(ctx, old.ID)
	require.NoError(t, err)
	require.Equal(t, 13*24*time.Hour, before.StartedAt.Sub(after.StartedAt))
	require.NotNil(t, after.FinishedAt)
	require.Equal(t, 13*24*time.Hour, before.FinishedAt.Sub(*after.FinishedAt))
	still, err := b.store.GetRun(ctx, other.ID)
	require.NoError(t, err)
	require.Equal(t, other.StartedAt.UTC(), still.StartedAt.UTC(), "other runs stay")
	bls, err := b.store.ListBaselines(ctx, b.suiteID, b.targetID)
	require.NoError(t, err)
	require.Len(t, bls, 1)
	require.Equal(t, 13*24*time.Hour, bl.AcceptedAt.Sub(bls[0].AcceptedAt))
}
