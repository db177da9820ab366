package drift

import (
	"errors"
	"fmt"
	"slices"
)

// Mode is how a night sends its samples.
type Mode string

// Sampling modes.
const (
	// ModeStaged sends the samples in stages (the looks, then the rest up
	// to K per case) and stops a quiet night early for futility.
	ModeStaged Mode = "staged"
	// ModeFixed sends K samples per case every night.
	ModeFixed Mode = "fixed"
)

// Defaults of the staged design with a pooled baseline (three accepted runs
// of five samples per case: 15 per case) and of its fallback when the
// baseline is a single run (arrays: WithDefaults hands out copies).
var (
	// defaultLooks are the interim looks (cumulative samples per case) with
	// a pooled baseline.
	defaultLooks = [...]int{1, 2}
	// defaultBounds are the futility bounds of the looks: the night goes on
	// only while min(p_CMH, p_S) <= the bound.
	defaultBounds = [...]float64{0.30, 0.10}
	// unpooledLooks are the looks when the baseline is one run.
	unpooledLooks = [...]int{1, 3}
)

// Plan defaults and limits.
const (
	// DefaultK is the final samples per case with a pooled baseline.
	DefaultK = 5
	// UnpooledK is the final samples per case when the baseline is one run:
	// a futility design can only lose power against its own fixed-K test,
	// and with five baseline samples K=10 buys it back.
	UnpooledK = 10
	// DefaultBaselineRuns is how many accepted stable runs a baseline pools.
	DefaultBaselineRuns = 3
	// MaxLooks bounds the interim looks (the design was studied with at
	// most three).
	MaxLooks = 3
	// ContinueFactor is the probability that a night without drift goes on
	// past a look, divided by the look's bound: the interim p-values are
	// about uniform under no drift, and the minimum of two of them (CMH and
	// S) is below c with probability about 1.3-1.5 c. Measured by
	// TestStagedExpectedCallsMatchSimulation.
	ContinueFactor = 1.35
)

// Plan is the sampling plan of a suite: how many samples per case a night
// sends, and when it may stop early. It is fixed before the night starts
// (Night) and never changed by what the night shows: K is never raised
// after looking, and a look can only stop the night as STABLE, never alarm.
// The zero value means the defaults (WithDefaults). The YAML shape is
// sampling: {mode: staged, looks: [1, 2], bounds: [0.30, 0.10], k: 5}.
type Plan struct {
	// Mode is staged (default) or fixed.
	Mode Mode `yaml:"mode" json:"mode"`
	// Looks are the cumulative samples per case after which the night is
	// compared with the baseline (staged mode), strictly increasing and
	// below K. Default [1, 2] with a pooled baseline, [1, 3] with a
	// single-run baseline.
	Looks []int `yaml:"looks,omitempty" json:"looks,omitempty"`
	// Bounds are the futility bounds of the looks, one per look, in (0, 1):
	// the night stops as STABLE at a look when min(p_CMH, p_S) is above
	// the bound and no behaviour rate moved. Default [0.30, 0.10].
	Bounds []float64 `yaml:"bounds,omitempty" json:"bounds,omitempty"`
	// K is the samples per case of a night that is not stopped, and of
	// every night in fixed mode. Default 5 with a pooled baseline, 10 in
	// staged mode with a single-run baseline.
	K int `yaml:"k" json:"k"`
}

// Pool says how a baseline is built: the last Runs accepted stable runs
// that reached K, frozen once complete. The YAML shape is baseline: {runs: 3}.
type Pool struct {
	// Runs is how many runs the baseline pools. Default 3; 1 is a
	// single-run baseline (staged mode then uses looks [1, 3] and K=10).
	Runs int `yaml:"runs" json:"runs"`
}

// WithDefaults returns p with a zero Runs replaced by DefaultBaselineRuns.
func (p Pool) WithDefaults() Pool {
	if p.Runs == 0 {
		p.Runs = DefaultBaselineRuns
	}
	return p
}

// Validate says which field is out of range.
func (p Pool) Validate() error {
	if p.Runs < 0 {
		return fmt.Errorf("baseline.runs: %d is negative; use 1 or more (default %d)", p.Runs, DefaultBaselineRuns)
	}
	return nil
}

// Pooled reports whether the baseline pools several runs.
func (p Pool) Pooled() bool { return p.WithDefaults().Runs > 1 }

// WithDefaults returns p with its zero fields filled: staged mode; with a
// pooled baseline looks [1, 2] and K=5, with a single-run baseline looks
// [1, 3] and K=10 (staged) or K=5 (fixed); bounds [0.30, 0.10]. Fields
// that are set are kept (Validate checks that they fit together).
func (p Plan) WithDefaults(pool Pool) Plan {
	if p.Mode == "" {
		p.Mode = ModeStaged
	}
	pooled := pool.Pooled()
	if p.K == 0 {
		p.K = DefaultK
		if !pooled && p.Mode == ModeStaged {
			p.K = UnpooledK
		}
	}
	if p.Mode == ModeFixed {
		return p
	}
	if len(p.Looks) == 0 {
		p.Looks = slices.Clone(defaultLooks[:])
		if !pooled {
			p.Looks = slices.Clone(unpooledLooks[:])
		}
	}
	if len(p.Bounds) == 0 && len(p.Looks) <= len(defaultBounds) {
		p.Bounds = slices.Clone(defaultBounds[:len(p.Looks)])
	}
	p.Looks, p.Bounds = slices.Clip(p.Looks), slices.Clip(p.Bounds)
	return p
}

