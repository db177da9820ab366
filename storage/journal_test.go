package storage_test

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/driftwatch/driftwatch/storage"
)

// journaled starts a writer of a new run under ctx, with opts and a
// journal in a fresh folder.
func journaled(t *testing.T, ctx context.Context, opts storage.SampleWriterOpts) (*testBundle, storage.Journal, *storage.SampleWriter) {
	t.Helper()
	b := setup(t)
	run := b.newRun(t)
	opts.Journal = storage.Journal{Dir: t.TempDir(), Run: run}
	return b, opts.Journal, b.store.NewSampleWriter(ctx, run.ID, opts)
}

func journalFiles(t *testing.T, dir string) []string {
	t.Helper()
	paths, err := filepath.Glob(filepath.Join(dir, "*.journal"))
	require.NoError(t, err)
	return paths
}

func storedCount(t *testing.T, b *testBundle, runID int64) int {
	t.Helper()
	done, err := b.store.DoneSamples(context.Background(), runID)
	require.NoError(t, err)
	return len(done)
}

// A writer killed before any flush kept its samples in its journal:
// ReplayJournal stores them (but a last one cut short by the kill) and
// removes the file. The journal of a run with the same id in another
// database (another start time) is not replayed.
func TestJournalReplaysTheSamplesOfAKilledWriter(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	killCtx, kill := context.WithCancel(ctx)
	// Fewer samples than a flush takes, and no flush on a timer: none is
	// stored before the kill.
	b, j, w := journaled(t, killCtx, storage.SampleWriterOpts{FlushInterval: time.Hour})
	const n = 40
	for i := range n {
		require.NoError(t, w.Write(sample(0, fmt.Sprintf("c%02d", i), 0, "kept", "")))
	}
	kill()
	require.Error(t, w.Close(ctx))
	require.Zero(t, storedCount(t, b, j.Run.ID))
	files := journalFiles(t, j.Dir)
	require.Len(t, files, 1)
	fi, err := os.Stat(files[0])
	require.NoError(t, err)
	require.NoError(t, os.Truncate(files[0], fi.Size()-3)) // the kill cut the last sample short

	other := j
	other.Run.StartedAt = j.Run.StartedAt.Add(time.Second)
	replayed, err := b.store.ReplayJournal(ctx, other)
	require.NoError(t, err)
	require.Zero(t, replayed, "another database's run")
	require.Len(t, journalFiles(t, j.Dir), 1)

	replayed, err = b.store.ReplayJournal(ctx, j)
	require.NoError(t, err)
	require.Equal(t, n-1, replayed)
	require.Equal(t, n-1, storedCount(t, b, j.Run.ID))
	require.Empty(t, journalFiles(t, j.Dir))
	stored, err := b.store.ListSamples(ctx, j.Run.ID, "c00")
	require.NoError(t, err)
	require.Len(t, stored, 1)
	require.Equal(t, "kept", stored[0].Output)
}

// The journal of a writer still running is left alone by ReplayJournal;
// once the writer closes, having stored every sample, no file is left.
func TestJournalOfARunningWriterIsLeftAlone(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	b, j, w := journaled(t, ctx, storage.SampleWriterOpts{FlushInterval: time.Hour})
	for i := range 10 {
		require.NoError(t, w.Write(sample(0, fmt.Sprintf("c%02d", i), 0, "live", "")))
	}
	replayed, err := b.store.ReplayJournal(ctx, j)
	require.NoError(t, err)
	require.Zero(t, replayed)
	require.Len(t, journalFiles(t, j.Dir), 1)

	require.NoError(t, w.Close(ctx))
	require.Empty(t, journalFiles(t, j.Dir))
	require.Equal(t, 10, storedCount(t, b, j.Run.ID))
}

// A writer that stores every sample and closes leaves no journal file.
func TestJournalOfAClosedWriterIsRemoved(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	b, j, w := journaled(t, ctx, storage.SampleWriterOpts{BatchSize: 50})
	for i := range 1000 {
		require.NoError(t, w.Write(sample(0, fmt.Sprintf("c%03d", i/4), i%4, "x", "")))
	}
	require.NoError(t, w.Close(ctx))
	require.Empty(t, journalFiles(t, j.Dir))
	require.Equal(t, 1000, storedCount(t, b, j.Run.ID))
}
