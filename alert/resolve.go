package alert

import (
	"cmp"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"

	"github.com/driftwatch/driftwatch/storage"
)

// Resolve tracks drift episodes in the alert log and turns the resolved
// candidates of STABLE runs (see Events) into recovery alerts.
//
// A drift episode of a (suite, target) opens with its first drift alert and
// ends with a resolved alert. Drift and resolved events share one dedup key,
// so the newest alert with that key says whether an episode is open: it is
// when that alert is a drift alert. Resolve therefore:
//   - gives each drift event its Episode (the first run and time of the open
//     episode, or a new episode starting with the event);
//   - keeps a resolved candidate only when an episode is open, with that
//     episode, the severity of the drift alert it resolves and, as
//     Recipients, the channels that received a drift alert of the episode
//     (from the alert log), so Route sends it to those channels only;
//     otherwise it drops it (never drifted, or already resolved).
//
// One resolved alert per episode, whatever the repeat interval: once it is in
// the log, later STABLE runs find the episode closed. A drift alert after it
// opens a new episode, and Dedup lets that drift through at once because the
// last alert with its key (the resolved one) has another fingerprint.
//
// Resolve reads the log before anything of the same batch is enqueued, so a
// batch should hold at most one report per (suite, target), as a run does. A
// resolved alert is enqueued even while the drift alert waits for a retry,
// so a channel that was down may get the two out of order.
type Resolve struct {
	log    AlertLog
	logger *slog.Logger
}

// NewResolve returns a Resolve stage over log; a nil logger discards.
func NewResolve(log AlertLog, logger *slog.Logger) *Resolve {
	return &Resolve{log: log, logger: orDiscard(logger).With("component", "alert_resolve")}
}

// EpisodeDecision says what Resolve did with an event.
type EpisodeDecision int

// Resolve decisions.
const (
	// EpisodeUntracked: neither drift nor resolved; passed on unchanged.
	EpisodeUntracked EpisodeDecision = iota + 1
	// EpisodeOpened: a drift event with no open episode starts one.
	EpisodeOpened
	// EpisodeContinued: a drift event inside the open episode.
	EpisodeContinued
	// EpisodeResolved: a resolved event ends the open episode.
	EpisodeResolved
	// EpisodeNotOpen: a resolved candidate with no drift alert before it
	// (or an unreadable one) is dropped.
	EpisodeNotOpen
	// EpisodeAlreadyResolved: a resolved candidate after the episode's
	// resolved alert is dropped.
	EpisodeAlreadyResolved
)

var episodeDecisionNames = map[EpisodeDecision]string{EpisodeUntracked: "untracked", EpisodeOpened: "opened",
	EpisodeContinued: "continued", EpisodeResolved: "resolved", EpisodeNotOpen: "no open episode",
	EpisodeAlreadyResolved: "already resolved"}

// String names the decision.
func (d EpisodeDecision) String() string { return cmp.Or(episodeDecisionNames[d], "unknown") }

// Keep reports whether the event goes on down the pipeline.
func (d EpisodeDecision) Keep() bool { return d != EpisodeNotOpen && d != EpisodeAlreadyResolved }

// DecideEpisode is Resolve's pure rule: what happens to ev given the newest
// alert with its dedup key (nil when none). It returns ev as it goes on (a
// drift event with its Episode; a resolved event with the episode it ends and
// the severity of the drift alert it resolves) and the decision.
func DecideEpisode(ev Event, last *storage.Alert) (Event, EpisodeDecision) {
	if ev.Kind != KindDrift && ev.Kind != KindResolved {
		return ev, EpisodeUntracked
	}
	var prev *Event
	if last != nil {
		var p Event
		if err := json.Unmarshal(last.Payload, &p); err == nil && p.Kind != "" {
			if p.Time.IsZero() {
				p.Time = last.CreatedAt
			}
			prev = &p
		}
	}
	open := prev != nil && prev.Kind == KindDrift
	if ev.Kind == KindDrift {
		ep, dec := Episode{FirstRunID: ev.RunID, FirstAlertedAt: ev.Time}, EpisodeOpened
		if open {
			ep, dec = prev.episode(), EpisodeContinued
		}
		ep.LastRunID, ep.LastAlertedAt = ev.RunID, ev.Time
		ev.Episode = &ep
		return ev, dec
	}
	switch {
	case open:
		ep := prev.episode()
		ev.Episode = &ep
		ev.Severity = cmp.Or(prev.Severity, SeverityCritical)
		return ev, EpisodeResolved
	case prev != nil && prev.Kind == KindResolved:
		return ev, EpisodeAlreadyResolved
	}
	return ev, EpisodeNotOpen
}

// episode is the episode a stored drift alert belongs to; an alert raised
// before episodes were recorded opens its own.
func (ev *Event) episode() Episode {
	if ev.Episode != nil {
		return *ev.Episode
	}
	return Episode{FirstRunID: ev.RunID, FirstAlertedAt: ev.Time, LastRunID: ev.RunID, LastAlertedAt: ev.Time}
}

// Exec sets the episode of drift events and keeps the resolved events that
// end one. Other events pass unchanged. When the log can't be read, a drift
// event goes on without its episode (alert rather than stay silent) and a
// resolved candidate is dropped: the episode stays open, so the next STABLE
// run resolves it.
func (r *Resolve) Exec(ctx context.Context, events []Event) ([]Event, error) {
	var (
		out  []Event
		errs []error
	)
	for _, ev := range events {
		if ev.Kind != KindDrift && ev.Kind != KindResolved {
			out = append(out, ev)
			continue
		}
		last, err := lastAlert(ctx, r.log, ev.DedupKey)
		if err != nil {
			errs = append(errs, fmt.Errorf("resolve %s: %w", ev.DedupKey, err))
			if ev.Kind == KindDrift {
				out = append(out, ev)
			}
			continue
		}
		ev, dec := DecideEpisode(ev, last)
		if dec == EpisodeResolved {
			chans, err := r.log.EpisodeChannels(ctx, ev.DedupKey, ev.Episode.FirstRunID)
			if err != nil {
				// As when the log can't be read: the episode stays open
				// and the next STABLE run resolves it.
				errs = append(errs, fmt.Errorf("resolve %s: %w", ev.DedupKey, err))
				continue
			}
			ev.Recipients = chans
		}
		r.logger.DebugContext(ctx, "episode", "dedup_key", ev.DedupKey, "kind", string(ev.Kind), "run_id", ev.RunID,
			"decision", dec.String(), "recipients", ev.Recipients)
		if dec.Keep() {
			out = append(out, ev)
		}
	}
	return out, errors.Join(errs...)
}
