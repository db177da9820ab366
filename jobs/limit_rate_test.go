package jobs_test

import (
	"context"
	"fmt"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/driftwatch/driftwatch/eval"
	"github.com/driftwatch/driftwatch/jobs"
	"github.com/driftwatch/driftwatch/storage/storagetest"
)

// countingReserver is a bucket that never runs dry and adds up what was
// taken from it.
type countingReserver struct {
	mu    sync.Mutex
	taken float64
}

func (r *countingReserver) ReserveTokens(_ context.Context, _ string, n, _, _ float64) (float64, error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.taken += n
	return 1e9, nil
}

// okTarget answers at once and counts its calls.
type okTarget struct{ calls atomic.Int64 }

func (t *okTarget) Complete(context.Context, *eval.Request) (*eval.Response, error) {
	t.calls.Add(1)
	return &eval.Response{Text: "ok"}, nil
}

// Every request token the limiter takes from the cluster's bucket becomes a
// request: at rates whose quarter second is not a whole number of requests,
// the tokens taken still match the requests sent (within one chunk held
// locally), so the cluster can reach its rpm.
func TestClusterLimitUsesEveryReservedToken(t *testing.T) {
	t.Parallel()
	for _, rpm := range []int{60, 90, 420, 600, 1800, 3000, 6000} {
		t.Run(fmt.Sprintf("RPM%d", rpm), func(t *testing.T) {
			t.Parallel()
			r := &countingReserver{}
			target := &okTarget{}
			limited := jobs.ClusterLimit(target, r, jobs.LimitConfig{Key: "t", RPM: rpm})
			const n = 200
			for range n {
				_, err := limited.Complete(context.Background(), &eval.Request{})
				require.NoError(t, err)
			}
			require.Equal(t, int64(n), target.calls.Load())
			chunk := min(16, max(1, float64(rpm)/60/4))
			require.GreaterOrEqual(t, r.taken, float64(n), "rpm %d", rpm)
			require.Less(t, r.taken, float64(n)+chunk, "rpm %d: %v tokens taken for %d requests", rpm, r.taken, n)
		})
	}
}

// At rpm 420 (7 requests/s, a quarter second is 1.75 requests) a process
// with more demand than the limit achieves the configured rate through the
// real database bucket: the burst plus 7/s over a bounded window, within
// 15%.
func TestClusterLimitAchievesConfiguredRate(t *testing.T) {
	t.Parallel()
	st := storagetest.NewStore(t)
	const rpm, window = 420, 3 * time.Second
	rps := float64(rpm) / 60
	target := &okTarget{}
	limited := jobs.ClusterLimit(target, st, jobs.LimitConfig{Key: "target:rate", RPM: rpm})

	ctx, cancel := context.WithTimeout(context.Background(), window)
	defer cancel()
	var wg sync.WaitGroup
	for range 8 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for ctx.Err() == nil {
				_, _ = limited.Complete(ctx, &eval.Request{})
			}
		}()
	}
	wg.Wait()
	got := float64(target.calls.Load())
	want := rps + rps*window.Seconds() // a full bucket (burst = 1 s) plus the refill
	t.Logf("rpm %d: %v requests in %v, want about %v", rpm, got, window, want)
	require.InEpsilon(t, want, got, 0.15)
}

// A limit learned from the provider binds the cluster: two processes (two
// limiters on the same database bucket) with no configured rpm, one of
// which learned 420 rpm, together stay at about 7 requests/s.
func TestClusterLimitHoldsALearnedLimit(t *testing.T) {
	t.Parallel()
	st := storagetest.NewStore(t)
	const learned, window = 420.0, 3 * time.Second
	rps := learned / 60
	target := &okTarget{}
	var wg sync.WaitGroup
	procs := []eval.Target{
		jobs.ClusterLimit(target, st, jobs.LimitConfig{Key: "target:learned", Learned: func() (float64, float64) { return learned, 0 }}),
		jobs.ClusterLimit(target, st, jobs.LimitConfig{Key: "target:learned", Learned: func() (float64, float64) { return learned, 0 }}),
	}
	ctx, cancel := context.WithTimeout(context.Background(), window)
	defer cancel()
	for _, p := range procs {
		for range 4 {
			wg.Add(1)
			go func() {
				defer wg.Done()
				for ctx.Err() == nil {
					_, _ = p.Complete(ctx, &eval.Request{})
				}
			}()
		}
	}
	wg.Wait()
	got := float64(target.calls.Load())
	want := rps + rps*window.Seconds()
	t.Logf("learned rpm %v: %v requests in %v, want about %v", learned, got, window, want)
	require.InEpsilon(t, want, got, 0.2)

	// Nothing configured, nothing learned: no limit at all.
	free := &okTarget{}
	unl := jobs.ClusterLimit(free, st, jobs.LimitConfig{Key: "target:free", Learned: func() (float64, float64) { return 0, 0 }})
	for range 500 {
		_, err := unl.Complete(context.Background(), &eval.Request{})
		require.NoError(t, err)
	}
	require.Equal(t, int64(500), free.calls.Load())
}
