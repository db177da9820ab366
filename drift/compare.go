package drift

import (
	"fmt"
	"math"
	"math/rand/v2"
	"slices"
	"sort"
	"strings"
)

// Per-sample flag bits.
const (
	fPass uint8 = 1 << iota
	fRefused
	fJSON
	fFence
	fFinLen
)

// RNG streams: each randomised procedure has its own stream so that adding
// or skipping a test does not change the others.
const (
	streamSparse uint64 = iota + 1
	streamBoot
	streamAnswer
	streamText
)

// maxCaseFindings caps the case-scope findings (DriftedCases lists all).
const maxCaseFindings = 50

// exampleRunes is the length to which example outputs are cut.
const exampleRunes = 500

// sideData is one side of a case: n comparable samples whose flags, token
// counts and outputs are at [off, off+n) of the side's shared arrays, and
// nans answers at [aoff, aoff+nans). Offsets instead of four subslices keep
// a case at 80 bytes (100,000 cases: 8 MB instead of 26 MB).
type sideData struct {
	arr         *sideArrays
	n           int
	off, aoff   int32
	nans        int32
	fill, afill int32 // filled so far (groupCases)
}

// sideArrays hold every case's samples of one side, case after case.
type sideArrays struct {
	flags   []uint8
	tokens  []float64
	outputs []string
	answers []string // samples with HasAnswer only
}

func (d *sideData) flags() []uint8 {
	if d.arr == nil {
		return nil
	}
	return d.arr.flags[d.off : int(d.off)+d.n : int(d.off)+d.n]
}

func (d *sideData) tokens() []float64 {
	if d.arr == nil {
		return nil
	}
	return d.arr.tokens[d.off : int(d.off)+d.n : int(d.off)+d.n]
}

func (d *sideData) outputs() []string {
	if d.arr == nil {
		return nil
	}
	return d.arr.outputs[d.off : int(d.off)+d.n : int(d.off)+d.n]
}

func (d *sideData) answers() []string {
	if d.arr == nil {
		return nil
	}
	return d.arr.answers[d.aoff : d.aoff+d.nans : d.aoff+d.nans]
}

func (d *sideData) count(bit uint8) int {
	c := 0
	for _, f := range d.flags() {
		if f&bit != 0 {
			c++
		}
	}
	return c
}

func (d *sideData) rate(bit uint8) float64 {
	if d.n == 0 {
		return 0
	}
	return float64(d.count(bit)) / float64(d.n)
}

type caseData struct {
	key  string
	b, c sideData
}

// candidate is one suite-level test of the alarm family.
type candidate struct {
	f        Finding
	testable bool // the test has information (otherwise left out of Holm)
	floorOK  bool
}

type comparer struct {
	s      Settings
	cases  []*caseData // present with comparable samples on both sides, sorted by key
	det    bool        // no replicates on either side: deterministic mode
	res    Result
	cal    calibration // A/A calibration of the pass-rate statistics
	cands  []candidate
	passZ  float64
	drifts []string
	// noLocalise skips the per-case localisation.
	noLocalise bool
}

// groupCases collects the samples of both sides per case, in order of first
// appearance. Two passes: the first counts, the second fills per-side
// arrays shared by every case (each case holds full-capacity subslices), so
// 100,000 cases cost a handful of allocations instead of eight each.
func groupCases(baseline, current []Sample) []*caseData {
	idx := make(map[string]int32, max(len(baseline), len(current)))
	var all []caseData
	for _, samples := range [][]Sample{baseline, current} {
		for i := range samples {
			if _, ok := idx[samples[i].Case]; !ok {
				idx[samples[i].Case] = int32(len(all))
				all = append(all, caseData{key: samples[i].Case})
			}
		}
	}
	all = slices.Clip(all)
	var nans [2]int // answers per side
	var nok [2]int  // comparable samples per side
	count := func(samples []Sample, side int) {
		for i := range samples {
			x := &samples[i]
			if x.Errored {
				continue
			}
			d := all[idx[x.Case]].side(side)
			d.n++
			nok[side]++
			if x.HasAnswer {
				d.nans++
				nans[side]++
			}
		}
	}
	count(baseline, 0)
	count(current, 1)
	for side := range 2 {
		arr := &sideArrays{
			flags:   make([]uint8, nok[side]),
			tokens:  make([]float64, nok[side]),
			outputs: make([]string, nok[side]),
			answers: make([]string, nans[side]),
		}
		off, aoff := 0, 0
		for j := range all {
			d := all[j].side(side)
			d.arr, d.off, d.aoff = arr, int32(off), int32(aoff)
			off += d.n
			aoff += int(d.nans)
		}
	}
	fill := func(samples []Sample, side int) {
		for i := range samples {
			x := &samples[i]
			if x.Errored {
				continue
			}
			d := all[idx[x.Case]].side(side)
			var f uint8
			if x.Passed {
				f |= fPass
			}
			if x.Refused {
				f |= fRefused
			}
			if x.JSONValid {
				f |= fJSON
			}
			if x.CodeFence {
				f |= fFence
			}
			if x.FinishReason == "length" {
				f |= fFinLen
			}
			j := int(d.off) + int(d.fill)
			d.arr.flags[j] = f
			d.arr.tokens[j] = float64(x.Tokens)
			d.arr.outputs[j] = x.Output
			d.fill++
			if x.HasAnswer {
				d.arr.answers[d.aoff+d.afill] = strings.TrimSpace(x.Answer)
				d.afill++
			}
		}
	}
	fill(baseline, 0)
	fill(current, 1)
	out := make([]*caseData, len(all))
	for j := range all {
		out[j] = &all[j]
	}
	return out
}

