// Package drifttest simulates nights of a pass/fail suite with known ground
// truth, for the calibration tests of the drift package and the sampling
// benchmark (bench/staged): the suite mixture and the drift scenarios of
// the sampling study behind the staged design (docs/sampling.md).
package drifttest

import (
	"cmp"
	"fmt"
	"math"
	"math/rand/v2"

	"github.com/driftwatch/driftwatch/drift"
)

// Scenario is a drift (or none) applied to the current night.
type Scenario struct {
	Name string
	// Apply returns the current night's pass probabilities.
	Apply func(rng *rand.Rand, ps []float64) []float64
}

// Scenarios of the study: A/A, then (b) every case -5 points, (c) 10 random
// cases with p >= 0.5 lose 0.6, (d) 8 hash-chosen cases lose 0.6, (e) every
// case -3 points, (f) only the middle cases (0.2-0.8) lose 10 points.
// Probabilities are clipped at 0.
var Scenarios = []Scenario{
	{Name: "A/A", Apply: func(_ *rand.Rand, ps []float64) []float64 { return ps }},
	{Name: "uniform -5 pts", Apply: func(_ *rand.Rand, ps []float64) []float64 {
		return shift(ps, func(int, float64) float64 { return -0.05 })
	}},
	{Name: "10 cases collapse", Apply: func(rng *rand.Rand, ps []float64) []float64 {
		var hi []int
		for i, p := range ps {
			if p >= 0.5 {
				hi = append(hi, i)
			}
		}
		rng.Shuffle(len(hi), func(a, b int) { hi[a], hi[b] = hi[b], hi[a] })
		hit := map[int]bool{}
		for _, i := range hi[:min(10, len(hi))] {
			hit[i] = true
		}
		return shift(ps, func(i int, _ float64) float64 { return map[bool]float64{true: -0.6}[hit[i]] })
	}},
	{Name: "8 hash-chosen cases collapse", Apply: func(rng *rand.Rand, ps []float64) []float64 {
		hit := map[int]bool{}
		for _, i := range rng.Perm(len(ps))[:min(8, len(ps))] {
			hit[i] = true
		}
		return shift(ps, func(i int, _ float64) float64 { return map[bool]float64{true: -0.6}[hit[i]] })
	}},
	{Name: "uniform -3 pts", Apply: func(_ *rand.Rand, ps []float64) []float64 {
		return shift(ps, func(int, float64) float64 { return -0.03 })
	}},
	{Name: "only middle cases -10 pts", Apply: func(_ *rand.Rand, ps []float64) []float64 {
		return shift(ps, func(_ int, p float64) float64 {
			if p > 0.05 && p < 0.98 {
				return -0.10
			}
			return 0
		})
	}},
}

func shift(ps []float64, d func(i int, p float64) float64) []float64 {
	out := make([]float64, len(ps))
	for i, p := range ps {
		out[i] = max(0, p+d(i, p))
	}
	return out
}

// Night is one simulated night: a fresh suite, a baseline of BaselineRuns
// runs of BaselineK samples per case (Sample.Run 1..BaselineRuns), and a
// stream of Stream current samples per case; every design uses a prefix
// of the same stream (common random numbers).
type Night struct {
	Cases    int
	Baseline []drift.Sample
	stream   [][]bool
}

// Config shapes the simulated nights.
type Config struct {
	Cases        int // default 200
	BaselineRuns int // default 3
	BaselineK    int // samples per case of each baseline run; default 5
	Stream       int // current samples per case available; default 10
	// NightSD adds night effects: every run (each baseline run and the
	// current night) shifts the logit of every case's pass probability by
	// one offset with this standard deviation. 0: exchangeable nights.
	NightSD float64
}

// NewNight draws the night of seed under scenario sc: the suite mixture is
// 60% of cases at p=0.98, 20% at 0.05 and 20% uniform on 0.2-0.8.
func NewNight(cfg Config, sc Scenario, seed uint64) *Night {
	cfg.Cases = cmp.Or(cfg.Cases, 200)
	cfg.BaselineRuns = cmp.Or(cfg.BaselineRuns, 3)
	cfg.BaselineK = cmp.Or(cfg.BaselineK, 5)
	cfg.Stream = cmp.Or(cfg.Stream, 10)
	rng := rand.New(rand.NewPCG(seed, 0x5eed))
	ps := make([]float64, cfg.Cases)
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
	n := &Night{Cases: cfg.Cases}
	for r := 1; r <= cfg.BaselineRuns; r++ {
		for i, p := range nightOf(rng, ps, cfg.NightSD) {
			for j := range cfg.BaselineK {
				n.Baseline = append(n.Baseline, sample(i, j, rng.Float64() < p, r))
			}
		}
	}
	cur := sc.Apply(rng, nightOf(rng, ps, cfg.NightSD))
	n.stream = make([][]bool, cfg.Cases)
	for i, p := range cur {
		n.stream[i] = make([]bool, cfg.Stream)
		for j := range n.stream[i] {
			n.stream[i][j] = rng.Float64() < p
		}
	}
	return n
}

// nightOf returns the pass probabilities of one night: ps shifted on the
// logit scale by one normal offset with standard deviation sd (ps itself,
// drawing nothing, when sd is 0).
func nightOf(rng *rand.Rand, ps []float64, sd float64) []float64 {
	if sd == 0 {
		return ps
	}
	off := sd * rng.NormFloat64()
	out := make([]float64, len(ps))
	for i, p := range ps {
		out[i] = 1 / (1 + math.Exp(-(math.Log(p/(1-p)) + off)))
	}
	return out
}

