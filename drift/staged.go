package drift

import (
	"errors"
	"fmt"
	"math"
	"math/rand/v2"
	"sort"
	"strings"
)

// RNG stream of the interim looks (one per look, from streamLook+look).
const streamLook uint64 = 100

// LookMonteCarlo caps the Monte Carlo draws at an interim look: the bounds
// (0.1-0.3) are far above the resolution of 1,000 draws.
const LookMonteCarlo = 1000

// lookPermutations caps the permutations of the answer and text tests at a
// look, for the same reason.
const lookPermutations = 199

// ErrLookData is returned by Look and Final when the current samples do not
// fit the plan (a sample beyond the look or beyond K): the lifecycle sent or
// read the wrong samples, and the decision would not be the planned one.
var ErrLookData = errors.New("samples do not fit the plan")

// LookResult is the decision at one interim look of a staged night.
type LookResult struct {
	// Look is the look's number (1 for the first); Looks the interim
	// looks planned.
	Look  int `json:"look"`
	Looks int `json:"looks"`
	// SamplesPerCase is the planned cumulative samples per case at this
	// look (Plan.Looks[Look-1]).
	SamplesPerCase int `json:"samples_per_case"`
	// Bound is the futility bound of this look.
	Bound float64 `json:"bound"`
	// PCMH and PSparse are the Monte Carlo p-values of the one-sided CMH
	// and sparse-collapse statistics on the samples so far.
	PCMH    float64 `json:"p_cmh"`
	PSparse float64 `json:"p_sparse"`
	// Z is the CMH z of the samples so far (lambda-corrected): PassZ of a
	// night that stops here.
	Z float64 `json:"z"`
	// Delta is the mean per-case pass-rate difference of the samples so
	// far, with a 95% normal interval over cases.
	Delta float64  `json:"delta"`
	CI    Interval `json:"ci"`
	// Shifts lists the behaviour metrics (refusal, format, length,
	// answers, text) that moved at this look and keep the night going.
	Shifts []string `json:"shifts,omitempty"`
	// Continue says the night goes on to the next stage.
	Continue bool   `json:"continue"`
	Reason   string `json:"reason"`
	// MDE is the minimum detectable pass-rate drop of the samples taken
	// (80% power, one-sided AlphaFamily): what a night stopped here can
	// claim to have ruled out.
	MDE   float64 `json:"mde"`
	Cases int     `json:"cases"`
}

// Staged summarises the sampling of a staged night for its report.
type Staged struct {
	Mode Mode `json:"mode"`
	// K is the samples per case planned before the night.
	K int `json:"k"`
	// Looks are the interim decisions taken, in order.
	Looks []LookResult `json:"looks"`
	// StoppedAt is the look at which the night stopped as STABLE (0: it
	// reached K and the fixed-K test decided).
	StoppedAt int `json:"stopped_at,omitempty"`
	// SamplesPerCase is what the night sent per case (the stopping look's
	// samples, or K).
	SamplesPerCase int `json:"samples_per_case"`
}

