package eval_test

import (
	"context"
	"encoding/json"
	"errors"
	"math"
	"strings"
	"sync/atomic"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/driftwatch/driftwatch/eval"
)

// cannedTarget answers every request with text.
func cannedTarget(text string) eval.Target {
	return eval.TargetFunc(func(ctx context.Context, req *eval.Request) (*eval.Response, error) {
		return &eval.Response{Text: text, Usage: eval.Usage{InputTokens: 3, OutputTokens: 2}, CostUSD: 0.5}, nil
	})
}

func contains(sub string) eval.Checker {
	return eval.CheckFunc(func(ctx context.Context, in eval.CheckInput) eval.CheckResult {
		if strings.Contains(in.Output, sub) {
			return eval.CheckResult{Name: "contains", Pass: true, Score: 1}
		}
		return eval.CheckResult{Name: "contains", Score: 0, Reason: "output lacks " + sub}
	})
}

// runCase runs f as the only case of a suite, once, against target.
func runCase(t *testing.T, target eval.Target, f func(*eval.T)) eval.SampleResult {
	t.Helper()
	if target == nil {
		target = cannedTarget("ok")
	}
	s := eval.SuiteFunc("suite", eval.CaseFunc("case", f))
	return eval.RunSample(context.Background(), s, s.Cases()[0], 0, target)
}

func TestTFatalStopsCaseAndRunsCleanupsLIFO(t *testing.T) {
	t.Parallel()
	var order []string
	var after bool
	res := runCase(t, nil, func(t *eval.T) {
		t.Cleanup(func() { order = append(order, "first") })
		t.Cleanup(func() { order = append(order, "second") })
		t.Fatalf("stop %d", 1)
		after = true
	})
	require.Equal(t, eval.Failed, res.Outcome)
	require.False(t, after)
	require.Equal(t, []string{"second", "first"}, order)
	require.Len(t, res.Logs, 1)
	require.Regexp(t, `^t_test\.go:\d+: stop 1$`, res.Logs[0])
}

func TestTErrorfContinues(t *testing.T) {
	t.Parallel()
	var after bool
	res := runCase(t, nil, func(t *eval.T) {
		t.Errorf("bad %s", "thing")
		require.True(t, t.Failed())
		after = true
	})
	require.True(t, after)
	require.Equal(t, eval.Failed, res.Outcome)
	require.Empty(t, res.Err)
}

func TestTSkip(t *testing.T) {
	t.Parallel()
	var after bool
	res := runCase(t, nil, func(t *eval.T) {
		t.Skip("no tools")
		after = true
	})
	require.False(t, after)
	require.Equal(t, eval.Skipped, res.Outcome)
	require.Equal(t, "no tools", res.Err)

	res = runCase(t, nil, func(t *eval.T) {
		t.Error("broken")
		t.Skipf("later")
	})
	require.Equal(t, eval.Failed, res.Outcome, "a failed case that skips stays failed")
}

func TestTContextCancelledBeforeCleanups(t *testing.T) {
	t.Parallel()
	var errInCase, errInCleanup error
	res := runCase(t, nil, func(t *eval.T) {
		errInCase = t.Context().Err()
		t.Cleanup(func() { errInCleanup = t.Context().Err() })
	})
	require.Equal(t, eval.Passed, res.Outcome)
	require.NoError(t, errInCase)
	require.ErrorIs(t, errInCleanup, context.Canceled)
}

func TestTPanicIsErroredWithTrimmedStack(t *testing.T) {
	t.Parallel()
	var cleaned bool
	res := runCase(t, nil, func(t *eval.T) {
		t.Cleanup(func() { cleaned = true })
		explode()
	})
	require.True(t, cleaned)
	require.Equal(t, eval.Errored, res.Outcome)
	require.Equal(t, eval.ErrPanic, res.ErrorKind)
	require.Contains(t, res.Err, "panic in case: boom")
	require.Contains(t, res.Err, "explode")
	require.Contains(t, res.Err, "t_test.go:")
	require.NotContains(t, res.Err, "runtime.")
	require.NotContains(t, res.Err, "eval.(*T)")
	require.LessOrEqual(t, strings.Count(res.Err, "\n"), 10)
}

func explode() { panic("boom") }