func (cd *caseData) side(s int) *sideData {
	if s == 1 {
		return &cd.c
	}
	return &cd.b
}

// Compare compares the current run with the baseline and returns the
// verdict, the suite metrics, the findings and the drifted cases. It is a
// pure function of its inputs (randomness comes from s.Seed).
func Compare(baseline, current []Sample, s Settings) Result {
	return compare(baseline, current, s, true)
}

// compare is Compare; without localise it skips the per-case localisation
// (a staged night stopped at a look has too few samples per case for it).
func compare(baseline, current []Sample, s Settings, localise bool) Result {
	s = s.WithDefaults()
	res := Result{
		Metrics:         []Metric{},
		Findings:        []Finding{},
		DriftedCases:    []string{},
		BaselineSamples: len(baseline),
		CurrentSamples:  len(current),
	}
	curErr, baseErr := 0, 0
	for i := range current {
		if current[i].Errored {
			curErr++
		}
	}
	for i := range baseline {
		if baseline[i].Errored {
			baseErr++
		}
	}
	res.Errors = curErr
	identityFinding(baseline, current, &res)
	if len(baseline) == 0 {
		res.Verdict = Inconclusive
		res.Reason = "no baseline samples"
		return res
	}

	// Past grouping only the counts are needed: the callers' sample slices
	// can be collected while the tests run.
	nCur, nBase := len(current), len(baseline)
	c := newComparer(baseline, current, s)
	c.noLocalise = !localise
	c.res = res
	c.res.Cases = len(c.cases)
	if cal := c.cal.rep; cal != nil {
		c.res.Calibration = cal
		if cal.Lambda > LambdaWarnAt(cal.Runs) {
			c.res.Findings = append(c.res.Findings, calibrationFinding(cal))
		}
	}
	comparable := c.comparable()
	errRate := 0.0
	if nCur > 0 {
		errRate = float64(curErr) / float64(nCur)
	}
	baseErrRate := float64(baseErr) / float64(nBase)

	if len(c.cases) > 0 {
		c.passRate()
		c.behaviour()
		c.mde()
	}
	c.res.Metrics = append(c.res.Metrics, Metric{
		Name: MetricErrorRate, Baseline: baseErrRate, Current: errRate, Delta: errRate - baseErrRate,
	})
	c.decide()

	switch {
	case nCur == 0:
		c.inconclusive("no current samples")
	case errRate > s.MaxErrorRate:
		c.inconclusive(fmt.Sprintf("current error rate %.3f (%d of %d samples errored) exceeds the maximum %.3f",
			errRate, curErr, nCur, s.MaxErrorRate))
	case baseErr == nBase:
		// Said of the baseline: the current side may be fine.
		c.inconclusive(fmt.Sprintf("no comparable baseline samples: all %d baseline samples errored", nBase))
	case comparable < s.MinSamples:
		c.inconclusive(fmt.Sprintf("only %d comparable current samples (errors excluded, cases in the baseline), minimum %d",
			comparable, s.MinSamples))
	}
	return c.res
}

func (c *comparer) inconclusive(reason string) {
	c.res.Verdict = Inconclusive
	c.res.Reason = reason
	for i := range c.res.Findings {
		if c.res.Findings[i].Verdict == Drift {
			c.res.Findings[i].Verdict = Warn
		}
	}
}

