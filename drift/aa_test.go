package drift

import (
	"fmt"
	"math"
	"math/rand/v2"
	"testing"

	"github.com/stretchr/testify/require"
)

// aaWorld is a simulated pass/fail suite with night effects: every run
// (night) shifts the logit of every case's pass probability by one random
// offset with standard deviation sigma.
type aaWorld struct {
	cases    int
	k        int
	nights   int     // baseline runs pooled
	sigma    float64 // night offset sd on the logit scale
	drop     float64 // absolute pass-rate drop of the current run, every case
	collapse float64 // fraction of the cases with p >= 0.6 that collapse by 0.6
}

func logistic(x float64) float64 { return 1 / (1 + math.Exp(-x)) }

func logit(p float64) float64 { return math.Log(p / (1 - p)) }

// night generates one run: k samples per case with the given night offset.
func (w aaWorld) night(rng *rand.Rand, ps []float64, offset, drop float64, collapsed map[int]bool, run int) []Sample {
	out := make([]Sample, 0, len(ps)*w.k)
	for i, p := range ps {
		q := logistic(logit(p)+offset) - drop
		if collapsed[i] {
			q -= 0.6
		}
		for j := range w.k {
			out = append(out, Sample{Case: fmt.Sprintf("c%03d", i), Index: j, Passed: rng.Float64() < q,
				Output: "x", Tokens: 10, FinishReason: "stop", Identity: "m", Run: run})
		}
	}
	return out
}

// trial returns the comparison with run indexes on the baseline samples
// (calibrated) and without (every Run 0: uncalibrated), on the same data.
func (w aaWorld) trial(seed uint64, s Settings) (cal, raw Result) {
	rng := rand.New(rand.NewPCG(seed, 41))
	ps := make([]float64, w.cases)
	for i := range ps {
		switch u := rng.Float64(); {
		case u < 0.6:
			ps[i] = 0.98
		case u < 0.8:
			ps[i] = 0.05
		default:
			ps[i] = 0.2 + 0.6*rng.Float64()
		}
	}
	var base []Sample
	for r := range w.nights {
		base = append(base, w.night(rng, ps, w.sigma*rng.NormFloat64(), 0, nil, r+1)...)
	}
	collapsed := map[int]bool{}
	if w.collapse > 0 {
		var hi []int
		for i, p := range ps {
			if p >= 0.6 {
				hi = append(hi, i)
			}
		}
		rng.Shuffle(len(hi), func(a, b int) { hi[a], hi[b] = hi[b], hi[a] })
		for _, i := range hi[:int(w.collapse*float64(w.cases))] {
			collapsed[i] = true
		}
	}
	cur := w.night(rng, ps, w.sigma*rng.NormFloat64(), w.drop, collapsed, 0)
	s.Seed = seed
	cal = Compare(base, cur, s)
	for i := range base {
		base[i].Run = 0
	}
	raw = Compare(base, cur, s)
	return cal, raw
}

// aaRates runs trials of a world and returns the DRIFT rates with and
// without the calibration, and the mean lambda.
func aaRates(w aaWorld, trials int, s Settings) (cal, raw, lambda float64) {
	for i := range trials {
		c, r := w.trial(uint64(1+i), s)
		if c.Verdict == Drift {
			cal++
		}
		if r.Verdict == Drift {
			raw++
		}
		if c.Calibration != nil {
			lambda += c.Calibration.Lambda
		}
	}
	n := float64(trials)
	return cal / n, raw / n, lambda / n
}

