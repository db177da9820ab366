package run

import (
	"context"
	"fmt"
	"math"

	"github.com/driftwatch/driftwatch/drift"
	"github.com/driftwatch/driftwatch/eval"
	"github.com/driftwatch/driftwatch/report"
	"github.com/driftwatch/driftwatch/storage"
)

// Analyze finishes an executed run: it compares the run with its baseline
// (or makes it the baseline), decides the verdict (drift.Decide), stores
// the findings and the report, and returns the report. It reads only what
// is stored, so a run analyzed by the CLI, by a job or again after a crash
// gets the same report. t is the target (for a warn-mode pin). It is the
// decision of a night that sent all its samples (K per case); a staged
// night's stages go through Advance, which ends here.
func (l *Lifecycle) Analyze(ctx context.Context, row storage.Run, t *Target) (*report.Report, error) {
	n, err := l.night(ctx, row)
	if err != nil {
		return nil, err
	}
	return l.analyze(ctx, row, t, n.final())
}

// analyze is Analyze with the night's comparison c: every way a night ends
// (fixed, reached K, stopped at a look) stores its findings and report
// here.
func (l *Lifecycle) analyze(ctx context.Context, row storage.Run, t *Target, c comparison) (*report.Report, error) {
	snap, err := ReadSnapshot(row)
	if err != nil {
		return nil, err
	}
	rep := &report.Report{Project: snap.Project, Suite: snap.Suite, Target: snap.Target, RunID: row.ID, StartedAt: row.StartedAt}
	bl, baseID, err := l.baselineOf(ctx, row.SuiteID, row.TargetID)
	if err != nil {
		return nil, err
	}
	pinWarn, err := l.identities(ctx, rep, row, t, baseID)
	if err != nil {
		return nil, err
	}
	tot, err := l.store.RunTotals(ctx, row.ID)
	if err != nil {
		return nil, err
	}
	if err := l.store.DeleteFindings(ctx, row.ID); err != nil {
		return nil, err
	}
	if bl == nil {
		if bl, err = l.analyzeFirst(ctx, rep, row, c); err != nil {
			return nil, err
		}
	}
	if bl != nil {
		if err := l.analyzeCompared(ctx, rep, row, bl, c); err != nil {
			return nil, err
		}
	}
	rep.Sampling = c.sampling
	rep.Metrics.InputTokens, rep.Metrics.OutputTokens, rep.Metrics.CostUSD = tot.InputTokens, tot.OutputTokens, tot.CostUSD
	if pinWarn != nil {
		rep.IdentityChanged = true
		rep.Findings = append(rep.Findings, drift.Finding{Metric: drift.MetricIdentity, Scope: drift.ScopeSuite, Statistic: "pin",
			Verdict: drift.IdentityChanged, Reason: "pin (warn): " + pinWarn.Error(), P: 1, Q: 1})
	}
	return rep, l.finish(ctx, rep, storage.RunCompleted, "")
}

// identities fills the report's identities from what is stored and
// returns the first mismatch of a warn-mode pin among the run's identities.
func (l *Lifecycle) identities(ctx context.Context, rep *report.Report, row storage.Run, t *Target, baseID *eval.Identity) (pinWarn, err error) {
	if baseID != nil {
		rep.BaselineIdentity = ReportIdentity(*baseID)
	}
	if id, err := l.runIdentity(ctx, row.TargetID, []int64{row.ID}); err == nil && id != nil {
		rep.Identity = ReportIdentity(*id)
	}
	if t == nil || !t.PinWarn || t.CheckPin == nil {
		return nil, nil
	}
	ids, err := l.runIdentities(ctx, row.TargetID, row.ID)
	if err != nil {
		return nil, err
	}
	for _, id := range ids {
		if perr := t.checkPin(id, baseID); perr != nil {
			return perr, nil
		}
	}
	return nil, nil
}

// analyzeFirst decides a run that found no baseline: it becomes the
// baseline, unless another run became it in the meantime (concurrent first
// runs): then that baseline is returned, to compare with.
func (l *Lifecycle) analyzeFirst(ctx context.Context, rep *report.Report, row storage.Run, c comparison) (*storage.Pool, error) {
	cur, err := l.loadSamples(ctx, []int64{row.ID}, c.upto)
	if err != nil {
		return nil, err
	}
	set := l.settings(row.ID)
	ev := drift.Evidence{Samples: len(cur.samples)}
	for _, s := range cur.samples {
		if s.Errored {
			ev.Errors++
		}
	}
	// What the next run, compared with this one, could detect.
	ev.Compared.MDE = drift.MDEOf(cur.samples, set.AlphaFamily)
	res := drift.Decide(ev, set)
	if res.Verdict == drift.Baseline {
		_, accepted, err := l.store.AcceptFirstBaseline(ctx, storage.AcceptBaseline{SuiteID: row.SuiteID, TargetID: row.TargetID,
			RunIDs: []int64{row.ID}, AcceptedBy: "driftwatch", Note: "first completed run",
			PoolSize: l.policy.BaselineRuns, SuiteHash: c.hash})
		if err != nil {
			return nil, err
		}
		if !accepted {
			bl, err := l.store.ActivePool(ctx, row.SuiteID, row.TargetID)
			return &bl, err
		}
		rep.BaselineRunIDs = []int64{row.ID}
	}
	fillReport(rep, res, cur, c.sampling.SamplesPerCase)
	return nil, nil
}

