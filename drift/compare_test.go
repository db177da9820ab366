package drift

import (
	"fmt"
	"math/rand/v2"
	"runtime"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"
)

// mk builds n cases with k samples each; pass decides each sample.
func mk(n, k int, pass func(c, j int) bool, mod func(*Sample)) []Sample {
	var out []Sample
	for c := range n {
		for j := range k {
			s := Sample{Case: fmt.Sprintf("c%03d", c), Index: j, Passed: pass(c, j),
				Output: fmt.Sprintf("output of case %d", c), Tokens: 50, FinishReason: "stop", Identity: "id-1"}
			if mod != nil {
				mod(&s)
			}
			out = append(out, s)
		}
	}
	return out
}

func all(v bool) func(int, int) bool { return func(int, int) bool { return v } }

func TestCompareEdgeCases(t *testing.T) {
	t.Parallel()
	fast := Settings{Seed: 1, Permutations: 99, MonteCarlo: 500, Bootstrap: 100}
	tests := []struct {
		name       string
		base, cur  []Sample
		verdict    Verdict
		reason     string // substring
		identity   bool
		driftNames []string
	}{
		{name: "all pass identical", base: mk(50, 3, all(true), nil), cur: mk(50, 3, all(true), nil), verdict: Stable},
		{name: "all fail identical", base: mk(50, 3, all(false), nil), cur: mk(50, 3, all(false), nil), verdict: Stable},
		{name: "zero variance k=1", base: mk(100, 1, all(true), nil), cur: mk(100, 1, all(true), nil), verdict: Stable},
		{name: "one case", base: mk(1, 30, all(true), nil), cur: mk(1, 30, all(true), nil), verdict: Stable},
		{name: "one case collapse", base: mk(1, 30, all(true), nil), cur: mk(1, 30, all(false), func(s *Sample) { s.Output = "wrong" }),
			verdict: Drift, driftNames: []string{MetricPassRate}},
		{name: "empty baseline", base: nil, cur: mk(50, 3, all(true), nil), verdict: Inconclusive, reason: "no baseline samples"},
		{name: "all errored", base: mk(50, 3, all(true), nil), cur: mk(50, 3, all(true), func(s *Sample) { s.Errored = true }),
			verdict: Inconclusive, reason: "error rate 1.000 (150 of 150"},
		{name: "too few samples", base: mk(5, 3, all(true), nil), cur: mk(5, 3, all(true), nil), verdict: Inconclusive, reason: "only 15 comparable"},
		{name: "disjoint cases", base: mk(50, 3, all(true), nil), cur: mk(50, 3, all(true), func(s *Sample) { s.Case += "x" }),
			verdict: Inconclusive, reason: "only 0 comparable"},
		{name: "identity changed only", base: mk(50, 3, all(true), nil), cur: mk(50, 3, all(true), func(s *Sample) { s.Identity = "id-2" }),
			verdict: Stable, identity: true},
		{name: "all cases fail now", base: mk(50, 3, all(true), nil), cur: mk(50, 3, all(false), nil),
			verdict: Drift, driftNames: []string{MetricPassRate}},
		{name: "fence change named", base: mk(60, 3, all(true), nil), cur: mk(60, 3, all(true), func(s *Sample) {
			s.CodeFence = true
			s.Output = "```\n" + s.Output + "\n```"
		}), verdict: Drift, driftNames: []string{MetricCodeFence}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			r := Compare(tt.base, tt.cur, fast)
			require.Equal(t, tt.verdict, r.Verdict, r.Reason)
			require.Contains(t, r.Reason, tt.reason)
			require.Equal(t, tt.identity, r.IdentityChanged)
			names := driftNames(r)
			for _, n := range tt.driftNames {
				require.True(t, names[n], "want %s in %v", n, names)
			}
			if tt.verdict == Drift {
				require.NotEmpty(t, r.Findings[0].Examples)
			}
			if tt.identity {
				require.Equal(t, MetricIdentity, r.Findings[len(r.Findings)-1].Metric)
				require.Equal(t, IdentityChanged, r.Findings[len(r.Findings)-1].Verdict)
			}
			if tt.verdict != Inconclusive || len(tt.base) > 0 {
				got := map[string]bool{}
				for _, m := range r.Metrics {
					got[m.Name] = true
				}
				if r.Cases > 0 {
					for _, n := range []string{MetricPassRate, MetricRefusal, MetricJSONValid, MetricCodeFence, MetricLength, MetricErrorRate, MetricFinishLength} {
						require.True(t, got[n], n)
					}
				}
			}
		})
	}
}

