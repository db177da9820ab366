package alert

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"maps"
	"slices"
	"sync"
	"time"

	"github.com/driftwatch/driftwatch/storage"
)

// Notifier delivers one event to one channel. An error that should not be
// retried implements Retryable() bool returning false (see DeliveryError).
// Errors must not contain secrets.
type Notifier interface {
	Notify(ctx context.Context, ev *Event) error
}

// NotifierFunc adapts a function to a Notifier.
type NotifierFunc func(ctx context.Context, ev *Event) error

// Notify calls f.
func (f NotifierFunc) Notify(ctx context.Context, ev *Event) error { return f(ctx, ev) }

// DispatchOutbox is the part of the alerts outbox the Dispatcher uses
// (storage.Store satisfies it).
type DispatchOutbox interface {
	ClaimDueAlerts(ctx context.Context, channels []string, now, leaseUntil time.Time, limit int) ([]storage.Alert, error)
	MarkAlertSent(ctx context.Context, id int64, sentAt time.Time) error
	MarkAlertFailed(ctx context.Context, id int64, deliveryErr error, nextAttempt time.Time) error
}

// Dispatcher defaults.
const (
	PollIntervalDefault = 30 * time.Second
	MaxAttemptsDefault  = 8
	BackoffMinDefault   = 30 * time.Second
	BackoffMaxDefault   = time.Hour
	LeaseDefault        = 5 * time.Minute
	TimeoutDefault      = 15 * time.Second
	BatchSizeDefault    = 100
)

// DispatcherConfig configures a Dispatcher. Zero fields take the defaults.
type DispatcherConfig struct {
	// Notifiers by channel name. The dispatcher only claims alerts of these
	// channels; rows for other channels wait for a process that has them.
	Notifiers map[string]Notifier
	// PollInterval between passes when started. Default 30s.
	PollInterval time.Duration
	// MaxAttempts per alert before it is given up (status failed).
	// Default 8.
	MaxAttempts int
	// BackoffMin is the wait after the first failure; it doubles per attempt
	// up to BackoffMax. Defaults 30s and 1h.
	BackoffMin time.Duration
	BackoffMax time.Duration
	// Lease is how long a claimed alert is hidden from other dispatchers
	// while this one delivers it. It must exceed Timeout. Default 5m.
	Lease time.Duration
	// Timeout per delivery. Default 15s.
	Timeout time.Duration
	// BatchSize is the most alerts claimed per pass. Default 100.
	BatchSize int
	// NowFunc is the clock. Default time.Now.
	NowFunc func() time.Time
	Logger  *slog.Logger
}

// WithDefaults returns a copy of c with zero fields filled in.
func (c *DispatcherConfig) WithDefaults() DispatcherConfig {
	var d DispatcherConfig
	if c != nil {
		d = *c
	}
	d.PollInterval = orDur(d.PollInterval, PollIntervalDefault)
	if d.MaxAttempts <= 0 {
		d.MaxAttempts = MaxAttemptsDefault
	}
	d.BackoffMin = orDur(d.BackoffMin, BackoffMinDefault)
	d.BackoffMax = max(orDur(d.BackoffMax, BackoffMaxDefault), d.BackoffMin)
	d.Timeout = orDur(d.Timeout, TimeoutDefault)
	d.Lease = max(orDur(d.Lease, LeaseDefault), 2*d.Timeout)
	if d.BatchSize <= 0 {
		d.BatchSize = BatchSizeDefault
	}
	d.NowFunc = orNow(d.NowFunc)
	d.Logger = orDiscard(d.Logger)
	return d
}

func orDur(d, def time.Duration) time.Duration {
	if d <= 0 {
		return def
	}
	return d
}

// Dispatcher delivers pending outbox alerts. A row is marked sent right
// after its notifier succeeds; a failure is recorded with the attempt count,
// the (redacted) error and the next attempt time, with exponential backoff,
// until MaxAttempts. Because the state lives in the outbox, a new Dispatcher
// after a restart picks up where the old one stopped.
//
// Delivery is at-least-once: a crash between a 2xx and the sent mark re-sends
// that one alert after the lease expires. Concurrent dispatchers never
// deliver the same row at once (rows are leased with SKIP LOCKED).
type Dispatcher struct {
	outbox   DispatchOutbox
	cfg      DispatcherConfig
	channels []string
	logger   *slog.Logger

	mu      sync.Mutex
	cancel  context.CancelFunc
	done    chan struct{}
	lastErr map[int64]string // per alert: log a retry only when its error changes
}

// NewDispatcher returns a Dispatcher over outbox. cfg may be nil (no
// notifiers: it delivers nothing).
func NewDispatcher(outbox DispatchOutbox, cfg *DispatcherConfig) *Dispatcher {
	c := cfg.WithDefaults()
	return &Dispatcher{outbox: outbox, cfg: c, channels: slices.Sorted(maps.Keys(c.Notifiers)),
		logger: c.Logger.With("component", "alert_dispatcher"), lastErr: map[int64]string{}}
}

