package drift

import (
	"math"
	"math/rand/v2"
)

// mcTable is the exact null law of one case's current pass count x1 given
// its margins (hypergeometric): the cumulative probabilities over x1 = lo..,
// and each value's contribution max(0, -z_i)^2 to the sparse statistic.
type mcTable struct {
	lo      int
	cdf     []float64
	contrib []float64
	mean    float64 // null mean of the contribution
}

// passMC is the pass-rate test with both p-values from the same Monte Carlo
// draws of the exact per-case hypergeometric null.
type passMC struct {
	z        float64 // CMH z, divided by sqrt(lambda) when lambda > 1
	rawZ     float64
	pCMH     float64 // one-sided (drop), Monte Carlo
	s        float64 // sparse-collapse S, calibrated as in sparseCollapse
	pSparse  float64
	inf      int // informative strata
	draws    int // draws made (fewer: sequential stop, both p large)
	complete bool
}

// mcTally counts the null draws made (done) and those as extreme as the
// observed T (geT) and S (geS).
type mcTally struct{ geT, geS, done int }

// passRateMC computes the one-sided CMH statistic and the sparse-collapse
// statistic S = sum max(0, -z_i)^2 of the strata and calibrates both by
// Monte Carlo from the same draws of the exact per-case hypergeometric null
// conditional on the case totals: p = (1 + #{null at least as extreme}) /
// (draws + 1), ties counted as extreme. The normal approximation of the CMH
// p-value is slightly liberal with one or two current samples per case, so
// the staged design uses this one at every look and at the final test
// (Settings.CMHMonteCarlo). lambda and lambdaS are the A/A inflation factors
// (1: none), applied as in Compare: z / sqrt(lambda) and, above its null
// mean, E0 + (S - E0)/sqrt(lambdaS). When both exceedance counts pass
// sparseStopHits in every chunk the draws stop early and p = count/draws
// (Besag and Clifford 1991): both p-values are then far above any level.
func passRateMC(strata []stratum, lambda, lambdaS float64, draws int, rng *rand.Rand) passMC {
	tables := map[sigKey]*mcTable{}
	var cases []*mcTable
	var tObs, eSum, vSum, sObs, sMean float64
	for _, st := range strata {
		e, v := st.moments()
		if v <= 0 {
			continue
		}
		sd := math.Sqrt(v)
		tObs += float64(st.x1)
		eSum += e
		vSum += v
		if z := (float64(st.x1) - e) / sd; z < 0 {
			sObs += z * z
		}
		k := sigKey{st.n0, st.n1, st.x0 + st.x1}
		tb, ok := tables[k]
		if !ok {
			tb = newMCTable(k, e, sd)
			tables[k] = tb
		}
		cases = append(cases, tb)
		sMean += tb.mean
	}
	res := passMC{pCMH: 1, pSparse: 1, inf: len(cases), complete: true}
	if len(cases) == 0 || vSum <= 0 {
		return res
	}
	sd := math.Sqrt(vSum)
	res.rawZ = (tObs - eSum) / sd
	res.z = res.rawZ
	if lambda > 1 {
		res.z /= math.Sqrt(lambda)
	}
	res.s = sObs
	if lambdaS > 1 && sObs > sMean {
		res.s = sMean + (sObs-sMean)/math.Sqrt(lambdaS)
	}
	// Thresholds on the null sums: T <= tThr is as extreme as the observed
	// (calibrated) z; S >= sThr as extreme as the observed S.
	tThr := eSum + res.z*sd + 1e-9*(1+math.Abs(eSum))
	sThr := res.s * (1 - 1e-9)
	testS := res.s > 0

	tot := mcDraw(cases, draws, rng.Uint64(), tThr, sThr, testS)
	res.draws = tot.done
	if tot.done < draws {
		res.complete = false
		res.pCMH = min(1, float64(tot.geT)/float64(tot.done))
		if testS {
			res.pSparse = min(1, float64(tot.geS)/float64(tot.done))
		}
		return res
	}
	res.pCMH = float64(tot.geT+1) / float64(draws+1)
	if testS {
		res.pSparse = float64(tot.geS+1) / float64(draws+1)
	}
	return res
}

// newMCTable is the null law of a case with margins k whose null mean and
// standard deviation of x1 are e and sd.
func newMCTable(k sigKey, e, sd float64) *mcTable {
	lo, pmf := hyperPMF(k.n0, k.n1, k.t)
	tb := &mcTable{lo: lo, cdf: make([]float64, len(pmf)), contrib: make([]float64, len(pmf))}
	c := 0.0
	for j, pr := range pmf {
		c += pr
		tb.cdf[j] = c
		if x := float64(lo + j); x < e {
			z := (x - e) / sd
			tb.contrib[j] = z * z
			tb.mean += pr * z * z
		}
	}
	tb.cdf[len(pmf)-1] = 1 // rounding: every draw lands in the support
	return tb
}

// mcDraw draws up to draws null tables (T, S) of cases from seed, in
// chunks that stop once both exceedance counts pass sparseStopHits, and
// tallies them against the thresholds tThr (T at most) and sThr (S at
// least, when testS).
func mcDraw(cases []*mcTable, draws int, seed uint64, tThr, sThr float64, testS bool) mcTally {
	tallies := make([]mcTally, permChunks)
	inChunks(draws, func(ch, from, to int) {
		r := rand.New(rand.NewPCG(seed, uint64(ch)))
		var tl mcTally
		for range to - from {
			if tl.geT >= sparseStopHits && (tl.geS >= sparseStopHits || !testS) {
				break
			}
			tl.done++
			t, s := 0.0, 0.0
			for _, tb := range cases {
				u := r.Float64()
				j := 0
				for u >= tb.cdf[j] && j < len(tb.cdf)-1 {
					j++
				}
				t += float64(tb.lo + j)
				s += tb.contrib[j]
			}
			if t <= tThr {
				tl.geT++
			}
			if testS && s >= sThr {
				tl.geS++
			}
		}
		tallies[ch] = tl
	})
	var tot mcTally
	for _, tl := range tallies {
		tot.geT += tl.geT
		tot.geS += tl.geS
		tot.done += tl.done
	}
	return tot
}
