package app

import (
	"context"
	"fmt"

	"github.com/driftwatch/driftwatch/alert/notify"
	"github.com/driftwatch/driftwatch/report"
)

// AlertReports alerts on reports through the config's alert pipeline
// (notify.Reports); serve's alert job and the demo come through here too.
// Alerts that could not be delivered yet stay queued and are retried
// later. The error reports configuration and outbox problems; callers
// should log it rather than change the run's exit code.
func (a *App) AlertReports(ctx context.Context, reports []*report.Report) error {
	st, err := a.Store(ctx)
	if err != nil {
		return err
	}
	failed, err := notify.Reports(ctx, st, a.cfg, reports, a.logger)
	if failed > 0 {
		fmt.Fprintf(a.stderr, "%d alert(s) could not be delivered yet; they stay queued and are retried later\n", failed)
	}
	return err
}
