// Package notify is the alert pipeline of a config: its notifiers by
// channel (the log always, Slack and a webhook when configured), what each
// channel receives, and the pass that turns run reports into delivered
// alerts (events, resolve, dedup, route, outbox, one delivery pass).
package notify

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"time"

	"github.com/driftwatch/driftwatch/alert"
	"github.com/driftwatch/driftwatch/alert/slack"
	"github.com/driftwatch/driftwatch/alert/webhook"
	"github.com/driftwatch/driftwatch/config"
	"github.com/driftwatch/driftwatch/report"
	"github.com/driftwatch/driftwatch/storage"
)

// Channels (see minSeverity for what each receives).
const (
	ChannelLog     = "log"
	ChannelSlack   = "slack"
	ChannelWebhook = "webhook"
)

// minSeverity is the lowest severity channel ch receives: Slack, which
// people read, only warnings and up; the log and the webhook everything.
func minSeverity(ch string) alert.Severity {
	if ch == ChannelSlack {
		return alert.SeverityWarning
	}
	return alert.SeverityInfo
}

// HTTPTimeout bounds one notifier request.
const HTTPTimeout = 15 * time.Second

// orDiscard is logger, or one that discards when it is nil.
func orDiscard(logger *slog.Logger) *slog.Logger {
	if logger == nil {
		return slog.New(slog.DiscardHandler)
	}
	return logger
}

// Notifiers builds the configured notifiers by channel. The log channel is
// always there; Slack and the webhook when configured. A nil logger
// discards. Errors never contain
// the webhook URLs; the notifiers that could be built are returned with
// them.
func Notifiers(cfg config.Alerts, logger *slog.Logger) (map[string]alert.Notifier, error) {
	logger = orDiscard(logger)
	client := &http.Client{Timeout: HTTPTimeout}
	ns := map[string]alert.Notifier{
		ChannelLog: alert.NewLogNotifier(logger, slog.LevelInfo),
	}
	var errs []error
	if sc := cfg.Slack; sc != nil && sc.WebhookURL != "" {
		n, err := slack.New(slack.Config{WebhookURL: alert.NewSecret(sc.WebhookURL), Channel: sc.Channel}, client, logger)
		if err != nil {
			errs = append(errs, fmt.Errorf("alerts.slack: %w", err))
		} else {
			ns[ChannelSlack] = n
		}
	}
	if wc := cfg.Webhook; wc != nil && wc.URL != "" {
		h := make(map[string]alert.Secret, len(wc.Headers))
		for k, v := range wc.Headers {
			h[k] = alert.NewSecret(v)
		}
		n, err := webhook.New(webhook.Config{URL: alert.NewSecret(wc.URL), Headers: h}, client, logger)
		if err != nil {
			errs = append(errs, fmt.Errorf("alerts.webhook: %w", err))
		} else {
			ns[ChannelWebhook] = n
		}
	}
	return ns, errors.Join(errs...)
}

// NewDispatcher returns a dispatcher over st's outbox for notifiers. serve
// starts it and stops it on shutdown; a CLI run makes one delivery pass
// (Reports does).
func NewDispatcher(st *storage.Store, notifiers map[string]alert.Notifier, logger *slog.Logger) *alert.Dispatcher {
	return alert.NewDispatcher(st, &alert.DispatcherConfig{Notifiers: notifiers, Logger: logger, Timeout: HTTPTimeout})
}

// Reports turns reports into alerts: events → resolve (drift episodes: a
// STABLE run after a drift alert gives one resolved alert) → dedup
// (against the alert log) → route by severity → enqueue into the outbox →
// one delivery pass. Deliveries that fail stay queued with a next attempt
// time and are retried by the next pass (the next run, or serve's
// dispatcher); failed is how many did. The error reports configuration and
// outbox problems.
func Reports(ctx context.Context, st *storage.Store, cfg *config.Config, reports []*report.Report, logger *slog.Logger) (failed int, err error) {
	logger = orDiscard(logger)
	notifiers, cfgErr := Notifiers(cfg.Alerts, logger)
	routes := make(map[string]alert.Severity, len(notifiers))
	for ch := range notifiers {
		routes[ch] = minSeverity(ch)
	}
	now := time.Now()
	var events []alert.Event
	for _, r := range reports {
		events = append(events, alert.Events(r, now, cfg.Web.URL)...)
	}
	pipeline := alert.Sequence{
		alert.NewResolve(st, logger),
		alert.NewDedup(st, cfg.Alerts.RepeatInterval, nil, logger),
		alert.Route{MinSeverity: routes},
		alert.NewEnqueue(st, nil),
	}
	queued, perr := pipeline.Exec(ctx, events)
	sent, failed, derr := NewDispatcher(st, notifiers, logger).DeliverPending(ctx)
	logger.Debug("alerts", "events", len(events), "queued", len(queued), "sent", sent, "failed", failed)
	return failed, errors.Join(cfgErr, perr, derr)
}