func TestCompareLocalisesAndIsDeterministic(t *testing.T) {
	t.Parallel()
	base := mk(100, 10, func(c, j int) bool { return c%2 == 0 || j < 9 }, nil)
	cur := mk(100, 10, func(c, j int) bool {
		if c < 5 {
			return false
		}
		return c%2 == 0 || j < 9
	}, nil)
	s := Settings{Seed: 7, Permutations: 99, MonteCarlo: 1000, Bootstrap: 200}
	r := Compare(base, cur, s)
	require.Equal(t, Drift, r.Verdict, r.Reason)
	require.Equal(t, []string{"c000", "c001", "c002", "c003", "c004"}, r.DriftedCases)
	cases := 0
	for _, f := range r.Findings {
		if f.Metric == MetricCasePass {
			cases++
			require.True(t, strings.HasPrefix(f.Scope, ScopeCasePrefix))
			require.LessOrEqual(t, f.Q, 0.10)
		}
	}
	require.Equal(t, 5, cases)
	require.Negative(t, r.PassZ)
	require.Positive(t, r.MDE)
	require.Equal(t, r, Compare(base, cur, s))
}

func TestCompareDefaultsSmoke(t *testing.T) {
	t.Parallel()
	for _, sc := range []scenario{scenarios[0], scenarios[2]} {
		r := trial(sc, 42, Settings{})
		if sc.metric == "" {
			require.Equal(t, Stable, r.Verdict, r.Reason)
		} else {
			require.Equal(t, Drift, r.Verdict, r.Reason)
			require.True(t, driftNames(r)[sc.metric])
		}
	}
}

func benchSamples(cases, k int) (base, cur []Sample) {
	rng := rand.New(rand.NewPCG(3, 4))
	cs := newSuite(rng, cases, false)
	for i := range cs {
		cs[i].key = fmt.Sprintf("case-%06d", i)
	}
	return run(rng, cs, k, effect{}, false), run(rng, cs, k, effect{allDrop: 0.02}, false)
}

func benchCompare(b *testing.B, cases, k int) {
	base, cur := benchSamples(cases, k)
	runtime.GC()
	var before runtime.MemStats
	runtime.ReadMemStats(&before)
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; b.Loop(); i++ {
		Compare(base, cur, Settings{Seed: uint64(i)})
	}
	b.StopTimer()
	var after runtime.MemStats
	runtime.ReadMemStats(&after)
	b.ReportMetric(float64(after.TotalAlloc-before.TotalAlloc)/float64(b.N)/1e6, "MB-alloc/op")
	b.ReportMetric(float64(after.Sys)/1e6, "MB-sys")
}

func BenchmarkCompare10kx5(b *testing.B) { benchCompare(b, 10000, 5) }
func BenchmarkCompare100k(b *testing.B)  { benchCompare(b, 20000, 5) }

// TestStochasticK1SkipsChangeTests: with k=1 on both sides and sampled
// outputs, answers that differ between nights are expected noise, not drift.
func TestStochasticK1SkipsChangeTests(t *testing.T) {
	t.Parallel()
	var base, cur []Sample
	for i := range 200 {
		key := fmt.Sprintf("c%03d", i)
		pass := i%3 != 0
		base = append(base, Sample{Case: key, Passed: pass, Output: fmt.Sprintf("answer %d, take one", i), Answer: fmt.Sprint(i), HasAnswer: true, Tokens: 5})
		// Every output and a third of the answers differ, pass rates do not.
		ans := fmt.Sprint(i)
		if i%3 == 1 {
			ans = fmt.Sprint(i + 1000)
		}
		cur = append(cur, Sample{Case: key, Passed: pass, Output: fmt.Sprintf("the answer is %d (take two)", i), Answer: ans, HasAnswer: true, Tokens: 5})
	}
	det := Compare(base, cur, Settings{Seed: 1})
	require.Equal(t, Drift, det.Verdict, "deterministic k=1: changed outputs are drift")
	sampled := Compare(base, cur, Settings{Seed: 1, Stochastic: true})
	require.Equal(t, Stable, sampled.Verdict, sampled.Reason)
}

// TestDeterministicK1IgnoresRewording: at k=1, outputs that differ only by a
// word or punctuation (token-level nondeterminism) are not a text change.
func TestDeterministicK1IgnoresRewording(t *testing.T) {
	t.Parallel()
	var base, cur []Sample
	for i := range 200 {
		key := fmt.Sprintf("c%03d", i)
		text := fmt.Sprintf("Case %d: the capital of France is Paris, a city on the Seine with about two million people.", i)
		base = append(base, Sample{Case: key, Passed: true, Output: text, Tokens: 20})
		if i%5 == 0 { // a fifth reworded slightly
			text = strings.Replace(text, "about two million", "roughly two million", 1)
		}
		cur = append(cur, Sample{Case: key, Passed: true, Output: text, Tokens: 20})
	}
	r := Compare(base, cur, Settings{Seed: 1})
	require.Equal(t, Stable, r.Verdict, r.Reason)
}