func TestTPanicInCleanupIsErrored(t *testing.T) {
	t.Parallel()
	var ran bool
	res := runCase(t, nil, func(t *eval.T) {
		t.Cleanup(func() { ran = true })
		t.Cleanup(func() { panic("cleanup boom") })
		t.Cleanup(func() { t.FailNow() })
	})
	require.True(t, ran, "remaining cleanups run after a panicking or Goexiting one")
	require.Equal(t, eval.Errored, res.Outcome)
	require.Contains(t, res.Err, "cleanup boom")
}

func TestTTargetErrorIsErroredNotFailed(t *testing.T) {
	t.Parallel()
	target := eval.TargetFunc(func(ctx context.Context, req *eval.Request) (*eval.Response, error) {
		return nil, &eval.TargetError{Kind: eval.ErrRateLimited, Provider: "p", Model: "m", Status: 429, Err: errors.New("slow down")}
	})
	var after bool
	res := runCase(t, target, func(t *eval.T) {
		t.Ask("hi")
		after = true
	})
	require.False(t, after)
	require.Equal(t, eval.Errored, res.Outcome)
	require.Equal(t, eval.ErrRateLimited, res.ErrorKind)
	require.Contains(t, res.Err, "HTTP 429")
	require.Equal(t, 1, res.Calls)
}

func TestTCheck(t *testing.T) {
	t.Parallel()

	t.Run("Passing", func(t *testing.T) {
		t.Parallel()
		var got eval.CheckInput
		spy := eval.CheckFunc(func(ctx context.Context, in eval.CheckInput) eval.CheckResult {
			got = in
			return eval.CheckResult{Pass: true, Score: 1}
		})
		res := runCase(t, cannedTarget("the answer is 17"), func(t *eval.T) {
			t.SetSystem("be brief")
			out := t.Ask("what?")
			require.True(t, t.Check(out, contains("17"), spy))
		})
		require.Equal(t, eval.Passed, res.Outcome)
		require.Equal(t, "the answer is 17", res.Output)
		require.Len(t, res.Checks, 2)
		require.Equal(t, "check1", res.Checks[1].Name)
		require.NotNil(t, got.Response)
		require.Equal(t, eval.RoleSystem, got.Request.Messages[0].Role)
		require.Equal(t, "what?", got.Request.Messages[1].Content)
		require.InDelta(t, 1.0, res.Score, 1e-9)
		require.Equal(t, eval.Usage{InputTokens: 3, OutputTokens: 2}, res.Usage)
	})

	t.Run("Failing", func(t *testing.T) {
		t.Parallel()
		var after bool
		res := runCase(t, cannedTarget("no idea"), func(t *eval.T) {
			out := t.Ask("what?")
			weighted := eval.CheckFunc(func(ctx context.Context, in eval.CheckInput) eval.CheckResult {
				return eval.CheckResult{Name: "w", Pass: true, Score: 1, Weight: 3}
			})
			require.False(t, t.Check(out, contains("17"), weighted))
			require.True(t, t.Check("not the response", weighted))
			after = true
		})
		require.True(t, after, "a failing check does not stop the case")
		require.Equal(t, eval.Failed, res.Outcome)
		require.Len(t, res.Checks, 3)
		require.InDelta(t, 6.0/7.0, res.Score, 1e-9)
		require.Len(t, res.Logs, 1)
		require.Regexp(t, `^t_test\.go:\d+: check contains failed: output lacks 17$`, res.Logs[0])
	})

	t.Run("NonFiniteScores", func(t *testing.T) {
		t.Parallel()
		bad := eval.CheckFunc(func(ctx context.Context, in eval.CheckInput) eval.CheckResult {
			return eval.CheckResult{Name: "nan", Pass: true, Score: math.NaN(), Weight: math.Inf(1)}
		})
		over := eval.CheckFunc(func(ctx context.Context, in eval.CheckInput) eval.CheckResult {
			return eval.CheckResult{Name: "over", Pass: true, Score: 7}
		})
		res := runCase(t, nil, func(t *eval.T) {
			t.Check(t.Ask("what?"), bad, over)
		})
		require.Len(t, res.Checks, 2)
		require.Equal(t, 0.0, res.Checks[0].Score)
		require.Equal(t, 0.0, res.Checks[0].Weight)
		require.Contains(t, res.Checks[0].Reason, "not a finite number")
		require.Equal(t, 1.0, res.Checks[1].Score)
		require.InDelta(t, 0.5, res.Score, 1e-9, "each check weighs 1")
		_, err := json.Marshal(res.Checks)
		require.NoError(t, err)
	})
}