// BaselineOf returns the samples of the first runs baseline runs.
func (n *Night) BaselineOf(runs int) []drift.Sample {
	var out []drift.Sample
	for _, s := range n.Baseline {
		if s.Run <= runs {
			out = append(out, s)
		}
	}
	return out
}

// Draw returns the current samples from..to-1 of every case (a drift.DrawFunc).
func (n *Night) Draw(from, to int) ([]drift.Sample, error) {
	if to > len(n.stream[0]) {
		return nil, fmt.Errorf("draw %d..%d: the stream has %d samples per case", from, to-1, len(n.stream[0]))
	}
	out := make([]drift.Sample, 0, n.Cases*(to-from))
	for i, st := range n.stream {
		for j := from; j < to; j++ {
			out = append(out, sample(i, j, st[j], 0))
		}
	}
	return out, nil
}

func sample(i, j int, pass bool, run int) drift.Sample {
	return drift.Sample{Case: fmt.Sprintf("c%03d", i), Index: j, Passed: pass,
		Output: "x", Tokens: 10, FinishReason: "stop", Identity: "m", Run: run}
}

// Design is a sampling design evaluated on simulated nights.
type Design struct {
	Name         string
	BaselineRuns int        // baseline runs pooled (of the night's baseline)
	Plan         drift.Plan // after WithDefaults
}

// Outcome is one design's result on one night.
type Outcome struct {
	Alarm     bool    // verdict DRIFT
	Calls     int     // samples sent per case
	StoppedAt int     // look at which a staged night stopped (0: reached K)
	PassZ     float64 // the night's CUSUM input
}

// Run runs the design on the night through drift.RunNight.
func (d Design) Run(n *Night, s drift.Settings) (Outcome, error) {
	calls := 0
	draw := func(from, to int) ([]drift.Sample, error) {
		calls += to - from
		return n.Draw(from, to)
	}
	res, st, err := drift.RunNight(n.BaselineOf(d.BaselineRuns), d.Plan, s, draw)
	if err != nil {
		return Outcome{}, fmt.Errorf("design %s: %w", d.Name, err)
	}
	return Outcome{Alarm: res.Verdict == drift.Drift, Calls: calls, StoppedAt: st.StoppedAt, PassZ: res.PassZ}, nil
}

// Designs compared by the tests and the benchmark: today's fixed K=5
// against a one-run baseline, fixed K=5 against the pooled baseline, the
// staged default (pooled, looks 1 and 2, K=5) and the staged fallback for a
// one-run baseline (looks 1 and 3, K=10).
func Designs() []Design {
	one, pooled := drift.Pool{Runs: 1}, drift.Pool{Runs: 3}
	return []Design{
		{Name: "fixed K=5, 1-run baseline", BaselineRuns: 1, Plan: drift.Plan{Mode: drift.ModeFixed}.WithDefaults(one)},
		{Name: "fixed K=5, pooled baseline", BaselineRuns: 3, Plan: drift.Plan{Mode: drift.ModeFixed}.WithDefaults(pooled)},
		{Name: "staged 1,2->5, pooled baseline", BaselineRuns: 3, Plan: drift.Plan{}.WithDefaults(pooled)},
		{Name: "staged 1,3->10, 1-run baseline", BaselineRuns: 1, Plan: drift.Plan{}.WithDefaults(one)},
	}
}

// Sweep runs every design on nights nights of the scenario (seeds seed0,
// seed0+1, ...) and returns the outcomes by design, then night.
func Sweep(designs []Design, cfg Config, sc Scenario, nights int, seed0 uint64, s drift.Settings) ([][]Outcome, error) {
	out := make([][]Outcome, len(designs))
	for i := range nights {
		seed := seed0 + uint64(i)
		n := NewNight(cfg, sc, seed)
		s.Seed = seed
		for d, ds := range designs {
			o, err := ds.Run(n, s)
			if err != nil {
				return nil, err
			}
			out[d] = append(out[d], o)
		}
	}
	return out, nil
}

// Rate returns the alarm rate of outcomes and its binomial standard error.
func Rate(os []Outcome) (rate, se float64) {
	for _, o := range os {
		if o.Alarm {
			rate++
		}
	}
	n := float64(len(os))
	rate /= n
	return rate, math.Sqrt(rate * (1 - rate) / n)
}

// PairedDiff returns the mean of a's alarms minus b's over the same nights
// and its standard error.
func PairedDiff(a, b []Outcome) (diff, se float64) {
	n := float64(len(a))
	var s, ss float64
	for i := range a {
		d := b2f(a[i].Alarm) - b2f(b[i].Alarm)
		s += d
		ss += d * d
	}
	diff = s / n
	v := (ss/n - diff*diff) / (n - 1)
	return diff, math.Sqrt(max(v, 0))
}

// MeanCalls returns the mean calls per case and their standard error.
func MeanCalls(os []Outcome) (mean, se float64) {
	var s, ss float64
	for _, o := range os {
		c := float64(o.Calls)
		s += c
		ss += c * c
	}
	n := float64(len(os))
	mean = s / n
	return mean, math.Sqrt(max(ss/n-mean*mean, 0) / (n - 1))
}

func b2f(b bool) float64 {
	if b {
		return 1
	}
	return 0
}
