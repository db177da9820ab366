package drift

import (
	"math/rand/v2"
	"testing"

	"github.com/stretchr/testify/require"
)

// behaviourNight is a night of the full simulated LLM suite (sim_test.go:
// refusals, JSON, fences, truncation, answers and free text vary): a
// baseline of three runs of five samples per case and a current run of
// five under the effect, drawn in stages by RunNight.
func behaviourNight(seed uint64, eff func(*rand.Rand, []simCase) effect) (base []Sample, draw DrawFunc) {
	rng := rand.New(rand.NewPCG(seed, 23))
	cs := newSuite(rng, 200, false)
	for r := 1; r <= 3; r++ {
		b := run(rng, cs, 5, effect{}, false)
		for i := range b {
			b[i].Run = r
		}
		base = append(base, b...)
	}
	cur := run(rng, cs, 5, eff(rng, cs), false)
	return base, func(from, to int) ([]Sample, error) {
		var out []Sample
		for _, s := range cur {
			if s.Index >= from && s.Index < to {
				out = append(out, s)
			}
		}
		return out, nil
	}
}

// On a suite whose refusal, format, length, answers and text vary by
// chance, the behaviour rule (Bonferroni over the behaviour tests at the
// look's bound, and half the effect floor) continues few quiet nights: the
// A/A cost stays near the pass-rate-only figure and no night alarms.
func TestStagedBehaviourRuleCostsLittleOnQuietNights(t *testing.T) {
	t.Parallel()
	if raceEnabled {
		t.Skip("about 10 s a night under -race; the plain run asserts it, and the other staged tests run RunNight under -race")
	}
	nights := 16
	plan := Plan{}.WithDefaults(Pool{})
	calls, byShift := 0, 0
	for seed := range uint64(nights) {
		base, draw := behaviourNight(seed+1, func(*rand.Rand, []simCase) effect { return effect{} })
		sent := 0
		counted := func(from, to int) ([]Sample, error) { sent += to - from; return draw(from, to) }
		res, st, err := RunNight(base, plan, stagedSettings, counted)
		require.NoError(t, err)
		require.NotEqual(t, Drift, res.Verdict, "night %d: %s", seed+1, res.Reason)
		calls += sent
		for _, l := range st.Looks {
			if l.Continue && min(l.PCMH, l.PSparse) > l.Bound {
				byShift++
			}
		}
	}
	mean := float64(calls) / float64(nights)
	t.Logf("full simulated suite, %d A/A nights: %.2f calls per case; %d looks continued by a behaviour shift alone", nights, mean, byShift)
	require.LessOrEqual(t, mean, 2.3, "calls per case on quiet nights")
	require.LessOrEqual(t, byShift, nights/4, "looks continued by chance behaviour shifts")
}

// A style change under a quiet pass rate (longer answers, code fences) is
// not stopped at a look: the night reaches K and the fixed-K test names the
// behaviour metric.
func TestStagedStyleDriftUnderAQuietPassRateReachesK(t *testing.T) {
	t.Parallel()
	if raceEnabled {
		t.Skip("about 10 s a night under -race; the plain run asserts it, and the other staged tests run RunNight under -race")
	}
	nights := 4
	plan := Plan{}.WithDefaults(Pool{})
	for _, tc := range []struct {
		name   string
		eff    effect
		metric string
	}{
		{"verbosity x1.5", effect{verbose: true}, MetricLength},
		{"code fences", effect{fence: true}, MetricCodeFence},
		{"refusal +0.2", effect{refusalAdd: 0.2}, MetricRefusal},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			for seed := range uint64(nights) {
				base, draw := behaviourNight(seed+1, func(*rand.Rand, []simCase) effect { return tc.eff })
				res, st, err := RunNight(base, plan, stagedSettings, draw)
				require.NoError(t, err)
				require.Zero(t, st.StoppedAt, "night %d stopped: %s", seed+1, st.Looks[len(st.Looks)-1].Reason)
				require.Contains(t, st.Looks[0].Shifts, tc.metric, "night %d: the shift is seen at look 1", seed+1)
				require.Equal(t, Drift, res.Verdict, "night %d: %s", seed+1, res.Reason)
				require.True(t, driftNames(res)[tc.metric], "night %d: %s", seed+1, res.Reason)
			}
		})
	}
}
