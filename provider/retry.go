package provider

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/driftwatch/driftwatch/eval"
)

// Retry defaults and limits.
const (
	RetryMaxAttemptsDefault = 4
	RetryBaseDelayDefault   = 500 * time.Millisecond
	RetryMaxDelayDefault    = 30 * time.Second
	RetryMaxThrottleDefault = 10 * time.Minute
)

// Retry is the retry policy every provider applies to one Complete call:
// exponential backoff with full jitter, honouring Retry-After, on 429, 5xx,
// transport errors and per-attempt timeouts. Other 4xx are never retried.
type Retry struct {
	// MaxAttempts is the total number of HTTP attempts, first included.
	// Default 4; 1 disables retries. Negative is invalid.
	MaxAttempts int `json:"max_attempts,omitempty" yaml:"max_attempts"`
	// BaseDelay is the backoff ceiling after the first failure; it doubles
	// per attempt. Default 500ms.
	BaseDelay time.Duration `json:"base_delay,omitempty" yaml:"base_delay"`
	// MaxDelay caps every wait, Retry-After included. Default 30s.
	MaxDelay time.Duration `json:"max_delay,omitempty" yaml:"max_delay"`
	// MaxThrottle bounds how long one call waits out 429s. Rate-limited
	// attempts do not count against MaxAttempts, which is for real errors;
	// past MaxThrottle the call fails as rate limited. Default 10m.
	MaxThrottle time.Duration `json:"max_throttle,omitempty" yaml:"max_throttle"`
}

// WithDefaults returns a copy of r with zero fields set to their defaults.
func (r Retry) WithDefaults() Retry {
	if r.MaxAttempts == 0 {
		r.MaxAttempts = RetryMaxAttemptsDefault
	}
	if r.BaseDelay == 0 {
		r.BaseDelay = RetryBaseDelayDefault
	}
	if r.MaxDelay == 0 {
		r.MaxDelay = RetryMaxDelayDefault
	}
	if r.MaxThrottle == 0 {
		r.MaxThrottle = RetryMaxThrottleDefault
	}
	return r
}

// Validate reports a field that cannot work.
func (r Retry) Validate() error {
	switch {
	case r.MaxAttempts < 0:
		return fmt.Errorf("retry.max_attempts %d: must be >= 1 (0 means %d)", r.MaxAttempts, RetryMaxAttemptsDefault)
	case r.BaseDelay < 0, r.MaxDelay < 0, r.MaxThrottle < 0:
		return errors.New("retry delays must not be negative")
	}
	return nil
}

// Backoff returns how long to wait after failed attempt n (1-based). A
// positive retryAfter (from the server) is honoured; otherwise the wait is
// uniform in [0, min(MaxDelay, BaseDelay*2^(n-1))]. Both are capped at
// MaxDelay. r must have defaults applied.
func (r Retry) Backoff(n int, retryAfter time.Duration) time.Duration {
	if retryAfter > 0 {
		return min(retryAfter, r.MaxDelay)
	}
	ceil := r.BaseDelay
	for i := 1; i < n && ceil < r.MaxDelay; i++ {
		ceil *= 2
	}
	ceil = min(ceil, r.MaxDelay)
	if ceil <= 0 {
		return 0
	}
	return time.Duration(rand.Int64N(int64(ceil) + 1))
}

// ParseRetryAfter parses a Retry-After header value: delay seconds
// (fractions accepted, as some gateways send them) or an HTTP-date. It
// returns 0 when v is empty, unparseable or in the past.
func ParseRetryAfter(v string, now time.Time) time.Duration {
	v = strings.TrimSpace(v)
	if v == "" {
		return 0
	}
	if secs, err := strconv.ParseFloat(v, 64); err == nil {
		if secs <= 0 || secs > 1e6 {
			return 0
		}
		return time.Duration(secs * float64(time.Second))
	}
	if t, err := http.ParseTime(v); err == nil {
		if d := t.Sub(now); d > 0 {
			return d
		}
	}
	return 0
}

// RetryAfter reads the server's requested wait from h: Retry-After, or the
// retry-after-ms header some OpenAI-compatible servers send.
func RetryAfter(h http.Header, now time.Time) time.Duration {
	if h == nil {
		return 0
	}
	if ms := h.Get("Retry-After-Ms"); ms != "" {
		if f, err := strconv.ParseFloat(ms, 64); err == nil && f > 0 {
			return time.Duration(f * float64(time.Millisecond))
		}
	}
	return ParseRetryAfter(h.Get("Retry-After"), now)
}

