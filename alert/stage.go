package alert

import (
	"cmp"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"slices"
	"time"

	"github.com/driftwatch/driftwatch/storage"
)

// A Stage processes events and returns those that remain (dropped ones are
// suppressed, fanned-out ones multiplied). A new behaviour is a new stage.
type Stage interface {
	Exec(ctx context.Context, events []Event) ([]Event, error)
}

// StageFunc adapts a function to a Stage.
type StageFunc func(ctx context.Context, events []Event) ([]Event, error)

// Exec calls f.
func (f StageFunc) Exec(ctx context.Context, events []Event) ([]Event, error) { return f(ctx, events) }

// Sequence runs stages in order, each on the previous one's output. It stops
// at the first error and returns the events that got that far.
type Sequence []Stage

// Exec runs the stages in order.
func (s Sequence) Exec(ctx context.Context, events []Event) ([]Event, error) {
	for _, st := range s {
		if len(events) == 0 {
			return nil, nil
		}
		if err := ctx.Err(); err != nil {
			return events, err
		}
		var err error
		if events, err = st.Exec(ctx, events); err != nil {
			return events, err
		}
	}
	return events, nil
}

// AlertLog is the persisted alert log Dedup and Resolve read (storage.Store
// satisfies it). LastAlert returns storage.ErrNotFound when a key was never
// alerted; EpisodeChannels lists the channels that received a drift alert
// of the episode opened by run firstRunID.
type AlertLog interface {
	LastAlert(ctx context.Context, dedupKey string) (storage.Alert, error)
	EpisodeChannels(ctx context.Context, dedupKey string, firstRunID int64) ([]string, error)
}

// lastAlert returns the newest alert with key, or nil when there is none.
func lastAlert(ctx context.Context, log AlertLog, key string) (*storage.Alert, error) {
	a, err := log.LastAlert(ctx, key)
	switch {
	case err == nil:
		return &a, nil
	case errors.Is(err, storage.ErrNotFound):
		return nil, nil
	}
	return nil, err
}

// RepeatIntervalDefault is how long an unchanged event stays quiet.
const RepeatIntervalDefault = 24 * time.Hour

// Dedup drops an event when the last alert with its dedup key had the same
// fingerprint and was raised less than RepeatInterval ago. A changed
// fingerprint, an expired interval, or a last alert that was given up on
// (status failed: nobody saw it) lets the event through.
type Dedup struct {
	log AlertLog
	// RepeatInterval; zero means RepeatIntervalDefault.
	repeat  time.Duration
	nowFunc func() time.Time
	logger  *slog.Logger
}

// NewDedup returns a Dedup stage over log. A zero repeat means
// RepeatIntervalDefault; a nil nowFunc means time.Now; a nil logger discards.
func NewDedup(log AlertLog, repeat time.Duration, nowFunc func() time.Time, logger *slog.Logger) *Dedup {
	return &Dedup{log: log, repeat: cmp.Or(repeat, RepeatIntervalDefault), nowFunc: orNow(nowFunc),
		logger: orDiscard(logger).With("component", "alert_dedup")}
}

// Decision says why Dedup let an event through or not.
type Decision int

// Dedup decisions.
const (
	DecisionNew Decision = iota + 1
	DecisionChanged
	DecisionRepeat
	DecisionRetryGivenUp
	DecisionSuppressed
)

var decisionNames = map[Decision]string{DecisionNew: "new", DecisionChanged: "changed",
	DecisionRepeat: "repeat interval passed", DecisionRetryGivenUp: "last delivery given up", DecisionSuppressed: "suppressed"}

// String names the decision.
func (d Decision) String() string { return cmp.Or(decisionNames[d], "unknown") }

// Decide is Dedup's pure rule: whether ev should alert given the last alert
// with its key (nil when none), the time now and the repeat interval.
func Decide(ev *Event, last *storage.Alert, now time.Time, repeat time.Duration) Decision {
	if last == nil {
		return DecisionNew
	}
	if last.Status == storage.AlertFailed {
		return DecisionRetryGivenUp
	}
	var prev Event
	if err := json.Unmarshal(last.Payload, &prev); err != nil || prev.Fingerprint != ev.Fingerprint {
		return DecisionChanged
	}
	at := prev.Time
	if at.IsZero() {
		at = last.CreatedAt
	}
	if now.Sub(at) >= repeat {
		return DecisionRepeat
	}
	return DecisionSuppressed
}

