package drift

import (
	"math"
	"math/rand/v2"
	"testing"

	"github.com/stretchr/testify/require"
)

func TestPlanWithDefaultsPoolsOrFallsBack(t *testing.T) {
	t.Parallel()
	pooled, one := Pool{}, Pool{Runs: 1}
	tests := []struct {
		name string
		in   Plan
		pool Pool
		want Plan
	}{
		{"zero, pooled baseline", Plan{}, pooled, Plan{Mode: ModeStaged, Looks: []int{1, 2}, Bounds: []float64{0.30, 0.10}, K: 5}},
		{"zero, one-run baseline", Plan{}, one, Plan{Mode: ModeStaged, Looks: []int{1, 3}, Bounds: []float64{0.30, 0.10}, K: 10}},
		{"fixed, one-run baseline", Plan{Mode: ModeFixed}, one, Plan{Mode: ModeFixed, K: 5}},
		{"fixed k=8", Plan{Mode: ModeFixed, K: 8}, pooled, Plan{Mode: ModeFixed, K: 8}},
		{"staged k=8 keeps the default looks", Plan{K: 8}, pooled, Plan{Mode: ModeStaged, Looks: []int{1, 2}, Bounds: []float64{0.30, 0.10}, K: 8}},
		{"one look gets one bound", Plan{Looks: []int{2}}, pooled, Plan{Mode: ModeStaged, Looks: []int{2}, Bounds: []float64{0.30}, K: 5}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			got := tt.in.WithDefaults(tt.pool)
			require.Equal(t, tt.want, got)
			require.NoError(t, got.Validate())
		})
	}
	require.Equal(t, 3, Pool{}.WithDefaults().Runs)
	require.Error(t, Pool{Runs: -1}.Validate())
}

func TestPlanValidateNamesTheField(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name string
		plan Plan
		want string
	}{
		{"mode", Plan{Mode: "adaptive", K: 5}, "sampling.mode"},
		{"k", Plan{Mode: ModeFixed}, "sampling.k"},
		{"no looks", Plan{Mode: ModeStaged, K: 5}, "sampling.looks: 0 looks"},
		{"too many looks", Plan{Mode: ModeStaged, K: 9, Looks: []int{1, 2, 3, 4}, Bounds: []float64{.3, .2, .1, .1}}, "sampling.looks: 4 looks"},
		{"not increasing", Plan{Mode: ModeStaged, K: 5, Looks: []int{2, 2}, Bounds: []float64{.3, .1}}, "looks must increase"},
		{"look at K", Plan{Mode: ModeStaged, K: 5, Looks: []int{1, 5}, Bounds: []float64{.3, .1}}, "not below sampling.k"},
		{"bounds count", Plan{Mode: ModeStaged, K: 5, Looks: []int{1, 2}, Bounds: []float64{.3}}, "sampling.bounds: 1 bounds for 2 looks"},
		{"bound of 1", Plan{Mode: ModeStaged, K: 5, Looks: []int{1, 2}, Bounds: []float64{1, .1}}, "sampling.bounds[0]"},
		{"look 0", Plan{Mode: ModeStaged, K: 5, Looks: []int{0, 2}, Bounds: []float64{.3, .1}}, "sampling.looks[0]"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			err := tt.plan.Validate()
			require.ErrorContains(t, err, tt.want)
		})
	}
}

// K and the looks are fixed before the night from the configuration and the
// pool's size alone; the first nights run fixed at K until the pool is full.
func TestPlanNightRunsFixedUntilThePoolIsComplete(t *testing.T) {
	t.Parallel()
	staged := Plan{}.WithDefaults(Pool{})
	for runs := range 3 {
		require.Equal(t, Plan{Mode: ModeFixed, K: 5}, Plan{}.Night(Pool{}, runs), "pool of %d of 3 runs", runs)
	}
	require.Equal(t, staged, Plan{}.Night(Pool{}, 3))
	require.Equal(t, staged, Plan{}.Night(Pool{}, 4), "an older, larger pool")
	require.Equal(t, Plan{Mode: ModeFixed, K: 10}, Plan{}.Night(Pool{Runs: 1}, 0), "the first run of a one-run baseline")
	require.Equal(t, Plan{Mode: ModeStaged, Looks: []int{1, 3}, Bounds: []float64{.3, .1}, K: 10}, Plan{}.Night(Pool{Runs: 1}, 1))
	require.Equal(t, Plan{Mode: ModeFixed, K: 5}, Plan{Mode: ModeFixed}.Night(Pool{}, 3))
}

func TestPlanStagesAddUpToK(t *testing.T) {
	t.Parallel()
	require.Equal(t, []int{1, 1, 3}, Plan{}.WithDefaults(Pool{}).Stages())
	require.Equal(t, []int{1, 2, 7}, Plan{}.WithDefaults(Pool{Runs: 1}).Stages())
	require.Equal(t, []int{5}, Plan{Mode: ModeFixed, K: 5}.Stages())
}

