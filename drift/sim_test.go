package drift

import (
	"flag"
	"fmt"
	"math/rand/v2"
	"strings"
)

var longCalibration = flag.Bool("drift.long", false, "run the long calibration (500 trials per scenario) and print the rates")

// simCase is one case of the simulated LLM suite.
type simCase struct {
	key    string
	p      float64 // true pass probability
	refuse float64 // refusal propensity
	words  []string
	answer string
	wrong  []string
	json   bool
	fenced bool
	finLen float64
	extra  []string // text added when the model gets verbose
	noise  float64  // per-word substitution rate (within-version text noise)
}

// effect is a behaviour change applied to the current run.
type effect struct {
	passDrop   map[int]float64 // case index -> absolute drop of p
	allDrop    float64
	refusalAdd float64
	verbose    bool // length x1.5, same answers
	fence      bool // answers wrapped in code fences
	changed    map[int]bool
	fenceCases map[int]bool    // these cases' answers wrapped in code fences
	refuseAdd  map[int]float64 // case index -> added refusal probability
}

var vocab = strings.Fields(`the a model answer result value because therefore we compute first then
finally check number list string function return input output step note case example data simple
sum total given so thus value item order first second third clear short long correct`)

func newSuite(rng *rand.Rand, n int, det bool) []simCase {
	cs := make([]simCase, n)
	for i := range cs {
		c := &cs[i]
		c.key = fmt.Sprintf("case-%03d", i)
		u := rng.Float64()
		switch {
		case u < 0.6:
			c.p = 0.98
		case u < 0.8:
			c.p = 0.05
		default:
			c.p = 0.2 + 0.6*rng.Float64()
		}
		if rng.Float64() < 0.2 {
			c.refuse = 0.05 * rng.Float64()
		}
		l := 20 + rng.IntN(60)
		for range l {
			c.words = append(c.words, vocab[rng.IntN(len(vocab))])
		}
		for range l / 2 {
			c.extra = append(c.extra, vocab[rng.IntN(len(vocab))])
		}
		c.answer = fmt.Sprintf("A%d", rng.IntN(1000))
		for j := range 3 {
			c.wrong = append(c.wrong, fmt.Sprintf("W%d-%d", j, rng.IntN(1000)))
		}
		c.json = rng.Float64() < 0.2
		c.fenced = rng.Float64() < 0.1
		c.finLen = 0.01
		c.noise = 0.1
		if det {
			c.refuse, c.finLen, c.noise = 0, 0, 0
			if c.p > 0.05 && c.p < 0.98 {
				c.p = float64(rng.IntN(2))
			}
		}
	}
	return cs
}

// run generates k samples per case.
func run(rng *rand.Rand, cs []simCase, k int, eff effect, det bool) []Sample {
	out := make([]Sample, 0, len(cs)*k)
	for i := range cs {
		c := &cs[i]
		p := c.p - eff.allDrop - eff.passDrop[i]
		for j := range k {
			s := Sample{Case: c.key, Index: j, Identity: "model-v1", FinishReason: "stop"}
			if !det && rng.Float64() < c.refuse+eff.refusalAdd+eff.refuseAdd[i] {
				s.Refused = true
				s.Output = "I'm sorry, but I can't help with that request."
				s.Tokens = 11
				out = append(out, s)
				continue
			}
			var pass bool
			if det {
				pass = c.p >= 0.5
				if eff.changed[i] {
					pass = !pass
				}
			} else {
				pass = rng.Float64() < p
			}
			s.Passed = pass
			s.Answer, s.HasAnswer = c.answer, true
			if !pass {
				s.Answer = c.wrong[0]
				if !det {
					s.Answer = c.wrong[rng.IntN(len(c.wrong))]
				}
			}
			words := make([]string, 0, len(c.words)*2)
			for _, w := range c.words {
				if c.noise > 0 && rng.Float64() < c.noise {
					w = vocab[rng.IntN(len(vocab))]
				}
				words = append(words, w)
			}
			if eff.verbose {
				words = append(words, c.extra...)
				words = append(words, c.words[:len(c.words)/5]...)
			}
			body := strings.Join(words, " ") + ". The answer is " + s.Answer + "."
			if c.json {
				body = `{"answer": "` + s.Answer + `", "reasoning": "` + strings.Join(words, " ") + `"}`
				s.JSONValid = true
			}
			if c.fenced || eff.fence || eff.fenceCases[i] {
				body = "```\n" + body + "\n```"
				s.CodeFence = true
			}
			s.Output = body
			s.Tokens = len(words) + 4
			if rng.Float64() < c.finLen {
				s.FinishReason = "length"
			}
			out = append(out, s)
		}
	}
	return out
}

