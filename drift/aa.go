package drift

import (
	"fmt"
	"math"
	"slices"

	"gonum.org/v1/gonum/stat/distuv"
)

// A/A calibration (the genomic-control analogue).
const (
	// MinCalibrationRuns is the fewest distinct baseline runs (three pairs)
	// from which lambda is estimated.
	MinCalibrationRuns = 3
	// LambdaWarn is the lambda above which the baseline is not trusted to
	// arm the suite: a WARN finding asks for more
	// baseline runs, once lambda is also above what sampling noise gives
	// (see LambdaWarnAt).
	LambdaWarn = 1.5
	// maxCalibrationRuns bounds the runs told apart (a pooled baseline has
	// a handful; more distinct values are not run indexes).
	maxCalibrationRuns = 64
)

// calibration is the A/A calibration of one comparison: the reported
// figures and the factors applied to the pass-rate statistics (1: none).
type calibration struct {
	rep *Calibration
	// lambda divides the square of the CMH z (z / sqrt(lambda)).
	lambda float64
	// sparse is the inflation of the standardised sparse-collapse
	// statistic (S - E0) / sd0.
	sparse float64
}

// calibrate estimates the inflation factors from the pairs of baseline runs
// (Sample.Run) over the compared cases. For every pair (a, b) it computes
// the pass-rate CMH z of b against a, and the sparse-collapse statistic of
// b against a and of a against b standardised by its exact null mean and
// variance. Under pure sampling noise both have mean square exactly 1 (the
// hypergeometric null given the case totals), so lambda = mean(z^2) and
// the sparse factor = mean(t^2). Both are floored at 1: a calibration
// never inflates a statistic. (The textbook median(z^2)/0.455 assumes
// independent pairs; the pairs of three runs share runs and that estimate
// has median 1.4 under pure noise.)
func calibrate(baseline []Sample, cases []*caseData) calibration {
	none := calibration{lambda: 1, sparse: 1}
	var runs []int
	for i := range baseline {
		if r := baseline[i].Run; !slices.Contains(runs, r) {
			if runs = append(runs, r); len(runs) > maxCalibrationRuns {
				return none
			}
		}
	}
	if len(runs) < MinCalibrationRuns || len(cases) == 0 {
		return none
	}
	slices.Sort(runs)
	idx := make(map[string]int32, len(cases))
	for i, cd := range cases {
		idx[cd.key] = int32(i)
	}
	nr := len(runs)
	// Pass and comparable counts per (case, run), case-major.
	pass := make([]int32, len(cases)*nr)
	n := make([]int32, len(cases)*nr)
	for i := range baseline {
		s := &baseline[i]
		if s.Errored {
			continue
		}
		ci, ok := idx[s.Case]
		if !ok {
			continue
		}
		j := int(ci)*nr + slices.Index(runs, s.Run)
		n[j]++
		if s.Passed {
			pass[j]++
		}
	}
	var z2, t2 float64
	var pairs, dirs int
	st := make([]stratum, len(cases))
	rev := make([]stratum, len(cases))
	for a := range nr {
		for b := a + 1; b < nr; b++ {
			for i := range cases {
				ja, jb := i*nr+a, i*nr+b
				st[i] = stratum{int(pass[ja]), int(n[ja]), int(pass[jb]), int(n[jb])}
				rev[i] = stratum{int(pass[jb]), int(n[jb]), int(pass[ja]), int(n[ja])}
			}
			z, inf := cmh(st)
			if inf == 0 {
				continue
			}
			z2 += z * z
			pairs++
			for _, x := range [][]stratum{st, rev} {
				if _, s, mu, v := sparseTables(x); v > 0 {
					t := (s - mu) / math.Sqrt(v)
					t2 += t * t
					dirs++
				}
			}
		}
	}
	if pairs == 0 {
		return none
	}
	lambda := z2 / float64(pairs)
	sparse := 1.0
	if dirs > 0 {
		sparse = t2 / float64(dirs)
	}
	return calibration{
		rep:    &Calibration{Lambda: lambda, Sparse: sparse, Pairs: pairs, Runs: nr, Applied: lambda > 1 || sparse > 1},
		lambda: max(1, lambda),
		sparse: max(1, sparse),
	}
}

// LambdaWarnAt is the lambda above which a baseline pooled from runs runs is warned
// about: LambdaWarn, or the 95th percentile of lambda under pure sampling
// noise when that is higher. Lambda from r runs has about r-1 degrees of
// freedom (chi-squared(r-1)/(r-1) under the null), so with three runs it
// exceeds 1.5 on exp(-1.5) = 22% of clean baselines; the percentile (3.0
// for three runs, 2.2 for six, 1.5 from about 25) keeps false warnings
// near 5%.
func LambdaWarnAt(runs int) float64 {
	df := float64(max(runs-1, 1))
	return max(LambdaWarn, distuv.ChiSquared{K: df}.Quantile(0.95)/df)
}

// calibrationFinding is the WARN finding for a lambda above LambdaWarnAt.
func calibrationFinding(cal *Calibration) Finding {
	return Finding{
		Metric:    MetricCalibration,
		Scope:     ScopeSuite,
		Statistic: fmt.Sprintf("A/A: mean squared pass-rate CMH z over %d pairs of %d baseline runs", cal.Pairs, cal.Runs),
		Baseline:  1,
		Current:   cal.Lambda,
		Effect:    cal.Lambda,
		P:         1,
		Q:         1,
		Verdict:   Warn,
		Reason: fmt.Sprintf("night-to-night variation: lambda=%.2f > %.2f between the %d baseline runs (more than sampling noise gives); the pass-rate z is divided by sqrt(lambda)=%.2f. Pool more baseline runs (a steadier lambda); a hint, not an alarm",
			cal.Lambda, LambdaWarnAt(cal.Runs), cal.Runs, math.Sqrt(cal.Lambda)),
	}
}