// Look takes the interim decision at look number look (from 1) of a staged
// night: it compares the current samples so far (every sample index below
// plan.Looks[look-1]; a later sample is ErrLookData) with the baseline and
// says whether the night goes on.
//
// The night goes on when min(p_CMH, p_S) <= the look's bound (both p-values
// by Monte Carlo from the exact conditional null, A/A calibrated as in
// Compare), or when a behaviour test (refusal, JSON, fence and
// finish-reason rates, length, answers, text) has a Bonferroni-adjusted
// p-value (over the testable behaviour tests) at or below the bound and an
// effect of at least half its floor: a style change is not stopped early
// by a quiet pass rate. Otherwise the night stops as STABLE ("no drift at
// the looks"). A look never alarms. Stopping is non-binding futility: the
// alarm of a staged night is the fixed-K test's rejection intersected with
// continuing, so its false-alarm rate is at most the fixed-K test's, for
// any bounds and any behaviour rule.
//
// It is a pure function of its inputs: the same samples, plan, look and
// s.Seed give the same decision (a resumed night repeats it).
func Look(baseline, current []Sample, plan Plan, look int, s Settings) (LookResult, error) {
	if err := plan.Validate(); err != nil {
		return LookResult{}, fmt.Errorf("look %d: %w", look, err)
	}
	if plan.Mode != ModeStaged {
		return LookResult{}, fmt.Errorf("look %d: plan mode %s has no looks", look, plan.Mode)
	}
	if look < 1 || look > len(plan.Looks) {
		return LookResult{}, fmt.Errorf("look %d: the plan has looks 1 to %d", look, len(plan.Looks))
	}
	n := plan.Looks[look-1]
	if err := checkIndexes(current, n); err != nil {
		return LookResult{}, fmt.Errorf("look %d: %w", look, err)
	}
	s = s.WithDefaults()
	s.MonteCarlo = min(s.MonteCarlo, LookMonteCarlo)
	s.Permutations = min(s.Permutations, lookPermutations)
	s.Seed ^= uint64(look) * 0x9e3779b97f4a7c15 // each look its own draws
	lr := LookResult{Look: look, Looks: len(plan.Looks), SamplesPerCase: n, Bound: plan.Bounds[look-1], PCMH: 1, PSparse: 1}

	c := newComparer(baseline, current, s)
	lr.Cases = len(c.cases)
	if len(c.cases) == 0 {
		// Nothing comparable (every sample errored so far): a look cannot
		// say the night is quiet; the final test will say why it cannot decide.
		lr.Continue = true
		lr.Reason = fmt.Sprintf("look %d of %d: no comparable case yet; the night goes on to K", look, lr.Looks)
		return lr, nil
	}
	if comparable := c.comparable(); comparable < s.MinSamples {
		// Too little to call the night quiet (a small suite at look 1):
		// going on is always valid.
		lr.Continue = true
		lr.Reason = fmt.Sprintf("look %d of %d: only %d comparable samples so far (minimum %d to stop early); the night goes on to K",
			look, lr.Looks, comparable, s.MinSamples)
		return lr, nil
	}
	st := c.strata(fPass)
	mc := passRateMC(st, c.cal.lambda, c.cal.sparse, s.MonteCarlo, rand.New(rand.NewPCG(s.Seed, streamLook+uint64(look))))
	lr.PCMH, lr.PSparse, lr.Z = mc.pCMH, mc.pSparse, mc.z
	_, _, d := c.rates(fPass)
	lr.Delta, lr.CI = cltMean(d)
	lr.MDE = c.passMDE()

	// Behaviour tests on the samples so far, against as many samples per
	// case of one baseline run: the per-case summaries they compare (the
	// median length of n samples, say) must be of samples alike, or a
	// skewed length distribution moves by itself on every quiet night.
	// Whether outputs are exact (one sample per case says everything) is
	// the whole comparison's finding, not the subsample's.
	bc := newComparer(lookBaseline(baseline, n), current, s)
	bc.det = c.det
	bc.behaviour()
	testable := 0
	for _, cd := range bc.cands {
		if cd.testable {
			testable++
		}
	}
	for _, cd := range bc.cands {
		if !cd.testable || cd.f.P*float64(testable) > lr.Bound {
			continue
		}
		if cd.floorOK || math.Abs(cd.f.Effect) >= behaviourFloor(cd.f.Metric, bc.det, s)/2 {
			lr.Shifts = append(lr.Shifts, cd.f.Metric)
		}
	}
	sort.Strings(lr.Shifts)

	minP := min(lr.PCMH, lr.PSparse)
	switch {
	case minP <= lr.Bound:
		lr.Continue = true
		lr.Reason = fmt.Sprintf("look %d of %d after %d sample(s) per case: min(p_CMH=%.3g, p_S=%.3g) <= %.2f; the night goes on",
			look, lr.Looks, n, lr.PCMH, lr.PSparse, lr.Bound)
	case len(lr.Shifts) > 0:
		lr.Continue = true
		lr.Reason = fmt.Sprintf("look %d of %d after %d sample(s) per case: pass rate quiet (min p=%.3g > %.2f) but %s moved; the night goes on",
			look, lr.Looks, n, minP, lr.Bound, strings.Join(lr.Shifts, ", "))
	default:
		lr.Reason = fmt.Sprintf("no drift at the looks: stopped at look %d of %d after %d sample(s) per case (min(p_CMH=%.3g, p_S=%.3g) > %.2f, no behaviour rate moved; pass rate delta %+.3f, 95%% CI %+.3f..%+.3f; drops of %.3f or more would have been detected with 80%% power by a test on these samples)",
			look, lr.Looks, n, lr.PCMH, lr.PSparse, lr.Bound, lr.Delta, lr.CI.Low, lr.CI.High, lr.MDE)
	}
	return lr, nil
}

