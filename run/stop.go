package run

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/driftwatch/driftwatch/drift"
	"github.com/driftwatch/driftwatch/eval"
	"github.com/driftwatch/driftwatch/internal/textsafe"
	"github.com/driftwatch/driftwatch/report"
	"github.com/driftwatch/driftwatch/storage"
)

// ErrTarget marks an error that says the target cannot be used (every
// sample failed because it is unreachable, unauthorised or rejecting the
// requests): an infrastructure error, not a verdict.
var ErrTarget = errors.New("target cannot be used")

// Settle ends an execution that cannot be analyzed: a stopping pin, the
// budget, an interrupt, a runner or storage failure, or a target that
// cannot be used. It returns the stopped run's report, or nil when the run
// is ready for Analyze. An error wrapping ErrTarget comes with a report.
func (l *Lifecycle) Settle(ctx context.Context, r *Run, t *Target, ex Executed) (*report.Report, error) {
	bg := context.WithoutCancel(ctx)
	if ex.WriteErr != nil {
		return nil, fmt.Errorf("store samples of run %d: %w", r.Row.ID, ex.WriteErr)
	}
	switch {
	case ex.PinErr != nil && !t.PinWarn:
		return l.StopPinned(bg, r.Row, *ex.Identity, ex.PinErr)
	case ex.BudgetHit:
		return l.stopBudget(bg, r.Row)
	case ex.Interrupted:
		return l.Stop(bg, r.Row, "interrupted; finish it with: "+l.policy.ResumeCommand(r.Row.ID))
	case ex.CircuitOpen != "":
		why := FailMessage(ex.CircuitOpen)
		rep, err := l.Stop(bg, r.Row, fmt.Sprintf("target %s was stopped (%s); fix it, then finish the run with: %s",
			t.Name, why, l.policy.ResumeCommand(r.Row.ID)))
		if err == nil {
			err = fmt.Errorf("run %d: %w: %s", r.Row.ID, ErrTarget, why)
		}
		return rep, err
	case ex.RunErr != nil && !errors.Is(ex.RunErr, eval.ErrStopped):
		return nil, fmt.Errorf("run %d: %w", r.Row.ID, ex.RunErr)
	}
	tot, err := l.store.RunTotals(bg, r.Row.ID)
	if err != nil {
		return nil, err
	}
	switch {
	case unusable(tot):
		return l.stopUnusable(bg, r, t, tot, ex.FailedFast)
	case ex.FailedFast:
		// The first samples failed as if the target could not be used,
		// then one in flight worked: the run is stopped (resumable), and
		// the target's trouble is an infrastructure error.
		first := FailMessage(tot.FirstError)
		rep, err := l.Stop(bg, r.Row, fmt.Sprintf("stopped after the first %d samples failed (target %s cannot be used: %s), though a later one did not fail that way; finish it with: %s",
			ex.FailedAfter, t.Name, first, l.policy.ResumeCommand(r.Row.ID)))
		if err == nil {
			err = fmt.Errorf("run %d: %w: target %s failed its first %d samples (%s)", r.Row.ID, ErrTarget, t.Name, ex.FailedAfter, first)
		}
		return rep, err
	}
	return nil, nil
}

// unusable reports whether every stored sample errored with one of the
// unusableKinds: an infrastructure problem, not a result.
func unusable(tot storage.RunTotals) bool {
	if tot.Samples == 0 || tot.Errored != tot.Samples {
		return false
	}
	var n int64
	for _, k := range unusableKinds {
		n += tot.ErrorKinds[string(k)]
	}
	return n == tot.Samples
}

// stopUnusable fails a run whose every sample failed because the target
// cannot be used: INCONCLUSIVE, with why and how to finish it (the errored
// samples run again on resume).
func (l *Lifecycle) stopUnusable(ctx context.Context, r *Run, t *Target, tot storage.RunTotals, failedFast bool) (*report.Report, error) {
	cur, err := l.loadSamples(ctx, []int64{r.Row.ID}, 0)
	if err != nil {
		return nil, err
	}
	first := FailMessage(tot.FirstError)
	every := "every sample failed"
	if failedFast {
		every = fmt.Sprintf("every sample failed (the run stopped sending after the first %d)", tot.Samples)
	}
	reason := fmt.Sprintf("%s: target %s cannot be used (%s); fix it, then finish the run with: %s",
		every, t.Name, first, l.policy.ResumeCommand(r.Row.ID))
	rep := l.newReport(r.Row)
	fillReport(rep, drift.Result{Verdict: drift.Inconclusive, Reason: reason}, cur, r.K)
	rep.Error = first
	rep.Metrics.InputTokens, rep.Metrics.OutputTokens, rep.Metrics.CostUSD = tot.InputTokens, tot.OutputTokens, tot.CostUSD
	rep.FinishedAt = time.Now()
	rep.WallSeconds = rep.FinishedAt.Sub(r.Start).Seconds()
	if err := l.finish(ctx, rep, storage.RunFailed, first); err != nil {
		return nil, err
	}
	return rep, fmt.Errorf("run %d: %w: every sample failed (%s)", r.Row.ID, ErrTarget, first)
}

