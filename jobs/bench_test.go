package jobs_test

import (
	"fmt"
	"testing"
	"time"

	"github.com/driftwatch/driftwatch/storage"
)

// BenchmarkScaleOut runs a 2,000-case run (sim latency 50 ms, target
// concurrency 8 per worker, no rate limit) on one and then on two worker
// processes and reports the speed-up:
//
//	TEST_DATABASE_URL=... go test ./jobs -run '^$' -bench ScaleOut -benchtime 1x
func BenchmarkScaleOut(b *testing.B) {
	var secs [3]float64
	for _, workers := range []int{1, 2} {
		e := setup(b, envOpts{cases: 2000, k: 1, latency: 50 * time.Millisecond})
		key := fmt.Sprintf("bench@%d/arith/gpt", workers)
		for range workers {
			startWorker(b, e.cfgPath)
		}
		start := time.Now()
		insertRun(b, e, key)
		await(b, 5*time.Minute, "the run to complete", func() bool {
			runs := keyedRuns(b, e.st, key)
			return len(runs) == 1 && runs[0].Status == storage.RunCompleted
		})
		secs[workers] = time.Since(start).Seconds()
		b.ReportMetric(secs[workers], fmt.Sprintf("s/%dworkers", workers))
	}
	b.ReportMetric(secs[1]/secs[2], "speedup")
}
