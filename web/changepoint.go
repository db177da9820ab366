package web

import (
	"cmp"
	"encoding/json"
	"fmt"
	"time"

	"github.com/driftwatch/driftwatch/drift"
	"github.com/driftwatch/driftwatch/report"
)

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
		// changed the verdict after the summary was written): the stored
		// plain-language summary then speaks of the old verdict.
		if rep.Verdict != rl.Verdict {
			rep.Summary = ""
		}
		rep.Verdict, rep.Reason = rl.Verdict, rl.VerdictReason
	}
	return &rep, sr.Metrics.Passed != nil
}

// trendChange is the trend page's change-point line: the latest run's
// stored change point (report.ChangePoint), never recomputed. Probabilities
// are formatted for display.
type trendChange struct {
	// Runs is the number of runs the stored posterior covers.
	Runs int
	// RunID and At are the first run at the current pass rate within the
	// current episode; RunID 0 when none was dated. At is zero when that
	// run is older than the page's runs.
	RunID int64
	At    time.Time
	// Unclear: a change is likely but no run can be named ("since:
	// unclear").
	Unclear bool
	// EpisodeStart is the first run of the current episode (after the last
	// baseline or resolved drift); 0 in reports stored before episodes.
	EpisodeStart int64
	// Prob is the posterior probability of RunID; Any of at least one
	// change over the runs.
	Prob, Any string
}

// newTrendChange is the stored change point cp as the trend page shows it;
// starts gives the start time of the page's runs. nil without one.
func newTrendChange(cp *report.ChangePoint, starts map[int64]time.Time) *trendChange {
	if cp == nil {
		return nil
	}
	tc := &trendChange{Runs: cp.Runs, RunID: cp.SinceRunID, At: starts[cp.SinceRunID], Unclear: cp.SinceUnclear, EpisodeStart: cp.EpisodeStartRunID,
		Prob: fmtProb(cmp.Or(cp.SinceProbability, cp.Probability)), Any: fmtProb(cp.ProbChange)}
	if tc.Unclear {
		tc.RunID = 0
	}
	return tc
}

// mark is the dated change as a mark on the pass-rate chart; false when
// there is none or its run is not on the page.
func (tc *trendChange) mark() (mark, bool) {
	if tc == nil || tc.RunID == 0 || tc.At.IsZero() {
		return mark{}, false
	}
	return mark{T: tc.At, Kind: "change", Label: fmt.Sprintf("the current pass rate began at run %d (probability %s)", tc.RunID, tc.Prob)}, true
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
	Unclear         bool
	EpisodeStart    int64
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
	return &runChange{SinceRunID: cp.SinceRunID, Unclear: cp.SinceUnclear, EpisodeStart: cp.EpisodeStartRunID, RunsSince: cp.RunsSince, Runs: cp.Runs, Prob: fmtProb(cp.Probability),
		ProbChange: fmtProb(cp.ProbChange), ProbThisRun: fmtProb(cp.ProbThisRun)}
}

func newRunCalibration(cal *drift.Calibration) *runCalibration {
	if cal == nil {
		return nil
	}
	return &runCalibration{Lambda: fmt.Sprintf("%.2f", cal.Lambda), Sparse: fmt.Sprintf("%.2f", cal.Sparse), Pairs: cal.Pairs,
		Runs: cal.Runs, Applied: cal.Applied, Warn: cal.Lambda > drift.LambdaWarnAt(cal.Runs), WarnAt: fmt.Sprintf("%.2f", drift.LambdaWarnAt(cal.Runs))}
}

// why is a stored report in plain words: the summary stored with it, else
// (a report stored before summaries, or whose verdict changed since)
// report.Explain of what was stored.
func why(rep *report.Report) string {
	if rep.Summary != "" {
		return rep.Summary
	}
	return report.Explain(rep)
}

// fmtProb formats a posterior probability with two decimals.
func fmtProb(p float64) string { return fmt.Sprintf("%.2f", p) }
