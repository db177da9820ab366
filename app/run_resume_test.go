package app_test

import (
	"bytes"
	"context"
	"encoding/json"
	"encoding/xml"
	"fmt"
	"math"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/driftwatch/driftwatch/cli"
	"github.com/driftwatch/driftwatch/eval"
	"github.com/driftwatch/driftwatch/sim"
	"github.com/driftwatch/driftwatch/storage"
)

// openStore opens the test environment's database.
func (e *testEnv) openStore(t *testing.T) *storage.Store {
	t.Helper()
	st, err := storage.Open(context.Background(), e.dbURL)
	require.NoError(t, err)
	t.Cleanup(st.Close)
	return st
}

// runWith invokes the CLI with a registry of Go suites.
func (e *testEnv) runWith(t *testing.T, reg *eval.Registry, args ...string) (int, string, string) {
	t.Helper()
	var stdout, stderr bytes.Buffer
	code := cli.Main(context.Background(), append(args, "--config", e.cfgPath), reg, &stdout, &stderr)
	return code, stdout.String(), stderr.String()
}

// editConfig rewrites the environment's config with edit.
func (e *testEnv) editConfig(t *testing.T, edit func(cfg string) string) {
	t.Helper()
	b, err := os.ReadFile(e.cfgPath)
	require.NoError(t, err)
	require.NoError(t, os.WriteFile(e.cfgPath, []byte(edit(string(b))), 0o600))
}

// rawReport is one --json object as generic JSON, for fields jsonReport
// leaves out and for null checks.
func rawReport(t *testing.T, b []byte) map[string]any {
	t.Helper()
	var m map[string]any
	require.NoError(t, json.Unmarshal(bytes.TrimSpace(b), &m))
	return m
}

// storedReport is `driftwatch report RUN_ID --json -`, which must succeed.
func (e *testEnv) storedReport(t *testing.T, runID any) map[string]any {
	t.Helper()
	code, stdout, stderr := e.run(t, context.Background(), "report", fmt.Sprint(runID), "--json", "-")
	require.Equal(t, 0, code, stderr)
	return rawReport(t, []byte(stdout))
}

// TestConfirmOverturnedKeepsReport: when the confirmation run does not
// drift, the first run becomes STABLE everywhere: the --json (no drifted
// case, no DRIFT finding), the JUnit file (no failure), the stored report
// (`driftwatch report` still works) and the stored findings.
func TestConfirmOverturnedKeepsReport(t *testing.T) {
	t.Parallel()
	base := sim.Profile{Seed: 1, Mixture: mixture}
	worse := sim.Profile{Seed: 1, Mixture: mixture, CollapseFraction: 0.1, CollapseBy: 0.7, Drop: 0.05}
	// 120 cases x 6 samples = 720 requests a run: the baseline sees the
	// base profile, the drifted run the worse one, its confirmation the
	// base one again (a transient incident).
	e := setup(t, envOpts{sim: sim.Config{Seed: 3, Models: []sim.Model{{Name: "sim-gpt", Profile: base,
		Updates: []sim.Update{{Name: "incident", AfterRequests: 720, Profile: &worse}, {Name: "over", AfterRequests: 1440, Profile: &base}}}}}})
	ctx := context.Background()
	jsonPath, junitPath := filepath.Join(e.dir, "r.json"), filepath.Join(e.dir, "r.xml")
	code, _, stderr := e.run(t, ctx, "run", "--samples", "6", "--no-progress", "--json", jsonPath)
	require.Equal(t, 0, code, stderr)
	code, _, stderr = e.run(t, ctx, "run", "--samples", "6", "--confirm", "--no-progress", "--json", jsonPath, "--junit", junitPath)
	require.Equal(t, 0, code, stderr)
	require.Contains(t, stderr, "confirming with a fresh run")

	r := readReports(t, jsonPath)[0]
	require.Equal(t, "STABLE", r.Verdict, r.Reason)
	require.NotZero(t, r.ConfirmRunID)
	require.Contains(t, r.Reason, fmt.Sprintf("not confirmed: confirmation run %d", r.ConfirmRunID))
	require.Empty(t, r.DriftedCases)
	var warned int
	for _, f := range r.Findings {
		require.NotEqual(t, "DRIFT", f.Verdict, "%s %s", f.Metric, f.Scope)
		if f.Verdict == "WARN" && strings.Contains(f.Reason, "not confirmed") {
			warned++
		}
	}
	require.Positive(t, warned, "the first run's DRIFT findings are kept as WARN")

	var junit struct {
		Suites []struct {
			Failures int `xml:"failures,attr"`
		} `xml:"testsuite"`
	}
	b, err := os.ReadFile(junitPath)
	require.NoError(t, err)
	require.NoError(t, xml.Unmarshal(b, &junit))
	require.Zero(t, junit.Suites[0].Failures)

	stored := e.storedReport(t, r.RunID)
	require.Equal(t, "STABLE", stored["verdict"])
	require.EqualValues(t, r.ConfirmRunID, stored["confirm_run_id"])
	require.Empty(t, stored["drifted_cases"])

	st := e.openStore(t)
	fs, err := st.ListFindings(ctx, r.RunID)
	require.NoError(t, err)
	require.NotEmpty(t, fs)
	for _, f := range fs {
		require.NotEqual(t, "DRIFT", f.Verdict)
	}
}

