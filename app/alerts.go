package app

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
	"github.com/driftwatch/driftwatch/report"
	"github.com/driftwatch/driftwatch/storage"
)

// Alert channels (see alertMinSeverity for what each receives).
const (
	alertChannelLog     = "log"
	alertChannelSlack   = "slack"
	alertChannelWebhook = "webhook"
)

// alertMinSeverity is the lowest severity channel ch receives: Slack, which
// people read, only warnings and up; the log and the webhook everything.
func alertMinSeverity(ch string) alert.Severity {
	if ch == alertChannelSlack {
		return alert.SeverityWarning
	}
	return alert.SeverityInfo
}

// alertHTTPTimeout bounds one notifier request.
const alertHTTPTimeout = 15 * time.Second

// alertNotifiers builds the configured notifiers by channel. The log channel
// is always there; Slack and the webhook when configured. Errors never
// contain the webhook URLs.
func (a *App) alertNotifiers() (map[string]alert.Notifier, error) {
	client := &http.Client{Timeout: alertHTTPTimeout}
	ns := map[string]alert.Notifier{
		alertChannelLog: alert.NewLogNotifier(a.logger, slog.LevelInfo),
	}
	var errs []error
	if sc := a.cfg.Alerts.Slack; sc != nil && sc.WebhookURL != "" {
		n, err := slack.New(slack.Config{WebhookURL: alert.NewSecret(sc.WebhookURL), Channel: sc.Channel}, client, a.logger)
		if err != nil {
			errs = append(errs, fmt.Errorf("alerts.slack: %w", err))
		} else {
			ns[alertChannelSlack] = n
		}
	}
	if wc := a.cfg.Alerts.Webhook; wc != nil && wc.URL != "" {
		h := make(map[string]alert.Secret, len(wc.Headers))
		for k, v := range wc.Headers {
			h[k] = alert.NewSecret(v)
		}
		n, err := webhook.New(webhook.Config{URL: alert.NewSecret(wc.URL), Headers: h}, client, a.logger)
		if err != nil {
			errs = append(errs, fmt.Errorf("alerts.webhook: %w", err))
		} else {
			ns[alertChannelWebhook] = n
		}
	}
	return ns, errors.Join(errs...)
}

// newAlertDispatcher returns a dispatcher over the store's outbox for the
// configured notifiers. serve should Start it and Stop it on shutdown; CLI
// runs call DeliverPending once (AlertReports does).
func (a *App) newAlertDispatcher(st *storage.Store, notifiers map[string]alert.Notifier) *alert.Dispatcher {
	return alert.NewDispatcher(st, &alert.DispatcherConfig{Notifiers: notifiers, Logger: a.logger, Timeout: alertHTTPTimeout})
}

// AlertReports turns reports into alerts: events → resolve (drift episodes:
// a STABLE run after a drift alert gives one resolved alert) → dedup
// (against the alert log) → route by severity → enqueue into the outbox →
// one delivery pass. serve's alert job and the demo come through here too.
// Deliveries that fail stay queued with a next attempt time and are retried
// by the next pass (the next run, or serve's dispatcher). The error reports
// configuration and outbox problems; callers should log it rather than
// change the run's exit code.
func (a *App) AlertReports(ctx context.Context, reports []*report.Report) error {
	st, err := a.Store(ctx)
	if err != nil {
		return err
	}
	notifiers, cfgErr := a.alertNotifiers()
	routes := make(map[string]alert.Severity, len(notifiers))
	for ch := range notifiers {
		routes[ch] = alertMinSeverity(ch)
	}
	now := time.Now()
	var events []alert.Event
	for _, r := range reports {
		events = append(events, alert.Events(r, now, a.cfg.Web.URL)...)
	}
	pipeline := alert.Sequence{
		alert.NewResolve(st, a.logger),
		alert.NewDedup(st, a.cfg.Alerts.RepeatInterval, nil, a.logger),
		alert.Route{MinSeverity: routes},
		alert.NewEnqueue(st, nil),
	}
	queued, perr := pipeline.Exec(ctx, events)
	sent, failed, derr := a.newAlertDispatcher(st, notifiers).DeliverPending(ctx)
	a.logger.Debug("alerts", "events", len(events), "queued", len(queued), "sent", sent, "failed", failed)
	if failed > 0 {
		fmt.Fprintf(a.stderr, "%d alert(s) could not be delivered yet; they stay queued and are retried later\n", failed)
	}
	return errors.Join(cfgErr, perr, derr)
}