func identityFinding(baseline, current []Sample, res *Result) {
	seen := map[string]bool{}
	for i := range baseline {
		if id := baseline[i].Identity; id != "" {
			seen[id] = true
		}
	}
	var added []string
	dup := map[string]bool{}
	for i := range current {
		id := current[i].Identity
		if id != "" && !seen[id] && !dup[id] {
			dup[id] = true
			added = append(added, id)
		}
	}
	if len(added) == 0 || len(baseline) == 0 {
		return
	}
	sort.Strings(added)
	var old []string
	for id := range seen {
		old = append(old, id)
	}
	sort.Strings(old)
	res.IdentityChanged = true
	res.Findings = append(res.Findings, Finding{
		Metric:    MetricIdentity,
		Scope:     ScopeSuite,
		Statistic: "set of sample identities",
		Verdict:   IdentityChanged,
		P:         1,
		Q:         1,
		Reason: fmt.Sprintf("new identity %s not seen in the baseline (baseline: %s); a hint, not an alarm",
			strings.Join(added, ", "), strings.Join(old, ", ")),
	})
}

func ptr(v float64) *float64 { return &v }

// rates returns the per-case rates of bit on both sides and their differences.
func (c *comparer) rates(bit uint8) (r0, r1 float64, d []float64) {
	d = make([]float64, len(c.cases))
	for i, cd := range c.cases {
		a, b := cd.b.rate(bit), cd.c.rate(bit)
		r0 += a
		r1 += b
		d[i] = b - a
	}
	n := float64(len(c.cases))
	return r0 / n, r1 / n, d
}

func (c *comparer) strata(bit uint8) []stratum {
	st := make([]stratum, len(c.cases))
	for i, cd := range c.cases {
		st[i] = stratum{cd.b.count(bit), cd.b.n, cd.c.count(bit), cd.c.n}
	}
	return st
}

// passRate runs the suite pass-rate test (CMH one-sided + sparse collapse,
// min-p with Bonferroni) and the per-case localisation.
func (c *comparer) passRate() {
	s := c.s
	st := c.strata(fPass)
	z, inf := cmh(st)
	zStat := fmt.Sprintf("CMH z=%.2f", z)
	if c.cal.lambda > 1 {
		// A/A calibration (genomic control): night-to-night variation
		// inflates the variance of z by lambda.
		zStat = fmt.Sprintf("CMH z=%.2f (%.2f / sqrt(lambda=%.2f))", z/math.Sqrt(c.cal.lambda), z, c.cal.lambda)
		z /= math.Sqrt(c.cal.lambda)
	}
	c.passZ = z
	c.res.PassZ = z
	pCMH := 1.0
	if inf > 0 {
		pCMH = normCDF(z)
	}
	var sObs, pSparse float64
	cmhP := "one-sided p"
	if s.CMHMonteCarlo {
		// Both p-values from the same draws of the exact null (the staged
		// design's test; the normal CMH p is slightly liberal with few
		// current samples per case).
		mc := passRateMC(st, c.cal.lambda, c.cal.sparse, s.MonteCarlo, rand.New(rand.NewPCG(s.Seed, streamSparse)))
		pCMH, sObs, pSparse = mc.pCMH, mc.s, mc.pSparse
		cmhP = "one-sided Monte Carlo p"
	} else {
		sObs, pSparse = sparseCollapse(st, c.cal.sparse, s.MonteCarlo, rand.New(rand.NewPCG(s.Seed, streamSparse)))
	}
	p := min(1, 2*min(pCMH, pSparse))
	r0, r1, d := c.rates(fPass)
	delta, ci := bootstrapMean(d, s.Bootstrap, rand.New(rand.NewPCG(s.Seed, streamBoot)))
	c.res.Metrics = append(c.res.Metrics, Metric{
		Name: MetricPassRate, Baseline: r0, Current: r1, Delta: delta, CI: &ci, P: ptr(p),
	})
	pUp := 1.0
	if inf > 0 {
		pUp = normCDF(-z)
	}
	c.res.Metrics = append(c.res.Metrics, Metric{
		Name: MetricPassRateUp, Baseline: r0, Current: r1, Delta: delta, CI: &ci, P: ptr(pUp),
	})
	if !c.noLocalise {
		c.localise(d)
	}
	// Effect floor: a suite drop of at least MinPassDelta,
	// or at least one case localised with a drop of at least MinCaseDelta
	// (a sparse collapse of a few cases is practically significant even
	// when the suite mean moves less than the floor).
	floorOK := delta <= -s.MinPassDelta || (delta < 0 && len(c.drifts) > 0)
	c.cands = append(c.cands, candidate{
		testable: inf > 0,
		floorOK:  floorOK,
		f: Finding{
			Metric:    MetricPassRate,
			Scope:     ScopeSuite,
			Statistic: fmt.Sprintf("%s (%s=%.3g) + sparse-collapse S=%.1f (Monte Carlo p=%.3g), min-p x2", zStat, cmhP, pCMH, sObs, pSparse),
			Baseline:  r0, Current: r1, Effect: delta, CI: &ci, P: p,
			Reason:   fmt.Sprintf("pass rate %.3f -> %.3f (delta %+.3f, 95%% CI %+.3f..%+.3f, floor %.3f or a localised case)", r0, r1, delta, ci.Low, ci.High, -s.MinPassDelta),
			Examples: c.flagExamples(d, fPass, false),
		},
	})
}