func TestExpectedCallsOfTheDefaultsMatchTheStudy(t *testing.T) {
	t.Parallel()
	c := ExpectedCalls(Plan{}.WithDefaults(Pool{}), 200)
	// 1 + P(past look 1) * 1 + P(past look 2) * 3, with P = 1.35 * bound.
	require.InDelta(t, 1+0.405+0.135*3, c.Quiet, 1e-9)
	require.InDelta(t, 1.81, c.Quiet, 0.01, "the study measured 1.81")
	require.Equal(t, 5, c.Max)
	require.InDelta(t, 200*c.Quiet, c.QuietNight, 1e-9)
	require.Equal(t, 1000, c.MaxNight)
	require.InDeltaSlice(t, []float64{0.405, 0.135}, c.Continue, 1e-9)

	u := ExpectedCalls(Plan{}.WithDefaults(Pool{Runs: 1}), 200)
	require.InDelta(t, 1+0.405*2+0.135*7, u.Quiet, 1e-9)
	require.Equal(t, 10, u.Max)

	f := ExpectedCalls(Plan{Mode: ModeFixed, K: 5}, 200)
	require.Equal(t, 5.0, f.Quiet)
	require.Equal(t, 1000.0, f.QuietNight)

	st, fx := CallsByMode(Plan{Mode: ModeFixed}, Pool{}, 200)
	require.Equal(t, c, st, "a fixed configuration still shows what staged would cost")
	require.Equal(t, 5.0, fx.Quiet)
	st, fx = CallsByMode(Plan{}, Pool{Runs: 1}, 100)
	require.Equal(t, 10, st.Max)
	require.Equal(t, 1000.0, fx.QuietNight, "fixed at the same K")

	// A loose first bound never makes a later look more likely than an earlier.
	l := ExpectedCalls(Plan{Mode: ModeStaged, K: 5, Looks: []int{1, 2}, Bounds: []float64{0.1, 0.5}}, 1)
	require.InDeltaSlice(t, []float64{0.135, 0.135}, l.Continue, 1e-9)
}

// passRateMC's two p-values agree with the normal CMH p and with
// sparseCollapse where those are accurate, and are valid (about uniform)
// under the exact null.
func TestPassRateMCAgreesWithTheOtherCalibrationsAndIsValid(t *testing.T) {
	t.Parallel()
	rng := rand.New(rand.NewPCG(3, 3))
	draw := func(p float64, n int) int {
		x := 0
		for range n {
			if rng.Float64() < p {
				x++
			}
		}
		return x
	}
	strata := func(drop float64, n1 int) []stratum {
		st := make([]stratum, 200)
		for i := range st {
			p := []float64{0.98, 0.05, 0.5}[i%3]
			st[i] = stratum{draw(p, 15), 15, draw(max(0, p-drop), n1), n1}
		}
		return st
	}
	st := strata(0.04, 5)
	mc := passRateMC(st, 1, 1, 20000, rand.New(rand.NewPCG(1, 1)))
	z, _ := cmh(st)
	require.InDelta(t, z, mc.z, 1e-9)
	require.InDelta(t, normCDF(z), mc.pCMH, 0.01+0.2*normCDF(z), "MC and normal CMH p with 5 current samples per case")
	sObs, pS := sparseCollapse(st, 1, 20000, rand.New(rand.NewPCG(1, 2)))
	require.InDelta(t, sObs, mc.s, 1e-9)
	require.InDelta(t, pS, mc.pSparse, 0.01+0.2*pS)

	// Null: one current sample per case; P(p <= 0.1) about 0.1 for both.
	sims := 300
	if raceEnabled {
		sims = 30
	}
	var lowC, lowS int
	for range sims {
		m := passRateMC(strata(0, 1), 1, 1, 500, rand.New(rand.NewPCG(rng.Uint64(), 0)))
		if m.pCMH <= 0.1 {
			lowC++
		}
		if m.pSparse <= 0.1 {
			lowS++
		}
	}
	n := float64(sims)
	se := math.Sqrt(0.1 * 0.9 / n)
	require.LessOrEqual(t, float64(lowC)/n, 0.1+3*se, "CMH p at the null")
	require.LessOrEqual(t, float64(lowS)/n, 0.1+3*se, "S p at the null")
	require.GreaterOrEqual(t, float64(lowC)/n, 0.1-3*se, "CMH p not conservative")

	// Lambda divides z before the Monte Carlo comparison.
	m2 := passRateMC(st, 4, 1, 2000, rand.New(rand.NewPCG(1, 1)))
	require.InDelta(t, z/2, m2.z, 1e-9)
	require.Greater(t, m2.pCMH, mc.pCMH)

	none := passRateMC([]stratum{{5, 5, 1, 1}}, 1, 1, 100, rand.New(rand.NewPCG(1, 1)))
	require.Equal(t, 1.0, none.pCMH, "no informative case")
	require.Zero(t, none.inf)
}
