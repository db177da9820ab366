package drift

import (
	"encoding/json"
	"math"
	"math/rand/v2"
	"sort"
	"testing"

	"github.com/stretchr/testify/require"
)

// bocpdSuite simulates the nightly pass counts of a suite of cases with their
// own pass rates, k samples each. cdf[d] is the exact CDF of the pass count of
// a run (the convolution of the cases' binomials) with every pass rate
// shifted by d, so that a run is one uniform draw.
type bocpdSuite struct {
	total int
	cdf   map[float64][]float64
}

// newBOCPDSuite returns cases cases with mean pass rate 0.85: all at 0.85
// (every sample exchangeable, exactly the BOCPD model) or, with hetero,
// uniform on [0.7, 1] (a fixed case mix: less variable than binomial). The
// pass rates can be shifted by each of shifts.
func newBOCPDSuite(rng *rand.Rand, cases, k int, hetero bool, shifts ...float64) bocpdSuite {
	p := make([]float64, cases)
	for i := range p {
		p[i] = 0.85
		if hetero {
			p[i] = 0.7 + 0.3*rng.Float64()
		}
	}
	s := bocpdSuite{total: cases * k, cdf: map[float64][]float64{}}
	pmf := make([]float64, k+1)
	for _, d := range append(shifts, 0) {
		dist := []float64{1}
		for _, pi := range p {
			q := min(max(pi+d, 0), 1)
			choose := 1.0 // C(k, j)
			for j := range pmf {
				pmf[j] = choose * math.Pow(q, float64(j)) * math.Pow(1-q, float64(k-j))
				choose = choose * float64(k-j) / float64(j+1)
			}
			next := make([]float64, len(dist)+k)
			for x, w := range dist {
				for j, v := range pmf {
					next[x+j] += w * v
				}
			}
			dist = next
		}
		for x := 1; x < len(dist); x++ {
			dist[x] += dist[x-1]
		}
		s.cdf[d] = dist
	}
	return s
}

// series draws runs runs; from run change on, the pass rates are shifted by
// d (one of the suite's shifts).
func (s bocpdSuite) series(rng *rand.Rand, runs, change int, d float64) []PassCount {
	obs := make([]PassCount, runs)
	for t := range obs {
		cdf := s.cdf[0]
		if t >= change {
			cdf = s.cdf[d]
		}
		x := min(sort.SearchFloat64s(cdf, rng.Float64()), s.total)
		obs[t] = PassCount{Passed: x, Total: s.total}
	}
	return obs
}

// requireSane checks the invariants of a ChangePoint for n runs.
func requireSane(t *testing.T, cp ChangePoint, n int) {
	t.Helper()
	require.Equal(t, n, cp.Runs)
	require.Len(t, cp.Posterior, n)
	require.GreaterOrEqual(t, cp.RunLength, 1)
	require.LessOrEqual(t, cp.RunLength, n)
	require.Equal(t, cp.Posterior[cp.RunLength-1], cp.RunLengthProb)
	sum := 0.0
	for r, p := range cp.Posterior {
		if !(p >= 0 && p <= cp.RunLengthProb) { // also false for NaN
			require.Failf(t, "bad posterior", "P(r=%d) = %v, MAP %v", r+1, p, cp.RunLengthProb)
		}
		sum += p
	}
	require.InDelta(t, 1, sum, 1e-9)
	if cp.RunLength == n {
		require.Equal(t, -1, cp.ChangeIndex)
	} else {
		require.Equal(t, n-cp.RunLength, cp.ChangeIndex)
	}
	require.InDelta(t, cp.ProbWithin(n), cp.ProbChange, 1e-9)
	_, err := json.Marshal(cp)
	require.NoError(t, err)
}

// bocpdSeeds is the number of simulated series per scenario: fewer under the
// race detector, which slows the simulation about tenfold.
func bocpdSeeds() int {
	if raceEnabled || testing.Short() {
		return 200
	}
	return 1000
}