// localise runs Boschloo per case and BH at QCase. Cases share few distinct
// tables (10/10 against 7/10, say), so each table's p-value is computed once
// per comparison.
func (c *comparer) localise(d []float64) {
	type table struct{ x0, n0, x1, n1 int }
	memo := make(map[table]float64)
	ps := make([]float64, len(c.cases))
	for i, cd := range c.cases {
		ps[i] = 1
		if d[i] >= 0 {
			continue
		}
		t := table{cd.b.count(fPass), cd.b.n, cd.c.count(fPass), cd.c.n}
		p, ok := memo[t]
		if !ok {
			p = BoschlooDrop(t.x0, t.n0, t.x1, t.n1)
			memo[t] = p
		}
		ps[i] = p
	}
	qs := BH(ps)
	type hit struct {
		i int
		q float64
	}
	var hits []hit
	for i := range c.cases {
		if qs[i] <= c.s.QCase && -d[i] >= c.s.MinCaseDelta {
			hits = append(hits, hit{i, qs[i]})
		}
	}
	sort.SliceStable(hits, func(a, b int) bool { return ps[hits[a].i] < ps[hits[b].i] })
	for n, h := range hits {
		cd := c.cases[h.i]
		c.drifts = append(c.drifts, cd.key)
		if n >= maxCaseFindings {
			continue
		}
		x0, x1 := cd.b.count(fPass), cd.c.count(fPass)
		c.res.Findings = append(c.res.Findings, Finding{
			Metric:    MetricCasePass,
			Scope:     ScopeCasePrefix + cd.key,
			Statistic: "Boschloo one-sided (drop), BH over cases",
			Baseline:  cd.b.rate(fPass), Current: cd.c.rate(fPass), Effect: d[h.i],
			P: ps[h.i], Q: h.q, Verdict: Warn,
			Reason: fmt.Sprintf("case %s passed %d/%d in the baseline and %d/%d now (BH q=%.3g <= %.2f, drop >= %.2f)",
				cd.key, x0, cd.b.n, x1, cd.c.n, h.q, c.s.QCase, c.s.MinCaseDelta),
			Examples: []Example{c.example(cd, fPass, false)},
		})
	}
	sort.Strings(c.drifts)
}

// behaviour runs the suite tests other than the pass rate: the behaviour
// rates, length, answers and text.
func (c *comparer) behaviour() {
	c.binary(MetricRefusal, fRefused, "refusal rate")
	c.binary(MetricJSONValid, fJSON, "JSON-valid rate")
	c.binary(MetricCodeFence, fFence, "code-fence rate")
	c.length()
	c.binary(MetricFinishLength, fFinLen, `finish reason "length" rate`)
	if !c.det || !c.s.Stochastic {
		c.answers()
		c.text()
	}
}

