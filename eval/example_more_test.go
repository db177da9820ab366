package eval_test

import (
	"context"
	"fmt"

	"github.com/driftwatch/driftwatch/eval"
)

// runOne runs one case once against a target that always answers answer and
// returns its result.
func runOne(c eval.Case, answer string) eval.SampleResult {
	target := eval.TargetFunc(func(ctx context.Context, req *eval.Request) (*eval.Response, error) {
		return &eval.Response{Text: answer, Usage: eval.Usage{InputTokens: 12, OutputTokens: 3}}, nil
	})
	return eval.RunSample(context.Background(), eval.SuiteFunc("docs", c), c, 0, target)
}

// Cleanups run last-in first-out after the case, even when it fails fatally.
func ExampleT_Cleanup() {
	r := runOne(eval.CaseFunc("cleanup", func(t *eval.T) {
		t.Cleanup(func() { fmt.Println("first registered, runs last") })
		t.Cleanup(func() { fmt.Println("second registered, runs first") })
		t.Fatal("stop here")
	}), "ok")
	fmt.Println(r.Outcome)
	// Output:
	// second registered, runs first
	// first registered, runs last
	// failed
}

// Skip ends a case as skipped: it is neither a failure nor an error, and the
// drift engine does not compare it.
func ExampleT_Skip() {
	r := runOne(eval.CaseFunc("tools", func(t *eval.T) {
		t.Skip("the target has no tool calling")
	}), "")
	fmt.Println(r.Outcome, "-", r.Err)
	// Output: skipped - the target has no tool calling
}

// Metric records a named value with a unit; the last value wins.
func ExampleT_Metric() {
	r := runOne(eval.CaseFunc("length", func(t *eval.T) {
		out := t.Ask("Describe Go in one sentence.")
		t.Metric("answer_chars", float64(len(out)), "chars")
	}), "Go is a small, fast language.")
	m := r.Metrics["answer_chars"]
	fmt.Println(r.Outcome, m.Value, m.Unit, r.Usage.OutputTokens)
	// Output: passed 29 chars 3
}

// A target error ends the case as errored, never as failed: the drift
// engine counts it towards the error rate only.
func ExampleT_Ask_targetError() {
	c := eval.CaseFunc("flaky", func(t *eval.T) {
		t.Ask("Hello?")
		t.Error("not reached")
	})
	target := eval.TargetFunc(func(ctx context.Context, req *eval.Request) (*eval.Response, error) {
		return nil, &eval.TargetError{Kind: eval.ErrServer, Provider: "sim", Model: "m", Status: 503}
	})
	r := eval.RunSample(context.Background(), eval.SuiteFunc("docs", c), c, 0, target)
	fmt.Println(r.Outcome, r.ErrorKind)
	// Output: errored server
}
