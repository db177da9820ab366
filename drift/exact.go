package drift

import (
	"math"
)

// logChoose returns log C(n, k).
func logChoose(n, k int) float64 {
	if k < 0 || k > n {
		return math.Inf(-1)
	}
	a, _ := math.Lgamma(float64(n + 1))
	b, _ := math.Lgamma(float64(k + 1))
	c, _ := math.Lgamma(float64(n - k + 1))
	return a - b - c
}

// hyperPMF returns the pmf of the current pass count x1 given baseline size
// n0, current size n1 and total passes t, over x1 = lo..hi.
func hyperPMF(n0, n1, t int) (lo int, pmf []float64) {
	lo = max(0, t-n0)
	hi := min(t, n1)
	if hi < lo {
		return lo, nil
	}
	pmf = make([]float64, hi-lo+1)
	den := logChoose(n0+n1, n1)
	for x := lo; x <= hi; x++ {
		pmf[x-lo] = math.Exp(logChoose(t, x) + logChoose(n0+n1-t, n1-x) - den)
	}
	return lo, pmf
}

// FisherDrop is the one-sided Fisher exact p-value for a drop of the pass
// rate from x0/n0 (baseline) to x1/n1 (current): P(X1 <= x1 | x0+x1).
func FisherDrop(x0, n0, x1, n1 int) float64 {
	lo, pmf := hyperPMF(n0, n1, x0+x1)
	p := 0.0
	for x := lo; x <= x1 && x-lo < len(pmf); x++ {
		p += pmf[x-lo]
	}
	return min(1, p)
}

// FisherMidPDrop is the mid-p version of FisherDrop.
func FisherMidPDrop(x0, n0, x1, n1 int) float64 {
	lo, pmf := hyperPMF(n0, n1, x0+x1)
	p := 0.0
	for x := lo; x < x1 && x-lo < len(pmf); x++ {
		p += pmf[x-lo]
	}
	if i := x1 - lo; i >= 0 && i < len(pmf) {
		p += pmf[i] / 2
	}
	return min(1, p)
}

// boschlooGrid is the number of nuisance values scanned (plus a local
// refinement around the maximum).
const boschlooGrid = 400

// BoschlooDrop is Boschloo's unconditional one-sided test for a drop of the
// pass rate from x0/n0 to x1/n1: the Fisher p-value is the statistic and the
// p-value is its supremum over the common nuisance pass probability.
func BoschlooDrop(x0, n0, x1, n1 int) float64 {
	if n0 == 0 || n1 == 0 {
		return 1
	}
	obs := FisherDrop(x0, n0, x1, n1)
	if obs >= 1 {
		return 1
	}
	// Tables at least as extreme as the observed one.
	type cell struct{ a, b int }
	var rej []cell
	for a := 0; a <= n0; a++ {
		for b := 0; b <= n1; b++ {
			if FisherDrop(a, n0, b, n1) <= obs*(1+1e-9) {
				rej = append(rej, cell{a, b})
			}
		}
	}
	lc0 := make([]float64, n0+1)
	for a := range lc0 {
		lc0[a] = logChoose(n0, a)
	}
	lc1 := make([]float64, n1+1)
	for b := range lc1 {
		lc1[b] = logChoose(n1, b)
	}
	size := func(pi float64) float64 {
		if pi <= 0 || pi >= 1 {
			return 0
		}
		lp, lq := math.Log(pi), math.Log1p(-pi)
		s := 0.0
		for _, c := range rej {
			s += math.Exp(lc0[c.a] + lc1[c.b] + float64(c.a+c.b)*lp + float64(n0+n1-c.a-c.b)*lq)
		}
		return s
	}
	best, bestPi := 0.0, 0.5
	for i := 1; i < boschlooGrid; i++ {
		pi := float64(i) / boschlooGrid
		if v := size(pi); v > best {
			best, bestPi = v, pi
		}
	}
	// Golden-section refinement around the grid maximum.
	a, b := bestPi-1.0/boschlooGrid, bestPi+1.0/boschlooGrid
	const g = 0.6180339887498949
	for range 40 {
		c, d := b-g*(b-a), a+g*(b-a)
		if size(c) > size(d) {
			b = d
		} else {
			a = c
		}
	}
	best = max(best, size((a+b)/2))
	return min(1, max(best, 0))
}