// binary runs a two-sided stratified CMH test on a per-sample flag.
func (c *comparer) binary(name string, bit uint8, label string) {
	st := c.strata(bit)
	z, inf := cmh(st)
	p := 1.0
	if inf > 0 {
		p = twoSided(z)
	}
	r0, r1, d := c.rates(bit)
	delta, ci := cltMean(d)
	sum, where := concentration(st, d)
	c.res.Metrics = append(c.res.Metrics, Metric{Name: name, Baseline: r0, Current: r1, Delta: delta, CI: &ci, P: ptr(p)})
	c.cands = append(c.cands, candidate{
		testable: inf > 0,
		floorOK:  math.Abs(delta) >= FloorRate || math.Abs(sum) >= FloorCases && math.Abs(where) >= FloorRate,
		f: Finding{
			Metric: name, Scope: ScopeSuite,
			Statistic: fmt.Sprintf("CMH two-sided z=%.2f", z),
			Baseline:  r0, Current: r1, Effect: delta, CI: &ci, P: p,
			Reason: fmt.Sprintf("%s %.3f -> %.3f (delta %+.3f; %+.3f over the cases where it varies, %.1f cases' worth; floor %.2f over the suite, or over those cases with at least %d cases' worth)",
				label, r0, r1, delta, where, math.Abs(sum), FloorRate, FloorCases),
			Examples: c.flagExamples(d, bit, delta > 0),
		},
	})
}

// concentration measures how concentrated a change of a behaviour rate is.
// sum is the summed per-case rate change (in cases' worth: a case whose
// rate went from 0 to 1 counts 1) and where is that sum divided by the
// number of cases where the behaviour varies (seen on some samples but not
// on all of both sides: the CMH-informative strata; elsewhere the change is
// 0). A mixed suite whose JSON prompts are a quarter of its cases can change
// its code-fence rate on 15% of those prompts by less than FloorRate over
// the suite; over the cases where fences occur the change is large.
// A change spread thinly over every case stays small on that measure unless
// the rate changes by at least 0.1*k times its level (50% more refusals at
// k=5).
func concentration(st []stratum, d []float64) (sum, where float64) {
	n := 0
	for i, s := range st {
		if t := s.x0 + s.x1; t > 0 && t < s.n0+s.n1 {
			n++
			sum += d[i]
		}
	}
	if n == 0 {
		return 0, 0
	}
	return sum, sum / float64(n)
}

func median(v []float64) float64 {
	if len(v) == 0 {
		return 0
	}
	w := append([]float64(nil), v...)
	sort.Float64s(w)
	n := len(w)
	if n%2 == 1 {
		return w[n/2]
	}
	return (w[n/2-1] + w[n/2]) / 2
}

// length runs the paired Wilcoxon signed-rank test on the log ratio of the
// per-case median lengths.
func (c *comparer) length() {
	d := make([]float64, len(c.cases))
	var s0, s1 float64
	for i, cd := range c.cases {
		m0, m1 := median(cd.b.tokens()), median(cd.c.tokens())
		s0 += m0
		s1 += m1
		d[i] = math.Log((m1 + 1) / (m0 + 1))
	}
	_, z, p, n := WilcoxonSignedRank(d)
	nc := float64(len(c.cases))
	rel := 0.0
	if s0 > 0 {
		rel = s1/s0 - 1
	}
	c.res.Metrics = append(c.res.Metrics, Metric{Name: MetricLength, Baseline: s0 / nc, Current: s1 / nc, Delta: (s1 - s0) / nc, P: ptr(p)})
	c.cands = append(c.cands, candidate{
		testable: n > 0,
		floorOK:  math.Abs(rel) >= FloorLength,
		f: Finding{
			Metric: MetricLength, Scope: ScopeSuite,
			Statistic: fmt.Sprintf("Wilcoxon signed-rank on per-case median log-length ratio, z=%.2f, %d cases changed", z, n),
			Baseline:  s0 / nc, Current: s1 / nc, Effect: rel, P: p,
			Reason: fmt.Sprintf("mean per-case median length %.1f -> %.1f tokens (relative change %+.1f%%, floor %.0f%%)",
				s0/nc, s1/nc, 100*rel, 100*FloorLength),
			Examples: c.topExamples(d, true),
		},
	})
}