// TestConfirmedReportIsStored: when the confirmation drifts too, the stored
// report carries the confirmation run and the "Confirmed by" reason.
func TestConfirmedReportIsStored(t *testing.T) {
	t.Parallel()
	e := setup(t, envOpts{cases: 60, sim: updatingGPT()})
	ctx := context.Background()
	code, _, stderr := e.run(t, ctx, "run", "--samples", "6", "--no-progress")
	require.Equal(t, 0, code, stderr)
	_, err := e.sim.Update("sim-gpt")
	require.NoError(t, err)
	jsonPath := filepath.Join(e.dir, "r.json")
	code, _, stderr = e.run(t, ctx, "run", "--samples", "6", "--confirm", "--no-progress", "--json", jsonPath)
	require.Equal(t, 1, code, stderr)
	line, err := os.ReadFile(jsonPath)
	require.NoError(t, err)
	r := rawReport(t, line)
	confirmID := r["confirm_run_id"]
	require.NotNil(t, confirmID)

	stored := e.storedReport(t, r["run_id"])
	require.Equal(t, "DRIFT", stored["verdict"])
	require.Equal(t, confirmID, stored["confirm_run_id"])
	require.Contains(t, stored["reason"], fmt.Sprintf("Confirmed by run %v.", confirmID))
}

// brokenSuite is a Go suite the runner refuses once the run exists (a case
// without a function).
type brokenSuite struct{}

func (brokenSuite) Name() string { return "broken" }
func (brokenSuite) Cases() []eval.Case {
	return []eval.Case{{ID: "ok", Func: func(t *eval.T) {}}, {ID: "nofunc"}}
}

// TestRunErrorsLeaveNoRunningRun: a bad --case pattern, or one that selects
// no case, is a usage error found before a run is stored or a model called;
// an error after the run was created leaves it failed with the error, never
// "running".
func TestRunErrorsLeaveNoRunningRun(t *testing.T) {
	t.Parallel()
	e := setup(t, envOpts{cases: 10, sim: sim.Config{Models: []sim.Model{{Name: "sim-gpt", Profile: sim.Profile{Accuracy: 1}}}}})
	ctx := context.Background()
	st := e.openStore(t)

	code, _, stderr := e.run(t, ctx, "run", "--case", "c00[")
	require.Equal(t, 3, code, stderr)
	require.Contains(t, stderr, "--case")
	require.Contains(t, stderr, "missing closing ]")
	code, _, stderr = e.run(t, ctx, "run", "--case", "nothing-like-it")
	require.Equal(t, 3, code, stderr)
	require.Contains(t, stderr, `--case "nothing-like-it" matches no case of suite arith`)
	runs, err := st.ListRuns(ctx, storage.RunFilter{})
	require.NoError(t, err)
	require.Empty(t, runs, "no run is stored for a usage error")
	require.Zero(t, e.sim.Stats().Requests)

	reg := eval.NewRegistry()
	reg.Register(brokenSuite{})
	code, _, stderr = e.runWith(t, reg, "run", "--suite", "broken", "--no-progress")
	require.Equal(t, 3, code, stderr)
	runs, err = st.ListRuns(ctx, storage.RunFilter{})
	require.NoError(t, err)
	require.Len(t, runs, 1)
	require.Equal(t, storage.RunFailed, runs[0].Status)
	require.Contains(t, runs[0].Error, "no Func")
	require.NotNil(t, runs[0].FinishedAt)
}

