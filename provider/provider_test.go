package provider

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"log/slog"
	"net/http"
	"sync"
	"sync/atomic"
	"testing"
	"testing/synctest"
	"time"

	"github.com/stretchr/testify/require"
	"gopkg.in/yaml.v3"

	"github.com/driftwatch/driftwatch/eval"
)

const plantedKey = "sk-PLANTED-secret-0123456789"

func TestSecretRedacts(t *testing.T) {
	t.Parallel()
	type cfg struct {
		APIKey Secret `json:"api_key" yaml:"api_key"`
	}
	c := cfg{APIKey: plantedKey}
	var outs []string
	outs = append(outs, fmt.Sprintf("%s %v %+v %#v %q %x", c.APIKey, c.APIKey, c, c, c.APIKey, c.APIKey))
	j, err := json.Marshal(c)
	require.NoError(t, err)
	outs = append(outs, string(j))
	y, err := yaml.Marshal(c)
	require.NoError(t, err)
	outs = append(outs, string(y))
	var buf bytes.Buffer
	slog.New(slog.NewJSONHandler(&buf, nil)).Info("cfg", "key", c.APIKey, "cfg", c)
	slog.New(slog.NewTextHandler(&buf, nil)).Info("cfg", "key", c.APIKey)
	outs = append(outs, buf.String())
	for _, o := range outs {
		require.NotContains(t, o, "PLANTED")
	}
	require.Contains(t, string(j), Redacted)

	var back cfg
	require.NoError(t, json.Unmarshal([]byte(`{"api_key":"`+plantedKey+`"}`), &back))
	require.Equal(t, plantedKey, back.APIKey.Reveal())
	require.NoError(t, yaml.Unmarshal([]byte("api_key: "+plantedKey+"\n"), &back))
	require.Equal(t, plantedKey, back.APIKey.Reveal())
	require.Equal(t, "", Secret("").String())
}

func TestParseRetryAfter(t *testing.T) {
	t.Parallel()
	now := time.Date(2025, 1, 2, 3, 4, 5, 0, time.UTC)
	for _, tc := range []struct {
		name string
		in   string
		want time.Duration
	}{
		{"empty", "", 0},
		{"seconds", "7", 7 * time.Second},
		{"fraction", "0.25", 250 * time.Millisecond},
		{"negative", "-3", 0},
		{"garbage", "soon", 0},
		{"http date", now.Add(90 * time.Second).Format(http.TimeFormat), 90 * time.Second},
		{"past date", now.Add(-time.Minute).Format(http.TimeFormat), 0},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			require.Equal(t, tc.want, ParseRetryAfter(tc.in, now))
		})
	}
	h := http.Header{}
	h.Set("Retry-After-Ms", "120")
	h.Set("Retry-After", "9")
	require.Equal(t, 120*time.Millisecond, RetryAfter(h, now))
}

func TestKindForStatus(t *testing.T) {
	t.Parallel()
	for status, want := range map[int]eval.ErrorKind{
		400: eval.ErrBadRequest, 401: eval.ErrAuth, 403: eval.ErrAuth, 404: eval.ErrBadRequest,
		408: eval.ErrTimeout, 422: eval.ErrBadRequest, 429: eval.ErrRateLimited,
		500: eval.ErrServer, 503: eval.ErrServer, 529: eval.ErrServer,
	} {
		require.Equal(t, want, KindForStatus(status), "status %d", status)
	}
	require.True(t, Retryable(eval.ErrRateLimited))
	require.True(t, Retryable(eval.ErrTimeout))
	require.False(t, Retryable(eval.ErrBadRequest))
	require.False(t, Retryable(eval.ErrAuth))
}