// StopBudget stops a running run whose max_cost_usd is reached by one of
// its batches. When another batch stopped it first, it only adds what this
// batch stored since to the run's cost, and returns no report.
func (l *Lifecycle) StopBudget(ctx context.Context, row storage.Run) (*report.Report, error) {
	cur, err := l.store.GetRun(ctx, row.ID)
	if err != nil {
		return nil, err
	}
	if cur.Status != storage.RunRunning {
		return nil, l.store.RefreshRunCost(ctx, row.ID)
	}
	rep, err := l.stopBudget(ctx, row)
	if err != nil {
		return rep, err
	}
	// A batch that stored samples after Stop summed them but saw the run
	// still running counts on this second sum; one that saw it stopped
	// refreshes the cost itself (above).
	return rep, l.store.RefreshRunCost(ctx, row.ID)
}

// stopBudget stops a run whose max_cost_usd is reached.
func (l *Lifecycle) stopBudget(ctx context.Context, row storage.Run) (*report.Report, error) {
	tot, err := l.store.RunTotals(ctx, row.ID)
	if err != nil {
		return nil, err
	}
	return l.Stop(ctx, row, fmt.Sprintf("budget cap of $%.2f reached (spent $%.4f); raise max_cost_usd, then finish it with: %s",
		l.policy.MaxCostUSD, tot.CostUSD, l.policy.ResumeCommand(row.ID)))
}

// Stop stops a run so that it can be resumed: INCONCLUSIVE with the reason,
// and a report of what its stored samples did so far.
func (l *Lifecycle) Stop(ctx context.Context, row storage.Run, reason string) (*report.Report, error) {
	rep := l.newReport(row)
	rep.Verdict, rep.Reason = string(drift.Inconclusive), reason
	tot, err := l.store.RunTotals(ctx, row.ID)
	if err != nil {
		return rep, err
	}
	m := &rep.Metrics
	m.Samples, m.ErrorCount, m.SamplesPerCase = int(tot.Samples), int(tot.Errored), row.SamplesPerCase
	if tot.Samples > 0 {
		m.ErrorRate = float64(tot.Errored) / float64(tot.Samples)
	}
	m.InputTokens, m.OutputTokens, m.CostUSD = tot.InputTokens, tot.OutputTokens, tot.CostUSD
	rep.FinishedAt = time.Now()
	rep.WallSeconds = rep.FinishedAt.Sub(rep.StartedAt).Seconds()
	err = l.finish(ctx, rep, storage.RunStopped, "")
	fmt.Fprintf(l.notices, "run %d stopped: %s\n", row.ID, textsafe.Line(reason))
	return rep, err
}

// StopPinned fails a run whose target's identity violates its pin.
func (l *Lifecycle) StopPinned(ctx context.Context, row storage.Run, id eval.Identity, pinErr error) (*report.Report, error) {
	if err := l.store.RecordIdentity(ctx, row.TargetID, row.ID, IdentityHash(id), encodeJSON(id)); err != nil {
		l.logger.Warn("record identity", "err", err)
	}
	rep := l.newReport(row)
	rep.Identity = ReportIdentity(id)
	rep.IdentityChanged, rep.PinViolated = true, true
	rep.Verdict = string(drift.Inconclusive)
	rep.Reason = "pinned identity mismatch: " + pinErr.Error() + "; the run was stopped before comparing"
	rep.Findings = []drift.Finding{{Metric: drift.MetricIdentity, Scope: drift.ScopeSuite, Statistic: "pin",
		Verdict: drift.IdentityChanged, Reason: pinErr.Error(), P: 1, Q: 1}}
	if _, err := l.store.InsertFindings(ctx, row.ID, storageFindings(rep.Findings, nil)); err != nil {
		return nil, err
	}
	rep.Status = storage.RunFailed
	rep.FinishedAt = time.Now()
	err := l.store.FinishRun(ctx, row.ID, storage.FinishRun{Status: storage.RunFailed, Verdict: string(drift.IdentityChanged),
		Reason: rep.Reason, Summary: encodeJSON(rep), Error: pinErr.Error()})
	fmt.Fprintf(l.notices, "run %d stopped: %s\n", row.ID, textsafe.Line(rep.Reason))
	return rep, err
}

// newReport is the report of row, before any result.
func (l *Lifecycle) newReport(row storage.Run) *report.Report {
	snap, _ := ReadSnapshot(row) // a run without a snapshot still gets a report
	return &report.Report{Project: snap.Project, Suite: snap.Suite, Target: snap.Target, RunID: row.ID, StartedAt: row.StartedAt}
}

// FailMessage is an error message as a failed run stores it: one line,
// bounded. Provider errors carry no secrets or prompts
// (provider.SafeMessage); the bound keeps a long wrapped error from flooding
// the dashboard.
func FailMessage(msg string) string {
	const maxRunes = 500
	r := []rune(strings.Join(strings.Fields(msg), " "))
	if len(r) > maxRunes {
		return string(r[:maxRunes]) + "…"
	}
	return string(r)
}
