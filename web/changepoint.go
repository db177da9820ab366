package web

import (
	"encoding/json"
	"fmt"
	"time"

	"github.com/driftwatch/driftwatch/drift"
	"github.com/driftwatch/driftwatch/report"
)

// changeRecentRuns is the window of the trend page's "P(change within the
// last N runs)".
const changeRecentRuns = 3

// storedReport decodes a stored summary in one pass while telling a stored
// metrics.passed from an absent one (summaries written before reports
// carried it): the shallower Metrics and Passed fields shadow the embedded
// ones (this relies on report.Report having no UnmarshalJSON method).
type storedReport struct {
	report.Report
	Metrics storedMetrics `json:"metrics"`
}

type storedMetrics struct {
	report.Metrics
	Passed *int `json:"passed"`
}

// parseSummary is parseReport that also says whether the summary stores
// metrics.passed, the pass count the change-point posterior needs.
func parseSummary(raw json.RawMessage, rl *RunListing) (*report.Report, bool) {
	if len(raw) == 0 || string(raw) == "null" {
		return nil, false
	}
	var sr storedReport
	if json.Unmarshal(raw, &sr) != nil {
		return nil, false
	}
	rep := sr.Report
	rep.Metrics = sr.Metrics.Metrics
	if sr.Metrics.Passed != nil {
		rep.Metrics.Passed = *sr.Metrics.Passed
	}
	if rl != nil && rl.Verdict != "" {
		// The run row is the authority (a confirmation run may have
		// changed the verdict after the summary was written).
		rep.Verdict, rep.Reason = rl.Verdict, rl.VerdictReason
	}
	return &rep, sr.Metrics.Passed != nil
}

// runPassCount is one run's stored pass count, in the order of the trend.
type runPassCount struct {
	ID      int64
	Started time.Time
	Count   drift.PassCount
}

// trendChange is the trend page's change-point line: BOCPD over the pass
// counts of the runs the page shows (DRIFT_METHOD.md 4.5, 4.7: "when did it
// change"). Probabilities are formatted for display.
type trendChange struct {
	// Runs is the number of runs with a stored pass count.
	Runs int
	// RunID and At are the first run at the current pass rate when a change
	// is the most likely explanation; RunID 0 otherwise.
	RunID int64
	At    time.Time
	// Prob is the posterior probability of that run length; Recent the
	// probability of a change within the last RecentRuns runs; Any of at
	// least one change over the runs.
	Prob, Recent, Any string
	RecentRuns        int
}

// trendChangePoint runs BOCPD over counts (oldest first); nil with fewer
// than two runs, where there is nothing to date.
func trendChangePoint(counts []runPassCount) *trendChange {
	if len(counts) < 2 {
		return nil
	}
	obs := make([]drift.PassCount, len(counts))
	for i, c := range counts {
		obs[i] = c.Count
	}
	cp := drift.BOCPD(obs, drift.DefaultHazard)
	tc := &trendChange{Runs: cp.Runs, Prob: fmtProb(cp.RunLengthProb), Any: fmtProb(cp.ProbChange),
		Recent: fmtProb(cp.ProbWithin(changeRecentRuns)), RecentRuns: changeRecentRuns}
	if cp.ChangeIndex >= 0 {
		tc.RunID, tc.At = counts[cp.ChangeIndex].ID, counts[cp.ChangeIndex].Started
	}
	return tc
}

// mark is the most likely change as a mark on the pass-rate chart; false
// when there is none.
func (tc *trendChange) mark() (mark, bool) {
	if tc == nil || tc.RunID == 0 {
		return mark{}, false
	}
	return mark{T: tc.At, Kind: "change", Label: fmt.Sprintf("most likely change: run %d (probability %s)", tc.RunID, tc.Prob)}, true
}

// lambdaPoint is a run's stored A/A calibration λ on the trend page.
func lambdaPoint(rl *RunListing, cal *drift.Calibration, href string) point {
	label := fmt.Sprintf("run %d: λ = %.2f from %d pairs of %d baseline runs", rl.ID, cal.Lambda, cal.Pairs, cal.Runs)
	if cal.Applied {
		label += ", applied"
	}
	return point{T: rl.StartedAt, V: cal.Lambda, Label: label, Href: href}
}

// runChange is the run page's change-point line (report.ChangePoint).
type runChange struct {
	// SinceRunID is the first run at the current pass rate when a change is
	// the most likely explanation, else 0.
	SinceRunID      int64
	RunsSince, Runs int
	Prob            string
	ProbChange      string
	ProbThisRun     string
}

// runCalibration is the run page's A/A calibration line.
type runCalibration struct {
	Lambda, Sparse string
	Pairs, Runs    int
	Applied        bool
	// Warn: λ above drift.LambdaWarnAt(runs); WarnAt is that threshold.
	Warn   bool
	WarnAt string
}

func newRunChange(cp *report.ChangePoint) *runChange {
	if cp == nil {
		return nil
	}
	return &runChange{SinceRunID: cp.SinceRunID, RunsSince: cp.RunsSince, Runs: cp.Runs, Prob: fmtProb(cp.Probability),
		ProbChange: fmtProb(cp.ProbChange), ProbThisRun: fmtProb(cp.ProbThisRun)}
}

func newRunCalibration(cal *drift.Calibration) *runCalibration {
	if cal == nil {
		return nil
	}
	return &runCalibration{Lambda: fmt.Sprintf("%.2f", cal.Lambda), Sparse: fmt.Sprintf("%.2f", cal.Sparse), Pairs: cal.Pairs,
		Runs: cal.Runs, Applied: cal.Applied, Warn: cal.Lambda > drift.LambdaWarnAt(cal.Runs), WarnAt: fmt.Sprintf("%.2f", drift.LambdaWarnAt(cal.Runs))}
}

// fmtProb formats a posterior probability with two decimals.
func fmtProb(p float64) string { return fmt.Sprintf("%.2f", p) }