// answers tests the answer distribution.
func (c *comparer) answers() {
	var pcs []permCase
	var idx []int
	m := 0
	score := make([]float64, len(c.cases))
	changed := 0
	for i, cd := range c.cases {
		b, a := cd.b.answers(), cd.c.answers()
		if len(b) == 0 || len(a) == 0 {
			continue
		}
		m++
		if c.det {
			if b[0] != a[0] {
				changed++
				score[i] = 1
			}
			continue
		}
		ids := map[string]int{}
		cat := make([]int, 0, len(b)+len(a))
		for _, x := range append(append([]string(nil), b...), a...) {
			g, ok := ids[x]
			if !ok {
				g = len(ids)
				ids[x] = g
			}
			cat = append(cat, g)
		}
		if len(ids) < 2 {
			continue
		}
		pcs = append(pcs, permCase{n: len(cat), n1: len(a), cat: cat, ncat: len(ids)})
		idx = append(idx, i)
	}
	if m == 0 {
		return
	}
	fm := float64(m)
	var cand candidate
	if c.det {
		p := binomUpper(changed, m, c.s.DeterministicNoise)
		eff := float64(changed) / fm
		cand = candidate{testable: changed > 0, floorOK: eff >= FloorAnswer, f: Finding{
			Metric: MetricAnswer, Scope: ScopeSuite,
			Statistic: fmt.Sprintf("changed answers %d of %d cases (k=1, binomial against noise %.3f)", changed, m, c.s.DeterministicNoise),
			Baseline:  0, Current: eff, Effect: eff, P: p,
			Reason: fmt.Sprintf("answer changed on %d of %d cases (%.1f%%, floor %.0f%%)", changed, m, 100*eff, 100*FloorAnswer),
		}}
	} else {
		r := permTest(pcs, c.s.Permutations, c.s.Seed, streamAnswer)
		for j, i := range idx {
			score[i] = r.caseObs[j]
		}
		eff := (r.obs - r.nullMean) / fm
		cand = candidate{testable: len(pcs) > 0, floorOK: eff >= FloorAnswer, f: Finding{
			Metric: MetricAnswer, Scope: ScopeSuite,
			Statistic: fmt.Sprintf("sum of per-case total-variation distances, within-case permutation (%d permutations)", r.perms),
			Baseline:  r.nullMean / fm, Current: r.obs / fm, Effect: eff, P: r.p,
			Reason: fmt.Sprintf("mean per-case answer TV distance %.3f vs %.3f expected from noise (excess %.3f, floor %.2f)",
				r.obs/fm, r.nullMean/fm, eff, FloorAnswer),
		}}
	}
	cand.f.Examples = c.topExamples(score, false)
	c.res.Metrics = append(c.res.Metrics, Metric{Name: MetricAnswer, Baseline: cand.f.Baseline, Current: cand.f.Current, Delta: cand.f.Effect, P: ptr(cand.f.P)})
	c.cands = append(c.cands, cand)
}

// detSimilarity is the n-gram cosine below which a k=1 output counts as
// changed in substance.
const detSimilarity = 0.8

// text tests the free-text distribution: per-case MMD^2 with a character
// 3-5-gram cosine kernel, summed over cases, within-case permutation null;
// without replicates, the count of changed normalised outputs.
func (c *comparer) text() {
	score := make([]float64, len(c.cases))
	var cand candidate
	if c.det {
		cand = c.textDeterministic(score)
	} else {
		cand = c.textSampled(score)
	}
	cand.f.Examples = c.topExamples(score, false)
	c.res.Metrics = append(c.res.Metrics, Metric{Name: MetricText, Baseline: cand.f.Baseline, Current: cand.f.Current, Delta: cand.f.Effect, P: ptr(cand.f.P)})
	c.cands = append(c.cands, cand)
}

// textDeterministic is the text finding of k=1 deterministic runs; it
// scores each case 1 when its output changed.
func (c *comparer) textDeterministic(score []float64) candidate {
	m := len(c.cases)
	fm := float64(m)
	// A case counts as changed when its output differs in substance:
	// not only in whitespace, and with a character n-gram similarity
	// below detSimilarity, so token-level nondeterminism of "temperature
	// 0" endpoints (a synonym, a reordered clause) is not counted.
	changed := 0
	var pairs [][]string
	var idx []int
	for i, cd := range c.cases {
		if normText(cd.b.outputs()[0]) != normText(cd.c.outputs()[0]) {
			pairs = append(pairs, []string{cd.b.outputs()[0], cd.c.outputs()[0]})
			idx = append(idx, i)
		}
	}
	for j, k := range kernels(pairs) {
		if float64(k[1]) < detSimilarity {
			changed++
			score[idx[j]] = 1
		}
	}
	p := binomUpper(changed, m, c.s.DeterministicNoise)
	eff := float64(changed) / fm
	return candidate{testable: changed > 0, floorOK: eff >= FloorChanged, f: Finding{
		Metric: MetricText, Scope: ScopeSuite,
		Statistic: fmt.Sprintf("changed outputs %d of %d cases (k=1, whitespace-normalised exact match, binomial against noise %.3f)", changed, m, c.s.DeterministicNoise),
		Baseline:  0, Current: eff, Effect: eff, P: p,
		Reason: fmt.Sprintf("output changed on %d of %d cases (%.1f%%, floor %.0f%%)", changed, m, 100*eff, 100*FloorChanged),
	}}
}

