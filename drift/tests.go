package drift

import (
	"math"
	"math/rand/v2"
	"sort"

	"gonum.org/v1/gonum/stat/distuv"
)

// normCDF is the standard normal CDF.
func normCDF(z float64) float64 { return 0.5 * math.Erfc(-z/math.Sqrt2) }

// normQuantile is the standard normal quantile.
func normQuantile(p float64) float64 { return distuv.UnitNormal.Quantile(p) }

// twoSided returns the two-sided normal p-value of z.
func twoSided(z float64) float64 { return min(1, 2*normCDF(-math.Abs(z))) }

// stratum is one case's 2x2 table: x0 of n0 baseline samples and x1 of n1
// current samples have the property.
type stratum struct{ x0, n0, x1, n1 int }

// moments returns the hypergeometric mean and variance of x1 given the
// margins of the stratum.
func (s stratum) moments() (e, v float64) {
	n := float64(s.n0 + s.n1)
	t := float64(s.x0 + s.x1)
	if n < 2 {
		return float64(s.x1), 0
	}
	e = float64(s.n1) * t / n
	v = float64(s.n0) * float64(s.n1) * t * (n - t) / (n * n * (n - 1))
	return e, v
}

// CMH is the Cochran-Mantel-Haenszel statistic stratified by case for
// unequal sample counts per side: Z = sum(x1 - E) / sqrt(sum Var), with E
// and Var of the hypergeometric law of x1 given each case's totals. Z < 0
// means the current rate is lower. informative is the number of strata with
// positive variance (zero: Z = 0 and no test is possible).
func cmh(strata []stratum) (z float64, informative int) {
	var num, den float64
	for _, s := range strata {
		e, v := s.moments()
		if v <= 0 {
			continue
		}
		informative++
		num += float64(s.x1) - e
		den += v
	}
	if den <= 0 {
		return 0, 0
	}
	return num / math.Sqrt(den), informative
}

// sparseTable is the null distribution of one case's contribution
// max(0, -z_i)^2 to the sparse-collapse statistic: only the lower tail
// contributes, so it stores the cumulative probabilities of x1 below E and
// the matching contributions, and the contribution's null mean and variance.
type sparseTable struct {
	cdf        []float64 // P(X1 <= lo+j) for the contributing values
	contrib    []float64
	mean, vari float64
}

type sigKey struct{ n0, n1, t int }

// sparseStopHits is the exceedance count per chunk after which the Monte
// Carlo stops early (the p-value is then about 8*sparseStopHits/draws or
// more, far above any alarm level).
const sparseStopHits = 25

// sparseTables returns S = sum max(0,-z_i)^2 over the strata, its exact null
// mean and variance (independent cases, hypergeometric given the case
// totals), and the null tables of the cases that can contribute.
func sparseTables(strata []stratum) (cases []*sparseTable, sObs, mean, variance float64) {
	tables := map[sigKey]*sparseTable{}
	for _, s := range strata {
		e, v := s.moments()
		if v <= 0 {
			continue
		}
		sd := math.Sqrt(v)
		if z := (float64(s.x1) - e) / sd; z < 0 {
			sObs += z * z
		}
		k := sigKey{s.n0, s.n1, s.x0 + s.x1}
		tb, ok := tables[k]
		if !ok {
			lo, pmf := hyperPMF(s.n0, s.n1, k.t)
			tb = &sparseTable{}
			c, m2 := 0.0, 0.0
			for j, pr := range pmf {
				x := float64(lo + j)
				if x >= e {
					break
				}
				c += pr
				z := (x - e) / sd
				tb.cdf = append(tb.cdf, c)
				tb.contrib = append(tb.contrib, z*z)
				tb.mean += pr * z * z
				m2 += pr * z * z * z * z
			}
			tb.vari = m2 - tb.mean*tb.mean
			tables[k] = tb
		}
		if len(tb.cdf) > 0 {
			cases = append(cases, tb)
			mean += tb.mean
			variance += tb.vari
		}
	}
	return cases, sObs, mean, variance
}