// TestResumeCountsTheWholeRun: a run stopped at its budget cap and resumed
// without raising the cap makes no call (the cap was spent); resumed after
// raising it, it reports the tokens and cost of all its samples, not only
// the resumed part.
func TestResumeCountsTheWholeRun(t *testing.T) {
	t.Parallel()
	cfg := sim.Config{Seed: 12, Models: []sim.Model{{Name: "sim-gpt", Profile: sim.Profile{Seed: 1, Accuracy: 0.9}}}}
	e := setup(t, envOpts{cases: 100, sim: cfg, targets: "    params: {max_tokens: 20}\n"})
	// $1,000 per million tokens: about $0.03 a sample; the cap allows ~30.
	e.editConfig(t, func(c string) string { return c + "prices:\n  sim-gpt: {input: 1000, output: 1000}\nmax_cost_usd: 1\n" })
	withCap := func(usd float64) {
		e.editConfig(t, func(c string) string {
			return strings.Replace(c, "max_cost_usd: 1\n", fmt.Sprintf("max_cost_usd: %g\n", usd), 1)
		})
	}
	type metrics struct {
		Samples      int     `json:"samples"`
		InputTokens  int64   `json:"input_tokens"`
		OutputTokens int64   `json:"output_tokens"`
		CostUSD      float64 `json:"cost_usd"`
	}
	read := func(path string) (r struct {
		RunID   int64   `json:"run_id"`
		Status  string  `json:"status"`
		Verdict string  `json:"verdict"`
		Metrics metrics `json:"metrics"`
	}) {
		line, err := os.ReadFile(path)
		require.NoError(t, err)
		require.NoError(t, json.Unmarshal(line, &r))
		return r
	}
	jsonPath := filepath.Join(e.dir, "r.json")
	code, _, stderr := e.run(t, context.Background(), "run", "--samples", "1", "--no-progress", "--json", jsonPath)
	require.Equal(t, 2, code, stderr)
	stopped := read(jsonPath)
	require.Equal(t, "stopped", stopped.Status)
	require.Greater(t, stopped.Metrics.CostUSD, 0.5)
	served := e.sim.Stats().Served

	// The same cap again: the run may spend what calls in flight left of
	// it (a few samples), not the cap again (about 30).
	code, _, stderr = e.run(t, context.Background(), "run", "--resume", fmt.Sprint(stopped.RunID), "--no-progress", "--json", jsonPath)
	require.Equal(t, 2, code, stderr)
	again := read(jsonPath)
	require.Equal(t, "stopped", again.Status)
	require.Contains(t, stderr, "budget cap")
	// What is left of the cap buys (1 - spent) / cost-per-sample calls, plus
	// at most the target's concurrency (8) admitted on their estimates; the
	// whole cap again would be about 30.
	perCall := stopped.Metrics.CostUSD / float64(stopped.Metrics.Samples)
	left := int64(math.Ceil((1-stopped.Metrics.CostUSD)/perCall)) + 8
	require.LessOrEqual(t, e.sim.Stats().Served-served, min(left, 20), "a run stopped at its cap does not get the cap again")
	require.GreaterOrEqual(t, again.Metrics.CostUSD, stopped.Metrics.CostUSD, "the report counts both sittings")
	require.LessOrEqual(t, again.Metrics.CostUSD, 1.0+8*0.05)

	withCap(100)
	code, _, stderr = e.run(t, context.Background(), "run", "--resume", fmt.Sprint(stopped.RunID), "--no-progress", "--json", jsonPath)
	require.Equal(t, 0, code, stderr)
	done := read(jsonPath)
	require.Equal(t, "BASELINE", done.Verdict)
	require.Equal(t, 100, done.Metrics.Samples)

	samples, err := e.openStore(t).ListSamples(context.Background(), done.RunID, "")
	require.NoError(t, err)
	var want metrics
	for _, s := range samples {
		want.InputTokens += int64(s.InputTokens)
		want.OutputTokens += int64(s.OutputTokens)
		want.CostUSD += s.CostUSD
	}
	require.Greater(t, want.CostUSD, done.Metrics.CostUSD-stopped.Metrics.CostUSD+0.5, "the first sitting's cost is part of the run's")
	require.Equal(t, want.InputTokens, done.Metrics.InputTokens)
	require.Equal(t, want.OutputTokens, done.Metrics.OutputTokens)
	require.InDelta(t, want.CostUSD, done.Metrics.CostUSD, 1e-6)
}

