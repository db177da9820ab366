package drift_test

import (
	"math"
	"os"
	"strconv"
	"sync"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/driftwatch/driftwatch/drift"
	"github.com/driftwatch/driftwatch/drift/drifttest"
)

// The staged design on simulated nights of the sampling study (200 cases;
// 60% at p=0.98, 20% at 0.05, 20% on 0.2-0.8; a fresh suite every night;
// every design sees the same nights). The default run is bounded (400 A/A
// nights, 100 per drift scenario; 20 and 4 under -race);
// DRIFT_STAGED_NIGHTS and DRIFT_STAGED_POWER_NIGHTS raise them (the
// figures in docs/sampling.md and BENCHMARKS.md come from bench/staged).

// studySettings keep the simulation fast: the final Monte Carlo uses 2,000
// draws (production: 10,000), looks 1,000.
var studySettings = drift.Settings{Permutations: 99, MonteCarlo: 2000, Bootstrap: 100}

func envNights(t testing.TB, name string, def int) int {
	t.Helper()
	if v := os.Getenv(name); v != "" {
		n, err := strconv.Atoi(v)
		require.NoError(t, err, name)
		return n
	}
	if drift.RaceEnabled {
		return max(4, def/25)
	}
	return def
}

// Indexes into aaDesigns.
const (
	aaFixedPooled = iota
	aaStaged
	aaStagedUnpooled
)

var aaDesigns = func() []drifttest.Design {
	d := drifttest.Designs()
	return []drifttest.Design{d[1], d[2], d[3]}
}()

// aaSweep runs the A/A nights once for the tests that read them.
var aaSweep = sync.OnceValues(func() ([][]drifttest.Outcome, error) {
	n := 400
	if v := os.Getenv("DRIFT_STAGED_NIGHTS"); v != "" {
		var err error
		if n, err = strconv.Atoi(v); err != nil {
			return nil, err
		}
	} else if drift.RaceEnabled {
		n = 20
	}
	return drifttest.Sweep(aaDesigns, drifttest.Config{}, drifttest.Scenarios[0], n, 1, studySettings)
})

// A staged night alarms only when it went on at every look and the plain
// fixed-K test on all K samples rejects: on the same A/A nights its alarms
// are a subset of the fixed-K test's, and its false-alarm rate is at most
// alpha = 1% (within two standard errors of the bounded run).
func TestStagedFalseAlarmsAreASubsetOfTheFixedTestsAndAtMostAlpha(t *testing.T) {
	t.Parallel()
	out, err := aaSweep()
	require.NoError(t, err)
	fixed, staged := out[aaFixedPooled], out[aaStaged]
	for i := range staged {
		if staged[i].Alarm {
			require.True(t, fixed[i].Alarm, "night %d: staged alarm without a fixed-K alarm", i+1)
			require.Zero(t, staged[i].StoppedAt, "night %d: an alarm at a look", i+1)
		}
	}
	n := float64(len(staged))
	rf, sef := drifttest.Rate(fixed)
	rs, ses := drifttest.Rate(staged)
	ru, seu := drifttest.Rate(out[aaStagedUnpooled])
	t.Logf("A/A nights=%d false alarms: fixed K=5 pooled %.2f±%.2f%%, staged 1,2->5 pooled %.2f±%.2f%%, staged 1,3->10 one-run %.2f±%.2f%%",
		len(staged), 100*rf, 100*sef, 100*rs, 100*ses, 100*ru, 100*seu)
	limit := 0.01 + 2*math.Sqrt(0.01*0.99/n)
	require.LessOrEqual(t, rs, limit, "staged false-alarm rate")
	require.LessOrEqual(t, ru, limit, "staged (one-run baseline) false-alarm rate")
}

// With a pooled baseline a quiet night costs at most 2.0 calls per case on
// average (fixed mode: 5), and ExpectedCalls (what `driftwatch power` and
// --dry-run print) matches the simulation.
func TestStagedExpectedCallsOnQuietNightsAtMostTwoPerCase(t *testing.T) {
	t.Parallel()
	out, err := aaSweep()
	require.NoError(t, err)
	for _, tc := range []struct {
		design int
		max    float64
	}{{aaStaged, 2.0}, {aaStagedUnpooled, 2.7}} {
		d := aaDesigns[tc.design]
		mean, se := drifttest.MeanCalls(out[tc.design])
		want := drift.ExpectedCalls(d.Plan, 200)
		stops := map[int]int{}
		for _, o := range out[tc.design] {
			stops[o.StoppedAt]++
		}
		t.Logf("%s: calls per case %.3f±%.3f (ExpectedCalls %.3f); nights stopped at look 1: %d, look 2: %d, reached K: %d",
			d.Name, mean, se, want.Quiet, stops[1], stops[2], stops[0])
		require.LessOrEqual(t, mean, tc.max, d.Name)
		require.InDelta(t, want.Quiet, mean, 0.15+2*se, "ExpectedCalls against the simulation: %s", d.Name)
	}
	fixed, _ := drifttest.MeanCalls(out[aaFixedPooled])
	require.Equal(t, 5.0, fixed)
}

