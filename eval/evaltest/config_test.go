package evaltest_test

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/driftwatch/driftwatch/eval"
	"github.com/driftwatch/driftwatch/eval/check"
	"github.com/driftwatch/driftwatch/eval/evaltest"
	"github.com/driftwatch/driftwatch/sim"
)

// TestLiveArithmetic is how a suite's live test reads: the target is
// driftwatch.yaml's, and without its key (OPENAI_API_KEY here) the test
// skips, so go test ./... passes offline and go test -run Live hits the
// model once the key is exported.
func TestLiveArithmetic(t *testing.T) {
	target := evaltest.FromConfig(t, "testdata/driftwatch.yaml", "gpt4o-mini")
	evaltest.Run(t, sum(), target)
}

func sum() eval.Suite {
	return eval.SuiteFunc("sum", eval.CaseFunc("seventeen", func(t *eval.T) {
		t.Check(t.Ask("What is 10 + 7? Reply with only the number."), check.Contains("17"))
	}))
}

// TestFromConfigSkipsWhenTheTargetsKeyIsUnset: a target whose ${VAR} is
// not set skips the test, naming the variable and the config line.
func TestFromConfigSkipsWhenTheTargetsKeyIsUnset(t *testing.T) {
	t.Parallel()
	cfg := filepath.Join(t.TempDir(), "driftwatch.yaml")
	require.NoError(t, os.WriteFile(cfg, []byte("targets:\n  - name: other\n    model: m\n    api_key: ${DW_EVALTEST_SET_ELSEWHERE:-x}\n"+
		"  - name: live\n    model: m\n    api_key: ${DW_EVALTEST_NEVER_SET_KEY}\n"), 0o600))
	ft := &fakeTB{TB: t}
	func() {
		defer func() { _ = recover() }() // Skip ends the call as SkipNow would
		evaltest.FromConfig(ft, cfg, "live")
	}()
	require.True(t, ft.skipped)
	require.Equal(t, `evaltest: target "live" of `+cfg+`:7: environment variable DW_EVALTEST_NEVER_SET_KEY is not set: set it to run against the live model`, ft.msg)
}

// TestFromConfigCallsTheConfiguredTarget: with its key at hand, the target
// is the config's, params and all, and a suite runs on it.
func TestFromConfigCallsTheConfiguredTarget(t *testing.T) {
	t.Parallel()
	srv, err := sim.New(sim.Config{Models: []sim.Model{{Name: "sim-gpt", Profile: sim.Profile{Accuracy: 1}}}})
	require.NoError(t, err)
	ctx, cancel := context.WithCancel(context.Background())
	url, stop, err := srv.Start(ctx, "127.0.0.1:0")
	require.NoError(t, err)
	t.Cleanup(func() {
		cancel()
		_ = stop(context.Background())
	})
	cfg := filepath.Join(t.TempDir(), "driftwatch.yaml")
	require.NoError(t, os.WriteFile(cfg, []byte(fmt.Sprintf("targets:\n  - {name: sim, base_url: %s/v1, model: sim-gpt, api_key: k, params: {max_tokens: 16}}\n", url)), 0o600))
	target := evaltest.FromConfig(t, cfg, "sim")
	resp, err := target.Complete(ctx, &eval.Request{Messages: []eval.Message{{Role: eval.RoleUser, Content: "What is 10 + 7?"}}})
	require.NoError(t, err)
	require.Contains(t, resp.Text, "17")
	require.Equal(t, "sim-gpt", resp.Identity.RequestedModel)
	evaltest.Run(t, sum(), target)
}

// TestFromConfigFailsOnAnUnknownTarget: a misspelt target name fails the
// test, listing the defined ones.
func TestFromConfigFailsOnAnUnknownTarget(t *testing.T) {
	t.Parallel()
	ft := &fakeTB{TB: t}
	func() {
		defer func() { _ = recover() }()
		evaltest.FromConfig(ft, "testdata/driftwatch.yaml", "gpt5")
	}()
	require.True(t, ft.failed)
	require.Contains(t, ft.msg, `unknown target "gpt5"`)
	require.Contains(t, ft.msg, "gpt4o-mini")
}

// fakeTB records Skip and Fatal, ending the call with a panic in place of
// runtime.Goexit.
type fakeTB struct {
	testing.TB
	skipped, failed bool
	msg             string
}

func (f *fakeTB) Helper() {}
func (f *fakeTB) Skipf(format string, args ...any) {
	f.skipped, f.msg = true, fmt.Sprintf(format, args...)
	panic("skip")
}
func (f *fakeTB) Fatalf(format string, args ...any) {
	f.failed, f.msg = true, fmt.Sprintf(format, args...)
	panic("fatal")
}
func (f *fakeTB) Cleanup(func()) {}
