package openai_test

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/driftwatch/driftwatch/eval"
	"github.com/driftwatch/driftwatch/provider"
	"github.com/driftwatch/driftwatch/provider/openai"
)

// failingServer answers every request with h and counts them. Handlers
// blocked in h are released when the test ends.
func failingServer(t *testing.T, h func(w http.ResponseWriter, r *http.Request, release <-chan struct{})) (*httptest.Server, *atomic.Int64) {
	t.Helper()
	var n atomic.Int64
	release := make(chan struct{})
	hs := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		n.Add(1)
		h(w, r, release)
	}))
	t.Cleanup(func() { close(release); hs.Close() })
	return hs, &n
}

// tripTime runs 32 workers calling a default client (default timeout,
// retries and breaker) until a call fails with ErrCircuitOpen, and returns
// how long that took and the error.
func tripTime(t *testing.T, url string) (time.Duration, error) {
	t.Helper()
	cl, err := openai.New(openai.Config{Flavor: openai.FlavorVLLM, BaseURL: url + "/v1", Model: "m"}, nil)
	require.NoError(t, err)
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	start := time.Now()
	var (
		once    sync.Once
		tripped error
		took    time.Duration
		wg      sync.WaitGroup
	)
	for w := range 32 {
		wg.Go(func() {
			for i := 0; ctx.Err() == nil; i++ {
				_, err := cl.Complete(ctx, &eval.Request{Messages: []eval.Message{{Role: eval.RoleUser, Content: fmt.Sprintf("case %d/%d", w, i)}}})
				if errors.Is(err, provider.ErrCircuitOpen) {
					once.Do(func() { tripped, took = err, time.Since(start) })
					return
				}
			}
		})
	}
	wg.Wait()
	require.Error(t, tripped, "the breaker never tripped")
	require.Equal(t, eval.ErrCircuitOpen, eval.KindOf(tripped))
	require.ErrorIs(t, cl.Control().Breaker.Err(), provider.ErrCircuitOpen)

	// Open: calls fail at once, without sending anything.
	t0 := time.Now()
	_, err = cl.Complete(ctx, &eval.Request{Messages: []eval.Message{{Role: eval.RoleUser, Content: "one more"}}})
	require.ErrorIs(t, err, provider.ErrCircuitOpen)
	require.Less(t, time.Since(t0), time.Second)
	return took, tripped
}

// An endpoint that fails every call (500, or 429 storms that no wait
// cures) or never answers at all is given up on within a minute with a
// distinct error saying why, not retried for hours.
func TestBreakerStopsAFailingTargetWithinAMinute(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name   string
		h      func(w http.ResponseWriter, r *http.Request, release <-chan struct{})
		reason string
	}{
		{"ServerErrors", func(w http.ResponseWriter, _ *http.Request, _ <-chan struct{}) {
			w.Header().Set("Content-Type", "application/json")
			w.WriteHeader(http.StatusInternalServerError)
			fmt.Fprint(w, `{"error":{"message":"boom","type":"server_error"}}`)
		}, "HTTP 500"},
		{"RateLimitStorm", func(w http.ResponseWriter, _ *http.Request, _ <-chan struct{}) {
			w.Header().Set("Retry-After", "1")
			w.Header().Set("Content-Type", "application/json")
			w.WriteHeader(http.StatusTooManyRequests)
			fmt.Fprint(w, `{"error":{"message":"slow down","type":"requests"}}`)
		}, "HTTP 429"},
		{"Silent", func(_ http.ResponseWriter, r *http.Request, release <-chan struct{}) {
			select { // accepts the connection, never answers
			case <-r.Context().Done():
			case <-release:
			}
		}, "no response at all"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			hs, sent := failingServer(t, tt.h)
			took, err := tripTime(t, hs.URL)
			t.Logf("tripped after %s and %d requests: %v", took, sent.Load(), err)
			require.Less(t, took, 60*time.Second)
			require.Contains(t, err.Error(), tt.reason)
		})
	}
}

// A transient error rate never trips the breaker, and a tripped breaker
// lets a trial call through after its cooldown: when the target works
// again, the breaker closes.
func TestBreakerRecovers(t *testing.T) {
	t.Parallel()
	var healthy atomic.Bool
	var n atomic.Int64
	hs := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		if !healthy.Load() || n.Add(1)%3 == 0 {
			w.WriteHeader(http.StatusBadGateway)
			fmt.Fprint(w, `{"error":"bad gateway"}`)
			return
		}
		fmt.Fprint(w, `{"model":"m","choices":[{"index":0,"message":{"role":"assistant","content":"ok"},"finish_reason":"stop"}],"usage":{"prompt_tokens":3,"completion_tokens":1}}`)
	}))
	t.Cleanup(hs.Close)
	var trips atomic.Int64
	ctl := provider.NewControl(provider.ControlConfig{
		Breaker: provider.BreakerConfig{FailFor: 100 * time.Millisecond, MinFailures: 3, Cooldown: 200 * time.Millisecond},
		OnTrip:  func(error) { trips.Add(1) },
	}, nil)
	cl, err := openai.New(openai.Config{Flavor: openai.FlavorVLLM, BaseURL: hs.URL + "/v1", Model: "m",
		Retry: provider.Retry{MaxAttempts: 1}}, nil, openai.WithControl(ctl))
	require.NoError(t, err)
	req := &eval.Request{Messages: []eval.Message{{Role: eval.RoleUser, Content: "hi"}}}
	ctx := context.Background()

	deadline := time.Now().Add(10 * time.Second)
	for ctl.Breaker.Err() == nil && time.Now().Before(deadline) {
		_, _ = cl.Complete(ctx, req)
		time.Sleep(10 * time.Millisecond)
	}
	require.ErrorIs(t, ctl.Breaker.Err(), provider.ErrCircuitOpen)
	require.Equal(t, int64(1), trips.Load())

	healthy.Store(true)
	for ctl.Breaker.Err() != nil && time.Now().Before(deadline) {
		_, _ = cl.Complete(ctx, req)
		time.Sleep(20 * time.Millisecond)
	}
	require.NoError(t, ctl.Breaker.Err(), "the trial call closed the breaker")

	// One call in three fails: for 300 ms that never trips it.
	for end := time.Now().Add(300 * time.Millisecond); time.Now().Before(end); {
		_, _ = cl.Complete(ctx, req)
	}
	require.NoError(t, ctl.Breaker.Err())
	require.Equal(t, int64(1), trips.Load())
}
