package app

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"

	"github.com/driftwatch/driftwatch/config"
	"github.com/driftwatch/driftwatch/report"
	"github.com/driftwatch/driftwatch/storage"
)

// runError is the error for a run that cannot be read: "run 7 not found"
// rather than the storage layer's "run 7: get run 7: not found".
func runError(id int64, err error) error {
	if errors.Is(err, storage.ErrNotFound) {
		return fmt.Errorf("run %d %w", id, storage.ErrNotFound)
	}
	return fmt.Errorf("run %d: %w", id, err)
}

// AcceptBaseline makes run id the active baseline of its suite and target.
func (a *App) AcceptBaseline(ctx context.Context, id int64, by, note string) error {
	st, err := a.Store(ctx)
	if err != nil {
		return err
	}
	if _, err := st.GetRun(ctx, id); err != nil {
		return runError(id, err)
	}
	return a.lifecycle().AcceptBaseline(ctx, id, by, note)
}

// Diff compares run b with run a as if a were b's baseline.
func (a *App) Diff(ctx context.Context, ra, rb int64) (*report.Report, error) {
	st, err := a.Store(ctx)
	if err != nil {
		return nil, err
	}
	runA, err := st.GetRun(ctx, ra)
	if err != nil {
		return nil, runError(ra, err)
	}
	runB, err := st.GetRun(ctx, rb)
	if err != nil {
		return nil, runError(rb, err)
	}
	rep, err := a.lifecycle().Diff(ctx, runA, runB)
	return rep, err
}

// StoredReport reads back the report stored with a finished run.
func (a *App) StoredReport(ctx context.Context, id int64) (*report.Report, error) {
	st, err := a.Store(ctx)
	if err != nil {
		return nil, err
	}
	run, err := st.GetRun(ctx, id)
	if err != nil {
		return nil, runError(id, err)
	}
	var rep report.Report
	if len(run.Summary) == 0 || json.Unmarshal(run.Summary, &rep) != nil || rep.RunID == 0 {
		return nil, fmt.Errorf("run %d has no stored report (status %s)", id, run.Status)
	}
	rep.Verdict, rep.Reason = run.Verdict, run.VerdictReason
	return &rep, nil
}

// Config is the App's configuration (read-only).
func (a *App) Config() *config.Config { return a.cfg }

// Migrate applies every migration: Driftwatch's tables and the job queue's
// (serve, worker).
func (a *App) Migrate(ctx context.Context) error {
	st, err := a.Store(ctx)
	if err != nil {
		return err
	}
	return migrateRiver(ctx, st)
}