// textSampled is the text finding of sampled runs: per-case MMD² of the
// outputs' character n-gram kernel, tested by within-case permutation; it
// scores each case by its observed MMD².
func (c *comparer) textSampled(score []float64) candidate {
	fm := float64(len(c.cases))
	var groups [][]string
	var idx []int
	var n1s []int
	for i, cd := range c.cases {
		b := cd.b.outputs()[:min(len(cd.b.outputs()), maxTextPerSide)]
		a := cd.c.outputs()[:min(len(cd.c.outputs()), maxTextPerSide)]
		same := true
		for _, x := range append(b[1:], a...) {
			if x != b[0] {
				same = false
				break
			}
		}
		if same {
			continue
		}
		groups = append(groups, append(append(make([]string, 0, len(a)+len(b)), b...), a...))
		idx = append(idx, i)
		n1s = append(n1s, len(a))
	}
	ks := kernels(groups)
	pcs := make([]permCase, len(groups))
	var gapSum, wSum, xSum float64
	for j, k := range ks {
		n, n1 := len(groups[j]), n1s[j]
		pcs[j] = permCase{n: n, n1: n1, kern: k}
		within, x := mmdParts(k, n, n1)
		gapSum += within - x
		wSum += within
		xSum += x
	}
	// Cases with identical outputs everywhere have within = cross = 1.
	same := fm - float64(len(groups))
	wMean, xMean, gap := (wSum+same)/fm, (xSum+same)/fm, gapSum/fm
	r := permTest(pcs, c.s.Permutations, c.s.Seed, streamText)
	for j, i := range idx {
		score[i] = r.caseObs[j]
	}
	return candidate{testable: len(pcs) > 0, floorOK: gap >= c.s.MinSimilarityGap, f: Finding{
		Metric: MetricText, Scope: ScopeSuite,
		Statistic: fmt.Sprintf("sum of per-case MMD^2 (char 3-5-gram cosine kernel), within-case permutation (%d permutations), MMD^2 sum %.3f vs null %.3f", r.perms, r.obs, r.nullMean),
		Baseline:  wMean, Current: xMean, Effect: gap, P: r.p,
		Reason: fmt.Sprintf("mean within-version similarity %.3f, cross-version %.3f (gap %.3f, floor %.2f)",
			wMean, xMean, gap, c.s.MinSimilarityGap),
	}}
}

// mmdParts are a case's mean kernel similarity within versions (the mean
// of the baseline's and the current's, or of whichever has two samples; 1
// when neither has) and across them, from its n×n kernel whose last n1
// rows are the current version's samples.
func mmdParts(k []float32, n, n1 int) (within, cross float64) {
	n0 := n - n1
	var wb, wc, x float64
	for r := range n {
		for q := range n {
			v := float64(k[r*n+q])
			switch {
			case r < n0 && q < n0 && r != q:
				wb += v
			case r >= n0 && q >= n0 && r != q:
				wc += v
			case r < n0 && q >= n0:
				x += v
			}
		}
	}
	cross = x / float64(n0*n1)
	switch {
	case n0 > 1 && n1 > 1:
		within = (wb/float64(n0*(n0-1)) + wc/float64(n1*(n1-1))) / 2
	case n0 > 1:
		within = wb / float64(n0*(n0-1))
	case n1 > 1:
		within = wc / float64(n1*(n1-1))
	default:
		within = 1
	}
	return within, cross
}

// mde estimates the minimum detectable pass-rate drop from the baseline.
func (c *comparer) mde() { c.res.MDE = c.passMDE() }

// passNoise accumulates the per-case pass-rate noise v-bar (the mean of
// p_i(1-p_i), unbiased where a case has replicates) and the samples.
type passNoise struct {
	v, pbar, k float64
	cases      int
	repl       bool
}

// add counts a case with pass rate p over n samples.
func (a *passNoise) add(p float64, n int) {
	a.pbar += p
	a.k += float64(n)
	a.cases++
	if n > 1 {
		a.repl = true
		a.v += p * (1 - p) * float64(n) / float64(n-1)
	}
}

// vbar is the mean noise; without replicates it cannot be estimated, and
// the upper bound pbar(1-pbar) stands in.
func (a *passNoise) vbar() float64 {
	n := float64(a.cases)
	if !a.repl {
		return a.pbar / n * (1 - a.pbar/n)
	}
	return a.v / n
}