// scenario is one calibration cell.
type scenario struct {
	name    string
	det     bool
	k       int
	effect  func(rng *rand.Rand, cs []simCase) effect
	metric  string // the metric that must be named in a DRIFT finding ("" for A/A)
	notName string // a metric that must not be a DRIFT finding
}

func collapse(rng *rand.Rand, cs []simCase) effect {
	var hi []int
	for i, c := range cs {
		if c.p >= 0.6 {
			hi = append(hi, i)
		}
	}
	rng.Shuffle(len(hi), func(a, b int) { hi[a], hi[b] = hi[b], hi[a] })
	e := effect{passDrop: map[int]float64{}}
	for _, i := range hi[:len(cs)/20] {
		e.passDrop[i] = 0.6
	}
	return e
}

// group picks 4% of the cases (8 of 200) that are not fenced already: a
// change confined to a group of prompts, below five points over the suite.
func group(rng *rand.Rand, cs []simCase) []int {
	var out []int
	for _, i := range rng.Perm(len(cs)) {
		if !cs[i].fenced && len(out) < len(cs)/25 {
			out = append(out, i)
		}
	}
	return out
}

func detChange(rng *rand.Rand, cs []simCase) effect {
	e := effect{changed: map[int]bool{}}
	for _, i := range rng.Perm(len(cs))[:len(cs)/20] {
		e.changed[i] = true
	}
	return e
}

var scenarios = []scenario{
	{name: "A/A", k: 5, effect: func(*rand.Rand, []simCase) effect { return effect{} }},
	{name: "5% collapse by 0.6", k: 5, effect: collapse, metric: MetricPassRate},
	{name: "uniform drop 5pp", k: 5, effect: func(*rand.Rand, []simCase) effect { return effect{allDrop: 0.05} }, metric: MetricPassRate},
	{name: "refusal +0.2", k: 5, effect: func(*rand.Rand, []simCase) effect { return effect{refusalAdd: 0.2} }, metric: MetricRefusal},
	{name: "verbosity x1.5", k: 5, effect: func(*rand.Rand, []simCase) effect { return effect{verbose: true} }, metric: MetricLength, notName: MetricPassRate},
	{name: "code fences", k: 5, effect: func(*rand.Rand, []simCase) effect { return effect{fence: true} }, metric: MetricCodeFence, notName: MetricPassRate},
	{name: "fences on 4% of cases", k: 5, effect: func(rng *rand.Rand, cs []simCase) effect {
		e := effect{fenceCases: map[int]bool{}}
		for _, i := range group(rng, cs) {
			e.fenceCases[i] = true
		}
		return e
	}, metric: MetricCodeFence, notName: MetricPassRate},
	{name: "refusal +0.6 on 4% of cases", k: 5, effect: func(rng *rand.Rand, cs []simCase) effect {
		e := effect{refuseAdd: map[int]float64{}}
		for _, i := range group(rng, cs) {
			e.refuseAdd[i] = 0.6
		}
		return e
	}, metric: MetricRefusal},
	{name: "k=1 deterministic A/A", det: true, k: 1, effect: func(*rand.Rand, []simCase) effect { return effect{} }},
	{name: "k=1 deterministic 5% answers changed", det: true, k: 1, effect: detChange, metric: MetricAnswer},
}

// trial simulates one baseline (3 pooled nights of k) and one current run.
func trial(sc scenario, seed uint64, s Settings) Result {
	rng := rand.New(rand.NewPCG(seed, 77))
	cs := newSuite(rng, 200, sc.det)
	nights := 3
	if sc.det {
		nights = 1
	}
	var base []Sample
	for range nights {
		base = append(base, run(rng, cs, sc.k, effect{}, sc.det)...)
	}
	cur := run(rng, cs, sc.k, sc.effect(rng, cs), sc.det)
	s.Seed = seed
	return Compare(base, cur, s)
}

func driftNames(r Result) map[string]bool {
	m := map[string]bool{}
	for _, f := range r.Findings {
		if f.Verdict == Drift && f.Scope == ScopeSuite {
			m[f.Metric] = true
		}
	}
	return m
}
