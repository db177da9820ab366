package jobs

import (
	"cmp"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"math/rand/v2"
	"slices"
	"time"

	"github.com/riverqueue/river"
	"github.com/riverqueue/river/rivertype"

	"github.com/driftwatch/driftwatch/config"
	"github.com/driftwatch/driftwatch/drift"
	"github.com/driftwatch/driftwatch/eval"
	"github.com/driftwatch/driftwatch/report"
	"github.com/driftwatch/driftwatch/run"
	"github.com/driftwatch/driftwatch/storage"
)

// permanent marks a job that no process can ever work (its arguments or
// stored state are corrupt): River cancels it, and Worker's OnCancel
// logs it at Error. A job that only this process's config cannot run is
// not permanent: see unavailable.
func permanent(err error) error { return river.JobCancel(err) }

// unavailable hands back a job that this process cannot work because its
// config lacks (or cannot load) the job's schedule, suite or target. The job
// itself is fine: another replica, or this one once its config is fixed,
// can run it, so it is snoozed for ConfigSnooze (longer after every
// snooze, up to ten times), never cancelled. Snoozes do not use up
// attempts. The operator must fix the config, hence Error.
func (c *Client) unavailable(job *rivertype.JobRow, err error) error {
	var meta struct {
		Snoozes int `json:"snoozes"`
	}
	_ = json.Unmarshal(job.Metadata, &meta) // no metadata: no snooze yet
	d := c.cfg.ConfigSnooze * time.Duration(min(meta.Snoozes+1, 10))
	// Jitter of at least a fetch interval: a snooze that ends on this
	// process's next poll would hand the job back to it nearly every time,
	// and the processes that can run it would never see it.
	d += rand.N(max(d/2, fetchPollInterval))
	c.metrics.configSnoozes.WithLabelValues(job.Kind).Inc()
	c.logger.Error("job snoozed: this process's config cannot run it; another process may (fix or deploy the config)",
		"job_id", job.ID, "job_kind", job.Kind, "config", c.cfg.ConfigFile, "snoozed_for", d, "snoozes", meta.Snoozes, "err", err)
	return river.JobSnooze(d)
}

func (c *Client) workTrigger(ctx context.Context, job *river.Job[TriggerArgs]) error {
	args := job.Args
	i := slices.IndexFunc(c.cfg.Schedules, func(s config.Schedule) bool { return s.Name == args.Schedule })
	if i < 0 {
		return c.unavailable(job.JobRow, fmt.Errorf("schedule %q is not in the config", args.Schedule))
	}
	sc := c.cfg.Schedules[i]
	pairs, err := c.p.Plan(ctx, sc.Suites, sc.Targets)
	if err != nil {
		return c.unavailable(job.JobRow, fmt.Errorf("schedule %q: %w", sc.Name, err))
	}
	var runs []river.JobArgs
	for _, pr := range pairs {
		runs = append(runs, RunArgs{
			Key:      RunKey(c.cfg.Project, sc.Name, args.FireTime, pr.Suite, pr.Target),
			Schedule: sc.Name, FireTime: args.FireTime, Suite: pr.Suite, Target: pr.Target,
			Samples: sc.Samples, Confirm: sc.Confirm || c.cfg.Confirm,
		})
	}
	if len(runs) == 0 {
		return nil
	}
	return c.insertMany(ctx, runs)
}

// workRun creates the run row once (found by its key on retry), checks the
// pin, records the case batches and inserts one job per batch.
func (c *Client) workRun(ctx context.Context, job *river.Job[RunArgs]) error {
	args := job.Args
	ls, err := c.loadSuite(ctx, args.Suite)
	if err != nil {
		return c.unavailable(job.JobRow, err)
	}
	nt, err := c.target(args.Target)
	if err != nil {
		return c.unavailable(job.JobRow, err)
	}
	lc, s := c.cfg.Lifecycle, ls.suite
	r, err := lc.Start(ctx, run.Spec{Suite: s, Target: nt.run, K: c.p.Samples(s, args.Samples),
		Trigger: cmp.Or(args.Trigger, storage.TriggerSchedule), Schedule: args.Schedule, Key: args.Key, SuiteHash: ls.hash,
		Seed: c.cfg.Seed, Confirm: args.Confirm, ConfirmOf: args.ConfirmOf})
	if err != nil {
		return err
	}
	if r.Created {
		c.metrics.runsStarted.Inc()
	}
	if r.Row.Status != storage.RunRunning {
		return nil
	}
	rep, err := lc.Preflight(ctx, r, nt.run)
	if err != nil {
		return err
	}
	if rep != nil {
		c.metrics.runsCompleted.WithLabelValues(string(drift.IdentityChanged)).Inc()
		return c.alertStopped(ctx, r.Row, rep)
	}
	var batches [][]string
	for chunk := range slices.Chunk(s.Cases(), c.cfg.BatchSize) {
		keys := make([]string, len(chunk))
		for i, cs := range chunk {
			keys[i] = cs.ID
		}
		batches = append(batches, keys)
	}
	if err := c.st.AddRunBatches(ctx, r.Row.ID, batches); err != nil {
		return err
	}
	if len(batches) == 0 {
		_, err := c.insert(ctx, AnalyzeArgs{RunID: r.Row.ID})
		return err
	}
	batchArgs := make([]river.JobArgs, len(batches))
	for i := range batches {
		batchArgs[i] = BatchArgs{RunID: r.Row.ID, Batch: i}
	}
	return c.insertMany(ctx, batchArgs)
}