func TestBackoff(t *testing.T) {
	t.Parallel()
	r := Retry{MaxAttempts: 5, BaseDelay: 100 * time.Millisecond, MaxDelay: time.Second}
	for range 200 {
		require.LessOrEqual(t, r.Backoff(1, 0), 100*time.Millisecond)
		require.LessOrEqual(t, r.Backoff(3, 0), 400*time.Millisecond)
		require.LessOrEqual(t, r.Backoff(30, 0), time.Second)
	}
	require.Equal(t, 300*time.Millisecond, r.Backoff(1, 300*time.Millisecond))
	require.Equal(t, time.Second, r.Backoff(1, time.Hour), "Retry-After is capped")
	d := Retry{}.WithDefaults()
	require.Equal(t, RetryMaxAttemptsDefault, d.MaxAttempts)
	require.Error(t, Retry{MaxAttempts: -1}.Validate())
}

func TestRetryDo(t *testing.T) {
	t.Parallel()
	r := Retry{MaxAttempts: 3, BaseDelay: time.Millisecond, MaxDelay: 2 * time.Millisecond}

	t.Run("retries retryable then succeeds", func(t *testing.T) {
		t.Parallel()
		var retries int
		n, err := r.Do(t.Context(), func(_ context.Context, n int) error {
			if n < 3 {
				return &AttemptError{Kind: eval.ErrServer, Status: 500}
			}
			return nil
		}, func(int, *AttemptError, time.Duration) { retries++ })
		require.NoError(t, err)
		require.Equal(t, 3, n)
		require.Equal(t, 2, retries)
	})
	t.Run("stops on permanent", func(t *testing.T) {
		t.Parallel()
		n, err := r.Do(t.Context(), func(context.Context, int) error {
			return &AttemptError{Kind: eval.ErrBadRequest, Status: 400}
		}, nil)
		require.Equal(t, 1, n)
		require.Equal(t, eval.ErrBadRequest, NewTargetError("p", "m", n, err).Kind)
	})
	t.Run("gives up after max", func(t *testing.T) {
		t.Parallel()
		n, err := r.Do(t.Context(), func(context.Context, int) error {
			return &AttemptError{Kind: eval.ErrServer, Status: 503}
		}, nil)
		require.Equal(t, 3, n)
		te := NewTargetError("p", "m", n, err)
		require.Equal(t, eval.ErrServer, te.Kind)
		require.Equal(t, 503, te.Status)
	})
	t.Run("429s do not use up the attempts", func(t *testing.T) {
		t.Parallel()
		// Two real errors and five 429s before the success: the 429s are
		// waited out, the errors stay within MaxAttempts 3.
		n, err := r.WithDefaults().Do(t.Context(), func(_ context.Context, n int) error {
			switch {
			case n == 1 || n == 4:
				return &AttemptError{Kind: eval.ErrServer, Status: 500}
			case n < 8:
				return &AttemptError{Kind: eval.ErrRateLimited, Status: 429, RetryAfter: time.Millisecond}
			}
			return nil
		}, nil)
		require.NoError(t, err)
		require.Equal(t, 8, n)
	})
	t.Run("429s give up after MaxThrottle", func(t *testing.T) {
		t.Parallel()
		rt := r
		rt.MaxThrottle = 200 * time.Millisecond
		start := time.Now()
		n, err := rt.Do(t.Context(), func(context.Context, int) error {
			return &AttemptError{Kind: eval.ErrRateLimited, Status: 429, RetryAfter: time.Millisecond}
		}, nil)
		require.Greater(t, n, 3)
		require.GreaterOrEqual(t, time.Since(start), 200*time.Millisecond)
		te := NewTargetError("p", "m", n, err)
		require.Equal(t, eval.ErrRateLimited, te.Kind)
		require.Equal(t, 429, te.Status)
	})
	t.Run("context checked first", func(t *testing.T) {
		t.Parallel()
		ctx, cancel := context.WithCancel(t.Context())
		cancel()
		n, err := r.Do(ctx, func(context.Context, int) error { t.Fatal("attempt ran"); return nil }, nil)
		require.Equal(t, 0, n)
		require.Equal(t, eval.ErrCanceled, NewTargetError("p", "m", n, err).Kind)
	})
}

