package storage_test

import (
	"context"
	"math"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/driftwatch/driftwatch/storage"
)

// finishedRun creates a completed run with the given verdict; with a
// sampling mode it also records the run's plan on suite content hash and,
// for stoppedAt > 0, a stop at that look.
func (b *testBundle) finishedRun(t *testing.T, verdict, mode, hash string, stoppedAt int32) int64 {
	t.Helper()
	ctx := context.Background()
	run := b.newRun(t)
	if mode != "" {
		_, err := b.store.RecordSampling(ctx, storage.RunSampling{RunID: run.ID, Mode: mode, K: 5,
			Looks: []int32{1, 2}, Bounds: []float64{0.3, 0.1}, SuiteHash: hash})
		require.NoError(t, err)
		for look := int32(1); look <= stoppedAt; look++ {
			require.NoError(t, b.store.RecordLook(ctx, storage.Look{RunID: run.ID, Look: look, SamplesPerCase: look,
				Bound: 0.3, PCMH: 0.6, PSparse: 0.7, Continued: look < stoppedAt, MDE: math.NaN()}))
		}
	}
	require.NoError(t, b.store.FinishRun(ctx, run.ID, storage.FinishRun{Status: storage.RunCompleted, Verdict: verdict,
		FinishedAt: time.Now()}))
	return run.ID
}

// A pool grows run by run up to its size and is then frozen; a grow that
// lost a race (the baseline changed meanwhile) or repeats a run is a
// conflict and changes nothing.
func TestBaselinePoolGrowsToItsSizeThenFreezes(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	b := setup(t)
	r1, r2, r3, r4 := b.newRun(t).ID, b.newRun(t).ID, b.newRun(t).ID, b.newRun(t).ID

	accepted, err := b.store.AcceptBaseline(ctx, storage.AcceptBaseline{SuiteID: b.suiteID, TargetID: b.targetID,
		RunIDs: []int64{r1}, PoolSize: 3, SuiteHash: "h1", AcceptedBy: "driftwatch"})
	require.NoError(t, err)
	first, err := b.store.ActivePool(ctx, b.suiteID, b.targetID)
	require.NoError(t, err)
	require.Equal(t, accepted, first.Baseline)
	require.Equal(t, 3, first.PoolSize)
	require.Equal(t, "h1", first.SuiteHash)
	require.False(t, first.Complete())

	grow := func(baselineID, runID int64) (storage.Pool, error) {
		return b.store.GrowBaseline(ctx, storage.GrowBaseline{SuiteID: b.suiteID, TargetID: b.targetID,
			BaselineID: baselineID, RunID: runID, AcceptedBy: "driftwatch", Note: "pooled"})
	}
	second, err := grow(first.ID, r2)
	require.NoError(t, err)
	require.Equal(t, []int64{r1, r2}, second.RunIDs)
	require.Equal(t, 3, second.PoolSize)
	require.Equal(t, "h1", second.SuiteHash)

	_, err = grow(first.ID, r3)
	require.ErrorIs(t, err, storage.ErrConflict, "the run was compared with a baseline that is no longer active")
	_, err = grow(second.ID, r2)
	require.ErrorIs(t, err, storage.ErrConflict, "already pooled")

	third, err := grow(second.ID, r3)
	require.NoError(t, err)
	require.True(t, third.Complete())
	_, err = grow(third.ID, r4)
	require.ErrorIs(t, err, storage.ErrConflict, "a complete pool is frozen")

	active, err := b.store.ActiveBaseline(ctx, b.suiteID, b.targetID)
	require.NoError(t, err)
	require.Equal(t, third.Baseline, active)

	// A plain accept (no pool size) is a complete one-run pool, as before.
	_, err = b.store.AcceptBaseline(ctx, storage.AcceptBaseline{SuiteID: b.suiteID, TargetID: b.targetID, RunIDs: []int64{r4}})
	require.NoError(t, err)
	one, err := b.store.ActivePool(ctx, b.suiteID, b.targetID)
	require.NoError(t, err)
	require.Equal(t, 1, one.PoolSize)
	require.Equal(t, "", one.SuiteHash)
	require.True(t, one.Complete())
}

