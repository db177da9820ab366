package drift

import (
	"fmt"
	"math/rand/v2"
	"testing"

	"github.com/stretchr/testify/require"
)

// stagedNight is a pass-only night of 200 cases: a baseline of three runs of
// five samples per case and k current samples per case, with an optional
// collapse of the first collapsed cases (p 0.98 -> 0.1) and a refusal rate
// of the current samples.
func stagedNight(seed uint64, k, collapsed int, refusal float64) (base, cur []Sample) {
	rng := rand.New(rand.NewPCG(seed, 19))
	ps := make([]float64, 200)
	for i := range ps {
		ps[i] = []float64{0.98, 0.98, 0.98, 0.05, 0.5}[i%5]
	}
	mk := func(i, j int, p float64, run int, refused bool) Sample {
		s := Sample{Case: fmt.Sprintf("c%03d", i), Index: j, Passed: rng.Float64() < p, Output: "x", Tokens: 10,
			FinishReason: "stop", Identity: "m", Run: run}
		if refused {
			s.Refused, s.Passed, s.Output, s.Tokens = true, false, "I can't help with that.", 6
		}
		return s
	}
	for r := 1; r <= 3; r++ {
		for i, p := range ps {
			for j := range 5 {
				base = append(base, mk(i, j, p, r, false))
			}
		}
	}
	for i, p := range ps {
		if i < collapsed*5 && i%5 == 0 {
			p = 0.1
		}
		for j := range k {
			cur = append(cur, mk(i, j, p, 0, rng.Float64() < refusal))
		}
	}
	return base, cur
}

var stagedSettings = Settings{Permutations: 99, MonteCarlo: 2000, Bootstrap: 100}

func TestLookRejectsSamplesBeyondTheLookAndBadLooks(t *testing.T) {
	t.Parallel()
	plan := Plan{}.WithDefaults(Pool{})
	base, cur := stagedNight(1, 2, 0, 0)
	_, err := Look(base, cur, plan, 1, stagedSettings)
	require.ErrorIs(t, err, ErrLookData, "look 1 sees only sample 0 of each case")
	_, err = Look(base, cur, plan, 2, stagedSettings)
	require.NoError(t, err)
	for _, look := range []int{0, 3} {
		_, err = Look(base, cur, plan, look, stagedSettings)
		require.ErrorContains(t, err, "the plan has looks 1 to 2")
	}
	_, err = Look(base, cur, Plan{Mode: ModeFixed, K: 5}, 1, stagedSettings)
	require.ErrorContains(t, err, "has no looks")
	_, err = Final(base, cur, Plan{Mode: ModeFixed, K: 1}, stagedSettings)
	require.ErrorIs(t, err, ErrLookData, "K is never raised after looking")
}

// A look is a pure function of its inputs: a resumed night takes the same
// decision; each look has its own Monte Carlo draws.
func TestLookIsDeterministic(t *testing.T) {
	t.Parallel()
	plan := Plan{}.WithDefaults(Pool{})
	base, cur := stagedNight(2, 1, 0, 0)
	a, err := Look(base, cur, plan, 1, stagedSettings)
	require.NoError(t, err)
	b, err := Look(base, cur, plan, 1, stagedSettings)
	require.NoError(t, err)
	require.Equal(t, a, b)
	require.Equal(t, 1, a.Look)
	require.Equal(t, 2, a.Looks)
	require.Equal(t, 200, a.Cases)
	require.Equal(t, 0.30, a.Bound)
}

// A quiet pass rate does not stop a night whose refusal rate jumped: the
// behaviour shift continues it.
func TestLookContinuesANightWhoseBehaviourMovedUnderAQuietPassRate(t *testing.T) {
	t.Parallel()
	plan := Plan{}.WithDefaults(Pool{})
	for seed := uint64(1); seed <= 30; seed++ {
		base, cur := stagedNight(seed, 1, 0, 0)
		quiet, err := Look(base, cur, plan, 1, stagedSettings)
		require.NoError(t, err)
		if quiet.Continue {
			continue
		}
		require.Contains(t, quiet.Reason, "no drift at the looks: stopped at look 1 of 2")
		require.Empty(t, quiet.Shifts)
		// The same night with 15% refusals: pass counts fall too, so take
		// a suite-level refusal change with the pass rate left as it was.
		_, ref := stagedNight(seed, 1, 0, 0)
		rng := rand.New(rand.NewPCG(seed, 5))
		for i := range ref {
			if !ref[i].Passed && rng.Float64() < 0.5 {
				ref[i].Refused = true
			}
		}
		moved, err := Look(base, ref, plan, 1, stagedSettings)
		require.NoError(t, err)
		require.Equal(t, quiet.PCMH, moved.PCMH, "same pass counts")
		require.True(t, moved.Continue, moved.Reason)
		require.Equal(t, []string{MetricRefusal}, moved.Shifts)
		require.Contains(t, moved.Reason, "refusal_rate moved")
		return
	}
	t.Fatal("no quiet seed in 30")
}

