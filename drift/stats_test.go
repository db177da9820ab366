package drift

import (
	"fmt"
	"math"
	"math/rand/v2"
	"testing"

	"github.com/stretchr/testify/require"
)

func TestFisherBoschloo(t *testing.T) {
	t.Parallel()
	// the k=10 power table.
	tests := []struct {
		name             string
		x0, n0, x1, n1   int
		fisher, boschloo float64
	}{
		{"10/10->8/10", 10, 10, 8, 10, 0.237, 0.132},
		{"10/10->7/10", 10, 10, 7, 10, 0.105, 0.058},
		{"10/10->6/10", 10, 10, 6, 10, 0.043, 0.021},
		{"10/10->5/10", 10, 10, 5, 10, 0.016, 0.006},
		{"9/10->5/10", 9, 10, 5, 10, 0.070, 0.031},
		{"20/20->15/20", 20, 20, 15, 20, 0.024, 0.011},
		{"5/5->1/5", 5, 5, 1, 5, 0.024, 0.011},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			require.InDelta(t, tt.fisher, FisherDrop(tt.x0, tt.n0, tt.x1, tt.n1), 1e-3)
			require.InDelta(t, tt.boschloo, BoschlooDrop(tt.x0, tt.n0, tt.x1, tt.n1), 1.5e-3)
			require.LessOrEqual(t, BoschlooDrop(tt.x0, tt.n0, tt.x1, tt.n1), FisherDrop(tt.x0, tt.n0, tt.x1, tt.n1))
			require.Less(t, FisherMidPDrop(tt.x0, tt.n0, tt.x1, tt.n1), FisherDrop(tt.x0, tt.n0, tt.x1, tt.n1))
		})
	}
	t.Run("no drop", func(t *testing.T) {
		t.Parallel()
		require.InDelta(t, 1, FisherDrop(5, 10, 10, 10), 1e-12)
		require.InDelta(t, 1, BoschlooDrop(0, 5, 0, 5), 1e-12)
		require.InDelta(t, 1, BoschlooDrop(5, 5, 5, 5), 1e-12)
	})
	t.Run("total collapse k=5", func(t *testing.T) {
		t.Parallel()
		require.InDelta(t, 4.0e-3, FisherDrop(5, 5, 0, 5), 1e-4)
	})
}

func TestCMH(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name   string
		strata []stratum
		z      float64
		inf    int
	}{
		// Hand computed: E=2, V=4*4*4*4/(64*7); E=1, V=16/48.
		{"two strata", []stratum{{3, 4, 1, 4}, {2, 2, 0, 2}}, -2 / math.Sqrt(256.0/448+16.0/48), 2},
		{"unequal sizes", []stratum{{12, 15, 2, 5}}, (2 - 5*14.0/20) / math.Sqrt(15*5*14*6/(400.0*19)), 1},
		{"deterministic strata carry nothing", []stratum{{5, 5, 5, 5}, {0, 5, 0, 5}}, 0, 0},
		{"one case", []stratum{{1, 1, 0, 1}}, -1, 1},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			z, inf := cmh(tt.strata)
			require.InDelta(t, tt.z, z, 1e-9)
			require.Equal(t, tt.inf, inf)
		})
	}
}

func TestSparseCollapse(t *testing.T) {
	t.Parallel()
	rng := rand.New(rand.NewPCG(1, 2))
	// 190 quiet cases and 10 collapsed ones.
	var st []stratum
	for range 190 {
		st = append(st, stratum{12, 15, 4, 5})
	}
	for range 10 {
		st = append(st, stratum{15, 15, 0, 5})
	}
	s, p := sparseCollapse(st, 1, 5000, rng)
	require.Greater(t, s, 50.0)
	require.Less(t, p, 0.001)
	_, p = sparseCollapse([]stratum{{15, 15, 5, 5}}, 1, 100, rng)
	require.Equal(t, 1.0, p)
}

func TestHolmBH(t *testing.T) {
	t.Parallel()
	p := []float64{0.01, 0.04, 0.03, 0.005}
	require.InDeltaSlice(t, []float64{0.03, 0.06, 0.06, 0.02}, Holm(p), 1e-12)
	require.InDeltaSlice(t, []float64{0.02, 0.04, 0.04, 0.02}, BH(p), 1e-12)
	require.Empty(t, Holm(nil))
	require.InDeltaSlice(t, []float64{1}, Holm([]float64{0.7 * 2}), 1e-12)
}