// KindForStatus classifies an HTTP status that is not a success.
func KindForStatus(status int) eval.ErrorKind {
	switch {
	case status == http.StatusTooManyRequests:
		return eval.ErrRateLimited
	case status == http.StatusUnauthorized, status == http.StatusForbidden:
		return eval.ErrAuth
	case status == http.StatusRequestTimeout:
		return eval.ErrTimeout
	case status >= 500:
		return eval.ErrServer // 529 (Anthropic overloaded) included
	case status >= 400:
		return eval.ErrBadRequest
	default:
		return eval.ErrMalformed // 1xx/3xx where a JSON body was expected
	}
}

// Retryable reports whether an attempt that failed with kind may be retried.
func Retryable(kind eval.ErrorKind) bool {
	switch kind {
	case eval.ErrRateLimited, eval.ErrServer, eval.ErrTransport, eval.ErrTimeout:
		return true
	}
	return false
}

// AttemptError is the classified failure of one HTTP attempt. Providers
// return it from the function they pass to Retry.Do.
type AttemptError struct {
	Kind   eval.ErrorKind
	Status int
	// RetryAfter is the server's requested wait, 0 when none.
	RetryAfter time.Duration
	Err        error
}

func (e *AttemptError) Error() string {
	if e.Err == nil {
		return string(e.Kind)
	}
	return e.Err.Error()
}

func (e *AttemptError) Unwrap() error { return e.Err }

// Do runs attempt until it succeeds, fails with a kind that is not
// retryable, MaxAttempts is reached or ctx ends. The context is checked
// before every attempt and during every wait. onRetry, when non-nil, is told
// about every scheduled retry (for logging).
//
// A 429 (eval.ErrRateLimited) is waited out (Retry-After, else backoff) and
// does not count against MaxAttempts; once the call has spent MaxThrottle
// rate limited, the 429 fails it.
//
// Do returns the number of attempts made and, on failure, the last
// *AttemptError (errors that are not one count as transport errors). When
// ctx ended, the error is an *AttemptError of kind ErrCanceled or ErrTimeout.
// r must have defaults applied.
func (r Retry) Do(ctx context.Context, attempt func(ctx context.Context, n int) error,
	onRetry func(n int, err *AttemptError, wait time.Duration)) (int, error) {
	return r.do(ctx, false, attempt, onRetry)
}

// DoPaced is Do for attempts that go through a Pacer: after a 429 the next
// attempt starts at once and the pacer holds it until the server's
// Retry-After has passed (shared by every call of the target).
func (r Retry) DoPaced(ctx context.Context, attempt func(ctx context.Context, n int) error,
	onRetry func(n int, err *AttemptError, wait time.Duration)) (int, error) {
	return r.do(ctx, true, attempt, onRetry)
}

func (r Retry) do(ctx context.Context, paced bool, attempt func(ctx context.Context, n int) error,
	onRetry func(n int, err *AttemptError, wait time.Duration)) (int, error) {
	var (
		last          *AttemptError
		counted       int       // attempts that count against MaxAttempts
		limited       int       // consecutive 429s
		throttleStart time.Time // first 429 of the call
	)
	for n := 1; ; n++ {
		if err := ctx.Err(); err != nil {
			return n - 1, ctxAttemptError(ctx, last)
		}
		err := attempt(ctx, n)
		if err == nil {
			return n, nil
		}
		if !errors.As(err, &last) {
			last = &AttemptError{Kind: eval.ErrTransport, Err: err}
		}
		if ctx.Err() != nil {
			return n, ctxAttemptError(ctx, last)
		}
		var wait time.Duration
		if last.Kind == eval.ErrRateLimited {
			limited++
			if throttleStart.IsZero() {
				throttleStart = time.Now()
			}
			if time.Since(throttleStart) >= r.MaxThrottle {
				return n, last
			}
			if !paced {
				wait = r.Backoff(limited, last.RetryAfter)
			}
		} else {
			limited = 0
			counted++
			if !Retryable(last.Kind) || counted >= r.MaxAttempts {
				return n, last
			}
			wait = r.Backoff(counted, last.RetryAfter)
		}
		if onRetry != nil {
			onRetry(n, last, wait)
		}
		if wait > 0 {
			t := time.NewTimer(wait)
			select {
			case <-ctx.Done():
				t.Stop()
				return n, ctxAttemptError(ctx, last)
			case <-t.C:
			}
		}
	}
}

func ctxAttemptError(ctx context.Context, last *AttemptError) *AttemptError {
	kind := eval.ErrCanceled
	if errors.Is(ctx.Err(), context.DeadlineExceeded) {
		kind = eval.ErrTimeout
	}
	ae := &AttemptError{Kind: kind, Err: context.Cause(ctx)}
	if last != nil {
		ae.Status = last.Status
		ae.Err = fmt.Errorf("%w (last attempt: %v)", context.Cause(ctx), last.Err)
	}
	return ae
}
