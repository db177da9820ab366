package drift

import (
	"math/rand/v2"
	"testing"

	"github.com/stretchr/testify/require"
)

// nightly is a simulated night: the true pass rate and the verdict the
// nightly comparison stored for it.
type nightly struct {
	rate     float64
	verdict  Verdict
	baseline bool
}

// nights repeats one kind of night n times.
func nights(n int, rate float64, v Verdict, baseline bool) []nightly {
	out := make([]nightly, n)
	for i := range out {
		out[i] = nightly{rate, v, baseline}
	}
	return out
}

func concat(parts ...[]nightly) []nightly {
	var out []nightly
	for _, p := range parts {
		out = append(out, p...)
	}
	return out
}

// draw turns the nights up to and including index last into stored runs of
// total samples each.
func draw(rng *rand.Rand, ns []nightly, last, total int) []RunPoint {
	out := make([]RunPoint, last+1)
	for i := range out {
		out[i] = RunPoint{PassCount: normalCount(rng, total, ns[i].rate), Verdict: ns[i].verdict, Baseline: ns[i].baseline}
	}
	return out
}

func TestEpisodeStartIsAfterBaselineAndResolvedEpisode(t *testing.T) {
	v := func(vs ...Verdict) []RunPoint {
		out := make([]RunPoint, len(vs))
		for i, x := range vs {
			out[i] = RunPoint{Verdict: x, Baseline: x == Baseline}
		}
		return out
	}
	for _, tc := range []struct {
		name string
		runs []RunPoint
		want int
	}{
		{"no runs", nil, 0},
		{"baseline then stable", v(Baseline, Stable, Stable, Drift), 1},
		{"drift, recovery, drift", v(Baseline, Stable, Drift, Drift, Stable, Stable, Drift), 5},
		{"inconclusive does not resolve", v(Baseline, Drift, Inconclusive, Drift), 1},
		{"stable after inconclusive after drift resolves", v(Baseline, Drift, Inconclusive, Stable, Drift), 4},
		{"the latest run does not end an episode", v(Baseline, Drift, Stable), 1},
		{"re-baselined after a drift", v(Baseline, Drift, Drift, Baseline, Stable, Drift), 4},
	} {
		t.Run(tc.name, func(t *testing.T) {
			require.Equal(t, tc.want, EpisodeStart(tc.runs))
		})
	}
}

// TestSinceChangeDatesTheCurrentEpisode plays simulated nightly series with a
// known truth (200 cases × 5 samples, normal-approximated binomial counts)
// over many seeds and checks, after each listed night, which run is named
// as the start of the current pass rate.
func TestSinceChangeDatesTheCurrentEpisode(t *testing.T) {
	const total = 1000
	const p0 = 0.85
	dropRecoverDrop := concat(
		nights(3, p0, Baseline, true), // 0-2: pooled baseline
		nights(5, p0, Stable, false),  // 3-7
		nights(3, 0.75, Drift, false), // 8-10: first episode
		nights(4, p0, Stable, false),  // 11-14: recovery (11 resolves)
		nights(3, 0.75, Drift, false), // 15-17: second episode
	)
	// A quick relapse: the recovery is recent (two stable nights) when
	// the drift comes back.
	quickRelapse := concat(
		nights(1, 0.73, Baseline, true), // 0
		nights(4, 0.73, Stable, false),  // 1-4
		nights(3, 0.60, Drift, false),   // 5-7
		nights(2, 0.73, Stable, false),  // 8-9
		nights(3, 0.60, Drift, false),   // 10-12
	)
	rebaselined := concat(
		nights(1, p0, Baseline, true),   // 0
		nights(3, 0.70, Drift, false),   // 1-3
		nights(1, 0.70, Baseline, true), // 4: accepted as the new baseline
		nights(4, 0.70, Stable, false),  // 5-8
		nights(2, 0.80, Drift, false),   // 9-10: a rise
	)
	for _, tc := range []struct {
		name   string
		ns     []nightly
		at     []int // nights after which to date
		want   int   // expected Index
		minHit float64
	}{
		{"first episode, first night", dropRecoverDrop, []int{8}, 8, 0.99},
		{"first episode, later nights", dropRecoverDrop, []int{9, 10}, 8, 0.99},
		{"second episode is dated to its own start", dropRecoverDrop, []int{15, 16, 17}, 15, 0.99},
		{"relapse after two stable nights", quickRelapse, []int{10, 11, 12}, 10, 0.99},
		{"change after a re-baseline", rebaselined, []int{9, 10}, 9, 0.99},
	} {
		t.Run(tc.name, func(t *testing.T) {
			seeds := bocpdSeeds() / 2
			for _, at := range tc.at {
				hits := 0
				for seed := range seeds {
					rng := rand.New(rand.NewPCG(uint64(seed), 15))
					s := SinceChange(draw(rng, tc.ns, at, total), DefaultHazard)
					require.GreaterOrEqual(t, s.Index, -1)
					if s.Index >= 0 {
						require.GreaterOrEqual(t, s.Index, s.EpisodeStart, "never a run before the episode")
					}
					if s.Index == tc.want {
						hits++
					}
				}
				rate := float64(hits) / float64(seeds)
				t.Logf("after night %d: since = night %d in %.1f%% of %d seeds", at, tc.want, 100*rate, seeds)
				require.GreaterOrEqual(t, rate, tc.minHit)
			}
		})
	}
}