// lookBaseline is the baseline of the behaviour tests at a look after n
// samples per case: the samples with an index below n of the last pooled
// baseline run (all runs' when the runs are not numbered).
func lookBaseline(baseline []Sample, n int) []Sample {
	last := 0
	for i := range baseline {
		last = max(last, baseline[i].Run)
	}
	out := make([]Sample, 0, len(baseline))
	for _, b := range baseline {
		if b.Index < n && b.Run == last {
			out = append(out, b)
		}
	}
	return out
}

// behaviourFloor is the effect floor of a behaviour test (see decide).
func behaviourFloor(metric string, det bool, s Settings) float64 {
	switch metric {
	case MetricLength:
		return FloorLength
	case MetricAnswer:
		if det {
			return FloorChanged
		}
		return FloorAnswer
	case MetricText:
		if det {
			return FloorChanged
		}
		return s.MinSimilarityGap
	default:
		return FloorRate
	}
}

// checkIndexes returns ErrLookData when a current sample has an index of
// limit or more.
func checkIndexes(current []Sample, limit int) error {
	for i := range current {
		if current[i].Index >= limit {
			return fmt.Errorf("%w: case %s has sample %d, the plan has %d per case here",
				ErrLookData, current[i].Case, current[i].Index, limit)
		}
	}
	return nil
}

// newComparer groups the samples and calibrates as Compare does.
func newComparer(baseline, current []Sample, s Settings) *comparer {
	c := &comparer{s: s, det: true}
	for _, cd := range groupCases(baseline, current) {
		if cd.b.n > 0 && cd.c.n > 0 {
			c.cases = append(c.cases, cd)
			if cd.b.n > 1 || cd.c.n > 1 {
				c.det = false
			}
		}
	}
	sort.Slice(c.cases, func(i, j int) bool { return c.cases[i].key < c.cases[j].key })
	c.cal = calibrate(baseline, c.cases)
	return c
}

// comparable is the number of comparable current samples.
func (c *comparer) comparable() int {
	n := 0
	for _, cd := range c.cases {
		n += cd.c.n
	}
	return n
}

// passMDE is the minimum detectable pass-rate drop of the compared samples.
func (c *comparer) passMDE() float64 {
	var noise passNoise
	var k1 float64
	for _, cd := range c.cases {
		noise.add(cd.b.rate(fPass), cd.b.n)
		k1 += float64(cd.c.n)
	}
	k0 := noise.k / float64(noise.cases)
	k1 /= float64(noise.cases)
	return MDE(noise.vbar()*(1/k0+1/k1)/2, noise.cases, 1, c.s.AlphaFamily, Power80)
}