func TestBOCPDSimulated(t *testing.T) {
	t.Parallel()
	seeds := bocpdSeeds()
	for _, hetero := range []bool{false, true} {
		name := "exchangeable"
		if hetero {
			name = "case mix"
		}
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			var quiet, dated, within6, rise, last, last1, last2 int
			maxQuiet, minWithin6 := 0.0, 1.0
			s := newBOCPDSuite(rand.New(rand.NewPCG(0, 365)), 200, 5, hetero, -0.10, +0.10)
			for seed := range uint64(seeds) {
				rng := rand.New(rand.NewPCG(seed, 365))

				// No change over 30 runs.
				cp := BOCPD(s.series(rng, 30, 30, 0), DefaultHazard)
				requireSane(t, cp, 30)
				p3 := cp.ProbWithin(3)
				maxQuiet = max(maxQuiet, p3)
				if p3 < 0.05 {
					quiet++
				}

				// A drop 0.85 -> 0.75 at run 20 of 25.
				cp = BOCPD(s.series(rng, 25, 20, -0.10), DefaultHazard)
				requireSane(t, cp, 25)
				if cp.RunLength >= 4 && cp.RunLength <= 6 {
					dated++
				}
				p6 := cp.ProbWithin(6)
				minWithin6 = min(minWithin6, p6)
				if p6 > 0.9 {
					within6++
				}

				// A rise 0.85 -> 0.95 at run 20 of 25: BOCPD is two-sided.
				cp = BOCPD(s.series(rng, 25, 20, +0.10), DefaultHazard)
				if cp.RunLength >= 4 && cp.RunLength <= 6 {
					rise++
				}

				// A drop at the last run.
				cp = BOCPD(s.series(rng, 25, 24, -0.10), DefaultHazard)
				requireSane(t, cp, 25)
				if cp.ChangeIndex == 24 {
					last++
				}
				if cp.ProbWithin(1) > 0.9 {
					last1++
				}
				if cp.ProbWithin(2) > 0.9 {
					last2++
				}
			}
			n := float64(seeds)
			t.Logf("%s, %d seeds: no change P(within 3) < 0.05 in %.3f (max %.2g); drop at 20 of 25: MAP 5±1 in %.3f, P(within 6) > 0.9 in %.3f (min %.6f); rise: MAP 5±1 in %.3f; drop at the last run: MAP there in %.3f, P(within 1) > 0.9 in %.3f, P(within 2) > 0.9 in %.3f",
				name, seeds, float64(quiet)/n, maxQuiet, float64(dated)/n, float64(within6)/n, minWithin6, float64(rise)/n, float64(last)/n, float64(last1)/n, float64(last2)/n)
			require.GreaterOrEqual(t, float64(quiet)/n, 0.95)
			require.GreaterOrEqual(t, float64(dated)/n, 0.90)
			require.GreaterOrEqual(t, float64(within6)/n, 0.90)
			require.GreaterOrEqual(t, float64(rise)/n, 0.90)
			require.GreaterOrEqual(t, float64(last)/n, 0.95)
			require.GreaterOrEqual(t, float64(last2)/n, 0.95)
		})
	}
}

// TestBOCPDLimits measures what BOCPD does near its limits: a drop of 2
// points (1.8 standard errors per run at 1,000 samples), and night-to-night
// variation of the pass rate beyond sampling noise without any change
// (sd 1 point gives λ ≈ 1.8 at 1,000 samples, sd 2
// points λ ≈ 4), which the binomial model cannot tell from changes.
func TestBOCPDLimits(t *testing.T) {
	t.Parallel()
	seeds := bocpdSeeds()
	s := newBOCPDSuite(rand.New(rand.NewPCG(0, 365)), 200, 5, true, -0.02)
	var dated, within12 int
	var quiet3, anyChange [3]int // by night-effect sd 0, 1, 2 points
	for seed := range uint64(seeds) {
		rng := rand.New(rand.NewPCG(seed, 2))
		cp := BOCPD(s.series(rng, 30, 20, -0.02), DefaultHazard)
		if cp.RunLength >= 8 && cp.RunLength <= 12 {
			dated++
		}
		if cp.ProbWithin(12) > 0.5 {
			within12++
		}
		for sd := range quiet3 {
			obs := make([]PassCount, 30)
			for i := range obs {
				obs[i] = normalCount(rng, 1000, 0.85+0.01*float64(sd)*rng.NormFloat64())
			}
			cp := BOCPD(obs, DefaultHazard)
			if cp.ProbWithin(3) < 0.05 {
				quiet3[sd]++
			}
			if cp.ProbChange > 0.5 {
				anyChange[sd]++
			}
		}
	}
	n := float64(seeds)
	t.Logf("%d seeds: drop of 2 points at run 20 of 30: MAP 10±2 in %.3f, P(within 12) > 0.5 in %.3f", seeds, float64(dated)/n, float64(within12)/n)
	for sd := range quiet3 {
		t.Logf("30 runs, no change, night effects sd %d points: P(within 3) < 0.05 in %.3f, P(any change) > 0.5 in %.3f",
			sd, float64(quiet3[sd])/n, float64(anyChange[sd])/n)
	}
	require.Greater(t, float64(dated)/n, 0.3)
	require.Less(t, float64(anyChange[0])/n, 0.02)
	require.Less(t, float64(anyChange[1])/n, 0.05)
	require.Greater(t, float64(anyChange[2])/n, 0.2, "strong night effects show up as changes")
}