// TestPinHoldsAfterAcceptingMiddleRun: accepting as the baseline a run from
// the middle of an identity's range (neither its first nor its last run)
// keeps the baseline identity, so a strict pin still stops a changed model.
func TestPinHoldsAfterAcceptingMiddleRun(t *testing.T) {
	t.Parallel()
	d1, d2 := strings.Repeat("a1", 32), strings.Repeat("b2", 32)
	e := setup(t, envOpts{cases: 30, targets: "    pin: true\n", sim: sim.Config{Seed: 2, Models: []sim.Model{{Name: "sim-gpt",
		Identity: sim.Identity{Digest: d1}, Profile: sim.Profile{Seed: 1, Accuracy: 0.9},
		Updates: []sim.Update{{Name: "requantized", Identity: &sim.Identity{Digest: d2}}}}}}})
	e.editConfig(t, func(c string) string { return strings.Replace(c, "provider: openai", "provider: ollama", 1) })
	ctx := context.Background()
	jsonPath := filepath.Join(e.dir, "r.json")
	var ids []int64
	for range 3 {
		code, _, stderr := e.run(t, ctx, "run", "--no-progress", "--json", jsonPath)
		require.Equal(t, 0, code, stderr)
		ids = append(ids, readReports(t, jsonPath)[0].RunID)
	}
	code, _, stderr := e.run(t, ctx, "baseline", "accept", fmt.Sprint(ids[1]))
	require.Equal(t, 0, code, stderr)

	code, _, stderr = e.run(t, ctx, "run", "--no-progress", "--json", jsonPath)
	require.Equal(t, 0, code, stderr)
	line, err := os.ReadFile(jsonPath)
	require.NoError(t, err)
	bi, ok := rawReport(t, line)["baseline_identity"].(map[string]any)
	require.True(t, ok, "baseline_identity is reported: %s", line)
	require.Equal(t, d1, bi["digest"])

	_, err = e.sim.Update("sim-gpt")
	require.NoError(t, err)
	before := e.sim.Stats().Requests
	code, _, stderr = e.run(t, ctx, "run", "--no-progress", "--json", jsonPath)
	require.Equal(t, 1, code, stderr)
	r := readReports(t, jsonPath)[0]
	require.True(t, r.PinViolated)
	require.Equal(t, d2, r.Identity.Digest)
	require.Equal(t, before, e.sim.Stats().Requests, "no case was sent to the changed model")
}

// goSuite is a registered Go suite with one case.
type goSuite struct{}

func (goSuite) Name() string       { return "go-suite" }
func (goSuite) Cases() []eval.Case { return []eval.Case{{ID: "one", Func: func(t *eval.T) {}}} }

