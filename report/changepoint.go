package report

import (
	"slices"

	"github.com/driftwatch/driftwatch/drift"
)

// HistoryRun is one stored run of a suite on a target as the change-point
// dating reads it: its pass counts and its stored verdict.
type HistoryRun struct {
	RunID   int64
	Passed  int
	Total   int
	Verdict string
}

// DateChange returns the change point of the last run in runs (oldest
// first, the run being reported last, its verdict already decided): the
// BOCPD posterior over the whole series (hazard 1/365)
// and "since", the first run at the current pass rate within the current
// episode, that is, after the last of baselineRunIDs and after the run that
// resolved the last drift episode (drift.SinceChange). When a change within
// the episode is likely but no run can be named, or the run drifted without
// a dated change, SinceUnclear is set. It returns nil without runs.
func DateChange(runs []HistoryRun, baselineRunIDs []int64) *ChangePoint {
	if len(runs) == 0 {
		return nil
	}
	pts := make([]drift.RunPoint, len(runs))
	for i, r := range runs {
		pts[i] = drift.RunPoint{PassCount: drift.PassCount{Passed: r.Passed, Total: r.Total},
			Verdict: drift.Verdict(r.Verdict), Baseline: slices.Contains(baselineRunIDs, r.RunID)}
	}
	s := drift.SinceChange(pts, drift.DefaultHazard)
	cp := s.Series
	out := &ChangePoint{Runs: cp.Runs, RunsSince: cp.RunLength, Probability: cp.RunLengthProb,
		ProbChange: cp.ProbChange, ProbThisRun: cp.ProbWithin(1), EpisodeStartRunID: runs[s.EpisodeStart].RunID}
	last := runs[len(runs)-1]
	switch {
	case s.Index >= 0:
		out.SinceRunID, out.SinceProbability = runs[s.Index].RunID, s.Prob
		out.RunsSince, out.Probability = len(runs)-s.Index, s.Prob
	case s.Unclear || last.Verdict == string(drift.Drift):
		out.SinceUnclear = true
	}
	return out
}