// runParts loads what a batch or the analysis of a run needs (job is the
// batch or analysis job). For a run that is no longer running it returns
// the run only: there is nothing left to do, whatever the config.
func (c *Client) runParts(ctx context.Context, job *rivertype.JobRow, runID int64) (storage.Run, run.Snapshot, eval.Suite, *processTarget, error) {
	row, err := c.st.GetRun(ctx, runID)
	if err != nil || row.Status != storage.RunRunning {
		return row, run.Snapshot{}, nil, nil, err
	}
	snap, err := run.ReadSnapshot(row)
	if err != nil {
		return row, snap, nil, nil, permanent(err)
	}
	s, err := c.runSuite(ctx, row.ID, snap)
	if err != nil {
		return row, snap, nil, nil, c.unavailable(job, fmt.Errorf("run %d: %w", runID, err))
	}
	t, err := c.target(snap.Target)
	if err != nil {
		return row, snap, nil, nil, c.unavailable(job, fmt.Errorf("run %d: %w", runID, err))
	}
	return row, snap, s, t, nil
}

// workBatch runs one batch's samples of its stage that are not stored yet.
// A retried batch (after a crash, a stop or a failed write) never
// re-requests a stored sample. The last batch of the stage to finish
// inserts the stage's analysis job.
func (c *Client) workBatch(ctx context.Context, job *river.Job[BatchArgs]) error {
	args := job.Args
	row, _, s, nt, err := c.runParts(ctx, job.JobRow, args.RunID)
	if err != nil {
		return err
	}
	if row.Status != storage.RunRunning {
		return nil
	}
	keys, done, err := c.st.RunBatch(ctx, row.ID, args.Batch)
	if err != nil {
		return err
	}
	if !done {
		if err := c.executeBatch(ctx, row, s, nt, keys, args.Stage); err != nil {
			return err
		}
		// Another batch may have stopped the run (budget) while this one
		// stored its last samples.
		if err := c.refreshCostIfFinished(ctx, row.ID); err != nil {
			return err
		}
	}
	remaining, err := c.st.FinishRunBatch(ctx, row.ID, args.Batch)
	if err != nil {
		return err
	}
	if remaining == 0 {
		_, err = c.insert(ctx, AnalyzeArgs{RunID: row.ID, Stage: args.Stage})
	}
	return err
}

func (c *Client) executeBatch(ctx context.Context, row storage.Run, s eval.Suite, nt *processTarget, keys []string, stage int) error {
	lc, t := c.cfg.Lifecycle, nt.run
	if nt.ref.NeedsProbe() {
		if _, err := nt.ref.ProbeIdentity(ctx); err != nil {
			c.logger.Warn("identity probe failed", "target", t.Name, "err", err)
		}
	}
	r, err := lc.Batch(ctx, row, keys, stage)
	if err != nil {
		return err
	}
	inBatch := make(map[string]bool, len(keys))
	for _, k := range keys {
		inBatch[k] = true
	}
	bt := *t
	if maxUSD := c.cfg.MaxCostUSD; maxUSD > 0 {
		// One budget per run for every batch in every process (a bucket in
		// the database), so batches together never pass the cap by more
		// than what the calls in flight cost beyond their estimates.
		bt.Call = ClusterBudget(t.Call, c.st, BudgetKey(row.ID), maxUSD, t.Estimate)
	}
	ex := lc.Execute(ctx, r, run.Exec{Suite: s, Target: &bt, Upto: r.Upto, Grace: -1, SoftStop: c.softStop, OnSample: c.metrics.observeSample,
		Skip: func(key string, _ int) bool { return !inBatch[key] }})
	bg := context.WithoutCancel(ctx)
	switch {
	case ex.WriteErr != nil:
		return fmt.Errorf("store samples of run %d: %w", row.ID, ex.WriteErr)
	case ex.CircuitOpen != "":
		// The target keeps failing: the batch is retried later (River's
		// backoff), sending nothing until then; its stored samples stay.
		return fmt.Errorf("run %d: target %s was stopped: %s", row.ID, t.Name, ex.CircuitOpen)
	case ex.PinErr != nil && !t.PinWarn:
		rep, err := lc.StopPinned(bg, row, *ex.Identity, ex.PinErr)
		if err != nil {
			return err
		}
		c.metrics.runsCompleted.WithLabelValues(string(drift.IdentityChanged)).Inc()
		return c.alertStopped(bg, row, rep)
	case ex.BudgetHit:
		rep, err := lc.StopBudget(bg, row)
		if err != nil || rep == nil {
			return err
		}
		c.metrics.runsCompleted.WithLabelValues(rep.Verdict).Inc()
		c.metrics.budgetStops.Inc()
		return c.alertStopped(bg, row, rep)
	case errors.Is(ex.RunErr, eval.ErrStopped):
		// Shutting down: hand the rest of the batch to another process
		// right away, without spending an attempt.
		return river.JobSnooze(0)
	case ctx.Err() != nil:
		return context.Cause(ctx)
	case ex.RunErr != nil:
		return fmt.Errorf("run %d: %w", row.ID, ex.RunErr)
	}
	return nil
}

