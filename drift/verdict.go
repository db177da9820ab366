package drift

import (
	"fmt"
	"math"
)

// CUSUM parameters for the per-run pass-rate z: reference k = 0.5,
// decision threshold h = 5, an in-control
// average run length of about 900 runs.
const (
	CUSUMK = 0.5
	CUSUMH = 5.0
)

// Evidence is everything a run's verdict is decided from.
type Evidence struct {
	// HasBaseline says the run was compared with a baseline; Compared is
	// then the comparison (Compare's result).
	HasBaseline bool
	Compared    Result
	// Samples and Errors count the run's own samples: a run without a
	// baseline becomes one only with enough of them and few errors.
	Samples, Errors int
	// CUSUM is the pass-rate CUSUM over the runs compared with the current
	// baseline, this run last (nil: not computed, the run has no pass-rate
	// z).
	CUSUM *CUSUMState
	// CUSUMRuns is how many runs the CUSUM covers.
	CUSUMRuns int
}

// Decide gives a run's verdict and reason, the one place where that policy
// lives:
//   - no baseline: BASELINE, unless the errors exceed MaxErrorRate or fewer
//     than MinSamples samples succeeded (INCONCLUSIVE);
//   - a baseline: the comparison's verdict, except that a STABLE run whose
//     CUSUM crosses CUSUMH is a slow DRIFT (a finding says so).
//
// The comparison's findings and cases are kept; Decide adds the CUSUM
// finding.
func Decide(e Evidence, set Settings) Result {
	set = set.WithDefaults()
	if !e.HasBaseline {
		return firstRun(e, set)
	}
	res := e.Compared
	if e.CUSUM == nil || e.CUSUM.Last <= CUSUMH || res.Verdict != Stable {
		return res
	}
	res.Verdict = Drift
	res.Reason = fmt.Sprintf("slow drift: the pass-rate CUSUM over %d runs since the baseline is %.1f (> %.0f), although no single run was significant",
		e.CUSUMRuns, e.CUSUM.Last, CUSUMH)
	res.Findings = append(res.Findings, Finding{Metric: MetricCUSUM, Scope: ScopeSuite, Statistic: "cusum",
		Current: e.CUSUM.Last, Effect: e.CUSUM.Last, Verdict: Drift, P: math.NaN(), Q: math.NaN(), Reason: res.Reason})
	return res
}

// firstRun decides whether a run with no baseline can become one.
func firstRun(e Evidence, set Settings) Result {
	res := Result{Verdict: Baseline, Reason: "first completed run: it is the baseline for later runs",
		CurrentSamples: e.Samples, Errors: e.Errors, MDE: e.Compared.MDE}
	ok := e.Samples - e.Errors
	switch {
	case e.Samples > 0 && float64(e.Errors)/float64(e.Samples) > set.MaxErrorRate:
		res.Verdict = Inconclusive
		res.Reason = fmt.Sprintf("error rate %.1f%% is above %.0f%%: not accepted as a baseline",
			100*float64(e.Errors)/float64(e.Samples), 100*set.MaxErrorRate)
	case ok < set.MinSamples:
		res.Verdict = Inconclusive
		res.Reason = fmt.Sprintf("only %d samples without error (at least %d needed): not accepted as a baseline",
			ok, set.MinSamples)
	}
	return res
}

// Confirmation is what a confirmation run does to a DRIFT.
type Confirmation int

// Confirmation outcomes.
const (
	// Confirmed: the confirmation run drifted too; the DRIFT stands.
	Confirmed Confirmation = iota
	// Overturned: the confirmation run was STABLE; the run becomes STABLE
	// and its DRIFT findings become WARN.
	Overturned
	// Unconfirmed: the confirmation run says nothing about the drift
	// (INCONCLUSIVE, stopped by its budget or a pin); the DRIFT stands, so
	// an outage during the confirmation never hides a drift.
	Unconfirmed
)

// Confirm settles a DRIFT with the verdict of its confirmation run.
func Confirm(confirmation Verdict) Confirmation {
	switch confirmation {
	case Drift:
		return Confirmed
	case Stable:
		return Overturned
	}
	return Unconfirmed
}