// sparseCollapse returns S = sum max(0,-z_i)^2 and its Monte Carlo p-value
// under the exact per-case hypergeometric null conditional on the case
// totals (draws draws, add-one estimate). lambda (1 for none) is the A/A
// variance inflation of S: above its null mean, S is replaced by
// mean + (S - mean)/sqrt(lambda) and tested against the same null.
func sparseCollapse(strata []stratum, lambda float64, draws int, rng *rand.Rand) (sObs, p float64) {
	cases, sObs, mu, _ := sparseTables(strata)
	if lambda > 1 && sObs > mu {
		sObs = mu + (sObs-mu)/math.Sqrt(lambda)
	}
	if sObs <= 0 || len(cases) == 0 {
		return sObs, 1
	}
	thr := sObs * (1 - 1e-9)
	// Draws are split over fixed chunks with their own RNG streams, so the
	// result does not depend on the number of CPUs.
	seed := rng.Uint64()
	counts := make([]int, permChunks)
	dones := make([]int, permChunks)
	inChunks(draws, func(ch, from, to int) {
		r := rand.New(rand.NewPCG(seed, uint64(ch)))
		ge, done := 0, 0
		for range to - from {
			if ge >= sparseStopHits {
				break
			}
			done++
			s := 0.0
			for _, tb := range cases {
				u := r.Float64()
				if u >= tb.cdf[len(tb.cdf)-1] {
					continue
				}
				j := 0
				for u >= tb.cdf[j] {
					j++
				}
				s += tb.contrib[j]
			}
			if s >= thr {
				ge++
			}
		}
		counts[ch], dones[ch] = ge, done
	})
	ge, done := 0, 0
	for ch := range counts {
		ge += counts[ch]
		done += dones[ch]
	}
	if done < draws {
		// Sequential Monte Carlo (Besag and Clifford 1991): a chunk stops
		// after sparseStopHits exceedances; p is then clearly large.
		return sObs, min(1, float64(ge)/float64(done))
	}
	return sObs, float64(ge+1) / float64(draws+1)
}

// meanCI returns the mean of d and a 95% case-bootstrap percentile interval
// (b resamples of the cases).
func bootstrapMean(d []float64, b int, rng *rand.Rand) (mean float64, ci Interval) {
	n := len(d)
	if n == 0 {
		return 0, Interval{}
	}
	equal := true
	for _, v := range d {
		mean += v
		equal = equal && v == d[0]
	}
	mean /= float64(n)
	if equal {
		// Every resample is n copies of d[0] (no case changed, the common
		// case): the interval is that mean, without b*n draws.
		s := 0.0
		for range n {
			s += d[0]
		}
		return mean, Interval{Low: s / float64(n), High: s / float64(n)}
	}
	means := make([]float64, b)
	if vals, codes := compressValues(d); codes != nil && n <= math.MaxUint32 {
		// Few distinct values (per-case rate differences of a few samples
		// per case): resample one-byte codes, which stay in cache, count
		// them and sum per value.
		// Two count arrays: consecutive increments of one counter would
		// wait on each other.
		counts := make([]int, 2*len(vals))
		lo, hi := counts[:len(vals)], counts[len(vals):]
		for i := range means {
			clear(counts)
			var pick picker
			pick.init(rng, n)
			for k := 0; k < n; k += 2 {
				x := rng.Uint64()
				lo[codes[pick.index(uint32(x))]]++
				if k+1 < n {
					hi[codes[pick.index(uint32(x>>32))]]++
				}
			}
			s := 0.0
			for v := range vals {
				s += float64(lo[v]+hi[v]) * vals[v]
			}
			means[i] = s / float64(n)
		}
	} else {
		for i := range means {
			s := 0.0
			if n <= math.MaxUint32 {
				var pick picker
				pick.init(rng, n)
				for k := 0; k < n; k += 2 {
					x := rng.Uint64()
					s += d[pick.index(uint32(x))]
					if k+1 < n {
						s += d[pick.index(uint32(x>>32))]
					}
				}
			} else {
				for range n {
					s += d[rng.IntN(n)]
				}
			}
			means[i] = s / float64(n)
		}
	}
	sort.Float64s(means)
	lo := means[int(math.Floor(0.025*float64(b-1)))]
	hi := means[int(math.Ceil(0.975*float64(b-1)))]
	return mean, Interval{Low: lo, High: hi}
}