func TestPrices(t *testing.T) {
	t.Parallel()
	p := DefaultPrices()
	u := eval.Usage{InputTokens: 1_000_000, OutputTokens: 1_000_000}
	require.InDelta(t, 12.5, p.Cost("gpt-4o-2024-08-06", u), 1e-9)
	require.InDelta(t, 0.75, p.Cost("gpt-4o-mini-2024-07-18", u), 1e-9)
	require.InDelta(t, 18.0, p.Cost("claude-3-5-sonnet-20241022", u), 1e-9)
	require.InDelta(t, 12.5, p.Cost("openai/gpt-4o", u), 1e-9)
	require.Zero(t, p.Cost("llama3.2:3b", u))
	o := p.With(Prices{"llama3.2": {1, 1}})
	require.InDelta(t, 2.0, o.Cost("llama3.2:3b", u), 1e-9)
	require.Zero(t, p.Cost("llama3.2:3b", u), "With copies")
	require.InDelta(t, 12.5, Cost("gpt-4o", u), 1e-9)
}

func TestEstimateTokens(t *testing.T) {
	t.Parallel()
	require.Zero(t, EstimateTokens(""))
	require.Equal(t, 3, EstimateTokens("hello world"))
	require.Equal(t, 2, EstimateTokens("日本"))
	n := EstimateRequestTokens(&eval.Request{Messages: []eval.Message{{Role: "user", Content: "hello world"}}})
	require.Equal(t, 3+3+3, n)
}

func TestBudgetNeverExceedsCapPlusInFlight(t *testing.T) {
	t.Parallel()
	const (
		capUSD   = 1.0
		estimate = 0.01
		workers  = 32
	)
	b := NewBudget(capUSD)
	var (
		inFlight, maxInFlight atomic.Int64
		wg                    sync.WaitGroup
		budgetErrs            atomic.Int64
	)
	// Every call costs 1.5x its estimate: the worst overshoot is bounded by
	// what in-flight calls add beyond their estimates.
	target := TargetFuncCost(func() float64 {
		cur := inFlight.Add(1)
		for {
			m := maxInFlight.Load()
			if cur <= m || maxInFlight.CompareAndSwap(m, cur) {
				break
			}
		}
		defer inFlight.Add(-1)
		return estimate * 1.5
	})
	g := Guard(target, b, func(*eval.Request) float64 { return estimate })
	for range workers {
		wg.Go(func() {
			for range 200 {
				_, err := g.Complete(t.Context(), &eval.Request{})
				if err != nil {
					require.Equal(t, eval.ErrBudget, eval.KindOf(err))
					budgetErrs.Add(1)
				}
			}
		})
	}
	wg.Wait()
	require.Positive(t, budgetErrs.Load())
	overshoot := float64(maxInFlight.Load()) * estimate * 0.5
	require.LessOrEqual(t, b.Spent(), capUSD+overshoot+1e-9)
	require.Greater(t, b.Spent(), capUSD*0.9)
	_, err := b.Reserve(estimate)
	require.Equal(t, eval.ErrBudget, eval.KindOf(err), "exhausted budget fails fast")
	var nilBudget *Budget
	r, err := nilBudget.Reserve(1)
	require.NoError(t, err)
	r.Settle(1)
}

// TargetFuncCost is a target whose responses cost what cost returns.
func TargetFuncCost(cost func() float64) eval.Target {
	return eval.TargetFunc(func(context.Context, *eval.Request) (*eval.Response, error) {
		return &eval.Response{CostUSD: cost()}, nil
	})
}

