// Package schedule fires cron schedules. It only decides when: every firing
// calls Fire with the schedule's name and the exact fire time, and the
// caller makes the firing idempotent (Driftwatch inserts a River job unique
// per (schedule, fire time), so several replicas firing together run once).
//
// The in-memory schedule is approximate: a process that is down at a fire
// time does not fire it later. Time comes from an injected Clock.
package schedule

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"sync"
	"time"

	"github.com/robfig/cron/v3"
)

// Schedule is the one method of cron.Schedule the scheduler needs.
type Schedule interface {
	Next(time.Time) time.Time
}

// Parse parses a standard cron spec (or a descriptor such as @daily or
// @every 2s) in the named time zone (empty or "UTC": UTC). "@every d" fires
// at multiples of d since the Unix epoch, the same instants in every process.
func Parse(spec, timezone string) (Schedule, error) {
	if timezone != "" && timezone != "UTC" {
		if _, err := time.LoadLocation(timezone); err != nil {
			return nil, fmt.Errorf("timezone %q: %w", timezone, err)
		}
		spec = "CRON_TZ=" + timezone + " " + spec
	}
	s, err := cron.ParseStandard(spec)
	if err != nil {
		return nil, fmt.Errorf("cron %q: %w", spec, err)
	}
	if every, ok := s.(cron.ConstantDelaySchedule); ok {
		return aligned{every.Delay}, nil
	}
	return s, nil
}

// aligned is "@every d" aligned to multiples of d since the Unix epoch, so
// replicas started at different times agree on the fire times (cron's own
// ConstantDelaySchedule counts from each process's start).
type aligned struct{ d time.Duration }

func (a aligned) Next(t time.Time) time.Time {
	d := int64(a.d)
	return time.Unix(0, t.UnixNano()/d*d+d).In(t.Location())
}

// Entry is one named schedule.
type Entry struct {
	Name     string
	Schedule Schedule
}

// Clock tells the time and waits. RealClock is the default.
type Clock interface {
	Now() time.Time
	// After returns a channel that receives once d has passed.
	After(d time.Duration) <-chan time.Time
}

type realClock struct{}

func (realClock) Now() time.Time                         { return time.Now() }
func (realClock) After(d time.Duration) <-chan time.Time { return time.After(d) }

// RealClock is the wall clock.
var RealClock Clock = realClock{}

// FireFunc handles one firing. An error is logged; the schedule goes on.
type FireFunc func(ctx context.Context, name string, at time.Time) error

// Config configures a Scheduler.
type Config struct {
	Entries []Entry
	// Fire is called for every firing. Required.
	Fire FireFunc
	// Clock defaults to RealClock.
	Clock Clock
	// Logger defaults to discarding.
	Logger *slog.Logger
}

// Scheduler fires entries at their times, one goroutine per entry. A firing
// that is still running when the next is due delays it (never overlaps).
type Scheduler struct {
	cfg    Config
	mu     sync.Mutex
	cancel context.CancelFunc
	wg     sync.WaitGroup
}

// New returns a Scheduler; it does nothing until Start.
func New(cfg Config) (*Scheduler, error) {
	if cfg.Fire == nil {
		return nil, errors.New("schedule: Config.Fire is required")
	}
	if cfg.Clock == nil {
		cfg.Clock = RealClock
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.DiscardHandler)
	}
	cfg.Logger = cfg.Logger.With("component", "schedule")
	return &Scheduler{cfg: cfg}, nil
}

// Start starts firing. It is idempotent. Firings run under a context derived
// from ctx (without its cancellation: Stop ends them).
func (s *Scheduler) Start(ctx context.Context) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.cancel != nil {
		return nil
	}
	ctx, s.cancel = context.WithCancel(context.WithoutCancel(ctx))
	for _, e := range s.cfg.Entries {
		s.wg.Add(1)
		go func() {
			defer s.wg.Done()
			s.loop(ctx, e)
		}()
	}
	return nil
}

// Stop stops firing and waits for firings in progress, until ctx is done.
// It is idempotent and safe before Start.
func (s *Scheduler) Stop(ctx context.Context) error {
	s.mu.Lock()
	cancel := s.cancel
	s.mu.Unlock()
	if cancel == nil {
		return nil
	}
	cancel()
	done := make(chan struct{})
	go func() { s.wg.Wait(); close(done) }()
	select {
	case <-done:
		return nil
	case <-ctx.Done():
		return fmt.Errorf("schedule: stop: %w", ctx.Err())
	}
}

func (s *Scheduler) loop(ctx context.Context, e Entry) {
	log := s.cfg.Logger.With("schedule", e.Name)
	next := e.Schedule.Next(s.cfg.Clock.Now())
	for {
		if next.IsZero() {
			log.Warn("schedule never fires again")
			return
		}
		select {
		case <-ctx.Done():
			return
		case <-s.cfg.Clock.After(next.Sub(s.cfg.Clock.Now())):
		}
		if now := s.cfg.Clock.Now(); now.Before(next) {
			continue // woke early: wait the rest
		}
		s.fire(ctx, log, e.Name, next)
		next = e.Schedule.Next(next)
		if now := s.cfg.Clock.Now(); next.Before(now) {
			// Fell behind (a slow firing or a suspended host): skip missed
			// times rather than firing a burst.
			next = e.Schedule.Next(now)
		}
	}
}

func (s *Scheduler) fire(ctx context.Context, log *slog.Logger, name string, at time.Time) {
	defer func() {
		if r := recover(); r != nil {
			log.Error("schedule firing panicked", "fire_time", at, "panic", r)
		}
	}()
	if err := s.cfg.Fire(ctx, name, at.UTC()); err != nil && ctx.Err() == nil {
		log.Error("schedule firing failed", "fire_time", at, "err", err)
		return
	}
	log.Debug("schedule fired", "fire_time", at)
}