func TestTUsageSummedAndOutputIsLastResponse(t *testing.T) {
	t.Parallel()
	var n atomic.Int32
	target := eval.TargetFunc(func(ctx context.Context, req *eval.Request) (*eval.Response, error) {
		return &eval.Response{Text: []string{"one", "two", "three"}[n.Add(1)-1], Usage: eval.Usage{InputTokens: 1, OutputTokens: 1}, CostUSD: 0.25}, nil
	})
	res := runCase(t, target, func(t *eval.T) {
		t.Ask("1")
		r := t.Chat(eval.Message{Role: eval.RoleUser, Content: "2"})
		require.Equal(t, "two", r.Text)
		t.Ask("3")
	})
	require.Equal(t, "three", res.Output)
	require.Equal(t, 3, res.Calls)
	require.Equal(t, eval.Usage{InputTokens: 3, OutputTokens: 3}, res.Usage)
	require.InDelta(t, 0.75, res.CostUSD, 1e-9)

	res = runCase(t, nil, func(t *eval.T) {
		t.Ask("x")
		t.SetOutput("custom")
		t.Ask("y")
	})
	require.Equal(t, "custom", res.Output)
}

func TestTMetrics(t *testing.T) {
	t.Parallel()
	res := runCase(t, nil, func(t *eval.T) {
		t.ReportMetric(1, "ms")
		t.ReportMetric(2, "ms")
		t.Metric("judge", 0.5, "score")
	})
	require.Equal(t, eval.Passed, res.Outcome)
	require.Equal(t, map[string]eval.Metric{"ms": {Value: 2, Unit: "ms"}, "judge": {Value: 0.5, Unit: "score"}}, res.Metrics)

	for _, unit := range []string{"", "two words", "tab\t"} {
		res := runCase(t, nil, func(t *eval.T) { t.ReportMetric(1, unit) })
		require.Equal(t, eval.Errored, res.Outcome, "unit %q", unit)
		require.Contains(t, res.Err, "metric unit")
	}
}

func TestTExtractAndAnswer(t *testing.T) {
	t.Parallel()
	res := runCase(t, cannedTarget("B"), func(t *eval.T) {
		a, ok := t.Extract(t.Ask("pick"), extractorFunc(func(s string) (string, bool) { return s, s != "" }))
		require.True(t, ok)
		require.Equal(t, "B", a)
	})
	require.True(t, res.HasAnswer)
	require.Equal(t, "B", res.Answer)
}

type extractorFunc func(string) (string, bool)

func (f extractorFunc) Extract(s string) (string, bool) { return f(s) }

func TestTHelper(t *testing.T) {
	t.Parallel()
	res := runCase(t, nil, func(t *eval.T) {
		failHelper(t)
	})
	require.Len(t, res.Logs, 1)
	line := res.Logs[0]
	require.Regexp(t, `^t_test\.go:\d+: from helper$`, line)
	require.NotContains(t, line, helperLine)
}

const helperLine = "t_test.go:9999"

func failHelper(t *eval.T) {
	t.Helper()
	t.Error("from helper")
}

func TestTSubcases(t *testing.T) {
	t.Parallel()
	var names []string
	res := runCase(t, nil, func(t *eval.T) {
		ok := t.Run("a b", func(t *eval.T) {
			names = append(names, t.Name())
			t.Fatal("sub failed")
		})
		require.False(t, ok)
		require.True(t, t.Run("skipped", func(t *eval.T) { t.Skip("nope") }))
		require.True(t, t.Run("a b", func(t *eval.T) { names = append(names, t.Name()) }))
	})
	require.Equal(t, []string{"case/a_b", "case/a_b#01"}, names)
	require.Equal(t, eval.Failed, res.Outcome)
	require.Equal(t, []eval.SubcaseResult{
		{Name: "case/a_b", Outcome: eval.Failed},
		{Name: "case/skipped", Outcome: eval.Skipped},
		{Name: "case/a_b#01", Outcome: eval.Passed},
	}, res.Subcases)
	require.Regexp(t, `^case/a_b: t_test\.go:\d+: sub failed$`, res.Logs[0])

	// A target error in a subcase ends the whole sample.
	var after bool
	failing := eval.TargetFunc(func(ctx context.Context, req *eval.Request) (*eval.Response, error) {
		return nil, context.DeadlineExceeded
	})
	res = runCase(t, failing, func(t *eval.T) {
		t.Run("call", func(t *eval.T) { t.Ask("x") })
		after = true
	})
	require.False(t, after)
	require.Equal(t, eval.Errored, res.Outcome)
	require.Equal(t, eval.ErrTimeout, res.ErrorKind)
}