// A rebuilt pool is the last N runs that were stable (or the baseline),
// reached K (a night stopped at a look has too few samples) and sampled the
// suite's current content; `baseline accept` anchors it on the accepted run
// whatever its verdict, and runs before the anchor are never pooled.
func TestRebuildBaselinePoolsTheLastStableRunsThatReachedK(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	b := setup(t)
	r1 := b.finishedRun(t, "BASELINE", storage.SamplingFixed, "h1", 0)
	r2 := b.finishedRun(t, "DRIFT", storage.SamplingFixed, "h1", 0)
	b.finishedRun(t, "STABLE", storage.SamplingStaged, "h1", 1) // stopped at look 1
	r4 := b.finishedRun(t, "STABLE", storage.SamplingStaged, "h1", 0)
	b.finishedRun(t, "STABLE", storage.SamplingFixed, "h2", 0) // other content
	r6 := b.finishedRun(t, "STABLE", storage.SamplingFixed, "h1", 0)
	b.finishedRun(t, "STABLE", "", "", 0) // no recorded plan: content unknown
	b.finishedRun(t, "INCONCLUSIVE", storage.SamplingFixed, "h1", 0)

	rebuild := func(anchor int64, size int, hash string) (storage.Pool, error) {
		return b.store.RebuildBaseline(ctx, storage.RebuildBaseline{SuiteID: b.suiteID, TargetID: b.targetID,
			SuiteHash: hash, PoolSize: size, AnchorRunID: anchor, AcceptedBy: "ana", Note: "rebuilt"})
	}
	got, err := rebuild(0, 3, "h1")
	require.NoError(t, err)
	require.Equal(t, []int64{r1, r4, r6}, got.RunIDs, "oldest first")
	require.True(t, got.Complete())
	require.Equal(t, "h1", got.SuiteHash)

	got, err = rebuild(r2, 3, "h1")
	require.NoError(t, err)
	require.Equal(t, []int64{r2, r4, r6}, got.RunIDs, "anchored on the accepted run")

	got, err = rebuild(r6, 3, "h1")
	require.NoError(t, err)
	require.Equal(t, []int64{r6}, got.RunIDs, "an accepted run starts a new pool that grows")
	require.False(t, got.Complete())

	_, err = rebuild(0, 3, "h3")
	require.ErrorIs(t, err, storage.ErrNotFound, "no run sampled this content yet")
	active, err := b.store.ActiveBaseline(ctx, b.suiteID, b.targetID)
	require.NoError(t, err)
	require.Equal(t, got.ID, active.ID, "the active baseline is left as it was")

	_, err = rebuild(424242, 3, "h1")
	require.ErrorIs(t, err, storage.ErrNotFound, "unknown anchor")
}

// A night's plan is fixed once it started: recording it again (resume) is
// a no-op, recording another K is a conflict.
func TestRecordSamplingIsFixedOnceTheNightStarted(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	b := setup(t)
	run := b.newRun(t)
	plan := storage.RunSampling{RunID: run.ID, Mode: storage.SamplingStaged, K: 5, Looks: []int32{1, 2},
		Bounds: []float64{0.3, 0.1}, SuiteHash: "h1"}
	got, err := b.store.RecordSampling(ctx, plan)
	require.NoError(t, err)
	require.Nil(t, got.StoppedAtLook)
	again, err := b.store.RecordSampling(ctx, plan)
	require.NoError(t, err)
	require.Equal(t, got, again)

	plan.K = 10
	_, err = b.store.RecordSampling(ctx, plan)
	require.ErrorIs(t, err, storage.ErrConflict)
	require.ErrorContains(t, err, "never changes")

	_, err = b.store.RecordSampling(ctx, storage.RunSampling{RunID: run.ID, Mode: "adaptive", K: 5})
	require.Error(t, err)
}

// Looks are recorded once each (a resumed night repeats its decisions); a
// look that does not continue marks where the night stopped.
func TestRecordLookMarksTheStopAndKeepsTheFirstRecord(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	b := setup(t)
	run := b.newRun(t)
	err := b.store.RecordLook(ctx, storage.Look{RunID: run.ID, Look: 1, SamplesPerCase: 1, MDE: math.NaN()})
	require.ErrorIs(t, err, storage.ErrNotFound, "a look needs a recorded plan")

	_, err = b.store.RecordSampling(ctx, storage.RunSampling{RunID: run.ID, Mode: storage.SamplingStaged, K: 5,
		Looks: []int32{1, 2}, Bounds: []float64{0.3, 0.1}})
	require.NoError(t, err)
	l1 := storage.Look{RunID: run.ID, Look: 1, SamplesPerCase: 1, Bound: 0.3, PCMH: 0.2, PSparse: 0.5, Z: -0.8,
		MDE: 0.031, Continued: true, Shifts: []string{"refusal_rate"}, Reason: "goes on"}
	l2 := storage.Look{RunID: run.ID, Look: 2, SamplesPerCase: 2, Bound: 0.1, PCMH: 0.4, PSparse: 0.6, Z: 0.3,
		MDE: math.NaN(), Reason: "no drift at the looks"}
	require.NoError(t, b.store.RecordLook(ctx, l1))
	require.NoError(t, b.store.RecordLook(ctx, l2))
	again := l2
	again.Reason = "repeated"
	require.NoError(t, b.store.RecordLook(ctx, again))

	p, looks, err := b.store.Sampling(ctx, run.ID)
	require.NoError(t, err)
	require.NotNil(t, p.StoppedAtLook)
	require.Equal(t, int32(2), *p.StoppedAtLook)
	require.Len(t, looks, 2)
	require.Equal(t, []string{"refusal_rate"}, looks[0].Shifts)
	require.InDelta(t, 0.031, looks[0].MDE, 1e-12)
	require.True(t, math.IsNaN(looks[1].MDE))
	require.Equal(t, "no drift at the looks", looks[1].Reason, "the first record stays")
	require.False(t, looks[1].Continued)

	_, _, err = b.store.Sampling(ctx, b.newRun(t).ID)
	require.ErrorIs(t, err, storage.ErrNotFound)
}

func TestSuiteHashIgnoresCaseOrderAndSeesContent(t *testing.T) {
	t.Parallel()
	a := []storage.Case{{Key: "a", ContentHash: "1"}, {Key: "b", ContentHash: "2"}}
	require.Equal(t, storage.SuiteHash(a), storage.SuiteHash([]storage.Case{a[1], a[0]}))
	require.NotEqual(t, storage.SuiteHash(a), storage.SuiteHash([]storage.Case{a[0], {Key: "b", ContentHash: "3"}}))
	require.NotEqual(t, storage.SuiteHash(a), storage.SuiteHash(a[:1]))
	require.Len(t, storage.SuiteHash(nil), 16)
}