// TestUnknownSuiteListsEverySuite: the unknown-suite error lists the YAML
// suites as well as the Go ones.
func TestUnknownSuiteListsEverySuite(t *testing.T) {
	t.Parallel()
	e := setup(t, envOpts{cases: 10, sim: sim.Config{Models: []sim.Model{{Name: "sim-gpt", Profile: sim.Profile{Accuracy: 1}}}}})
	reg := eval.NewRegistry()
	reg.Register(goSuite{})
	code, _, stderr := e.runWith(t, reg, "run", "--suite", "nope")
	require.Equal(t, 3, code, stderr)
	require.Contains(t, stderr, `unknown suite "nope" (known: arith, go-suite)`)
}

// TestUnusableTargetExitsThree: a target that rejects every request (wrong
// key) or cannot be reached is an infrastructure error: exit 3, with the
// report still written (failed, INCONCLUSIVE, the first error named, no pass
// rate) and stored, and no secret anywhere.
func TestUnusableTargetExitsThree(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name, want string
		edit       func(e *testEnv, cfg string) string
	}{
		{"unauthorised", "401", func(e *testEnv, cfg string) string { return cfg }},
		{"unreachable", "connect", func(e *testEnv, cfg string) string {
			return strings.Replace(cfg, e.simURL, "http://127.0.0.1:1", 1)
		}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			const key = "sk-wrong-4e1d2c3b4a5f6e7d8c9b"
			e := setup(t, envOpts{cases: 10, targets: "    retries: 0\n", sim: sim.Config{Seed: 1, APIKey: "sk-right-0000000000000000",
				Models: []sim.Model{{Name: "sim-gpt", Profile: sim.Profile{Seed: 1, Accuracy: 0.9}}}}})
			e.editConfig(t, func(c string) string {
				return tc.edit(e, strings.Replace(c, "${DW_TEST_KEY:-sk-test-planted-secret-0123456789}", key, 1))
			})

			jsonPath, junitPath := filepath.Join(e.dir, "r.json"), filepath.Join(e.dir, "r.xml")
			code, stdout, stderr := e.run(t, context.Background(), "run", "--samples", "2", "--no-progress", "--json", jsonPath, "--junit", junitPath)
			require.Equal(t, 3, code, stderr)
			require.Contains(t, stderr, "driftwatch: run ")
			require.Contains(t, stderr, "cannot be used")
			r := readReports(t, jsonPath)[0]
			require.Equal(t, "INCONCLUSIVE", r.Verdict)
			require.Equal(t, "failed", r.Status)
			require.Contains(t, r.Reason, "every sample failed")
			require.Contains(t, r.Reason, tc.want)
			require.Contains(t, r.Reason, "--resume")
			// The run stops sending after two rounds of its concurrency
			// (8) of failures; the calls in flight are stored.
			require.GreaterOrEqual(t, r.Metrics.Samples, 16)
			require.LessOrEqual(t, r.Metrics.Samples, 20)
			require.Equal(t, r.Metrics.Samples, r.Metrics.ErrorCount)
			line, err := os.ReadFile(jsonPath)
			require.NoError(t, err)
			m := rawReport(t, line)["metrics"].(map[string]any)
			require.Contains(t, m, "pass_rate")
			require.Nil(t, m["pass_rate"], "no comparable sample: no pass rate")
			junit, err := os.ReadFile(junitPath)
			require.NoError(t, err)
			for _, out := range []string{stdout, stderr, string(line), string(junit)} {
				require.NotContains(t, out, key)
			}

			st := e.openStore(t)
			run, err := st.GetRun(context.Background(), r.RunID)
			require.NoError(t, err)
			require.Equal(t, storage.RunFailed, run.Status)
			require.Equal(t, "INCONCLUSIVE", run.Verdict)
			require.NotContains(t, run.Error+run.VerdictReason, key)
			require.Equal(t, "failed", e.storedReport(t, r.RunID)["status"])
		})
	}
}