// analyzeCompared compares a run with its baseline, pools a stable run that
// reached K into a baseline that is not complete yet (growPool), and dates
// the change point.
func (l *Lifecycle) analyzeCompared(ctx context.Context, rep *report.Report, row storage.Run, bl *storage.Pool, c comparison) error {
	rep.BaselineRunIDs = bl.RunIDs
	if id, err := l.runIdentity(ctx, row.TargetID, bl.RunIDs); err == nil && id != nil && rep.BaselineIdentity == nil {
		rep.BaselineIdentity = ReportIdentity(*id)
	}
	res, cur, err := l.compare(ctx, row.ID, row.Config, bl.RunIDs, c)
	if err != nil {
		return err
	}
	ev := drift.Evidence{HasBaseline: true, Compared: res}
	if err := l.cusum(ctx, rep, row, res, &ev); err != nil {
		return err
	}
	res = drift.Decide(ev, l.settings(row.ID))
	if res.Verdict == drift.Stable && c.reachedK {
		if err := l.growPool(ctx, row, bl, c.hash); err != nil {
			return err
		}
	}
	fillReport(rep, res, cur, c.sampling.SamplesPerCase)
	return l.changePoint(ctx, rep, row)
}

// cusum accumulates the per-run pass-rate z of the runs compared with the
// current baseline (oldest first, this run last) into ev.
func (l *Lifecycle) cusum(ctx context.Context, rep *report.Report, row storage.Run, res drift.Result, ev *drift.Evidence) error {
	rep.PassZ = res.PassZ
	z, err := l.store.PassZHistory(ctx, row.SuiteID, row.TargetID, rep.BaselineRunIDs, row.ID)
	if err != nil {
		return fmt.Errorf("cusum history: %w", err)
	}
	if math.IsNaN(res.PassZ) {
		return nil
	}
	z = append(z, res.PassZ)
	st := drift.CUSUM(z, drift.CUSUMK, drift.CUSUMH)
	ev.CUSUM, ev.CUSUMRuns = &st, len(z)
	rep.CUSUM = &report.CUSUM{Statistic: st.Last, Threshold: drift.CUSUMH, Runs: len(z), Alarm: st.Last > drift.CUSUMH}
	return nil
}

// changePointRuns is how many runs the change-point posterior covers: a
// year of nightly runs.
const changePointRuns = 365

// changePoint dates the start of the current episode's change of the pass
// rate over the suite's recent runs on the target, this run last
// (report.DateChange). It only reports: the verdict comes from the tests
// against the baseline and the CUSUM.
func (l *Lifecycle) changePoint(ctx context.Context, rep *report.Report, row storage.Run) error {
	m := rep.Metrics
	if m.PassRate == nil {
		return nil
	}
	hist, err := l.store.PassCountHistory(ctx, row.SuiteID, row.TargetID, row.ID, changePointRuns-1)
	if err != nil {
		return fmt.Errorf("change point: %w", err)
	}
	hist = append(hist, storage.RunPassCount{RunID: row.ID, Passed: m.Passed, Total: m.Samples - m.ErrorCount, Verdict: rep.Verdict})
	runs := make([]report.HistoryRun, len(hist))
	for i, h := range hist {
		runs[i] = report.HistoryRun{RunID: h.RunID, Passed: h.Passed, Total: h.Total, Verdict: h.Verdict}
	}
	rep.ChangePoint = report.DateChange(runs, rep.BaselineRunIDs)
	return nil
}

// finish stores the report's findings and the run's end.
func (l *Lifecycle) finish(ctx context.Context, rep *report.Report, status, errMsg string) error {
	if status != storage.RunStopped && len(rep.Findings) > 0 {
		if _, err := l.store.InsertFindings(ctx, rep.RunID, storageFindings(rep.Findings, rep.BaselineRunIDs)); err != nil {
			return err
		}
	}
	rep.Status = status
	return l.store.FinishRun(ctx, rep.RunID, storage.FinishRun{Status: status, Verdict: rep.Verdict, Reason: rep.Reason,
		Summary: encodeJSON(rep), BaselineRunIDs: rep.BaselineRunIDs, Error: errMsg, CostUSD: rep.Metrics.CostUSD})
}

func storageFindings(fs []drift.Finding, baselineRunIDs []int64) []storage.Finding {
	out := make([]storage.Finding, len(fs))
	for i, f := range fs {
		sf := storage.Finding{BaselineRunIDs: baselineRunIDs, Scope: f.Scope, Metric: f.Metric, Statistic: f.Statistic,
			P: f.P, Q: f.Q, Effect: f.Effect, BaselineValue: f.Baseline, CurrentValue: f.Current,
			Verdict: string(f.Verdict), Reason: f.Reason, Examples: encodeJSON(f.Examples)}
		sf.CILow, sf.CIHigh = math.NaN(), math.NaN()
		if f.CI != nil {
			sf.CILow, sf.CIHigh = f.CI.Low, f.CI.High
		}
		out[i] = sf
	}
	return out
}
