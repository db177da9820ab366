package storage_test

import (
	"context"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/driftwatch/driftwatch/storage"
)

// A staged run's next stage gets its own copy of the first stage's
// batches, not done, while the first stage's stay done; opening the stage
// again (a retried analysis) adds nothing and keeps what finished.
func TestOpenStageCopiesTheBatchesOnce(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	b := setup(t)
	run := b.newRun(t)
	require.NoError(t, b.store.AddRunBatches(ctx, run.ID, [][]string{{"a", "b"}, {"c"}}))
	for batch := range 2 {
		_, err := b.store.FinishRunBatch(ctx, run.ID, batch)
		require.NoError(t, err)
	}

	got, err := b.store.OpenStage(ctx, run.ID, 1)
	require.NoError(t, err)
	require.Equal(t, []int{storage.StageBatches, storage.StageBatches + 1}, got)
	keys, done, err := b.store.RunBatch(ctx, run.ID, got[1])
	require.NoError(t, err)
	require.Equal(t, []string{"c"}, keys)
	require.False(t, done)

	remaining, err := b.store.FinishRunBatch(ctx, run.ID, got[0])
	require.NoError(t, err)
	require.Equal(t, 1, remaining, "only the new stage's batches are open")
	again, err := b.store.OpenStage(ctx, run.ID, 1)
	require.NoError(t, err)
	require.Equal(t, got, again)
	_, done, err = b.store.RunBatch(ctx, run.ID, got[0])
	require.NoError(t, err)
	require.True(t, done, "a retried open keeps a finished batch finished")

	got2, err := b.store.OpenStage(ctx, run.ID, 2)
	require.NoError(t, err)
	require.Equal(t, []int{2 * storage.StageBatches, 2*storage.StageBatches + 1}, got2)
	_, err = b.store.OpenStage(ctx, run.ID, 0)
	require.Error(t, err)
}
