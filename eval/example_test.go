package eval_test

import (
	"context"
	"fmt"
	"slices"
	"strings"
	"sync"

	"github.com/driftwatch/driftwatch/eval"
)

// containsCheck is a minimal custom check.
func containsCheck(want string) eval.Checker {
	return eval.CheckFunc(func(ctx context.Context, in eval.CheckInput) eval.CheckResult {
		if strings.Contains(in.Output, want) {
			return eval.CheckResult{Name: "contains", Pass: true, Score: 1}
		}
		return eval.CheckResult{Name: "contains", Reason: fmt.Sprintf("output %q lacks %q", in.Output, want)}
	})
}

func Example() {
	suite := eval.NewSuite("arithmetic", eval.SuiteOpts{Samples: 2, System: "Answer with the number only."},
		eval.CaseFunc("add", func(t *eval.T) {
			t.Check(t.Ask("What is 10+7?"), containsCheck("17"))
		}),
		eval.CaseFunc("mul", func(t *eval.T) {
			t.Check(t.Ask("What is 6*7?"), containsCheck("42"))
		}),
		eval.CaseFunc("tools", func(t *eval.T) {
			t.Skip("target has no tool calling")
		}),
	)

	// A fake target that always answers 17.
	target := eval.TargetFunc(func(ctx context.Context, req *eval.Request) (*eval.Response, error) {
		return &eval.Response{Text: "17"}, nil
	})

	var mu sync.Mutex
	var lines []string
	stats, err := eval.Run(context.Background(), eval.RunParams{
		Suite:  suite,
		Target: target,
		Seed:   1,
		Sink: func(r eval.SampleResult) error { // called concurrently
			mu.Lock()
			defer mu.Unlock()
			line := fmt.Sprintf("%s #%d %s", r.Case, r.Index, r.Outcome)
			if r.Outcome == eval.Failed {
				line += ": " + r.Checks[0].Reason
			}
			lines = append(lines, line)
			return nil
		},
	})
	if err != nil {
		fmt.Println("run:", err)
		return
	}
	slices.Sort(lines)
	for _, l := range lines {
		fmt.Println(l)
	}
	fmt.Printf("passed %d, failed %d, skipped %d\n", stats.Passed, stats.Failed, stats.Skipped)
	// Output:
	// add #0 passed
	// add #1 passed
	// mul #0 failed: output "17" lacks "42"
	// mul #1 failed: output "17" lacks "42"
	// tools #0 skipped
	// tools #1 skipped
	// passed 2, failed 2, skipped 2
}

func ExampleT_Run() {
	suite := eval.SuiteFunc("greetings", eval.CaseFunc("hello", func(t *eval.T) {
		for _, lang := range []string{"en", "fr"} {
			t.Run(lang, func(t *eval.T) {
				t.Check(t.Ask("Say hello in "+lang), containsCheck("hello"))
			})
		}
	}))
	target := eval.TargetFunc(func(ctx context.Context, req *eval.Request) (*eval.Response, error) {
		return &eval.Response{Text: "hello"}, nil
	})
	_, err := eval.Run(context.Background(), eval.RunParams{
		Suite:  suite,
		Target: target,
		Sink: func(r eval.SampleResult) error {
			fmt.Println(r.Case, r.Outcome, r.Calls, "calls")
			for _, s := range r.Subcases {
				fmt.Println(" ", s.Name, s.Outcome)
			}
			return nil
		},
	})
	fmt.Println(err)
	// Output:
	// hello passed 2 calls
	//   hello/en passed
	//   hello/fr passed
	// <nil>
}

func ExampleRegistry() {
	reg := eval.NewRegistry()
	reg.Register(eval.SuiteFunc("refusals"))
	reg.Register(eval.SuiteFunc("arithmetic"))
	err := reg.RegisterSafely(eval.SuiteFunc("arithmetic"))
	fmt.Println(reg.Names())
	fmt.Println(err)
	// Output:
	// [arithmetic refusals]
	// eval: suite "arithmetic" registered twice
}
