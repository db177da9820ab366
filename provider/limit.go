package provider

import (
	"context"
	"errors"
	"sync"
	"time"

	"golang.org/x/time/rate"

	"github.com/driftwatch/driftwatch/eval"
)

// LimitConfig bounds the traffic Limit lets through to one target. Zero
// fields mean "no limit" for that dimension.
type LimitConfig struct {
	// RPM is requests per minute. 0: unlimited.
	RPM int `json:"rpm,omitempty" yaml:"rpm"`
	// TPM is tokens (input + output) per minute. Calls are charged their
	// estimated input tokens before they start and the difference to the
	// reported usage after. 0: unlimited.
	TPM int `json:"tpm,omitempty" yaml:"tpm"`
	// Concurrency is the number of calls in flight at once. 0: unlimited.
	Concurrency int `json:"concurrency,omitempty" yaml:"concurrency"`
	// Burst is how many requests may start at once above the RPM rate.
	// Default: one second's worth of RPM, at least 1.
	Burst int `json:"burst,omitempty" yaml:"burst"`
	// MinRateFraction is how far adaptive slow-down may cut RPM after rate
	// limit errors, as a fraction of RPM. Default 1/16.
	MinRateFraction float64 `json:"min_rate_fraction,omitempty" yaml:"min_rate_fraction"`
}

// slowDownCooldown groups a burst of 429s into one rate cut.
const slowDownCooldown = time.Second

// Limit wraps t with token-bucket rate limits (golang.org/x/time/rate) and a
// concurrency cap. Waiting honours ctx; a call whose ctx ends while waiting
// fails with ErrCanceled or ErrTimeout.
//
// When t reports eval.ErrRateLimited (the server still said 429 after the
// provider's retries) the request rate is halved, at most once per second so
// one burst of concurrent 429s counts once, down to MinRateFraction of RPM.
// Every success then restores 1/32 of RPM until the configured rate is back.
func Limit(t eval.Target, cfg LimitConfig) eval.Target {
	l := &limiter{next: t, cfg: cfg}
	if cfg.RPM > 0 {
		l.full = rate.Limit(float64(cfg.RPM) / 60)
		burst := cfg.Burst
		if burst <= 0 {
			burst = max(1, cfg.RPM/60)
		}
		l.rpm = rate.NewLimiter(l.full, burst)
		frac := cfg.MinRateFraction
		if frac <= 0 || frac > 1 {
			frac = 1.0 / 16
		}
		l.floor = l.full * rate.Limit(frac)
	}
	if cfg.TPM > 0 {
		l.tpm = rate.NewLimiter(rate.Limit(float64(cfg.TPM)/60), cfg.TPM)
	}
	if cfg.Concurrency > 0 {
		l.sem = make(chan struct{}, cfg.Concurrency)
	}
	return l
}

type limiter struct {
	next  eval.Target
	cfg   LimitConfig
	rpm   *rate.Limiter
	tpm   *rate.Limiter
	sem   chan struct{}
	full  rate.Limit
	floor rate.Limit

	mu       sync.Mutex
	lastSlow time.Time
}

func (l *limiter) Complete(ctx context.Context, req *eval.Request) (*eval.Response, error) {
	if l.sem != nil {
		select {
		case l.sem <- struct{}{}:
			defer func() { <-l.sem }()
		case <-ctx.Done():
			return nil, waitError(ctx)
		}
	}
	if l.rpm != nil {
		if err := l.rpm.Wait(ctx); err != nil {
			return nil, waitError(ctx)
		}
	}
	charged := 0
	if l.tpm != nil {
		charged = min(EstimateRequestTokens(req), l.tpm.Burst())
		if err := l.tpm.WaitN(ctx, charged); err != nil {
			return nil, waitError(ctx)
		}
	}
	resp, err := l.next.Complete(ctx, req)
	if l.tpm != nil && resp != nil {
		// Tokens cannot be handed back to a rate.Limiter, so only
		// underestimates are corrected: the debt delays later calls.
		if extra := resp.Usage.InputTokens + resp.Usage.OutputTokens - charged; extra > 0 {
			l.tpm.ReserveN(time.Now(), min(extra, l.tpm.Burst()))
		}
	}
	if l.rpm != nil {
		l.adapt(eval.KindOf(err))
	}
	return resp, err
}

func (l *limiter) adapt(kind eval.ErrorKind) {
	now := time.Now()
	l.mu.Lock()
	defer l.mu.Unlock()
	cur := l.rpm.Limit()
	switch {
	case kind == eval.ErrRateLimited:
		if now.Sub(l.lastSlow) < slowDownCooldown {
			return
		}
		l.lastSlow = now
		l.rpm.SetLimitAt(now, max(cur/2, l.floor))
	case kind == "" && cur < l.full:
		l.rpm.SetLimitAt(now, min(cur+l.full/32, l.full))
	}
}

// CurrentRPM reports the request rate a Limit wrapper currently allows, in
// requests per minute; 0 when t is not one or has no RPM limit. It exists
// for metrics and tests of the adaptive slow-down.
func CurrentRPM(t eval.Target) float64 {
	l, ok := t.(*limiter)
	if !ok || l.rpm == nil {
		return 0
	}
	l.mu.Lock()
	defer l.mu.Unlock()
	return float64(l.rpm.Limit()) * 60
}

func waitError(ctx context.Context) error {
	kind := eval.ErrCanceled
	err := context.Cause(ctx)
	if errors.Is(ctx.Err(), context.DeadlineExceeded) {
		kind = eval.ErrTimeout
	}
	if err == nil {
		err = errors.New("rate limit wait would exceed the deadline")
		kind = eval.ErrTimeout
	}
	return &eval.TargetError{Kind: kind, Err: err}
}