// Validate says which field is wrong and how to fix it. It checks a plan
// after WithDefaults.
func (p Plan) Validate() error {
	var errs []error
	switch p.Mode {
	case ModeStaged, ModeFixed:
	default:
		errs = append(errs, fmt.Errorf("sampling.mode: %q is not staged or fixed", p.Mode))
	}
	if p.K < 1 {
		errs = append(errs, fmt.Errorf("sampling.k: %d; use 1 or more samples per case (default %d)", p.K, DefaultK))
	}
	if p.Mode != ModeStaged {
		return errors.Join(errs...)
	}
	if len(p.Looks) == 0 || len(p.Looks) > MaxLooks {
		errs = append(errs, fmt.Errorf("sampling.looks: %d looks; use 1 to %d (default %v)", len(p.Looks), MaxLooks, defaultLooks))
	}
	for i, l := range p.Looks {
		switch {
		case l < 1:
			errs = append(errs, fmt.Errorf("sampling.looks[%d]: %d; a look comes after at least 1 sample per case", i, l))
		case i > 0 && l <= p.Looks[i-1]:
			errs = append(errs, fmt.Errorf("sampling.looks[%d]: %d after %d; looks must increase", i, l, p.Looks[i-1]))
		case l >= p.K:
			errs = append(errs, fmt.Errorf("sampling.looks[%d]: %d is not below sampling.k %d; the final test needs samples after the last look", i, l, p.K))
		}
	}
	if len(p.Bounds) != len(p.Looks) {
		errs = append(errs, fmt.Errorf("sampling.bounds: %d bounds for %d looks; give one bound per look (default %v)", len(p.Bounds), len(p.Looks), defaultBounds))
	}
	for i, b := range p.Bounds {
		if !(b > 0 && b < 1) {
			errs = append(errs, fmt.Errorf("sampling.bounds[%d]: %v is not in (0, 1)", i, b))
		}
	}
	return errors.Join(errs...)
}

// Night returns the plan of one night, fixed before its first sample from
// the configured plan, the configured pool and the number of runs the
// active baseline pools now (0: no baseline yet). A night is staged only
// when the baseline pool is complete: the first nights run in fixed mode
// at K, so that they can join the pool (a night stopped early has too few
// samples to be a baseline) and so that the run that becomes the baseline
// is a full one. The result depends on nothing the night samples.
func (p Plan) Night(pool Pool, baselineRuns int) Plan {
	pool = pool.WithDefaults()
	p = p.WithDefaults(pool)
	if p.Mode == ModeStaged && baselineRuns >= pool.Runs && baselineRuns > 0 {
		return p
	}
	return Plan{Mode: ModeFixed, K: p.K}
}

// Stages returns the samples per case each stage sends: the first look,
// the increments to the later looks, then the rest up to K. A fixed plan
// has one stage of K.
func (p Plan) Stages() []int {
	if p.Mode != ModeStaged {
		return []int{p.K}
	}
	out := make([]int, 0, len(p.Looks)+1)
	prev := 0
	for _, l := range append(slices.Clone(p.Looks), p.K) {
		out = append(out, l-prev)
		prev = l
	}
	return out
}

// Calls is the expected number of calls (samples sent) of a plan.
type Calls struct {
	// Quiet is the expected calls per case on a night without drift:
	// looks[0] + sum over looks of P(the night goes on past look j) times
	// the samples of the next stage, with P about ContinueFactor times the
	// bound (never above the previous look's). Fixed mode: K.
	Quiet float64 `json:"quiet_per_case"`
	// Max is the calls per case of a night that reaches K (a drift night
	// costs at most this, and usually close to it).
	Max int `json:"max_per_case"`
	// Continue[j] is the probability that a quiet night goes on past look j.
	Continue []float64 `json:"continue,omitempty"`
	// QuietNight and MaxNight are the same per night for the given cases.
	QuietNight float64 `json:"quiet_per_night"`
	MaxNight   int     `json:"max_per_night"`
}

// ExpectedCalls estimates the calls per case and per night of a plan (after
// WithDefaults and Validate) for a suite of cases cases, for `driftwatch
// power` and `run --dry-run`. The estimate for a quiet night holds on any
// suite (the interim p-values are about uniform without drift); a behaviour
// rate that moves by chance continues a few more nights on suites whose
// refusal, format or length vary. It leaves out errored samples that are
// retried.
func ExpectedCalls(p Plan, cases int) Calls {
	c := Calls{Max: p.K, Quiet: float64(p.K)}
	if p.Mode == ModeStaged && len(p.Looks) > 0 && len(p.Bounds) == len(p.Looks) {
		stages := p.Stages()
		c.Quiet = float64(stages[0])
		reach := 1.0
		for j, b := range p.Bounds {
			reach = min(reach, ContinueFactor*b)
			c.Continue = append(c.Continue, reach)
			c.Quiet += reach * float64(stages[j+1])
		}
	}
	c.QuietNight = c.Quiet * float64(cases)
	c.MaxNight = c.Max * cases
	return c
}

// CallsByMode estimates a night's calls in both modes for the configured
// (not yet defaulted) plan and pool, for `driftwatch power` and `run
// --dry-run` to print side by side: staged with the plan's looks and
// bounds (or their defaults), and fixed at the same K.
func CallsByMode(p Plan, pool Pool, cases int) (staged, fixed Calls) {
	sp := Plan{Mode: ModeStaged, Looks: p.Looks, Bounds: p.Bounds, K: p.K}.WithDefaults(pool)
	return ExpectedCalls(sp, cases), ExpectedCalls(Plan{Mode: ModeFixed, K: sp.K}, cases)
}