// interruptAt points e's target at a proxy of the simulator that cancels
// the returned context (Ctrl-C) when the nth request arrives: the run is
// interrupted in its middle however fast or slowly the machine runs it.
func (e *testEnv) interruptAt(t *testing.T, n int64) context.Context {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	t.Cleanup(cancel)
	var requests atomic.Int64
	proxy := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if requests.Add(1) == n {
			cancel()
		}
		e.sim.ServeHTTP(w, r)
	}))
	t.Cleanup(proxy.Close)
	e.editConfig(t, func(c string) string { return strings.Replace(c, e.simURL, proxy.URL, 1) })
	return ctx
}

// TestInterruptedRunHintAndSummary: the resume hint of an interrupted run
// names the config file it ran with, and the stopped report counts the
// samples it stored and the time it took.
func TestInterruptedRunHintAndSummary(t *testing.T) {
	t.Parallel()
	e := setup(t, envOpts{sim: sim.Config{Seed: 5, Models: []sim.Model{{Name: "sim-gpt", Profile: sim.Profile{Seed: 1, Accuracy: 0.9}}}}})
	ctx := e.interruptAt(t, 100)
	jsonPath := filepath.Join(e.dir, "stopped.json")
	code, _, stderr := e.run(t, ctx, "run", "--no-progress", "--json", jsonPath)
	require.Equal(t, 3, code, stderr)
	r := readReports(t, jsonPath)[0]
	require.Equal(t, "stopped", r.Status)
	require.Contains(t, stderr, fmt.Sprintf("finish it with: driftwatch run --config %s --resume %d", e.cfgPath, r.RunID))
	stored, err := e.openStore(t).ListSamples(context.Background(), r.RunID, "")
	require.NoError(t, err)
	require.NotEmpty(t, stored)
	require.Equal(t, len(stored), r.Metrics.Samples)
	require.Positive(t, r.WallSeconds)

	require.Equal(t, "stopped", e.storedReport(t, r.RunID)["status"])
}

// TestConfirmationInconclusiveKeepsDrift: a confirmation run that cannot
// tell (here most of its calls fail) does not overturn the drift: the
// first run stays DRIFT (exit 1) and says why.
func TestConfirmationInconclusiveKeepsDrift(t *testing.T) {
	t.Parallel()
	base := sim.Profile{Seed: 1, Mixture: mixture}
	worse := sim.Profile{Seed: 1, Mixture: mixture, CollapseFraction: 0.1, CollapseBy: 0.7, Drop: 0.05}
	outage := worse
	outage.Errors = sim.Errors{Server: 0.7}
	e := setup(t, envOpts{targets: "    retries: 0\n", sim: sim.Config{Seed: 3, Models: []sim.Model{{Name: "sim-gpt", Profile: base,
		Updates: []sim.Update{{Name: "update", AfterRequests: 720, Profile: &worse}, {Name: "outage", AfterRequests: 1440, Profile: &outage}}}}}})
	ctx := context.Background()
	jsonPath := filepath.Join(e.dir, "r.json")
	code, _, stderr := e.run(t, ctx, "run", "--samples", "6", "--no-progress", "--json", jsonPath)
	require.Equal(t, 0, code, stderr)
	code, _, stderr = e.run(t, ctx, "run", "--samples", "6", "--confirm", "--no-progress", "--json", jsonPath)
	require.Equal(t, 1, code, stderr)
	r := readReports(t, jsonPath)[0]
	require.Equal(t, "DRIFT", r.Verdict, r.Reason)
	require.NotZero(t, r.ConfirmRunID)
	require.Contains(t, r.Reason, fmt.Sprintf("Not confirmed: confirmation run %d was INCONCLUSIVE", r.ConfirmRunID))
	require.NotEmpty(t, r.DriftedCases)
	stored := e.storedReport(t, r.RunID)
	require.Equal(t, "DRIFT", stored["verdict"])
	require.EqualValues(t, r.ConfirmRunID, stored["confirm_run_id"])
}
