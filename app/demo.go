package app

import (
	"context"

	"github.com/driftwatch/driftwatch/report"
	"github.com/driftwatch/driftwatch/sim/demo"
)

// DemoNight is the demo's night on this App: a run of the example suite on
// every target, alerts, and runs dated back on the dashboard's time axis.
func (a *App) DemoNight(ctx context.Context) (demo.Night, error) {
	st, err := a.Store(ctx)
	if err != nil {
		return demo.Night{}, err
	}
	return demo.Night{
		Run: func(ctx context.Context) ([]*report.Report, error) {
			return a.Run(ctx, RunParams{Suites: []string{"arithmetic"}})
		},
		Alert:    a.AlertReports,
		Backdate: st.BackdateRuns,
	}, nil
}
