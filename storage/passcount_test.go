package storage_test

import (
	"context"
	"encoding/json"
	"fmt"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/driftwatch/driftwatch/storage"
)

// TestPassCountHistoryBeforeTheRun: the change-point history of a run is the
// completed runs of its suite on its target started before it, oldest
// first. A run resumed after later runs completed (run --resume of a
// stopped run) does not see them: its report dates changes as of its own
// place in the series, with the run last. Other suites and targets, runs
// that are not completed, and summaries without metrics.passed are left out.
func TestPassCountHistoryBeforeTheRun(t *testing.T) {
	t.Parallel()
	b := setup(t)
	ctx := context.Background()
	otherSuite, err := b.store.EnsureSuite(ctx, "other")
	require.NoError(t, err)
	t0 := time.Now().Add(-time.Hour).UTC().Truncate(time.Second)
	run := func(suiteID int64, at time.Duration, status string, summary string) int64 {
		t.Helper()
		r, err := b.store.CreateRun(ctx, storage.NewRun{SuiteID: suiteID, TargetID: b.targetID, Trigger: storage.TriggerCLI,
			SamplesPerCase: 1, HarnessVersion: "test", StartedAt: t0.Add(at)})
		require.NoError(t, err)
		if status != "" {
			require.NoError(t, b.store.FinishRun(ctx, r.ID, storage.FinishRun{Status: status, Summary: json.RawMessage(summary)}))
		}
		return r.ID
	}
	counts := func(passed, samples, errors int) string {
		return fmt.Sprintf(`{"metrics": {"passed": %d, "samples": %d, "error_count": %d}}`, passed, samples, errors)
	}
	first := run(b.suiteID, 0, storage.RunCompleted, counts(8, 10, 1))
	run(otherSuite, time.Minute, storage.RunCompleted, counts(1, 10, 0))
	run(b.suiteID, 2*time.Minute, storage.RunStopped, counts(2, 5, 0))
	run(b.suiteID, 3*time.Minute, storage.RunCompleted, `{"metrics": {"samples": 10, "error_count": 0}}`)
	second := run(b.suiteID, 4*time.Minute, storage.RunCompleted, counts(9, 10, 0))
	current := run(b.suiteID, 5*time.Minute, "", "") // stopped, resumed after the next completed
	run(b.suiteID, 6*time.Minute, storage.RunCompleted, counts(3, 10, 0))

	hist, err := b.store.PassCountHistory(ctx, b.suiteID, b.targetID, current, 364)
	require.NoError(t, err)
	require.Equal(t, []storage.RunPassCount{{RunID: first, Passed: 8, Total: 9}, {RunID: second, Passed: 9, Total: 10}}, hist)

	hist, err = b.store.PassCountHistory(ctx, b.suiteID, b.targetID, current, 1)
	require.NoError(t, err)
	require.Equal(t, []storage.RunPassCount{{RunID: second, Passed: 9, Total: 10}}, hist, "the last limit runs before it")
}
