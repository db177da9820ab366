package eval_test

import (
	"context"
	"runtime"
	"strconv"
	"strings"
	"testing"

	"github.com/driftwatch/driftwatch/eval"
)

// BenchmarkRunnerOverhead measures what the runner and T add per sample: an
// in-memory target returning a canned response and one contains check.
func BenchmarkRunnerOverhead(b *testing.B) {
	resp := &eval.Response{Text: "the answer is 17", Usage: eval.Usage{InputTokens: 5, OutputTokens: 4}}
	target := eval.TargetFunc(func(ctx context.Context, req *eval.Request) (*eval.Response, error) {
		return resp, nil
	})
	check := eval.CheckFunc(func(ctx context.Context, in eval.CheckInput) eval.CheckResult {
		if strings.Contains(in.Output, "17") {
			return eval.CheckResult{Name: "contains", Pass: true, Score: 1}
		}
		return eval.CheckResult{Name: "contains", Reason: "missing 17"}
	})
	f := func(t *eval.T) { t.Check(t.Ask("What is 10+7?"), check) }
	const nCases = 1000
	cases := make([]eval.Case, nCases)
	for i := range cases {
		cases[i] = eval.Case{ID: "case-" + strconv.Itoa(i), Func: f}
	}
	suite := eval.SuiteFunc("bench", cases...)
	for _, conc := range []int{1, 8} {
		b.Run("concurrency="+strconv.Itoa(conc), func(b *testing.B) {
			k := max(1, b.N/nCases)
			total := k * nCases
			b.ReportAllocs()
			var before, after runtime.MemStats
			runtime.ReadMemStats(&before)
			b.ResetTimer()
			stats, err := eval.Run(context.Background(), eval.RunParams{
				Suite: suite, Target: target, Samples: k, Concurrency: conc,
				Sink: func(eval.SampleResult) error { return nil },
			})
			b.StopTimer()
			runtime.ReadMemStats(&after)
			if err != nil || stats.Passed != total {
				b.Fatalf("run: %v, %+v", err, stats)
			}
			b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(total), "ns/sample")
			b.ReportMetric(float64(total)/b.Elapsed().Seconds(), "samples/s")
			b.ReportMetric(float64(after.Mallocs-before.Mallocs)/float64(total), "allocs/sample")
		})
	}
}