// normalCount draws a pass count of n samples at rate p (normal approximation).
func normalCount(rng *rand.Rand, n int, p float64) PassCount {
	mu, sd := float64(n)*p, math.Sqrt(float64(n)*p*(1-p))
	x := int(math.Round(mu + sd*rng.NormFloat64()))
	return PassCount{Passed: min(max(x, 0), n), Total: n}
}

func TestBOCPDLargeSamples(t *testing.T) {
	t.Parallel()
	const runs, n = 50, 100_000
	rng := rand.New(rand.NewPCG(1, 2))
	series := func(f func(t int) PassCount) []PassCount {
		obs := make([]PassCount, runs)
		for i := range obs {
			obs[i] = f(i)
		}
		return obs
	}
	t.Run("no change", func(t *testing.T) {
		for range 20 {
			cp := BOCPD(series(func(int) PassCount { return normalCount(rng, n, 0.9) }), DefaultHazard)
			requireSane(t, cp, runs)
			require.Less(t, cp.ProbWithin(3), 0.05)
		}
	})
	t.Run("1pp drop at run 40", func(t *testing.T) {
		for range 20 {
			cp := BOCPD(series(func(i int) PassCount {
				if i >= 40 {
					return normalCount(rng, n, 0.89)
				}
				return normalCount(rng, n, 0.9)
			}), DefaultHazard)
			requireSane(t, cp, runs)
			require.Equal(t, 40, cp.ChangeIndex)
			require.Greater(t, cp.RunLengthProb, 0.99)
		}
	})
	t.Run("all pass", func(t *testing.T) {
		cp := BOCPD(series(func(int) PassCount { return PassCount{Passed: n, Total: n} }), DefaultHazard)
		requireSane(t, cp, runs)
		require.Equal(t, runs, cp.RunLength)
		require.Less(t, cp.ProbChange, 0.2)
	})
	t.Run("all pass then all fail", func(t *testing.T) {
		cp := BOCPD(series(func(i int) PassCount {
			if i >= 30 {
				return PassCount{Passed: 0, Total: n}
			}
			return PassCount{Passed: n, Total: n}
		}), DefaultHazard)
		requireSane(t, cp, runs)
		require.Equal(t, 30, cp.ChangeIndex)
		require.InDelta(t, 1, cp.ProbWithin(20), 1e-12)
	})
	t.Run("alternating", func(t *testing.T) {
		cp := BOCPD(series(func(i int) PassCount { return PassCount{Passed: n * (i % 2), Total: n} }), DefaultHazard)
		requireSane(t, cp, runs)
		require.Equal(t, 1, cp.RunLength)
		require.Equal(t, runs-1, cp.ChangeIndex)
	})
}

