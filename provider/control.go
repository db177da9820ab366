package provider

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"sort"
	"strings"
	"sync"
	"time"

	"github.com/driftwatch/driftwatch/eval"
)

// Control is what every attempt to one target goes through: its circuit
// breaker, its pacer and its retry log. Providers build one per client (or
// take a shared one, see the clients' WithControl options) and send each
// HTTP attempt through Attempt. A nil *Control sends attempts as they come.
type Control struct {
	Pacer   *Pacer
	Breaker *Breaker
	Log     *RetryLog
}

// ControlConfig configures NewControl.
type ControlConfig struct {
	Pacer   PacerConfig
	Breaker BreakerConfig
	// LogEvery is the interval of the retry summary. Default 5s.
	LogEvery time.Duration
	// OnTrip is called once per breaker trip (see NewBreaker).
	OnTrip func(error)
}

// NewControl returns a Control for one target. logger may be nil.
func NewControl(cfg ControlConfig, logger *slog.Logger) *Control {
	return &Control{
		Pacer:   NewPacer(cfg.Pacer),
		Breaker: NewBreaker(cfg.Breaker, cfg.OnTrip),
		Log:     NewRetryLog(logger, cfg.LogEvery),
	}
}

// AttemptResult is what a sent attempt reports to its Control.
type AttemptResult struct {
	// Status is the HTTP status, 0 when no response arrived.
	Status int
	Header http.Header
	// UsedTokens is the input plus output tokens the response reported,
	// 0 when unknown.
	UsedTokens int
}

// Attempt sends one attempt: the breaker admits it (or it fails at once
// with an *AttemptError of kind eval.ErrCircuitOpen), the pacer holds it
// until the target's rate limits allow tokens more, then send runs with a
// context the breaker cancels if it trips. What send returns is learned
// from and returned; an attempt cut short by a trip fails as
// eval.ErrCircuitOpen.
func (c *Control) Attempt(ctx context.Context, tokens int, send func(ctx context.Context) (AttemptResult, error)) error {
	if c == nil {
		_, err := send(ctx)
		return err
	}
	if err := c.Breaker.refusing(); err != nil {
		return &AttemptError{Kind: eval.ErrCircuitOpen, Err: err}
	}
	tk, err := c.Pacer.Wait(ctx, tokens)
	if err != nil {
		return &AttemptError{Kind: eval.ErrCanceled, Err: fmt.Errorf("waiting for the rate limit: %w", err)}
	}
	actx, end, err := c.Breaker.Begin(ctx)
	if err != nil {
		return &AttemptError{Kind: eval.ErrCircuitOpen, Err: err}
	}
	res, err := send(actx)
	c.Pacer.Observe(tk, res.Status, res.Header, res.UsedTokens)
	if cause := context.Cause(actx); err != nil && ctx.Err() == nil && errors.Is(cause, ErrCircuitOpen) {
		err = &AttemptError{Kind: eval.ErrCircuitOpen, Err: cause}
	}
	end(res.Status, err)
	return err
}

// OnRetry logs a scheduled retry through the retry log; pass it to
// Retry.Do.
func (c *Control) OnRetry(n int, ae *AttemptError, wait time.Duration) {
	if c == nil {
		return
	}
	c.Log.Note(n, ae, wait)
}

// ThrottledTime is the wall-clock time the target's calls spent held back
// by its rate limits: the figure for a progress line or a metric (a
// counter in seconds, e.g. driftwatch_target_throttled_seconds_total).
func (c *Control) ThrottledTime() time.Duration {
	if c == nil {
		return 0
	}
	return c.Pacer.Stats().Throttled
}

// RetryLog summarises retries: every retry is logged at Debug, and at most
// one Warn line per interval sums up the retries of that interval by kind
// and status, with the time spent throttled. Safe for concurrent use.
type RetryLog struct {
	logger *slog.Logger
	every  time.Duration
	now    func() time.Time

	mu       sync.Mutex
	since    time.Time // start of the counts
	lastLine time.Time
	counts   map[string]int
	total    int
	waited   time.Duration
}

// NewRetryLog returns a retry log. logger may be nil (discard); every <= 0
// means 5s.
func NewRetryLog(logger *slog.Logger, every time.Duration) *RetryLog {
	if logger == nil {
		logger = slog.New(slog.DiscardHandler)
	}
	if every <= 0 {
		every = 5 * time.Second
	}
	return &RetryLog{logger: logger, every: every, now: time.Now}
}

// Note records one scheduled retry after failed attempt n.
func (l *RetryLog) Note(n int, ae *AttemptError, wait time.Duration) {
	if l == nil {
		return
	}
	l.logger.Debug("retrying completion", slog.Int("attempt", n), slog.String("kind", string(ae.Kind)),
		slog.Int("status", ae.Status), slog.Duration("wait", wait), slog.String("error", ae.Error()))
	key := string(ae.Kind)
	if ae.Status != 0 {
		key = fmt.Sprintf("%s %d", ae.Kind, ae.Status)
	}
	l.mu.Lock()
	now := l.now()
	if l.counts == nil {
		l.counts = map[string]int{}
		l.since = now
	}
	l.counts[key]++
	l.total++
	l.waited += wait
	if now.Sub(l.lastLine) < l.every {
		l.mu.Unlock()
		return
	}
	// The first retry after a quiet interval is reported at once; later
	// ones wait for the next line.
	l.lastLine = now
	parts := make([]string, 0, len(l.counts))
	for k, v := range l.counts {
		parts = append(parts, fmt.Sprintf("%s: %d", k, v))
	}
	sort.Strings(parts)
	total, waited, since := l.total, l.waited, now.Sub(l.since)
	l.counts, l.total, l.waited, l.since = map[string]int{}, 0, 0, now
	l.mu.Unlock()
	l.logger.Warn("retrying completions", slog.Int("retries", total), slog.String("by_kind", strings.Join(parts, ", ")),
		slog.Duration("backoff", waited), slog.Duration("over", since.Round(time.Millisecond)), slog.String("last_error", ae.Error()))
}
