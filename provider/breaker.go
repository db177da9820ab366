package provider

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"sync"
	"time"

	"github.com/driftwatch/driftwatch/eval"
)

// ErrCircuitOpen is wrapped by the error of every call a tripped Breaker
// refuses (and of the attempts it cuts short): the target was failing, so
// nothing more is sent. Calls refused this way were never sent and can run
// again on resume. Test with errors.Is, or check
// eval.KindOf(err) == eval.ErrCircuitOpen.
var ErrCircuitOpen = errors.New("circuit open: the target failed every recent call")

// CircuitOpenError is the error a tripped Breaker returns: why it tripped
// and the last failure it saw.
type CircuitOpenError struct {
	Reason string
	Cause  error
}

func (e *CircuitOpenError) Error() string {
	if e.Cause == nil {
		return fmt.Sprintf("%v: %s", ErrCircuitOpen, e.Reason)
	}
	return fmt.Sprintf("%v: %s (last error: %v)", ErrCircuitOpen, e.Reason, e.Cause)
}

// Is makes errors.Is(err, ErrCircuitOpen) true.
func (e *CircuitOpenError) Is(target error) bool { return target == ErrCircuitOpen }

func (e *CircuitOpenError) Unwrap() error { return e.Cause }

// Breaker defaults.
const (
	BreakerFailForDefault     = 30 * time.Second
	BreakerMinFailuresDefault = 8
	BreakerSilenceDefault     = 40 * time.Second
	BreakerCooldownDefault    = time.Minute
)

// BreakerConfig configures a Breaker. Zero fields mean default.
type BreakerConfig struct {
	// FailFor: the breaker trips once every attempt has failed for this
	// long (at least MinFailures of them). Failures are 5xx, 429, timeouts,
	// transport errors and malformed bodies; any other answer (a success,
	// a 4xx other than 429) ends the streak. Default 30s.
	FailFor time.Duration
	// MinFailures is the least number of failed attempts in the streak.
	// Default 8.
	MinFailures int
	// Silence: the breaker trips when attempts have been in flight for
	// this long and no response of any kind arrived meanwhile (a server
	// that accepts connections and never answers). Default 40s; raise it
	// for models whose single responses take longer.
	Silence time.Duration
	// Cooldown is how long a tripped breaker refuses every call before it
	// lets one trial attempt through (long-lived processes). Default 1m.
	Cooldown time.Duration
}

// WithDefaults returns c with zero fields set to their defaults.
func (c BreakerConfig) WithDefaults() BreakerConfig {
	if c.FailFor <= 0 {
		c.FailFor = BreakerFailForDefault
	}
	if c.MinFailures <= 0 {
		c.MinFailures = BreakerMinFailuresDefault
	}
	if c.Silence <= 0 {
		c.Silence = BreakerSilenceDefault
	}
	if c.Cooldown <= 0 {
		c.Cooldown = BreakerCooldownDefault
	}
	return c
}

// Breaker is a per-target circuit breaker over HTTP attempts. Providers
// call Begin before each attempt and the returned end func after it. Once
// tripped, Begin fails fast with a *CircuitOpenError and the attempts in
// flight are cancelled with it as their context's cause. After Cooldown
// one trial attempt is let through: a success closes the breaker, a
// failure opens it again. A nil *Breaker never trips. Safe for concurrent
// use.
type Breaker struct {
	cfg BreakerConfig
	now func() time.Time

	mu          sync.Mutex
	streak      int
	streakStart time.Time
	lastErr     error
	inflight    int
	quietSince  time.Time // no response since; meaningful while inflight > 0
	watch       *time.Timer
	open        *CircuitOpenError
	openedAt    time.Time
	trial       bool // a trial attempt is in flight
	trips       int64
	tripCtx     context.Context
	tripCancel  context.CancelCauseFunc
	onTrip      func(error)
}

// NewBreaker returns a closed breaker. onTrip, when not nil, is called
// (outside the breaker's lock, once per trip) with the trip error.
func NewBreaker(cfg BreakerConfig, onTrip func(error)) *Breaker {
	b := &Breaker{cfg: cfg.WithDefaults(), now: time.Now, onTrip: onTrip}
	b.tripCtx, b.tripCancel = context.WithCancelCause(context.Background())
	return b
}

// Outcome classifies the end of one attempt for a Breaker.
type Outcome int

// Attempt outcomes.
const (
	// OutcomeOK: the server answered usefully (2xx, or a 4xx other than
	// 429, which says the server works and the request is at fault).
	OutcomeOK Outcome = iota
	// OutcomeFailed: 5xx, 429, a transport error, a timeout, a malformed
	// body.
	OutcomeFailed
	// OutcomeCanceled: the caller gave up; says nothing about the target.
	OutcomeCanceled
)

// OutcomeOf classifies an attempt's error (nil: success) for a Breaker.
func OutcomeOf(err error) Outcome {
	if err == nil {
		return OutcomeOK
	}
	var ae *AttemptError
	kind := eval.KindOf(err)
	if errors.As(err, &ae) {
		kind = ae.Kind
	}
	switch kind {
	case eval.ErrCanceled, eval.ErrBudget, eval.ErrCircuitOpen:
		return OutcomeCanceled
	case eval.ErrBadRequest, eval.ErrAuth, eval.ErrIdentity:
		return OutcomeOK
	}
	return OutcomeFailed
}