// DeliverPending makes one pass: it claims the alerts due now and delivers
// each once. It returns how many were sent and how many failed (retry
// scheduled or given up); err reports outbox problems only.
func (d *Dispatcher) DeliverPending(ctx context.Context) (sent, failed int, err error) {
	if len(d.channels) == 0 {
		return 0, 0, nil
	}
	now := d.cfg.NowFunc()
	alerts, err := d.outbox.ClaimDueAlerts(ctx, d.channels, now, now.Add(d.cfg.Lease), d.cfg.BatchSize)
	if err != nil {
		return 0, 0, fmt.Errorf("deliver pending alerts: %w", err)
	}
	var errs []error
	for i := range alerts {
		if err := ctx.Err(); err != nil {
			// Unclaimed work stays leased and is retried after the lease.
			return sent, failed, errors.Join(append(errs, err)...)
		}
		ok, err := d.deliver(ctx, &alerts[i])
		if err != nil {
			errs = append(errs, err)
		}
		if ok {
			sent++
		} else {
			failed++
		}
	}
	return sent, failed, errors.Join(errs...)
}

// deliver sends one alert and records the outcome. err is an outbox error.
func (d *Dispatcher) deliver(ctx context.Context, a *storage.Alert) (bool, error) {
	log := d.logger.With("alert_id", a.ID, "channel", a.Channel, "dedup_key", a.DedupKey, "attempt", a.Attempts+1)
	var ev Event
	derr := json.Unmarshal(a.Payload, &ev)
	if derr != nil {
		derr = Permanent(fmt.Errorf("decode alert payload: %w", derr))
	} else {
		ev.AlertID = a.ID
		nctx, cancel := context.WithTimeout(ctx, d.cfg.Timeout)
		derr = d.cfg.Notifiers[a.Channel].Notify(nctx, &ev)
		cancel()
	}
	now := d.cfg.NowFunc()
	if derr == nil {
		// Mark sent under a context that outlives a cancelled caller: the
		// message is out, the row must say so.
		mctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), d.cfg.Timeout)
		defer cancel()
		d.forget(a.ID)
		if err := d.outbox.MarkAlertSent(mctx, a.ID, now); err != nil {
			log.Error("alert delivered but not marked sent; it may be sent again after the lease", "err", err)
			return true, fmt.Errorf("mark alert %d sent: %w", a.ID, err)
		}
		log.Debug("alert delivered")
		return true, nil
	}
	attempts := a.Attempts + 1
	var next time.Time
	if retryable(derr) && attempts < d.cfg.MaxAttempts {
		next = now.Add(d.Backoff(attempts))
	}
	mctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), d.cfg.Timeout)
	defer cancel()
	if err := d.outbox.MarkAlertFailed(mctx, a.ID, derr, next); err != nil {
		return false, fmt.Errorf("mark alert %d failed: %w", a.ID, err)
	}
	if next.IsZero() {
		d.forget(a.ID)
		log.Error("alert delivery given up", "err", derr, "attempts", attempts)
	} else if d.newError(a.ID, derr.Error()) {
		log.Warn("alert delivery failed; retry scheduled", "err", derr, "next_attempt_at", next)
	}
	return false, nil
}

// Backoff is the wait after the given number of failed attempts (1: first
// failure): BackoffMin doubled per further attempt, capped at BackoffMax.
func (d *Dispatcher) Backoff(attempts int) time.Duration {
	b := d.cfg.BackoffMin
	for i := 1; i < attempts && b < d.cfg.BackoffMax; i++ {
		b *= 2
	}
	return min(b, d.cfg.BackoffMax)
}

func (d *Dispatcher) newError(id int64, msg string) bool {
	d.mu.Lock()
	defer d.mu.Unlock()
	if d.lastErr[id] == msg {
		return false
	}
	d.lastErr[id] = msg
	return true
}

func (d *Dispatcher) forget(id int64) {
	d.mu.Lock()
	defer d.mu.Unlock()
	delete(d.lastErr, id)
}

// Start runs a pass now and then every PollInterval until Stop or ctx ends.
// Calling Start on a started Dispatcher does nothing.
func (d *Dispatcher) Start(ctx context.Context) error {
	d.mu.Lock()
	defer d.mu.Unlock()
	if d.cancel != nil {
		return nil
	}
	ctx, cancel := context.WithCancel(ctx)
	d.cancel, d.done = cancel, make(chan struct{})
	go d.loop(ctx, d.done)
	return nil
}

func (d *Dispatcher) loop(ctx context.Context, done chan struct{}) {
	defer close(done)
	t := time.NewTicker(d.cfg.PollInterval)
	defer t.Stop()
	for {
		if sent, failed, err := d.DeliverPending(ctx); err != nil && ctx.Err() == nil {
			d.logger.Error("deliver pending alerts", "err", err, "sent", sent, "failed", failed)
		}
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
	}
}

// Stop ends the loop and waits for the pass in flight, or until ctx ends.
// It is safe before Start and more than once.
func (d *Dispatcher) Stop(ctx context.Context) error {
	d.mu.Lock()
	cancel, done := d.cancel, d.done
	d.cancel = nil
	d.mu.Unlock()
	if cancel == nil {
		return nil
	}
	cancel()
	select {
	case <-done:
		return nil
	case <-ctx.Done():
		return fmt.Errorf("stop alert dispatcher: %w", ctx.Err())
	}
}