// Stopped is the Result of a staged night that stopped at look lr: STABLE
// with the look's reason. Its metrics (pass rate with the case-bootstrap
// CI, refusal, format, length, answers, text, errors) are computed on the
// samples taken; findings keep their p-values but none is DRIFT (a look
// never alarms: they become WARN), there is no per-case localisation
// (DriftedCases is empty: one or two samples per case cannot locate a
// case), MDE is the look's (what the samples taken could detect) and PassZ
// is the look's z (the CUSUM input: see the package documentation).
// An INCONCLUSIVE comparison (too many errors, too few samples) stays
// INCONCLUSIVE.
func Stopped(baseline, current []Sample, lr LookResult, s Settings) Result {
	s.CMHMonteCarlo = true
	s.MonteCarlo = min(s.WithDefaults().MonteCarlo, LookMonteCarlo)
	res := compare(baseline, current, s, false)
	findings := res.Findings[:0:0]
	for _, f := range res.Findings {
		if f.Metric == MetricCasePass {
			continue
		}
		if f.Verdict == Drift {
			f.Verdict = Warn
			f.Reason += "; seen at an interim look, which never alarms"
		}
		findings = append(findings, f)
	}
	res.Findings = findings
	res.MDE = lr.MDE
	res.PassZ = lr.Z
	if res.Verdict != Inconclusive {
		res.Verdict = Stable
		res.Reason = lr.Reason
	}
	return res
}

// Final is the decision of a staged night that reached K, and of a fixed
// night: Compare (the plain fixed-K test, with the CMH p-value by Monte
// Carlo) on all the night's samples. Interim p-values are not reused. A
// current sample with index K or more is ErrLookData: K is fixed before
// the night and never raised after looking.
func Final(baseline, current []Sample, plan Plan, s Settings) (Result, error) {
	if err := plan.Validate(); err != nil {
		return Result{}, fmt.Errorf("final test: %w", err)
	}
	if err := checkIndexes(current, plan.K); err != nil {
		return Result{}, fmt.Errorf("final test: %w", err)
	}
	s.CMHMonteCarlo = true
	return Compare(baseline, current, s), nil
}

// DrawFunc sends the samples with indexes from..to-1 of every case and
// returns them (with their Index set); RunNight calls it once per stage, in
// order.
type DrawFunc func(from, to int) ([]Sample, error)

// RunNight runs one night of plan against the baseline: it draws the stages
// in order, takes the decision at every look (Look), and returns Stopped at
// the first look that stops, or the fixed-K test (Final) on all K samples
// per case. It is the reference of the run lifecycle, which does the same
// with storage and resumption between the stages; draw is its only effect.
func RunNight(baseline []Sample, plan Plan, s Settings, draw DrawFunc) (Result, Staged, error) {
	if err := plan.Validate(); err != nil {
		return Result{}, Staged{}, err
	}
	st := Staged{Mode: plan.Mode, K: plan.K}
	var current []Sample
	from := 0
	if plan.Mode == ModeStaged {
		for j, n := range plan.Looks {
			more, err := draw(from, n)
			if err != nil {
				return Result{}, st, fmt.Errorf("draw samples %d..%d: %w", from, n-1, err)
			}
			current, from = append(current, more...), n
			lr, err := Look(baseline, current, plan, j+1, s)
			if err != nil {
				return Result{}, st, err
			}
			st.Looks = append(st.Looks, lr)
			if !lr.Continue {
				st.StoppedAt, st.SamplesPerCase = j+1, n
				res := Stopped(baseline, current, lr, s)
				res.Sampling = &st
				return res, st, nil
			}
		}
	}
	more, err := draw(from, plan.K)
	if err != nil {
		return Result{}, st, fmt.Errorf("draw samples %d..%d: %w", from, plan.K-1, err)
	}
	current = append(current, more...)
	st.SamplesPerCase = plan.K
	res, err := Final(baseline, current, plan, s)
	if err != nil {
		return Result{}, st, err
	}
	res.Sampling = &st
	return res, st, nil
}
