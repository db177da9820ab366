package openai_test

import (
	"context"
	"fmt"
	"net/http/httptest"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/driftwatch/driftwatch/eval"
	"github.com/driftwatch/driftwatch/provider"
	"github.com/driftwatch/driftwatch/provider/openai"
	"github.com/driftwatch/driftwatch/sim"
)

// paceRun sends n requests at concurrency c through a default client to a
// simulator enforcing rl and returns the successes, the wall time and the
// simulator's stats.
func paceRun(t *testing.T, rl sim.RateLimit, n, c int) (ok int, elapsed time.Duration, st sim.Stats, ctl *provider.Control) {
	t.Helper()
	srv, err := sim.New(sim.Config{
		Models:    []sim.Model{{Name: "m", Profile: sim.Profile{Accuracy: 1}}},
		Latency:   sim.Latency{Fixed: sim.Duration(20 * time.Millisecond)},
		RateLimit: rl,
	})
	require.NoError(t, err)
	hs := httptest.NewServer(srv)
	t.Cleanup(func() { srv.Close(); hs.Close() })
	cl, err := openai.New(openai.Config{Flavor: openai.FlavorVLLM, BaseURL: hs.URL + "/v1", Model: "m"}, nil)
	require.NoError(t, err)

	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	var (
		mu   sync.Mutex
		wg   sync.WaitGroup
		next = make(chan int)
	)
	start := time.Now()
	for range c {
		wg.Go(func() {
			for i := range next {
				_, err := cl.Complete(ctx, &eval.Request{Messages: []eval.Message{{Role: eval.RoleUser, Content: fmt.Sprintf("What is %d + 1?", i)}}})
				if err == nil {
					mu.Lock()
					ok++
					mu.Unlock()
				}
			}
		})
	}
	for i := range n {
		next <- i
	}
	close(next)
	wg.Wait()
	el, ss := time.Since(start), srv.Stats()
	t.Logf("ok %d of %d in %s, refused %d, tokens charged %d, pacer %+v", ok, n, el, ss.RateLimited, ss.TokensCharged, cl.Control().Pacer.Stats())
	return ok, el, ss, cl.Control()
}

// With the limit unknown to the config, the client learns it from the
// x-ratelimit-* headers: every request succeeds, few are refused, and the
// throughput is close to the limit.
func TestPacerLearnsTheLimitFromHeaders(t *testing.T) {
	t.Parallel()
	const rps, n = 40.0, 240
	ok, elapsed, st, ctl := paceRun(t, sim.RateLimit{RequestsPerSecond: rps}, n, 16)
	require.Equal(t, n, ok, "no request lost")
	// The first second's burst is free; the rest is paced at the limit.
	ideal := time.Duration(float64(n-int(rps)) / rps * float64(time.Second))
	require.Less(t, elapsed, ideal*100/85, "throughput below 0.85 of the limit: %s for %d", elapsed, n)
	require.LessOrEqual(t, float64(st.RateLimited), 0.05*float64(n), "refused %d", st.RateLimited)
	stats := ctl.Pacer.Stats()
	require.InDelta(t, rps*60, stats.RPM, 1, "the learned rate is the reported limit")
	require.Positive(t, stats.Throttled)
}

// A provider that reports no limit, only Retry-After on its 429s: the
// client slows down after the first refusals and loses nothing.
func TestPacerLearnsFromRetryAfterAlone(t *testing.T) {
	if raceEnabled {
		t.Skip("timing of the pacer's cuts: asserted without the race detector")
	}
	t.Parallel()
	const rps, n = 40.0, 240
	ok, elapsed, st, ctl := paceRun(t, sim.RateLimit{RequestsPerSecond: rps, RetryAfterOnly: true}, n, 16)
	require.Equal(t, n, ok, "no request lost")
	require.LessOrEqual(t, float64(st.RateLimited), 0.3*float64(n), "refused %d", st.RateLimited)
	require.Less(t, elapsed, 3*time.Duration(float64(n)/rps*float64(time.Second))/2, "throughput below 2/3 of the limit")
	require.Positive(t, ctl.Pacer.Stats().RateLimited)
}

// A token limit is learned the same way.
func TestPacerLearnsATokenLimit(t *testing.T) {
	t.Parallel()
	const n = 200
	// About 25 tokens a request (prompt and answer): 40 requests a second.
	ok, elapsed, st, ctl := paceRun(t, sim.RateLimit{TokensPerMinute: 60_000}, n, 16)
	require.Equal(t, n, ok, "no request lost")
	// The first second's burst (1,000 tokens) is free.
	rate := float64(st.TokensCharged-1000) / elapsed.Seconds()
	require.Greater(t, rate, 0.7*1000, "tokens/s charged by the server (a short run: the pacer starts below the server's burst)")
	require.LessOrEqual(t, float64(st.RateLimited), 0.1*float64(n), "refused %d", st.RateLimited)
	require.InDelta(t, 60_000, ctl.Pacer.Stats().TPM, 1)
}

// 429s that do not depend on the rate (an overloaded server refusing 15%
// of the requests at random, no limit reported) must not slow the client
// down for good: a cut that does not lower the share of 429s is undone.
func TestPacerDoesNotCollapseOnRandom429s(t *testing.T) {
	if raceEnabled {
		t.Skip("timing of the pacer's cuts: asserted without the race detector")
	}
	t.Parallel()
	srv, err := sim.New(sim.Config{Seed: 3, Models: []sim.Model{{Name: "m", Profile: sim.Profile{Accuracy: 1,
		Latency: sim.Latency{Fixed: sim.Duration(10 * time.Millisecond)},
		Errors:  sim.Errors{RateLimit: 0.15, RetryAfter: sim.Duration(20 * time.Millisecond)}}}}})
	require.NoError(t, err)
	hs := httptest.NewServer(srv)
	t.Cleanup(func() { srv.Close(); hs.Close() })
	cl, err := openai.New(openai.Config{Flavor: openai.FlavorVLLM, BaseURL: hs.URL + "/v1", Model: "m"}, nil)
	require.NoError(t, err)
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	const n, workers = 1500, 16
	var wg sync.WaitGroup
	next := make(chan int)
	var failed sync.Map
	start := time.Now()
	for range workers {
		wg.Go(func() {
			for i := range next {
				if _, err := cl.Complete(ctx, &eval.Request{Messages: []eval.Message{{Role: eval.RoleUser, Content: fmt.Sprintf("What is %d + 2?", i)}}}); err != nil {
					failed.Store(i, err)
				}
			}
		})
	}
	for i := range n {
		next <- i
	}
	close(next)
	wg.Wait()
	elapsed := time.Since(start)
	failed.Range(func(k, v any) bool { t.Errorf("request %v failed: %v", k, v); return false })
	st := srv.Stats()
	t.Logf("%d requests in %s (%d refused), pacer %+v", n, elapsed, st.Errors["rate_limit"], cl.Control().Pacer.Stats())
	// Unpaced, 16 workers at ~10 ms a request take about 1.1 s; a
	// collapsing pacer takes minutes.
	require.Less(t, elapsed, 12*time.Second)
}
