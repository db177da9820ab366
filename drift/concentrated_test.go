package drift

import (
	"fmt"
	"math/rand/v2"
	"testing"

	"github.com/stretchr/testify/require"
)

// flagSuite simulates a mixed suite of n cases with k samples per side in
// which flag rates are set per case: base(i) in the baseline, cur(i) now.
// Every case passes; only the flag set by set varies.
func flagSuite(seed uint64, n, k int, base, cur func(i int) float64, set func(*Sample)) (b, c []Sample) {
	rng := rand.New(rand.NewPCG(seed, 5))
	side := func(rate func(int) float64) []Sample {
		var out []Sample
		for i := range n {
			for j := range k {
				s := Sample{Case: fmt.Sprintf("c%04d", i), Index: j, Passed: true, Tokens: 40,
					Output: fmt.Sprintf("output of case %d", i), FinishReason: "stop", Identity: "id"}
				if rng.Float64() < rate(i) {
					set(&s)
				}
				out = append(out, s)
			}
		}
		return out
	}
	return side(base), side(cur)
}

func fenced(s *Sample) {
	s.CodeFence = true
	s.Output = "```json\n" + s.Output + "\n```"
}

func refused(s *Sample) {
	s.Refused = true
	s.Passed = false
	s.Output = "I'm sorry, but I can't help with that."
}

// TestBinaryFloorConcentratedChange: the floor of a behaviour rate is five
// points over the suite, or five points over the cases where the behaviour
// occurs when at least FloorCases cases' worth of samples changed. A change
// confined to a group of prompts of a mixed suite (fences on 15% of its JSON
// prompts, refusals up on a fifth of its sensitive ones) is DRIFT although it
// moves the suite mean by less than five points; a small change spread over
// every case, or one case flipping, is not.
func TestBinaryFloorConcentratedChange(t *testing.T) {
	t.Parallel()
	s := Settings{Permutations: 99, MonteCarlo: 1000, Bootstrap: 200}
	tests := []struct {
		name      string
		n, k      int
		base, cur func(i int) float64
		set       func(*Sample)
		metric    string
		drift     bool
	}{
		{
			// 100 JSON prompts of 400 (fence habits vary), 14 of them fenced now.
			name: "fences on 14 of 400 cases", n: 400, k: 5, set: fenced, metric: MetricCodeFence, drift: true,
			base: func(i int) float64 { return jsonFence(i) },
			cur: func(i int) float64 {
				if i >= 300 && i < 314 {
					return 0.85
				}
				return jsonFence(i)
			},
		},
		{
			// 100 sensitive prompts of 400 refused now and then; 15 of the
			// rarely refused ones are refused most of the time now.
			name: "refusals up on 15 of 400 cases", n: 400, k: 5, set: refused, metric: MetricRefusal, drift: true,
			base: sensitiveRefusal,
			cur: func(i int) float64 {
				if i >= 300 && i%7 == 0 {
					return 0.75
				}
				return sensitiveRefusal(i)
			},
		},
		{
			// Refusals from 2% to 2.6% on every case: significant with
			// 6,000 cases, but a change spread thin, not a concentrated one.
			name: "refusals +0.6 points everywhere", n: 6000, k: 5, set: refused, metric: MetricRefusal,
			base: func(int) float64 { return 0.02 },
			cur:  func(int) float64 { return 0.026 },
		},
		{
			// One deterministic case starts fencing every sample.
			name: "one case flips", n: 200, k: 10, set: fenced, metric: MetricCodeFence,
			base: func(int) float64 { return 0 },
			cur: func(i int) float64 {
				if i == 7 {
					return 1
				}
				return 0
			},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			s := s // parallel subtests: each sets its own seed
			for seed := range uint64(5) {
				b, c := flagSuite(seed, tt.n, tt.k, tt.base, tt.cur, tt.set)
				s.Seed = seed
				r := Compare(b, c, s)
				f := findMetric(r, tt.metric)
				require.NotNil(t, f, "seed %d: no %s finding: %s", seed, tt.metric, r.Reason)
				if tt.drift {
					require.Equal(t, Drift, f.Verdict, "seed %d: %s", seed, f.Reason)
					continue
				}
				require.NotEqual(t, Drift, f.Verdict, "seed %d: %s", seed, f.Reason)
			}
		})
	}
}

// jsonFence is a fence habit: cases 300-399 are JSON prompts, most rarely
// fenced, some often.
func jsonFence(i int) float64 {
	switch {
	case i < 300:
		return 0
	case i%10 == 0:
		return 0.6
	case i%5 == 0:
		return 0.15
	default:
		return 0.02
	}
}

// sensitiveRefusal: cases 300-399 are sensitive prompts, refused at 1-30%.
func sensitiveRefusal(i int) float64 {
	if i < 300 {
		return 0
	}
	return 0.01 + 0.29*float64(i%7)/6
}

// findMetric returns the suite-scope finding of metric (nil when the test
// was neither DRIFT nor WARN).
func findMetric(r Result, metric string) *Finding {
	for i := range r.Findings {
		if f := &r.Findings[i]; f.Metric == metric && f.Scope == ScopeSuite {
			return f
		}
	}
	return nil
}