// alertStopped alerts on a run that stopped before its analysis (a pin, the
// budget). A stopped confirmation run also settles its drifted parent, whose
// DRIFT then stands and is alerted on.
func (c *Client) alertStopped(ctx context.Context, row storage.Run, rep *report.Report) error {
	if _, err := c.insert(ctx, AlertArgs{RunID: row.ID}); err != nil {
		return err
	}
	snap, err := run.ReadSnapshot(row)
	if err != nil || snap.ConfirmOf == 0 {
		return nil // not a confirmation run (an unreadable snapshot was caught earlier)
	}
	return c.applyConfirmation(ctx, snap.ConfirmOf, rep)
}

// refreshCostIfFinished sets the cost of a run that is no longer running
// to what its stored samples cost, which includes those a batch stored
// after the run was finished.
func (c *Client) refreshCostIfFinished(ctx context.Context, runID int64) error {
	cur, err := c.st.GetRun(ctx, runID)
	if err != nil || cur.Status == storage.RunRunning {
		return err
	}
	return c.st.RefreshRunCost(ctx, runID)
}

// workAnalyze decides a stage of a run (run.Lifecycle.Advance, idempotent:
// a recorded look is not taken again): a night that goes on gets its next
// stage's batches and jobs; a finished one confirms a DRIFT or alerts.
func (c *Client) workAnalyze(ctx context.Context, job *river.Job[AnalyzeArgs]) error {
	row, snap, _, nt, err := c.runParts(ctx, job.JobRow, job.Args.RunID)
	if err != nil {
		return err
	}
	if row.Status != storage.RunRunning {
		return nil
	}
	rep, next, err := c.cfg.Lifecycle.Advance(ctx, row, nt.run, job.Args.Stage)
	if err != nil {
		return err
	}
	if rep == nil {
		return c.openStage(ctx, row.ID, next)
	}
	c.metrics.runsCompleted.WithLabelValues(rep.Verdict).Inc()
	if snap.ConfirmOf != 0 {
		return c.applyConfirmation(ctx, snap.ConfirmOf, rep)
	}
	if snap.Confirm && rep.Verdict == string(drift.Drift) {
		key := fmt.Sprintf("confirm-of-run-%d", row.ID) // run ids are unique across projects
		_, err := c.insert(ctx, RunArgs{Key: key, Schedule: row.Schedule, Suite: snap.Suite, Target: snap.Target,
			Samples: row.SamplesPerCase, ConfirmOf: row.ID})
		return err
	}
	_, err = c.insert(ctx, AlertArgs{RunID: row.ID})
	return err
}

// openStage inserts the batch jobs of a run's next stage (the same case
// batches as the first stage's, storage.Store.OpenStage); a retried
// analysis inserts the same unique jobs again, which River drops.
func (c *Client) openStage(ctx context.Context, runID int64, stage int) error {
	batches, err := c.st.OpenStage(ctx, runID, stage)
	if err != nil {
		return err
	}
	if len(batches) == 0 {
		_, err := c.insert(ctx, AnalyzeArgs{RunID: runID, Stage: stage})
		return err
	}
	args := make([]river.JobArgs, len(batches))
	for i, b := range batches {
		args[i] = BatchArgs{RunID: runID, Batch: b, Stage: stage}
	}
	return c.insertMany(ctx, args)
}

// applyConfirmation settles the confirmed run (run.Lifecycle.Confirm) and
// alerts on it.
func (c *Client) applyConfirmation(ctx context.Context, parentID int64, crep *report.Report) error {
	if _, err := c.cfg.Lifecycle.Confirm(ctx, parentID, crep); err != nil {
		return err
	}
	_, err := c.insert(ctx, AlertArgs{RunID: parentID})
	return err
}

// workAlert alerts on a finalised run through the alert pipeline (dedup
// makes a retried job harmless).
func (c *Client) workAlert(ctx context.Context, job *river.Job[AlertArgs]) error {
	row, err := c.st.GetRun(ctx, job.Args.RunID)
	if err != nil {
		return err
	}
	if len(row.Summary) == 0 {
		return nil
	}
	var rep report.Report
	if err := json.Unmarshal(row.Summary, &rep); err != nil {
		return permanent(fmt.Errorf("run %d: decode summary: %w", row.ID, err))
	}
	if err := c.p.AlertReports(ctx, []*report.Report{&rep}); err != nil {
		c.metrics.alerts.WithLabelValues("failed").Inc()
		return err
	}
	c.metrics.alerts.WithLabelValues("sent").Inc()
	return nil
}