// Exec drops the events that alerted recently with the same fingerprint.
func (d *Dedup) Exec(ctx context.Context, events []Event) ([]Event, error) {
	now := d.nowFunc()
	var (
		out  []Event
		errs []error
	)
	for _, ev := range events {
		last, err := lastAlert(ctx, d.log, ev.DedupKey)
		if err != nil {
			// Without the log we can't tell: alert rather than stay silent.
			errs = append(errs, fmt.Errorf("dedup %s: %w", ev.DedupKey, err))
			out = append(out, ev)
			continue
		}
		dec := Decide(&ev, last, now, d.repeat)
		d.logger.DebugContext(ctx, "dedup", "dedup_key", ev.DedupKey, "fingerprint", ev.Fingerprint, "decision", dec.String())
		if dec != DecisionSuppressed {
			out = append(out, ev)
		}
	}
	return out, errors.Join(errs...)
}

// Route sends each event to every channel whose minimum severity it meets:
// one output event per (event, channel), with Channel set. An event without
// a severity (a resolved candidate that Resolve did not keep) goes nowhere;
// a resolved event goes only to its Recipients, the channels that received
// a drift alert of the episode it ends (a channel added since, or one whose
// drift alert was given up on, never hears of a drift it was not told of).
type Route struct {
	// MinSeverity maps channel names to the lowest severity they receive.
	MinSeverity map[string]Severity
}

// Exec fans events out to channels, in channel-name order.
func (r Route) Exec(_ context.Context, events []Event) ([]Event, error) {
	channels := make([]string, 0, len(r.MinSeverity))
	for c := range r.MinSeverity {
		channels = append(channels, c)
	}
	slices.Sort(channels)
	var out []Event
	for _, ev := range events {
		if ev.Severity <= 0 {
			continue
		}
		for _, c := range channels {
			if ev.Kind == KindResolved && !slices.Contains(ev.Recipients, c) {
				continue
			}
			if ev.Severity >= r.MinSeverity[c] {
				e := ev
				e.Channel = c
				out = append(out, e)
			}
		}
	}
	return out, nil
}

// Outbox is where Enqueue writes (storage.Store satisfies it).
type Outbox interface {
	EnqueueAlert(ctx context.Context, a storage.NewAlert) (storage.Alert, error)
}

// Enqueue writes each routed event as a pending row of the alerts outbox and
// returns the events it wrote, with AlertID set. Events without a channel or
// a run are refused with an error (the outbox row needs both).
type Enqueue struct {
	outbox  Outbox
	nowFunc func() time.Time
}

// NewEnqueue returns an Enqueue stage; a nil nowFunc means time.Now.
func NewEnqueue(outbox Outbox, nowFunc func() time.Time) *Enqueue {
	return &Enqueue{outbox: outbox, nowFunc: orNow(nowFunc)}
}

// Exec writes the events to the outbox, due now.
func (e *Enqueue) Exec(ctx context.Context, events []Event) ([]Event, error) {
	now := e.nowFunc()
	var (
		out  []Event
		errs []error
	)
	for _, ev := range events {
		if ev.Channel == "" || ev.RunID == 0 {
			errs = append(errs, fmt.Errorf("enqueue %s: event has no channel or run", ev.DedupKey))
			continue
		}
		payload, err := json.Marshal(ev)
		if err != nil {
			errs = append(errs, fmt.Errorf("encode %s: %w", ev.DedupKey, err))
			continue
		}
		a, err := e.outbox.EnqueueAlert(ctx, storage.NewAlert{RunID: ev.RunID, Channel: ev.Channel, DedupKey: ev.DedupKey,
			Payload: payload, NextAttemptAt: now})
		if err != nil {
			errs = append(errs, fmt.Errorf("enqueue %s to %s: %w", ev.DedupKey, ev.Channel, err))
			continue
		}
		ev.AlertID = a.ID
		out = append(out, ev)
	}
	return out, errors.Join(errs...)
}

func orDiscard(l *slog.Logger) *slog.Logger {
	if l == nil {
		return slog.New(slog.DiscardHandler)
	}
	return l
}

func orNow(f func() time.Time) func() time.Time {
	if f == nil {
		return time.Now
	}
	return f
}