func TestLimitHoldsRPM(t *testing.T) {
	t.Parallel()
	synctest.Test(t, func(t *testing.T) {
		var calls atomic.Int64
		inner := eval.TargetFunc(func(context.Context, *eval.Request) (*eval.Response, error) {
			calls.Add(1)
			return &eval.Response{}, nil
		})
		// 600/min = 10/s with a burst of 10.
		l := Limit(inner, LimitConfig{RPM: 600, Burst: 10, Concurrency: 8})
		start := time.Now()
		var wg sync.WaitGroup
		for range 40 {
			wg.Go(func() {
				_, err := l.Complete(t.Context(), &eval.Request{})
				require.NoError(t, err)
			})
		}
		time.Sleep(time.Second) // fake clock: the bubble advances instantly
		synctest.Wait()
		require.LessOrEqual(t, calls.Load(), int64(10+10+1), "burst + 1s of rate")
		wg.Wait()
		elapsed := time.Since(start)
		require.Equal(t, int64(40), calls.Load())
		require.GreaterOrEqual(t, elapsed, 2900*time.Millisecond, "30 beyond the burst at 10/s")
	})
}

func TestLimitAdaptsToRateLimits(t *testing.T) {
	t.Parallel()
	synctest.Test(t, func(t *testing.T) {
		var fail atomic.Bool
		fail.Store(true)
		inner := eval.TargetFunc(func(context.Context, *eval.Request) (*eval.Response, error) {
			if fail.Load() {
				return nil, &eval.TargetError{Kind: eval.ErrRateLimited, Status: 429}
			}
			return &eval.Response{}, nil
		})
		l := Limit(inner, LimitConfig{RPM: 6000, Burst: 100})
		require.InDelta(t, 6000, CurrentRPM(l), 1e-6)
		var wg sync.WaitGroup
		for range 20 { // one burst of 429s
			wg.Go(func() { _, _ = l.Complete(t.Context(), &eval.Request{}) })
		}
		wg.Wait()
		require.InDelta(t, 3000, CurrentRPM(l), 1e-6, "a burst halves the rate once")
		for range 10 {
			time.Sleep(time.Second)
			_, _ = l.Complete(t.Context(), &eval.Request{})
		}
		require.InDelta(t, 6000/16.0, CurrentRPM(l), 1e-6, "floor")
		fail.Store(false)
		for range 40 {
			_, err := l.Complete(t.Context(), &eval.Request{})
			require.NoError(t, err)
		}
		require.InDelta(t, 6000, CurrentRPM(l), 1e-6, "recovers")
	})
}

func TestLimitTPMAndCancel(t *testing.T) {
	t.Parallel()
	synctest.Test(t, func(t *testing.T) {
		inner := eval.TargetFunc(func(context.Context, *eval.Request) (*eval.Response, error) {
			return &eval.Response{Usage: eval.Usage{InputTokens: 10, OutputTokens: 590}}, nil
		})
		l := Limit(inner, LimitConfig{TPM: 600}) // 10 tokens/s, bucket 600
		req := &eval.Request{Messages: []eval.Message{{Role: "user", Content: "hi"}}}
		start := time.Now()
		// Each call is charged 8 estimated tokens, then corrected to 600:
		// the first empties the bucket, the second waits for 8 tokens and
		// leaves a debt of 592 that the third must wait out (~59s at 10/s).
		for range 3 {
			_, err := l.Complete(t.Context(), req)
			require.NoError(t, err)
		}
		require.GreaterOrEqual(t, time.Since(start), 59*time.Second, "usage correction delays later calls")

		ctx, cancel := context.WithTimeout(t.Context(), time.Second)
		defer cancel()
		_, err := l.Complete(ctx, req)
		require.Contains(t, []eval.ErrorKind{eval.ErrTimeout, eval.ErrCanceled}, eval.KindOf(err))
	})
}

func TestBudgetSpentStartsSpent(t *testing.T) {
	t.Parallel()
	b := NewBudgetSpent(1.0, 0.75)
	require.InDelta(t, 0.75, b.Spent(), 1e-12)
	require.InDelta(t, 0.25, b.Remaining(), 1e-12)
	_, err := b.Reserve(0.5)
	require.Equal(t, eval.ErrBudget, eval.KindOf(err), "the cap is not granted again")
	r, err := b.Reserve(0.2)
	require.NoError(t, err)
	r.Settle(0.25)
	_, err = b.Reserve(0.01)
	require.Equal(t, eval.ErrBudget, eval.KindOf(err), "exhausted at the cap")
}