// A night stopped at a look is STABLE with the look's reason, has no DRIFT
// finding (a look never alarms) and no localised case, claims the look's
// MDE and feeds CUSUM the look's z.
func TestStoppedNightIsStableWithoutLocalisation(t *testing.T) {
	t.Parallel()
	plan := Plan{}.WithDefaults(Pool{})
	base, cur := stagedNight(4, 1, 12, 0)
	lr, err := Look(base, cur, plan, 1, stagedSettings)
	require.NoError(t, err)
	require.True(t, lr.Continue, "a 12-case collapse goes on: %s", lr.Reason)
	// Even a night with a real drop, if it were stopped, reports no alarm.
	lr.Continue = false
	lr.Reason = "no drift at the looks: stopped at look 1 of 2"
	res := Stopped(base, cur, lr, stagedSettings)
	require.Equal(t, Stable, res.Verdict)
	require.Equal(t, lr.Reason, res.Reason)
	require.Empty(t, res.DriftedCases)
	for _, f := range res.Findings {
		require.NotEqual(t, Drift, f.Verdict, f.Metric)
		require.NotEqual(t, MetricCasePass, f.Metric)
	}
	require.Equal(t, lr.MDE, res.MDE)
	require.Equal(t, lr.Z, res.PassZ)
	_, cur5 := stagedNight(4, 5, 12, 0)
	require.Greater(t, res.MDE, Compare(base, cur5, stagedSettings).MDE, "one sample per case rules out less than five")
}

// A night that reaches K is decided by the plain fixed-K test: RunNight's
// result is Final's on the same samples, and Final is Compare with the CMH
// p-value by Monte Carlo.
func TestRunNightReachingKIsTheFixedTest(t *testing.T) {
	t.Parallel()
	plan := Plan{}.WithDefaults(Pool{})
	base, cur := stagedNight(5, 5, 12, 0)
	draw := func(from, to int) ([]Sample, error) {
		var out []Sample
		for _, s := range cur {
			if s.Index >= from && s.Index < to {
				out = append(out, s)
			}
		}
		return out, nil
	}
	res, st, err := RunNight(base, plan, stagedSettings, draw)
	require.NoError(t, err)
	require.Zero(t, st.StoppedAt)
	require.Len(t, st.Looks, 2)
	require.Equal(t, 5, st.SamplesPerCase)
	fin, err := Final(base, cur, plan, stagedSettings)
	require.NoError(t, err)
	require.Equal(t, fin.Verdict, res.Verdict)
	require.Equal(t, Drift, res.Verdict, res.Reason)
	require.NotEmpty(t, res.DriftedCases, "localisation on nights that reach K")
	mc := stagedSettings
	mc.CMHMonteCarlo = true
	cmp := Compare(base, cur, mc)
	require.Equal(t, &st, res.Sampling)
	cmp.Findings, res.Findings, res.Sampling = nil, nil, nil
	require.Equal(t, cmp, res)
}

// A look never stops a night on fewer comparable samples than a verdict
// needs (a small suite at look 1): it goes on to K.
func TestLookGoesOnWithTooFewSamplesToStop(t *testing.T) {
	t.Parallel()
	plan := Plan{}.WithDefaults(Pool{})
	base, cur := stagedNight(6, 1, 0, 0)
	keep := func(ss []Sample) []Sample {
		var out []Sample
		for _, s := range ss {
			if s.Case < "c010" {
				out = append(out, s)
			}
		}
		return out
	}
	lr, err := Look(keep(base), keep(cur), plan, 1, stagedSettings)
	require.NoError(t, err)
	require.True(t, lr.Continue)
	require.Contains(t, lr.Reason, "only 10 comparable samples so far (minimum 20 to stop early)")
}