// compressValues maps d to indexes into its distinct values when there are
// at most 256 of them (codes is nil otherwise).
func compressValues(d []float64) (vals []float64, codes []uint8) {
	pos := make(map[float64]uint8, 8)
	codes = make([]uint8, len(d))
	for i, v := range d {
		c, ok := pos[v]
		if !ok {
			if len(vals) == 256 || v != v { // too many, or NaN
				return nil, nil
			}
			c = uint8(len(vals))
			pos[v] = c
			vals = append(vals, v)
		}
		codes[i] = c
	}
	return vals, codes
}

// picker maps 32 random bits to a uniform index in [0, n), n < 2^32, by
// Lemire's multiply-and-reject (unbiased): two indexes per 64-bit draw.
type picker struct {
	rng       *rand.Rand
	n, thresh uint32
}

func (p *picker) init(rng *rand.Rand, n int) {
	p.rng, p.n = rng, uint32(n)
	p.thresh = -p.n % p.n
}

func (p *picker) index(x uint32) uint32 {
	m := uint64(x) * uint64(p.n)
	if uint32(m) < p.thresh {
		return p.slow(m)
	}
	return uint32(m >> 32)
}

func (p *picker) slow(m uint64) uint32 {
	for uint32(m) < p.thresh {
		m = uint64(uint32(p.rng.Uint64())) * uint64(p.n)
	}
	return uint32(m >> 32)
}

// cltMean returns the mean of d and a 95% normal interval.
func cltMean(d []float64) (mean float64, ci Interval) {
	n := float64(len(d))
	if n == 0 {
		return 0, Interval{}
	}
	var ss float64
	for _, v := range d {
		mean += v
	}
	mean /= n
	for _, v := range d {
		ss += (v - mean) * (v - mean)
	}
	se := 0.0
	if n > 1 {
		se = math.Sqrt(ss / (n - 1) / n)
	}
	return mean, Interval{Low: mean - 1.96*se, High: mean + 1.96*se}
}

// WilcoxonSignedRank is the two-sided Wilcoxon signed-rank test of the
// paired differences d (zeros dropped, average ranks for ties, normal
// approximation with tie and continuity correction). It returns W+ (sum of
// the ranks of positive differences), the z statistic, the p-value and the
// number of non-zero differences used.
func WilcoxonSignedRank(d []float64) (wPlus, z, p float64, n int) {
	type ad struct {
		a   float64
		pos bool
	}
	var xs []ad
	for _, v := range d {
		if v != 0 && !math.IsNaN(v) {
			xs = append(xs, ad{math.Abs(v), v > 0})
		}
	}
	n = len(xs)
	if n == 0 {
		return 0, 0, 1, 0
	}
	sort.Slice(xs, func(i, j int) bool { return xs[i].a < xs[j].a })
	tie := 0.0
	for i := 0; i < n; {
		j := i
		for j < n && xs[j].a == xs[i].a {
			j++
		}
		r := float64(i+j+1) / 2 // average of ranks i+1..j
		for m := i; m < j; m++ {
			if xs[m].pos {
				wPlus += r
			}
		}
		t := float64(j - i)
		tie += t*t*t - t
		i = j
	}
	nf := float64(n)
	mu := nf * (nf + 1) / 4
	v := nf*(nf+1)*(2*nf+1)/24 - tie/48
	if v <= 0 {
		return wPlus, 0, 1, n
	}
	diff := wPlus - mu
	cc := 0.5
	if math.Abs(diff) < cc {
		cc = math.Abs(diff)
	}
	z = (diff - math.Copysign(cc, diff)) / math.Sqrt(v)
	return wPlus, z, twoSided(z), n
}

// binomUpper returns P(X >= x) for X ~ Binomial(n, p).
func binomUpper(x, n int, p float64) float64 {
	if x <= 0 {
		return 1
	}
	if x > n {
		return 0
	}
	return 1 - distuv.Binomial{N: float64(n), P: p}.CDF(float64(x-1))
}