// TestAACalibration simulates pooled baselines of three runs with known
// ground truth (200 cases, k=5, alpha 0.01) and compares every run with and
// without the A/A calibration on the same data:
//   - pure binomial A/A: lambda about 1 and no more false DRIFT than
//     uncalibrated;
//   - night effects (logit offset per run, sd 0.3): the uncalibrated test
//     alarms far above alpha, the calibrated one much less;
//   - a real 5-point drop without night effects: power close to the
//     uncalibrated power.
//
// -drift.long runs 1000 trials per world and more worlds (the figures in
// doc.go).
func TestAACalibration(t *testing.T) {
	t.Parallel()
	s := Settings{Permutations: 99, MonteCarlo: 1000, Bootstrap: 100}
	trials := 120
	if raceEnabled {
		trials = 12 // the rates are asserted by the plain run
	}
	if *longCalibration {
		trials = 1000
	}
	base := aaWorld{cases: 200, k: 5, nights: 3}
	worlds := []struct {
		name  string
		w     aaWorld
		check func(t *testing.T, cal, raw, lambda float64)
	}{
		{"A/A", base, func(t *testing.T, cal, raw, lambda float64) {
			require.InDelta(t, 1, lambda, 0.25, "mean lambda under pure sampling noise")
			require.LessOrEqual(t, cal, raw, "the calibration never adds false alarms")
			require.LessOrEqual(t, cal, 0.02)
		}},
		{"A/A, night effects sd 0.3", aaWorld{cases: 200, k: 5, nights: 3, sigma: 0.3}, func(t *testing.T, cal, raw, lambda float64) {
			require.Greater(t, lambda, 3.0, "night effects inflate lambda")
			require.LessOrEqual(t, cal, raw/2, "the calibration removes most night-effect false alarms")
			if !raceEnabled {
				require.GreaterOrEqual(t, raw, 0.12, "uncalibrated false alarms well above alpha")
				require.LessOrEqual(t, cal, 0.10, "calibrated false alarms")
			}
		}},
		{"drop 5pp", aaWorld{cases: 200, k: 5, nights: 3, drop: 0.05}, func(t *testing.T, cal, raw, _ float64) {
			require.GreaterOrEqual(t, cal, raw-0.05, "power lost to the calibration")
			require.GreaterOrEqual(t, cal, 0.9)
		}},
	}
	if *longCalibration {
		more := []struct {
			name string
			w    aaWorld
		}{
			{"A/A, night effects sd 0.1", aaWorld{cases: 200, k: 5, nights: 3, sigma: 0.1}},
			{"A/A, night effects sd 0.3, 6 runs", aaWorld{cases: 200, k: 5, nights: 6, sigma: 0.3}},
			{"drop 3pp", aaWorld{cases: 200, k: 5, nights: 3, drop: 0.03}},
			{"5% collapse by 0.6", aaWorld{cases: 200, k: 5, nights: 3, collapse: 0.05}},
			{"3% collapse by 0.6", aaWorld{cases: 200, k: 5, nights: 3, collapse: 0.03}},
		}
		for _, m := range more {
			worlds = append(worlds, struct {
				name  string
				w     aaWorld
				check func(t *testing.T, cal, raw, lambda float64)
			}{m.name, m.w, func(*testing.T, float64, float64, float64) {}})
		}
	}
	for _, wd := range worlds {
		t.Run(wd.name, func(t *testing.T) {
			t.Parallel()
			cal, raw, lambda := aaRates(wd.w, trials, s)
			t.Logf("%-36s trials=%d DRIFT calibrated=%.3f uncalibrated=%.3f mean lambda=%.2f", wd.name, trials, cal, raw, lambda)
			wd.check(t, cal, raw, lambda)
		})
	}
}

// TestCalibrationResult: with three baseline runs the result carries the
// calibration, a large lambda adds a WARN finding and divides PassZ; with
// fewer runs there is none and the result is unchanged.
func TestCalibrationResult(t *testing.T) {
	t.Parallel()
	s := Settings{Permutations: 99, MonteCarlo: 1000, Bootstrap: 100}
	night := aaWorld{cases: 200, k: 5, nights: 3, sigma: 0.5}
	var seen bool
	for seed := uint64(1); seed <= 20 && !seen; seed++ {
		c, r := night.trial(seed, s)
		require.Nil(t, r.Calibration, "one run index: no calibration")
		require.NotNil(t, c.Calibration)
		require.Equal(t, 3, c.Calibration.Pairs)
		require.Equal(t, 3, c.Calibration.Runs)
		if c.Calibration.Lambda <= 4 {
			continue
		}
		seen = true
		require.True(t, c.Calibration.Applied)
		require.InDelta(t, r.PassZ/math.Sqrt(c.Calibration.Lambda), c.PassZ, 1e-9, "PassZ is divided by sqrt(lambda)")
		var warn bool
		for _, f := range c.Findings {
			if f.Metric == MetricCalibration {
				warn = true
				require.Equal(t, Warn, f.Verdict)
				require.Contains(t, f.Reason, "night-to-night variation")
			}
		}
		require.True(t, warn, "lambda above 1.5 is a warning")
	}
	require.True(t, seen, "some seed gives lambda > 4 with night effects of sd 0.5")

	// Two runs: no calibration, same result as without run indexes.
	w := aaWorld{cases: 100, k: 4, nights: 2}
	c, r := w.trial(7, s)
	require.Nil(t, c.Calibration)
	require.Equal(t, r, c)
}

// The λ warning threshold is LambdaWarn or λ's 95th percentile under pure
// sampling noise, whichever is higher, and it warns on about 5% of clean
// three-run baselines (λ > 1.5 alone: about 22%).
func TestLambdaWarnAt(t *testing.T) {
	t.Parallel()
	require.InDelta(t, 2.996, LambdaWarnAt(3), 1e-3) // chi2(2) q95 / 2
	require.InDelta(t, 2.214, LambdaWarnAt(6), 1e-3) // chi2(5) q95 / 5
	require.Equal(t, LambdaWarn, LambdaWarnAt(100))
	require.Equal(t, LambdaWarnAt(2), LambdaWarnAt(1), "fewer runs are never calibrated; the threshold stays finite")
	if raceEnabled {
		return // the rate is asserted by the plain run
	}
	s := Settings{Permutations: 99, MonteCarlo: 1000, Bootstrap: 100}
	w := aaWorld{cases: 200, k: 5, nights: 3}
	const trials = 100
	var warned, above15 int
	for seed := uint64(1); seed <= trials; seed++ {
		c, _ := w.trial(seed+5000, s)
		require.NotNil(t, c.Calibration)
		if c.Calibration.Lambda > LambdaWarn {
			above15++
		}
		for _, f := range c.Findings {
			if f.Metric == MetricCalibration {
				warned++
			}
		}
	}
	t.Logf("clean three-run baselines: warned %d of %d, lambda > 1.5 on %d", warned, trials, above15)
	require.LessOrEqual(t, warned, 12, "false warnings near 5%")
	require.Greater(t, above15, warned, "the old threshold warned more")
}