func TestBOCPDInput(t *testing.T) {
	t.Parallel()
	rng := rand.New(rand.NewPCG(7, 8))
	s := newBOCPDSuite(rng, 200, 5, true, -0.10)
	obs := s.series(rng, 25, 20, -0.10)
	ref := BOCPD(obs, DefaultHazard)
	requireSane(t, ref, 25)
	require.Equal(t, 20, ref.ChangeIndex)

	t.Run("empty", func(t *testing.T) {
		for _, in := range [][]PassCount{nil, {}} {
			cp := BOCPD(in, DefaultHazard)
			require.Equal(t, ChangePoint{ChangeIndex: -1}, cp)
			require.Zero(t, cp.ProbWithin(3))
		}
	})
	t.Run("one run", func(t *testing.T) {
		cp := BOCPD(obs[:1], DefaultHazard)
		requireSane(t, cp, 1)
		require.Equal(t, 1, cp.RunLength)
		require.Equal(t, -1, cp.ChangeIndex)
		require.Zero(t, cp.ProbChange)
		require.Zero(t, cp.ProbWithin(1))
	})
	t.Run("hazard outside (0,1) means the default", func(t *testing.T) {
		for _, h := range []float64{0, -0.5, 1, 2, math.NaN(), math.Inf(1), math.Inf(-1)} {
			require.Equal(t, ref, BOCPD(obs, h), "hazard %v", h)
		}
	})
	t.Run("hazard is a prior", func(t *testing.T) {
		quiet := s.series(rng, 30, 30, 0)
		lo, hi := BOCPD(quiet, 1e-4), BOCPD(quiet, 0.1)
		require.Less(t, lo.ProbChange, hi.ProbChange)
		require.Equal(t, 20, BOCPD(obs, 1e-4).ChangeIndex)
	})
	t.Run("counts are clamped", func(t *testing.T) {
		a := append([]PassCount(nil), obs...)
		b := append([]PassCount(nil), obs...)
		a[3], b[3] = PassCount{Passed: -3, Total: 1000}, PassCount{Passed: 0, Total: 1000}
		a[5], b[5] = PassCount{Passed: 1200, Total: 1000}, PassCount{Passed: 1000, Total: 1000}
		a[7], b[7] = PassCount{Passed: 5, Total: -1}, PassCount{}
		require.Equal(t, BOCPD(b, DefaultHazard), BOCPD(a, DefaultHazard))
	})
	t.Run("an empty run carries no evidence", func(t *testing.T) {
		cp := BOCPD(append(obs[:len(obs):len(obs)], PassCount{}), DefaultHazard)
		requireSane(t, cp, 26)
		require.Equal(t, ref.ChangeIndex, cp.ChangeIndex)
		require.Equal(t, ref.RunLength+1, cp.RunLength)
	})
	t.Run("ProbWithin", func(t *testing.T) {
		require.Zero(t, ref.ProbWithin(0))
		require.Zero(t, ref.ProbWithin(-1))
		require.Zero(t, ChangePoint{}.ProbWithin(5))
		prev := 0.0
		for n := 1; n <= 30; n++ {
			p := ref.ProbWithin(n)
			require.GreaterOrEqual(t, p, prev)
			prev = p
		}
		require.InDelta(t, ref.ProbChange, ref.ProbWithin(30), 1e-12)
	})
	t.Run("deterministic", func(t *testing.T) {
		require.Equal(t, ref, BOCPD(obs, DefaultHazard))
	})
}

func TestBOCPDCap(t *testing.T) {
	t.Parallel()
	rng := rand.New(rand.NewPCG(3, 4))
	s := newBOCPDSuite(rng, 200, 5, true, -0.10)
	obs := s.series(rng, 40, 33, -0.10)
	full := bocpd(obs, DefaultHazard, maxRunLengths)
	for _, kept := range []int{3, 5, 10} {
		cp := bocpd(obs, DefaultHazard, kept)
		requireSane(t, cp, 40)
		nonzero := 0
		for _, p := range cp.Posterior {
			if p > 0 {
				nonzero++
			}
		}
		require.LessOrEqual(t, nonzero, kept)
		require.Equal(t, 33, cp.ChangeIndex)
		require.InDelta(t, full.ProbWithin(8), cp.ProbWithin(8), 1e-6)
	}
	// Many more runs than the cap, with a change after it filled up.
	long := s.series(rng, 300, 290, -0.10)
	cp := bocpd(long, DefaultHazard, 50)
	requireSane(t, cp, len(long))
	require.Equal(t, 290, cp.ChangeIndex)
}

func BenchmarkBOCPD(b *testing.B) {
	rng := rand.New(rand.NewPCG(1, 1))
	s := newBOCPDSuite(rng, 200, 5, true, -0.05)
	obs := s.series(rng, 365, 300, -0.05)
	b.ReportAllocs()
	for b.Loop() {
		BOCPD(obs, DefaultHazard)
	}
}