// Begin admits one attempt. It returns the context to send it with
// (cancelled with the trip error should the breaker trip meanwhile) and
// the func to call with its status (0: no response) and error when it
// ends. A tripped breaker returns a *CircuitOpenError instead.
func (b *Breaker) Begin(ctx context.Context) (context.Context, func(status int, err error), error) {
	if b == nil {
		return ctx, func(int, error) {}, nil
	}
	b.mu.Lock()
	now := b.now()
	isTrial := false
	if b.open != nil {
		if b.trial || now.Sub(b.openedAt) < b.cfg.Cooldown {
			err := b.open
			b.mu.Unlock()
			return ctx, nil, err
		}
		b.trial, isTrial = true, true
		b.tripCtx, b.tripCancel = context.WithCancelCause(context.Background())
	}
	if b.inflight == 0 {
		b.quietSince = now
	}
	b.inflight++
	if b.watch == nil {
		b.watch = time.AfterFunc(b.cfg.Silence, b.checkSilence)
	}
	tripCtx := b.tripCtx
	b.mu.Unlock()

	actx, cancel := context.WithCancelCause(ctx)
	stop := context.AfterFunc(tripCtx, func() { cancel(context.Cause(tripCtx)) })
	var once sync.Once
	end := func(status int, err error) {
		once.Do(func() {
			stop()
			cancel(nil)
			b.end(status, err, isTrial)
		})
	}
	return actx, end, nil
}

func (b *Breaker) end(status int, err error, trial bool) {
	b.mu.Lock()
	now := b.now()
	b.inflight--
	if status != 0 {
		b.quietSince = now
	}
	if trial {
		b.trial = false
	}
	var fire func(error)
	var tripErr error
	switch OutcomeOf(err) {
	case OutcomeOK:
		if status == http.StatusTooManyRequests {
			break // a 429 that was waited out is still no success
		}
		b.streak = 0
		if b.open != nil && trial {
			b.closeLocked()
		}
	case OutcomeFailed:
		if b.streak == 0 {
			b.streakStart = now
		}
		b.streak++
		b.lastErr = err
		if trial && b.open != nil {
			b.openedAt = now // stay open for another cooldown
		} else if b.open == nil && b.streak >= b.cfg.MinFailures && now.Sub(b.streakStart) >= b.cfg.FailFor {
			tripErr = b.tripLocked(now, fmt.Sprintf("all %d attempts of the last %s failed", b.streak, now.Sub(b.streakStart).Round(time.Second)))
			fire = b.onTrip
		}
	}
	b.mu.Unlock()
	if fire != nil {
		fire(tripErr)
	}
}

// checkSilence runs from the silence timer.
func (b *Breaker) checkSilence() {
	b.mu.Lock()
	b.watch = nil
	now := b.now()
	if b.inflight == 0 || b.open != nil {
		b.mu.Unlock()
		return
	}
	quiet := now.Sub(b.quietSince)
	if quiet < b.cfg.Silence {
		b.watch = time.AfterFunc(b.cfg.Silence-quiet, b.checkSilence)
		b.mu.Unlock()
		return
	}
	err := b.tripLocked(now, fmt.Sprintf("no response at all for %s with %d calls in flight", quiet.Round(time.Second), b.inflight))
	fire := b.onTrip
	b.mu.Unlock()
	if fire != nil {
		fire(err)
	}
}

func (b *Breaker) tripLocked(now time.Time, reason string) error {
	cause := b.lastErr
	var ae *AttemptError
	if errors.As(cause, &ae) && ae.Status != 0 {
		cause = fmt.Errorf("HTTP %d: %w", ae.Status, ae)
	}
	b.open = &CircuitOpenError{Reason: reason, Cause: cause}
	b.openedAt = now
	b.trips++
	b.tripCancel(b.open)
	return b.open
}

func (b *Breaker) closeLocked() {
	b.open = nil
	b.streak = 0
	b.lastErr = nil
	b.tripCtx, b.tripCancel = context.WithCancelCause(context.Background())
}

// Err returns the trip error while the breaker is open, nil otherwise.
func (b *Breaker) Err() error {
	if b == nil {
		return nil
	}
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.open == nil {
		return nil
	}
	return b.open
}

// refusing returns the trip error when Begin would refuse an attempt now.
func (b *Breaker) refusing() error {
	if b == nil {
		return nil
	}
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.open == nil || (!b.trial && b.now().Sub(b.openedAt) >= b.cfg.Cooldown) {
		return nil
	}
	return b.open
}

// Trips counts how often the breaker has tripped.
func (b *Breaker) Trips() int64 {
	if b == nil {
		return 0
	}
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.trips
}

// Stop releases the silence timer. The breaker keeps working; a later
// attempt arms the timer again.
func (b *Breaker) Stop() {
	if b == nil {
		return
	}
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.watch != nil {
		b.watch.Stop()
		b.watch = nil
	}
}
