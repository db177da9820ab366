package alert

import (
	"context"
	"log/slog"
)

// LogNotifier writes events to a logger: the console channel. It logs the
// verdict, reason and numbers (with the drift episode of drift and resolved
// events), never model outputs.
type LogNotifier struct {
	logger *slog.Logger
	level  slog.Level
}

// NewLogNotifier logs to logger at level (Warn is a good default for a
// console: drift is something to look at).
func NewLogNotifier(logger *slog.Logger, level slog.Level) *LogNotifier {
	return &LogNotifier{logger: orDiscard(logger).With("component", "alert_log"), level: level}
}

// Notify logs ev.
func (n *LogNotifier) Notify(ctx context.Context, ev *Event) error {
	attrs := []any{"kind", string(ev.Kind), "severity", ev.Severity.String(), "suite", ev.Suite, "target", ev.Target,
		"run_id", ev.RunID, "verdict", ev.Verdict, "summary", ev.Summary, "reason", ev.Reason, "drifted_cases", ev.DriftedCases}
	for _, f := range ev.Findings {
		attrs = append(attrs, slog.Group("finding_"+f.Metric, "baseline", f.Baseline, "current", f.Current,
			"effect", f.Effect, "p", f.P, "q", f.Q))
	}
	if v := ev.PassRate; v != nil && v.Baseline != nil {
		attrs = append(attrs, slog.Group("pass_rate", "baseline", *v.Baseline, "current", v.Value))
	}
	if cp := ev.ChangePoint; cp != nil {
		attrs = append(attrs, slog.Group("change_point", "since_run_id", cp.SinceRunID, "since_unclear", cp.SinceUnclear,
			"runs_since", cp.RunsSince, "probability", cp.Probability))
	}
	if ep := ev.Episode; ep != nil {
		attrs = append(attrs, slog.Group("episode", "first_run_id", ep.FirstRunID, "first_alerted_at", ep.FirstAlertedAt,
			"last_run_id", ep.LastRunID, "last_alerted_at", ep.LastAlertedAt))
	}
	if ev.URL != "" {
		attrs = append(attrs, "url", ev.URL)
	}
	n.logger.Log(ctx, n.level, "alert", attrs...)
	return nil
}