func TestWilcoxon(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name  string
		d     []float64
		wPlus float64
		z     float64
		n     int
	}{
		{"all positive", []float64{1, 2, 3, 4, 5, 6, 7, 8, 9, 10}, 55, 27.0 / math.Sqrt(96.25), 10},
		{"mixed", []float64{-1, 2, -3, 4, 5, 6, 0}, 17, 6.0 / math.Sqrt(22.75), 6},
		{"ties", []float64{1, 1, -2, 3}, 7, 1.5 / math.Sqrt(7.375), 4},
		{"zero variance", []float64{0, 0, 0}, 0, 0, 0},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			w, z, p, n := WilcoxonSignedRank(tt.d)
			require.Equal(t, tt.n, n)
			require.InDelta(t, tt.wPlus, w, 1e-12)
			require.InDelta(t, tt.z, z, 1e-9)
			require.InDelta(t, twoSided(tt.z), p, 1e-12)
		})
	}
	// Textbook value: all ten positive gives p = 0.0059 (normal approx).
	_, _, p, _ := WilcoxonSignedRank([]float64{1, 2, 3, 4, 5, 6, 7, 8, 9, 10})
	require.InDelta(t, 0.0059, p, 2e-4)
}

func TestCUSUM(t *testing.T) {
	t.Parallel()
	st := CUSUM([]float64{0, -1, -2, 0.5, -5, 3}, 0.5, 2)
	require.InDeltaSlice(t, []float64{0, 0.5, 2, 1, 5.5, 2}, st.Path, 1e-12)
	require.Equal(t, 4, st.Alarm)
	require.Equal(t, -1, CUSUM(nil, 0.5, 5).Alarm)

	arl := func(shift float64, runs int, seed uint64) float64 {
		rng := rand.New(rand.NewPCG(seed, 9))
		total := 0
		for range runs {
			s, n := 0.0, 0
			for {
				n++
				s = max(0, s-(rng.NormFloat64()+shift)-DefaultCUSUMK)
				if s > DefaultCUSUMH {
					break
				}
			}
			total += n
		}
		return float64(total) / float64(runs)
	}
	a0 := arl(0, 300, 1)
	require.Greater(t, a0, 700.0, "in-control ARL ~930")
	require.Less(t, a0, 1200.0)
	a1 := arl(-1, 2000, 2)
	require.InDelta(t, 10.4, a1, 1.0, "1-sigma delay ~10")
}

func TestPowerMDE(t *testing.T) {
	t.Parallel()
	// alpha 0.01, vbar 0.25, delta 5 pp needs n*k = 2008.
	require.Equal(t, 11, Power(0.5, 0.45, 200, 0.01))
	require.Equal(t, 1, Power(0.5, 0.45, 5000, 0.01))
	// vbar 0.065, delta 3 pp: n*k = 1450.
	require.InDelta(t, 0.03, MDE(0.065, 1450, 1, 0.01, 0.8), 1e-3)
	require.InDelta(t, 0.01, MDE(0.02, 4015, 1, 0.01, 0.8), 1e-4)
	require.InDelta(t, 0.05, MDE(0.065, 161*0+522, 1, 0.01, 0.8), 1e-3)
	require.Equal(t, 0, Power(0.5, 0.6, 200, 0.01))
	require.Positive(t, Power(1, 0.9, 100, 0.01))
	require.Equal(t, math.MaxInt32, Power(0.9, 0.9-1e-12, 1, 0.01), "an undetectable drop does not wrap around")
	require.True(t, math.IsNaN(MDE(0.1, 0, 5, 0.01, 0.8)))
}

// MDEOf gives a BASELINE run the MDE that Compare reports for a run with
// the same cases and k compared with it, from the run's own samples.
func TestMDEOf(t *testing.T) {
	t.Parallel()
	var samples []Sample
	for c := range 120 {
		for i := range 5 {
			samples = append(samples, Sample{Case: fmt.Sprintf("c%03d", c), Index: i, Passed: (c*7+i*3)%10 < 8, Output: "x"})
		}
	}
	samples = append(samples, Sample{Case: "c000", Index: 5, Errored: true})
	res := Compare(samples, samples, Settings{Seed: 1})
	require.InDelta(t, res.MDE, MDEOf(samples, 0.01), 1e-12)
	require.Greater(t, MDEOf(samples, 0.01), 0.0)
	require.Less(t, MDEOf(samples, 0.05), MDEOf(samples, 0.01), "a looser level detects less")
	require.True(t, math.IsNaN(MDEOf(nil, 0.01)))
	require.True(t, math.IsNaN(MDEOf([]Sample{{Case: "a", Errored: true}}, 0.01)))
}

func TestWithDefaults(t *testing.T) {
	t.Parallel()
	s := Settings{}.WithDefaults()
	require.Equal(t, Settings{
		AlphaFamily: 0.01, QCase: 0.10, QWarn: 0.05, MinPassDelta: 0.02, MinCaseDelta: 0.2,
		MinSimilarityGap: 0.1, MaxErrorRate: 0.2, MinSamples: 20, Permutations: 999,
		MonteCarlo: 10000, Bootstrap: 2000, DeterministicNoise: 0.01,
	}, s)
	require.Equal(t, 0.05, Settings{AlphaFamily: 0.05}.WithDefaults().AlphaFamily)
}
