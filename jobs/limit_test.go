package jobs_test

import (
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/driftwatch/driftwatch/app"
	"github.com/driftwatch/driftwatch/storage"
)

// Two workers share one target's rpm: together they stay within it (each
// alone would be allowed the full rpm by its process-local limiter).
func TestRateLimitHoldsForTheCluster(t *testing.T) {
	t.Parallel()
	const cases, k, rpm = 60, 2, 1800 // 30 requests/s, burst 30
	e := setup(t, envOpts{cases: cases, k: k, latency: time.Millisecond, target: "    rpm: 1800"})
	e.serve(t, app.ServeOptions{BatchSize: 10})
	e.serve(t, app.ServeOptions{BatchSize: 10})
	start := time.Now()
	insertRun(t, e, "manual@rate/arith/gpt")
	await(t, 60*time.Second, "the run to complete", func() bool {
		runs := keyedRuns(t, e.st, "manual@rate")
		return len(runs) == 1 && runs[0].Status == storage.RunCompleted
	})
	elapsed := time.Since(start)
	minimum := time.Duration(float64(cases*k-rpm/60) / (rpm / 60.0) * float64(time.Second))
	require.GreaterOrEqual(t, elapsed, minimum*9/10, "120 requests at 30/s after a burst of 30")
	require.Equal(t, int64(cases*k), e.sim.Stats().Served)
}