// decide applies Holm (alarms) and BH (warnings) over the suite family.
func (c *comparer) decide() {
	var ps []float64
	var ix []int
	for i, cd := range c.cands {
		if cd.testable {
			ps = append(ps, cd.f.P)
			ix = append(ix, i)
		}
	}
	holm, bh := Holm(ps), BH(ps)
	var drift, warn []Finding
	var names []string
	for j, i := range ix {
		cd := c.cands[i]
		f := cd.f
		f.Q = holm[j]
		switch {
		case holm[j] <= c.s.AlphaFamily && cd.floorOK:
			f.Verdict = Drift
			f.Reason += fmt.Sprintf("; Holm q=%.3g <= %.3g", f.Q, c.s.AlphaFamily)
			drift = append(drift, f)
			names = append(names, fmt.Sprintf("%s (effect %+.3f, q=%.2g)", f.Metric, f.Effect, f.Q))
		case bh[j] <= c.s.QWarn:
			f.Verdict = Warn
			if holm[j] <= c.s.AlphaFamily {
				f.Reason += fmt.Sprintf("; significant (Holm q=%.3g) but below the effect floor", f.Q)
			} else {
				f.Reason += fmt.Sprintf("; BH q=%.3g <= %.2f but Holm q=%.3g > %.3g", bh[j], c.s.QWarn, f.Q, c.s.AlphaFamily)
			}
			warn = append(warn, f)
		}
	}
	sort.SliceStable(drift, func(a, b int) bool { return drift[a].Q < drift[b].Q })
	sort.SliceStable(warn, func(a, b int) bool { return warn[a].Q < warn[b].Q })
	out := append(append(drift, warn...), c.res.Findings...)
	c.res.Findings = out
	c.res.DriftedCases = append([]string{}, c.drifts...)
	if len(drift) > 0 {
		c.res.Verdict = Drift
		c.res.Reason = "drift in " + strings.Join(names, ", ")
		for i := range c.res.Findings {
			if c.res.Findings[i].Metric == MetricCasePass {
				c.res.Findings[i].Verdict = Drift
			}
		}
		return
	}
	c.res.Verdict = Stable
	c.res.Reason = fmt.Sprintf("no suite-level test survived Holm at %.3g together with its effect floor (%d tests)", c.s.AlphaFamily, len(ps))
}

// example returns a before/after pair for a case: a baseline sample without
// the flag and a current sample with it when up (and the reverse when not).
func (c *comparer) example(cd *caseData, bit uint8, up bool) Example {
	pick := func(d *sideData, want bool) string {
		for i, f := range d.flags() {
			if (f&bit != 0) == want {
				return d.outputs()[i]
			}
		}
		if len(d.outputs()) > 0 {
			return d.outputs()[0]
		}
		return ""
	}
	return Example{
		Case:     cd.key,
		Baseline: truncate(pick(&cd.b, !up), exampleRunes),
		Current:  truncate(pick(&cd.c, up), exampleRunes),
	}
}

// flagExamples picks up to 3 cases whose flag rate moved most in the
// direction up (up: increase).
func (c *comparer) flagExamples(d []float64, bit uint8, up bool) []Example {
	sign := -1.0
	if up {
		sign = 1
	}
	var out []Example
	for _, i := range topIdx(d, sign) {
		out = append(out, c.example(c.cases[i], bit, up))
	}
	return out
}

// topExamples picks up to 3 cases with the largest score (abs: |score|),
// showing the first output of each side.
func (c *comparer) topExamples(score []float64, abs bool) []Example {
	v := score
	if abs {
		v = make([]float64, len(score))
		for i, x := range score {
			v[i] = math.Abs(x)
		}
	}
	var out []Example
	for _, i := range topIdx(v, 1) {
		cd := c.cases[i]
		out = append(out, Example{Case: cd.key,
			Baseline: truncate(cd.b.outputs()[0], exampleRunes),
			Current:  truncate(cd.c.outputs()[0], exampleRunes)})
	}
	return out
}

// topIdx returns up to 3 indices with the largest positive sign*v.
func topIdx(v []float64, sign float64) []int {
	var idx []int
	for i, x := range v {
		if sign*x > 0 {
			idx = append(idx, i)
		}
	}
	sort.SliceStable(idx, func(a, b int) bool { return sign*v[idx[a]] > sign*v[idx[b]] })
	return idx[:min(3, len(idx))]
}