// TestSinceChangeSlowDeclineIsUnclear: a decline of 0.4 points a night from
// night 6 on, alarmed by the CUSUM on its last night, says "unclear" and
// never names a night before the decline began.
func TestSinceChangeSlowDeclineIsUnclear(t *testing.T) {
	const total = 1000
	ns := concat(nights(1, 0.85, Baseline, true), nights(5, 0.85, Stable, false))
	for i := range 20 {
		ns = append(ns, nightly{0.85 - 0.004*float64(i+1), Stable, false})
	}
	ns[len(ns)-1].verdict = Drift // the CUSUM alarm
	seeds := bocpdSeeds() / 2
	unclear, early := 0, 0
	for seed := range seeds {
		rng := rand.New(rand.NewPCG(uint64(seed), 16))
		s := SinceChange(draw(rng, ns, len(ns)-1, total), DefaultHazard)
		switch {
		case s.Index < 0:
			unclear++
		case s.Index < 6:
			early++
		}
	}
	t.Logf("slow decline: unclear in %d of %d seeds, a night before the decline in %d", unclear, seeds, early)
	require.LessOrEqual(t, float64(early)/float64(seeds), 0.02)
	require.GreaterOrEqual(t, float64(unclear)/float64(seeds), 0.98)
}

// TestSinceChangeNoChangeNamesNoRun: a false alarm on a steady series names
// no run.
func TestSinceChangeNoChangeNamesNoRun(t *testing.T) {
	ns := concat(nights(1, 0.85, Baseline, true), nights(14, 0.85, Stable, false), nights(1, 0.85, Drift, false))
	seeds := bocpdSeeds() / 2
	named := 0
	for seed := range seeds {
		rng := rand.New(rand.NewPCG(uint64(seed), 17))
		if s := SinceChange(draw(rng, ns, len(ns)-1, 1000), DefaultHazard); s.Index >= 0 {
			named++
		}
	}
	t.Logf("steady series: a run named in %d of %d seeds", named, seeds)
	require.LessOrEqual(t, float64(named)/float64(seeds), 0.02)
}

func TestSinceChangeEmptyAndSingleRun(t *testing.T) {
	require.Equal(t, Since{Index: -1, Series: ChangePoint{ChangeIndex: -1}}, SinceChange(nil, DefaultHazard))
	s := SinceChange([]RunPoint{{PassCount: PassCount{Passed: 5, Total: 10}, Verdict: Baseline, Baseline: true}}, DefaultHazard)
	require.Equal(t, -1, s.Index)
	require.False(t, s.Unclear)
}