// A stopped night feeds CUSUM the z of the look at which it stopped; a
// night that reached K feeds its fixed-K z. Under no drift that input has
// mean >= 0 and mean square <= 1 (optional stopping of a standardised
// score), so the downward CUSUM keeps at most its nominal false-alarm
// rate. Feeding only the nights that reached K (the trap) selects nights
// whose early z was low: their mean is well below 0 and CUSUM would alarm
// on quiet weeks.
func TestStagedCUSUMInputIsNotBiasedDownOnQuietNights(t *testing.T) {
	t.Parallel()
	out, err := aaSweep()
	require.NoError(t, err)
	var all, full []float64
	for _, o := range out[aaStaged] {
		all = append(all, o.PassZ)
		if o.StoppedAt == 0 {
			full = append(full, o.PassZ)
		}
	}
	mean, ms := moments(all)
	fmean, _ := moments(full)
	t.Logf("CUSUM input over %d A/A nights: mean %.3f, mean square %.3f; nights that reached K only (%d): mean %.3f",
		len(all), mean, ms, len(full), fmean)
	se := 1 / math.Sqrt(float64(len(all)))
	require.GreaterOrEqual(t, mean, -2*se, "mean of the CUSUM input")
	require.LessOrEqual(t, ms, 1+3*math.Sqrt(2/float64(len(all))), "mean square of the CUSUM input")
	if len(full) >= 10 {
		require.Less(t, fmean, -0.5, "the nights that reached K alone are biased down")
	}
	st := drift.CUSUM(all, drift.DefaultCUSUMK, drift.DefaultCUSUMH)
	require.Equal(t, -1, st.Alarm, "no CUSUM alarm on quiet nights")
}

func moments(v []float64) (mean, ms float64) {
	for _, x := range v {
		mean += x
		ms += x * x
	}
	n := float64(len(v))
	return mean / n, ms / n
}

// On every drift scenario of the study the staged design with a pooled
// baseline (looks 1 and 2, K=5) detects at least as often as fixed mode
// today (K=5 against a one-run baseline), on the same nights: the paired
// difference is asserted not below -2 standard errors, and strictly
// positive where the study's margin is large (sparse and small drops).
func TestStagedPowerAtLeastFixedModeOnEveryStudyScenario(t *testing.T) {
	t.Parallel()
	nights := envNights(t, "DRIFT_STAGED_POWER_NIGHTS", 100)
	all := drifttest.Designs()
	designs := []drifttest.Design{all[0], all[2]}
	strict := map[string]bool{"8 hash-chosen cases collapse": true, "uniform -3 pts": true}
	for _, sc := range drifttest.Scenarios[1:] {
		t.Run(sc.Name, func(t *testing.T) {
			t.Parallel()
			out, err := drifttest.Sweep(designs, drifttest.Config{}, sc, nights, 100001, studySettings)
			require.NoError(t, err)
			rf, sef := drifttest.Rate(out[0])
			rs, ses := drifttest.Rate(out[1])
			diff, sed := drifttest.PairedDiff(out[1], out[0])
			calls, _ := drifttest.MeanCalls(out[1])
			t.Logf("%-30s nights=%d power: fixed %.1f±%.1f%%, staged %.1f±%.1f%%, paired diff %+.1f±%.1f points; staged calls per case %.2f",
				sc.Name, nights, 100*rf, 100*sef, 100*rs, 100*ses, 100*diff, 100*sed, calls)
			require.GreaterOrEqual(t, diff, -2*sed, "staged power below fixed mode's")
			if strict[sc.Name] && !drift.RaceEnabled {
				require.Greater(t, diff, 0.0, "staged power above fixed mode's")
			}
			require.LessOrEqual(t, calls, 5.0, "a drift night never costs more than K")
		})
	}
}
