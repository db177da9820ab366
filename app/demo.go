package app

import (
	"context"
	"fmt"
	"io"
	"strings"
	"time"

	"github.com/driftwatch/driftwatch/report"
	"github.com/driftwatch/driftwatch/sim"
	"github.com/driftwatch/driftwatch/sim/demo"
)

// PlayDemoNights runs the demo's nights, alerts on each, and returns every
// night's reports, oldest first.
func PlayDemoNights(ctx context.Context, a *App, srv *sim.Server, stdout io.Writer, summarize func([]*report.Report)) ([][]*report.Report, error) {
	st, err := a.Store(ctx)
	if err != nil {
		return nil, err
	}
	var nights [][]*report.Report
	for n := 1; n <= demo.Nights; n++ {
		if n == demo.UpdateNight {
			id, err := srv.Update("sim-gpt")
			if err != nil {
				return nil, err
			}
			fmt.Fprintf(stdout, "\n(The vendor silently updates sim-gpt before night %d: it now answers as %s.)\n\n", n, id.ResolvedModel)
		}
		switch n {
		case 1:
			fmt.Fprintf(stdout, "Night 1 of %d: first runs become the baselines.\n", demo.Nights)
		case demo.UpdateNight:
			fmt.Fprintf(stdout, "Night %d: the same suites, compared with the baselines.\n", n)
		}
		reps, err := a.Run(ctx, RunParams{Suites: []string{"arithmetic"}})
		if err != nil {
			return nil, err
		}
		ids := make([]int64, len(reps))
		for i, r := range reps {
			ids[i] = r.RunID
		}
		if err := st.BackdateRuns(ctx, ids, time.Duration(demo.Nights-n)*24*time.Hour); err != nil {
			return nil, err
		}
		switch n {
		case 1, demo.UpdateNight, demo.Nights:
			summarize(reps)
		default:
			var parts []string
			for _, r := range reps {
				parts = append(parts, fmt.Sprintf("%s %s", r.Target, r.Verdict))
			}
			fmt.Fprintf(stdout, "Night %d: %s\n", n, strings.Join(parts, ", "))
		}
		if n > 1 {
			if err := a.AlertReports(ctx, reps); err != nil {
				return nil, err
			}
		}
		nights = append(nights, reps)
	}
	return nights, nil
}
