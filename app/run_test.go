package app_test

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"encoding/xml"
	"fmt"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/driftwatch/driftwatch/cli"
	"github.com/driftwatch/driftwatch/eval"
	"github.com/driftwatch/driftwatch/sim"
	"github.com/driftwatch/driftwatch/storage"
	"github.com/driftwatch/driftwatch/storage/storagetest"
)

// mixture is a realistic spread of case difficulty.
var mixture = []sim.Component{{Weight: 0.6, P: 0.97}, {Weight: 0.2, P: 0.05}, {Weight: 0.2, Min: 0.2, Max: 0.8}}

// testEnv is a simulator, a fresh database and a config pointing at both.
type testEnv struct {
	dir     string
	cfgPath string
	sim     *sim.Server
	simURL  string
	dbURL   string
}

const suiteYAML = `name: arith
samples: 4
params: {temperature: 0.7, max_tokens: 64}
prompt: "What is {{.a}} {{.op}} {{.b}}?"
dataset: arith.jsonl
extract: {type: regex, value: '(-?\d+)'}
checks:
  - type: regex
    value: '(^|[^0-9-]){{.answer}}([^0-9]|$)'
`

// writeDataset writes n arithmetic cases.
func writeDataset(t *testing.T, path string, n int) {
	t.Helper()
	var b bytes.Buffer
	for i := 0; i < n; i++ {
		a, c := 100+7*i, 13+3*i
		fmt.Fprintf(&b, `{"id":"c%03d","a":%d,"op":"+","b":%d,"answer":"%d"}`+"\n", i, a, c, a+c)
	}
	require.NoError(t, os.WriteFile(path, b.Bytes(), 0o644))
}

type envOpts struct {
	cases   int
	targets string // YAML of extra target fields appended to the sim target
	sim     sim.Config
	// dbURL is the database; default a fresh test database.
	dbURL string
}

func setup(t *testing.T, o envOpts) *testEnv {
	t.Helper()
	if o.cases == 0 {
		o.cases = 120
	}
	e := &testEnv{dir: t.TempDir(), dbURL: o.dbURL}
	if e.dbURL == "" {
		e.dbURL = storagetest.NewDatabaseURL(t)
	}
	srv, err := sim.New(o.sim)
	require.NoError(t, err)
	ctx, cancel := context.WithCancel(context.Background())
	url, stop, err := srv.Start(ctx, "127.0.0.1:0")
	require.NoError(t, err)
	t.Cleanup(func() {
		cancel()
		sctx, c2 := context.WithTimeout(context.Background(), 5*time.Second)
		defer c2()
		_ = stop(sctx)
	})
	e.sim, e.simURL = srv, url
	suites := filepath.Join(e.dir, "suites")
	require.NoError(t, os.MkdirAll(suites, 0o755))
	require.NoError(t, os.WriteFile(filepath.Join(suites, "arith.yaml"), []byte(suiteYAML), 0o644))
	writeDataset(t, filepath.Join(suites, "arith.jsonl"), o.cases)
	cfg := fmt.Sprintf(`database_url: %q
targets:
  - name: gpt
    provider: openai
    base_url: %s/v1
    model: sim-gpt
    api_key: ${DW_TEST_KEY:-sk-test-planted-secret-0123456789}
    concurrency: 8
%s
suites: [suites/]
`, e.dbURL, url, o.targets)
	e.cfgPath = filepath.Join(e.dir, "driftwatch.yaml")
	require.NoError(t, os.WriteFile(e.cfgPath, []byte(cfg), 0o600))
	return e
}

// run invokes the CLI in-process and returns its exit code and output.
func (e *testEnv) run(t *testing.T, ctx context.Context, args ...string) (int, string, string) {
	t.Helper()
	var stdout, stderr bytes.Buffer
	args = append(args, "--config", e.cfgPath)
	code := cli.Main(ctx, args, eval.NewRegistry(), &stdout, &stderr)
	return code, stdout.String(), stderr.String()
}

// jsonReport is the documented --json contract (README "JSON report").
type jsonReport struct {
	Project         string  `json:"project"`
	Suite           string  `json:"suite"`
	Target          string  `json:"target"`
	RunID           int64   `json:"run_id"`
	BaselineRunIDs  []int64 `json:"baseline_run_ids"`
	Verdict         string  `json:"verdict"`
	Reason          string  `json:"reason"`
	IdentityChanged bool    `json:"identity_changed"`
	PinViolated     bool    `json:"pin_violated"`
	Status          string  `json:"status"`
	Identity        *struct {
		ResolvedModel string `json:"resolved_model"`
		Fingerprint   string `json:"fingerprint"`
		Digest        string `json:"digest"`
	} `json:"identity"`
	Metrics struct {
		PassRate *struct {
			Value    float64  `json:"value"`
			Baseline *float64 `json:"baseline"`
			Delta    *float64 `json:"delta"`
			CI       *struct {
				Low  float64 `json:"low"`
				High float64 `json:"high"`
			} `json:"ci"`
		} `json:"pass_rate"`
		RefusalRate *struct {
			Value float64 `json:"value"`
		} `json:"refusal_rate"`
		ErrorCount int     `json:"error_count"`
		Samples    int     `json:"samples"`
		Cases      int     `json:"cases"`
		CostUSD    float64 `json:"cost_usd"`
	} `json:"metrics"`
	WallSeconds float64 `json:"wall_seconds"`
	Findings    []struct {
		Metric  string  `json:"metric"`
		Scope   string  `json:"scope"`
		Effect  float64 `json:"effect"`
		P       float64 `json:"p"`
		Q       float64 `json:"q"`
		Verdict string  `json:"verdict"`
		Reason  string  `json:"reason"`
	} `json:"findings"`
	DriftedCases []string `json:"drifted_cases"`
	ConfirmRunID int64    `json:"confirm_run_id"`
}

func readReports(t *testing.T, path string) []jsonReport {
	t.Helper()
	f, err := os.Open(path)
	require.NoError(t, err)
	defer f.Close()
	var out []jsonReport
	sc := bufio.NewScanner(f)
	sc.Buffer(nil, 64<<20)
	for sc.Scan() {
		dec := json.NewDecoder(bytes.NewReader(sc.Bytes()))
		dec.DisallowUnknownFields()
		var raw map[string]json.RawMessage
		require.NoError(t, json.Unmarshal(sc.Bytes(), &raw))
		for _, field := range []string{"suite", "target", "run_id", "baseline_run_ids", "verdict", "reason", "identity_changed", "status", "metrics", "findings", "drifted_cases", "mde"} {
			require.Contains(t, raw, field, "--json object lacks documented field %q", field)
		}
		var r jsonReport
		require.NoError(t, json.Unmarshal(sc.Bytes(), &r))
		out = append(out, r)
	}
	require.NoError(t, sc.Err())
	return out
}

func updatingGPT() sim.Config {
	worse := sim.Profile{Seed: 1, Mixture: mixture, CollapseFraction: 0.1, CollapseBy: 0.7, Drop: 0.05}
	return sim.Config{Seed: 3, Models: []sim.Model{{
		Name:     "sim-gpt",
		Identity: sim.Identity{ResolvedModel: "sim-gpt-2026-01", SystemFingerprint: "fp_a"},
		Profile:  sim.Profile{Seed: 1, Mixture: mixture},
		Updates: []sim.Update{
			{Name: "silent", Profile: &worse, Identity: &sim.Identity{ResolvedModel: "sim-gpt-2026-02", SystemFingerprint: "fp_b"}},
			{Name: "fixed", Profile: &sim.Profile{Seed: 1, Mixture: mixture}},
		},
	}}}
}

// TestRunVerdictsEndToEnd: the first run is the baseline (exit 0), a silent
// update drifts (exit 1, cases named, JSON per contract), and after the
// drifted run is accepted as the new baseline the next run is stable (exit 0).
func TestRunVerdictsEndToEnd(t *testing.T) {
	t.Parallel()
	e := setup(t, envOpts{sim: updatingGPT()})
	ctx := context.Background()
	out := filepath.Join(e.dir, "out")

	// k=10: enough samples per case to localise collapsed cases
	// (power table in package drift); suite-level detection works at k=4 too.
	code, _, stderr := e.run(t, ctx, "run", "--samples", "10", "--json", filepath.Join(out, "1.json"))
	require.Equal(t, 0, code, stderr)
	r1 := readReports(t, filepath.Join(out, "1.json"))
	require.Len(t, r1, 1)
	require.Equal(t, "BASELINE", r1[0].Verdict)
	require.Equal(t, "arith", r1[0].Suite)
	require.Equal(t, "gpt", r1[0].Target)
	require.Equal(t, 1200, r1[0].Metrics.Samples)
	require.Equal(t, "sim-gpt-2026-01", r1[0].Identity.ResolvedModel)

	_, err := e.sim.Update("sim-gpt")
	require.NoError(t, err)
	code, _, stderr = e.run(t, ctx, "run", "--samples", "10", "--json", filepath.Join(out, "2.json"), "--junit", filepath.Join(out, "2.xml"), "--markdown", filepath.Join(out, "2.md"))
	require.Equal(t, 1, code, stderr)
	r2 := readReports(t, filepath.Join(out, "2.json"))[0]
	require.Equal(t, "DRIFT", r2.Verdict, r2.Reason)
	require.Equal(t, []int64{r1[0].RunID}, r2.BaselineRunIDs)
	require.True(t, r2.IdentityChanged)
	require.NotNil(t, r2.Metrics.PassRate.Delta)
	require.Less(t, *r2.Metrics.PassRate.Delta, -0.03)
	require.NotNil(t, r2.Metrics.PassRate.CI)
	require.Less(t, r2.Metrics.PassRate.CI.High, 0.0)
	require.NotEmpty(t, r2.DriftedCases, "collapsed cases are localised")
	var passAlarm bool
	for _, f := range r2.Findings {
		if f.Metric == "pass_rate" && f.Scope == "suite" && f.Verdict == "DRIFT" {
			passAlarm = true
			require.Less(t, f.Q, 0.01)
		}
	}
	require.True(t, passAlarm, "the pass-rate finding names the metric")
	require.Contains(t, stderr, "DRIFT")
	require.Contains(t, stderr, r2.DriftedCases[0])

	var junit struct {
		Suites []struct {
			Failures int `xml:"failures,attr"`
			Cases    []struct {
				Name    string    `xml:"name,attr"`
				Failure *struct{} `xml:"failure"`
			} `xml:"testcase"`
		} `xml:"testsuite"`
	}
	b, err := os.ReadFile(filepath.Join(out, "2.xml"))
	require.NoError(t, err)
	require.NoError(t, xml.Unmarshal(b, &junit))
	require.Len(t, junit.Suites, 1)
	require.Equal(t, len(r2.DriftedCases)+1, junit.Suites[0].Failures, "the drifted cases and the (suite) verdict")
	require.Len(t, junit.Suites[0].Cases, 121)
	md, err := os.ReadFile(filepath.Join(out, "2.md"))
	require.NoError(t, err)
	require.Contains(t, string(md), "# arith on gpt: DRIFT")
	require.Contains(t, string(md), "pass_rate")

	// diff reproduces the comparison between any two runs.
	code, stdout, stderr := e.run(t, ctx, "diff", fmt.Sprint(r1[0].RunID), fmt.Sprint(r2.RunID))
	require.Equal(t, 1, code, stderr)
	require.Contains(t, stdout, "DRIFT")

	code, stdout, stderr = e.run(t, ctx, "baseline", "accept", fmt.Sprint(r2.RunID), "--note", "vendor update acknowledged", "--by", "tester")
	require.Equal(t, 0, code, stderr)
	require.Contains(t, stdout, "baseline")

	code, _, stderr = e.run(t, ctx, "run", "--samples", "10", "--json", filepath.Join(out, "3.json"))
	require.Equal(t, 0, code, stderr)
	r3 := readReports(t, filepath.Join(out, "3.json"))[0]
	require.Equal(t, "STABLE", r3.Verdict, r3.Reason)
	require.Equal(t, []int64{r2.RunID}, r3.BaselineRunIDs)

	// report re-renders a stored run.
	code, stdout, stderr = e.run(t, ctx, "report", fmt.Sprint(r2.RunID))
	require.Equal(t, 0, code, stderr)
	require.Contains(t, stdout, "DRIFT")
}

// TestResumeAfterInterrupt: a run stopped mid-way and resumed stores each
// (case, sample) exactly once and pays for no sample twice.
func TestResumeAfterInterrupt(t *testing.T) {
	t.Parallel()
	cfg := sim.Config{Seed: 5, Models: []sim.Model{{Name: "sim-gpt",
		Profile: sim.Profile{Seed: 1, Mixture: mixture, Latency: sim.Latency{Fixed: sim.Duration(2 * time.Millisecond)}}}}}
	e := setup(t, envOpts{sim: cfg})
	// Ctrl-C arrives with the 150th request (a poller of the simulator's
	// counter could wake after the whole run on a loaded machine).
	ctx := e.interruptAt(t, 150)
	jsonPath := filepath.Join(e.dir, "stopped.json")
	code, _, stderr := e.run(t, ctx, "run", "--json", jsonPath)
	require.Equal(t, 3, code, stderr)
	require.Contains(t, stderr, "--resume")
	stopped := readReports(t, jsonPath)[0]
	require.Equal(t, "stopped", stopped.Status)
	before := e.sim.Stats().Requests
	require.Less(t, before, int64(480))

	code, _, stderr = e.run(t, context.Background(), "run", "--resume", fmt.Sprint(stopped.RunID), "--json", jsonPath)
	require.Equal(t, 0, code, stderr)
	done := readReports(t, jsonPath)[0]
	require.Equal(t, stopped.RunID, done.RunID)
	require.Equal(t, "BASELINE", done.Verdict)
	require.Equal(t, 480, done.Metrics.Samples)

	st := e.sim.Stats()
	require.Equal(t, int64(480), st.Requests, "no extra model calls")
	require.Equal(t, int64(4), st.MaxPerPrompt, "no (case, sample) requested twice")

	store, err := storage.Open(context.Background(), e.dbURL)
	require.NoError(t, err)
	defer store.Close()
	samples, err := store.ListSamples(context.Background(), done.RunID, "")
	require.NoError(t, err)
	require.Len(t, samples, 480)
}

// TestErrorsAreStoredNotFailed: under injected 429s and 500s every sample
// either succeeds after retries or is stored as an error with a message;
// errors are never failed checks.
func TestErrorsAreStoredNotFailed(t *testing.T) {
	t.Parallel()
	cfg := sim.Config{Seed: 9, Models: []sim.Model{{Name: "sim-gpt", Profile: sim.Profile{Seed: 1, Accuracy: 0.9,
		Errors: sim.Errors{RateLimit: 0.15, Server: 0.15, RetryAfter: sim.Duration(5 * time.Millisecond)}}}}}
	e := setup(t, envOpts{cases: 60, sim: cfg, targets: "    retries: 1\n"})
	jsonPath := filepath.Join(e.dir, "r.json")
	code, _, stderr := e.run(t, context.Background(), "run", "--json", jsonPath, "--samples", "2")
	r := readReports(t, jsonPath)[0]
	require.Contains(t, []int{0, 2}, code, stderr)
	require.Equal(t, 120, r.Metrics.Samples)
	require.Positive(t, r.Metrics.ErrorCount, "some samples still fail after one retry at a 30%% error rate")
	require.Less(t, r.Metrics.ErrorCount, 40)

	store, err := storage.Open(context.Background(), e.dbURL)
	require.NoError(t, err)
	defer store.Close()
	samples, err := store.ListSamples(context.Background(), r.RunID, "")
	require.NoError(t, err)
	var errored int
	for _, s := range samples {
		if s.Error != "" {
			errored++
			require.Equal(t, storage.OutcomeErrored, s.Outcome)
			require.False(t, s.Passed)
			require.Contains(t, []string{"rate_limited", "server"}, s.ErrorKind)
			require.Contains(t, s.Error, "HTTP")
		}
	}
	require.Equal(t, r.Metrics.ErrorCount, errored)
}

// TestPinnedOpenModelDigestChange: a pinned Ollama target whose digest changes
// between two runs is stopped before any case is sent, reports the identity
// change and exits 1.
func TestPinnedOpenModelDigestChange(t *testing.T) {
	t.Parallel()
	const d1 = "1111111111111111111111111111111111111111111111111111111111111111"
	const d2 = "2222222222222222222222222222222222222222222222222222222222222222"
	cfg := sim.Config{Seed: 2, Models: []sim.Model{{Name: "sim-gpt", Identity: sim.Identity{Digest: d1, Quantization: "Q4_K_M"},
		Profile: sim.Profile{Seed: 1, Accuracy: 0.9},
		Updates: []sim.Update{{Name: "requantized", Identity: &sim.Identity{Digest: d2, Quantization: "Q8_0"}}}}}}
	e := setup(t, envOpts{cases: 30, sim: cfg})
	// Re-point the target as a pinned Ollama model.
	b, err := os.ReadFile(e.cfgPath)
	require.NoError(t, err)
	c := strings.Replace(string(b), "provider: openai", "provider: ollama", 1)
	c = strings.Replace(c, "concurrency: 8", "concurrency: 8\n    pin: {digest: \""+d1+"\"}", 1)
	require.NoError(t, os.WriteFile(e.cfgPath, []byte(c), 0o600))

	jsonPath := filepath.Join(e.dir, "r.json")
	code, _, stderr := e.run(t, context.Background(), "run", "--json", jsonPath)
	require.Equal(t, 0, code, stderr)
	r1 := readReports(t, jsonPath)[0]
	require.Equal(t, d1, r1.Identity.Digest, "the probed digest is recorded with the run")

	_, err = e.sim.Update("sim-gpt")
	require.NoError(t, err)
	before := e.sim.Stats().Requests
	code, _, stderr = e.run(t, context.Background(), "run", "--json", jsonPath)
	require.Equal(t, 1, code, stderr)
	r2 := readReports(t, jsonPath)[0]
	require.True(t, r2.PinViolated)
	require.True(t, r2.IdentityChanged)
	require.Equal(t, d2, r2.Identity.Digest)
	require.Equal(t, "identity", r2.Findings[0].Metric)
	require.Equal(t, "IDENTITY_CHANGED", r2.Findings[0].Verdict)
	require.Equal(t, before, e.sim.Stats().Requests, "no case was sent to the changed model")
	require.Contains(t, stderr, "pinned identity mismatch")
}

// TestSecretsNeverLeak plants an API key and checks every output channel:
// stdout, stderr (verbose logs), the report files and every stored row.
func TestSecretsNeverLeak(t *testing.T) {
	t.Parallel()
	const key = "sk-planted-4e1d2c3b4a5f6e7d8c9b"
	cfg := sim.Config{Seed: 4, APIKey: key, Models: []sim.Model{{Name: "sim-gpt", Profile: sim.Profile{Seed: 1, Accuracy: 0.8,
		Errors: sim.Errors{Server: 0.2, Malformed: 0.05}}}}}
	e := setup(t, envOpts{cases: 30, sim: cfg, targets: "    retries: 0\n"})
	b, err := os.ReadFile(e.cfgPath)
	require.NoError(t, err)
	require.NoError(t, os.WriteFile(e.cfgPath, bytes.Replace(b, []byte("${DW_TEST_KEY:-sk-test-planted-secret-0123456789}"), []byte(key), 1), 0o600))
	dir := filepath.Join(e.dir, "out")
	code, stdout, stderr := e.run(t, context.Background(), "run", "-v", "--json", filepath.Join(dir, "r.json"),
		"--junit", filepath.Join(dir, "r.xml"), "--markdown", filepath.Join(dir, "r.md"))
	require.Contains(t, []int{0, 2}, code, stderr)
	require.NotContains(t, stdout+stderr, key)
	for _, f := range []string{"r.json", "r.xml", "r.md"} {
		b, err := os.ReadFile(filepath.Join(dir, f))
		require.NoError(t, err)
		require.NotContains(t, string(b), key, f)
	}
	r := readReports(t, filepath.Join(dir, "r.json"))[0]
	require.Positive(t, r.Metrics.ErrorCount, "errors were exercised")
	store, err := storage.Open(context.Background(), e.dbURL)
	require.NoError(t, err)
	defer store.Close()
	samples, err := store.ListSamples(context.Background(), r.RunID, "")
	require.NoError(t, err)
	rows, err := json.Marshal(samples)
	require.NoError(t, err)
	require.NotContains(t, string(rows), key)
	run, err := store.GetRun(context.Background(), r.RunID)
	require.NoError(t, err)
	rb, err := json.Marshal(run)
	require.NoError(t, err)
	require.NotContains(t, string(rb), key)
}

// TestBadInputsExitThree: configuration and infrastructure problems give one
// clear error and exit code 3, and nothing is stored.
func TestBadInputsExitThree(t *testing.T) {
	t.Parallel()
	e := setup(t, envOpts{cases: 10, sim: sim.Config{Models: []sim.Model{{Name: "sim-gpt", Profile: sim.Profile{Accuracy: 1}}}}})
	ctx := context.Background()

	code, _, stderr := e.run(t, ctx, "run", "--target", "nope")
	require.Equal(t, 3, code)
	require.Contains(t, stderr, `unknown target "nope"`)

	code, _, stderr = e.run(t, ctx, "run", "--suite", "nope")
	require.Equal(t, 3, code)
	require.Contains(t, stderr, `unknown suite "nope"`)

	bad := filepath.Join(e.dir, "bad.yaml")
	require.NoError(t, os.WriteFile(bad, []byte("targets:\n  - name: x\n    provider: openai\n    model: m\n    temprature: 3\n"), 0o600))
	var so, se bytes.Buffer
	code = cli.Main(ctx, []string{"run", "--config", bad}, eval.NewRegistry(), &so, &se)
	require.Equal(t, 3, code)
	require.Contains(t, se.String(), bad+":5")
	require.Contains(t, se.String(), `unknown field "temprature"`)

	b, err := os.ReadFile(e.cfgPath)
	require.NoError(t, err)
	unreachable := strings.Replace(string(b), e.dbURL, "postgres://driftwatch:hunter2pass@127.0.0.1:1/nope?connect_timeout=2", 1)
	cfg2 := filepath.Join(e.dir, "unreachable.yaml")
	require.NoError(t, os.WriteFile(cfg2, []byte(unreachable), 0o600))
	so.Reset()
	se.Reset()
	code = cli.Main(ctx, []string{"run", "--config", cfg2}, eval.NewRegistry(), &so, &se)
	require.Equal(t, 3, code)
	require.NotContains(t, se.String(), "hunter2pass")
	require.Equal(t, int64(0), e.sim.Stats().Requests, "no model call before the database is known to work")
	require.Equal(t, 1, strings.Count(strings.TrimSpace(se.String()), "\n")+1, "one error line: %s", se.String())
}

// TestDeterministicK1: a temperature-0 endpoint sampled once per case is
// STABLE when nothing changed and DRIFT when 5% of the answers changed.
func TestDeterministicK1(t *testing.T) {
	t.Parallel()
	changed := sim.Profile{Seed: 1, Accuracy: 0.9, Deterministic: true, CollapseFraction: 0.05, CollapseBy: 1}
	cfg := sim.Config{Seed: 8, Models: []sim.Model{{Name: "sim-gpt",
		Profile: sim.Profile{Seed: 1, Accuracy: 0.9, Deterministic: true},
		Updates: []sim.Update{{Name: "noop", Profile: &sim.Profile{Seed: 1, Accuracy: 0.9, Deterministic: true}}, {Name: "5% changed", Profile: &changed}}}}}
	e := setup(t, envOpts{cases: 200, sim: cfg, targets: "    params: {temperature: 0}\n    deterministic: true\n"})
	ctx := context.Background()
	jsonPath := filepath.Join(e.dir, "r.json")
	code, _, stderr := e.run(t, ctx, "run", "--samples", "1", "--json", jsonPath)
	require.Equal(t, 0, code, stderr)

	_, err := e.sim.Update("sim-gpt") // a no-op update: same behaviour
	require.NoError(t, err)
	code, _, stderr = e.run(t, ctx, "run", "--samples", "1", "--json", jsonPath)
	require.Equal(t, 0, code, stderr)
	require.Equal(t, "STABLE", readReports(t, jsonPath)[0].Verdict)

	_, err = e.sim.Update("sim-gpt")
	require.NoError(t, err)
	code, _, stderr = e.run(t, ctx, "run", "--samples", "1", "--json", jsonPath)
	require.Equal(t, 1, code, stderr)
	r := readReports(t, jsonPath)[0]
	require.Equal(t, "DRIFT", r.Verdict, r.Reason)
}

// TestChangedCasesAreNotCompared: a case whose prompt changed since the
// baseline is reported as changed and left out of the comparison.
func TestChangedCasesAreNotCompared(t *testing.T) {
	t.Parallel()
	e := setup(t, envOpts{cases: 40, sim: sim.Config{Seed: 1, Models: []sim.Model{{Name: "sim-gpt", Profile: sim.Profile{Seed: 1, Mixture: mixture}}}}})
	ctx := context.Background()
	jsonPath := filepath.Join(e.dir, "r.json")
	code, _, stderr := e.run(t, ctx, "run", "--json", jsonPath)
	require.Equal(t, 0, code, stderr)

	ds := filepath.Join(e.dir, "suites", "arith.jsonl")
	b, err := os.ReadFile(ds)
	require.NoError(t, err)
	b = bytes.Replace(b, []byte(`{"id":"c000","a":100,`), []byte(`{"id":"c000","a":101,`), 1)
	b = bytes.Replace(b, []byte(`"answer":"113"}`), []byte(`"answer":"114"}`), 1)
	require.NoError(t, os.WriteFile(ds, b, 0o644))
	code, _, stderr = e.run(t, ctx, "run", "--json", jsonPath)
	require.Contains(t, []int{0, 1}, code, stderr)
	var raw struct {
		ChangedCases []string `json:"changed_cases"`
	}
	line, err := os.ReadFile(jsonPath)
	require.NoError(t, err)
	require.NoError(t, json.Unmarshal(line, &raw))
	require.Equal(t, []string{"c000"}, raw.ChangedCases)
}

// TestRateLimitUnderErrors: with 30% of requests answered 429 or 500, a
// 500-case run completes (every sample succeeded or stored as an error after
// the retries) and the simulator never sees more requests per second than the
// configured rpm allows, retries included.
func TestRateLimitUnderErrors(t *testing.T) {
	t.Parallel()
	if testing.Short() {
		t.Skip("takes about 5 s")
	}
	cfg := sim.Config{Seed: 11, Models: []sim.Model{{Name: "sim-gpt", Profile: sim.Profile{Seed: 1, Accuracy: 0.9,
		Errors: sim.Errors{RateLimit: 0.15, Server: 0.15, RetryAfter: sim.Duration(50 * time.Millisecond)}}}}}
	const rpm = 9000 // 150 requests per second
	e := setup(t, envOpts{cases: 500, sim: cfg, targets: fmt.Sprintf("    rpm: %d\n    retries: 3\n", rpm)})
	jsonPath := filepath.Join(e.dir, "r.json")
	code, _, stderr := e.run(t, context.Background(), "run", "--samples", "1", "--no-progress", "--json", jsonPath)
	require.Contains(t, []int{0, 2}, code, stderr)
	r := readReports(t, jsonPath)[0]
	require.Equal(t, 500, r.Metrics.Samples, "every sample is stored, succeeded or errored")
	st := e.sim.Stats()
	require.Greater(t, st.Requests, int64(500), "errors were retried")
	// One second holds at most rate + burst requests (the simulator counts
	// ten 100 ms buckets, so allow one bucket of skew).
	require.LessOrEqual(t, st.MaxPerSecond, int64(rpm/60+rpm/600+rpm/600), "max per second %d", st.MaxPerSecond)
	t.Logf("requests %d (retries %d), errors stored %d, max per second %d (limit %d)",
		st.Requests, st.Requests-500, r.Metrics.ErrorCount, st.MaxPerSecond, rpm/60)
}

// TestBudgetCapStopsCleanly: a run that reaches max_cost_usd stops, is
// INCONCLUSIVE with the reason (exit 2), never overspends by more than the
// requests in flight, and can be resumed.
func TestBudgetCapStopsCleanly(t *testing.T) {
	t.Parallel()
	cfg := sim.Config{Seed: 12, Models: []sim.Model{{Name: "sim-gpt", Profile: sim.Profile{Seed: 1, Accuracy: 0.9}}}}
	e := setup(t, envOpts{cases: 100, sim: cfg, targets: "    params: {max_tokens: 20}\n"})
	b, err := os.ReadFile(e.cfgPath)
	require.NoError(t, err)
	// $1,000 per million tokens: about $0.03 a sample; the cap allows ~30.
	extra := "max_cost_usd: 1.0\nprices:\n  sim-gpt: {input: 1000, output: 1000}\n"
	require.NoError(t, os.WriteFile(e.cfgPath, append(b, extra...), 0o600))
	jsonPath := filepath.Join(e.dir, "r.json")
	code, _, stderr := e.run(t, context.Background(), "run", "--samples", "1", "--no-progress", "--json", jsonPath)
	require.Equal(t, 2, code, stderr)
	r := readReports(t, jsonPath)[0]
	require.Equal(t, "stopped", r.Status)
	require.Equal(t, "INCONCLUSIVE", r.Verdict)
	require.Contains(t, r.Reason, "budget")
	served := e.sim.Stats().Served
	require.Less(t, served, int64(100), "the cap stopped the run early")
	// Overspend is bounded by what was in flight: at most concurrency (8)
	// samples of at most ~$0.05 each.
	require.LessOrEqual(t, r.Metrics.CostUSD, 1.0+8*0.05)
	require.Greater(t, r.Metrics.CostUSD, 0.5)
}

// TestCUSUMCatchesSlowDrift: a small sustained drop that single runs do not
// flag accumulates in the pass-rate CUSUM until it alarms.
func TestCUSUMCatchesSlowDrift(t *testing.T) {
	t.Parallel()
	if testing.Short() {
		t.Skip("ten runs")
	}
	base := sim.Profile{Seed: 1, Mixture: mixture}
	slow := base
	slow.Drop = 0.04
	cfg := sim.Config{Seed: 21, Models: []sim.Model{{Name: "sim-gpt", Profile: base, Updates: []sim.Update{{Name: "slow", Profile: &slow}}}}}
	e := setup(t, envOpts{cases: 150, sim: cfg})
	// A one-run baseline: its CUSUM history is every run compared with it
	// (a pool that grows restarts the history with each new baseline).
	e.editConfig(t, func(c string) string { return c + "baseline: {runs: 1}\n" })
	ctx := context.Background()
	jsonPath := filepath.Join(e.dir, "r.json")
	code, _, stderr := e.run(t, ctx, "run", "--no-progress", "--json", jsonPath)
	require.Equal(t, 0, code, stderr)
	_, err := e.sim.Update("sim-gpt")
	require.NoError(t, err)
	var prev float64
	history := 0 // runs in the CUSUM: every run since the baseline but DRIFT ones
	for night := 1; night <= 10; night++ {
		code, _, stderr = e.run(t, ctx, "run", "--no-progress", "--json", jsonPath)
		require.Contains(t, []int{0, 1}, code, stderr)
		var r struct {
			Verdict  string `json:"verdict"`
			Reason   string `json:"reason"`
			Findings []struct {
				Metric string `json:"metric"`
			} `json:"findings"`
			CUSUM *struct {
				Statistic float64 `json:"statistic"`
				Runs      int     `json:"runs"`
				Alarm     bool    `json:"alarm"`
			} `json:"cusum"`
		}
		line, err := os.ReadFile(jsonPath)
		require.NoError(t, err)
		require.NoError(t, json.Unmarshal(line, &r))
		require.NotNil(t, r.CUSUM)
		history++
		require.Equal(t, history, r.CUSUM.Runs, "the history holds every run since the baseline but DRIFT ones")
		t.Logf("night %d: %s, CUSUM %.2f", night, r.Verdict, r.CUSUM.Statistic)
		if r.CUSUM.Alarm {
			require.Equal(t, "DRIFT", r.Verdict, r.Reason)
			return
		}
		if r.Verdict == "DRIFT" {
			history-- // alarmed by the nightly test: left out of later histories
		}
		prev = r.CUSUM.Statistic
	}
	t.Fatalf("no CUSUM alarm after 10 runs of a 4-point drop (last statistic %.2f)", prev)
}

// TestRollbackIsStable: a vendor update that is rolled back gives DRIFT on
// the night it is live and STABLE on the first night after the rollback; the
// drifted night does not linger in the CUSUM as "slow drift".
func TestRollbackIsStable(t *testing.T) {
	t.Parallel()
	base := sim.Profile{Seed: 1, Mixture: mixture}
	worse := base
	worse.Drop = 0.25
	cfg := sim.Config{Seed: 22, Models: []sim.Model{{Name: "sim-gpt", Profile: base,
		Updates: []sim.Update{{Name: "worse", Profile: &worse}, {Name: "rollback", Profile: &base}}}}}
	e := setup(t, envOpts{cases: 120, sim: cfg})
	ctx := context.Background()
	jsonPath := filepath.Join(e.dir, "r.json")
	for night, want := range []string{"BASELINE", "DRIFT", "STABLE", "STABLE"} {
		if night == 1 || night == 2 {
			_, err := e.sim.Update("sim-gpt")
			require.NoError(t, err)
		}
		_, _, stderr := e.run(t, ctx, "run", "--no-progress", "--json", jsonPath)
		r := readReports(t, jsonPath)[0]
		require.Equal(t, want, r.Verdict, "night %d: %s\n%s", night, r.Reason, stderr)
	}
}

// TestPinWarnRunsAndReports: with pin mode warn, a changed digest does not
// stop the run; the change is reported as an identity finding.
func TestPinWarnRunsAndReports(t *testing.T) {
	t.Parallel()
	const d1 = "1111111111111111111111111111111111111111111111111111111111111111"
	const d2 = "3333333333333333333333333333333333333333333333333333333333333333"
	cfg := sim.Config{Seed: 2, Models: []sim.Model{{Name: "sim-gpt", Identity: sim.Identity{Digest: d1},
		Profile: sim.Profile{Seed: 1, Accuracy: 0.9},
		Updates: []sim.Update{{Name: "requantized", Identity: &sim.Identity{Digest: d2}}}}}}
	e := setup(t, envOpts{cases: 30, sim: cfg})
	b, err := os.ReadFile(e.cfgPath)
	require.NoError(t, err)
	c := strings.Replace(string(b), "provider: openai", "provider: ollama", 1)
	c = strings.Replace(c, "concurrency: 8", "concurrency: 8\n    pin: {digest: \""+d1+"\", mode: warn}", 1)
	require.NoError(t, os.WriteFile(e.cfgPath, []byte(c), 0o600))
	jsonPath := filepath.Join(e.dir, "r.json")
	code, _, stderr := e.run(t, context.Background(), "run", "--json", jsonPath)
	require.Equal(t, 0, code, stderr)
	_, err = e.sim.Update("sim-gpt")
	require.NoError(t, err)
	before := e.sim.Stats().Requests
	code, _, stderr = e.run(t, context.Background(), "run", "--json", jsonPath)
	require.Equal(t, 0, code, stderr)
	r := readReports(t, jsonPath)[0]
	require.Equal(t, "STABLE", r.Verdict, r.Reason)
	require.False(t, r.PinViolated)
	require.True(t, r.IdentityChanged)
	require.Equal(t, before+120, e.sim.Stats().Requests, "every sample was sent")
	var found bool
	for _, f := range r.Findings {
		found = found || (f.Metric == "identity" && f.Verdict == "IDENTITY_CHANGED")
	}
	require.True(t, found, "the identity change is a finding")
}

// TestEveryProviderEndToEnd runs a small suite through each provider family
// against the simulator's matching wire format and checks the identity each
// one records (probed for open servers, from the response for APIs).
func TestEveryProviderEndToEnd(t *testing.T) {
	t.Parallel()
	id := sim.Identity{ResolvedModel: "sim-gpt-2026-05", SystemFingerprint: "fp_e2e", Digest: "d1g3st",
		ModelPath: "/models/sim.gguf", ModelHash: "h4sh", ModelSHA: "5ha", DType: "bfloat16", Root: "org/sim@rev9"}
	for _, tc := range []struct {
		provider, baseSuffix string
		check                func(t *testing.T, r jsonReport)
	}{
		{"openai", "/v1", func(t *testing.T, r jsonReport) {
			require.Equal(t, "sim-gpt-2026-05", r.Identity.ResolvedModel)
			require.Equal(t, "fp_e2e", r.Identity.Fingerprint)
		}},
		{"anthropic", "", func(t *testing.T, r jsonReport) { require.Equal(t, "sim-gpt-2026-05", r.Identity.ResolvedModel) }},
		{"azure", "", func(t *testing.T, r jsonReport) { require.Equal(t, "fp_e2e", r.Identity.Fingerprint) }},
		{"ollama", "/v1", func(t *testing.T, r jsonReport) { require.Equal(t, "d1g3st", r.Identity.Digest) }},
		{"vllm", "/v1", func(t *testing.T, r jsonReport) { require.NotEmpty(t, r.Identity.ResolvedModel) }},
		{"llamacpp", "/v1", func(t *testing.T, r jsonReport) { require.NotEmpty(t, r.Identity.Digest) }},
		{"tgi", "/v1", func(t *testing.T, r jsonReport) { require.Equal(t, "5ha", r.Identity.Digest) }},
		{"lmstudio", "/v1", func(t *testing.T, r jsonReport) { require.Equal(t, "sim-gpt-2026-05", r.Identity.ResolvedModel) }},
	} {
		t.Run(tc.provider, func(t *testing.T) {
			t.Parallel()
			cfg := sim.Config{Seed: 3, Models: []sim.Model{{Name: "sim-gpt", Identity: id, Profile: sim.Profile{Seed: 1, Accuracy: 0.95}}}}
			e := setup(t, envOpts{cases: 25, sim: cfg})
			b, err := os.ReadFile(e.cfgPath)
			require.NoError(t, err)
			c := strings.Replace(string(b), "provider: openai", "provider: "+tc.provider, 1)
			c = strings.Replace(c, e.simURL+"/v1", e.simURL+tc.baseSuffix, 1)
			require.NoError(t, os.WriteFile(e.cfgPath, []byte(c), 0o600))
			jsonPath := filepath.Join(e.dir, "r.json")
			code, _, stderr := e.run(t, context.Background(), "run", "--samples", "2", "--no-progress", "--json", jsonPath)
			require.Equal(t, 0, code, stderr)
			r := readReports(t, jsonPath)[0]
			require.Equal(t, "BASELINE", r.Verdict)
			require.Equal(t, 50, r.Metrics.Samples)
			require.Zero(t, r.Metrics.ErrorCount)
			require.Greater(t, r.Metrics.PassRate.Value, 0.7)
			tc.check(t, r)
		})
	}
}

// TestConfirmRun: with --confirm a DRIFT verdict stands only after a fresh
// confirmation run drifts too.
func TestConfirmRun(t *testing.T) {
	t.Parallel()
	e := setup(t, envOpts{sim: updatingGPT()})
	ctx := context.Background()
	jsonPath := filepath.Join(e.dir, "r.json")
	code, _, stderr := e.run(t, ctx, "run", "--samples", "6", "--no-progress", "--json", jsonPath)
	require.Equal(t, 0, code, stderr)
	_, err := e.sim.Update("sim-gpt")
	require.NoError(t, err)
	before := e.sim.Stats().Requests
	code, _, stderr = e.run(t, ctx, "run", "--samples", "6", "--confirm", "--no-progress", "--json", jsonPath)
	require.Equal(t, 1, code, stderr)
	var r struct {
		Verdict      string `json:"verdict"`
		Reason       string `json:"reason"`
		ConfirmRunID int64  `json:"confirm_run_id"`
	}
	line, err := os.ReadFile(jsonPath)
	require.NoError(t, err)
	require.NoError(t, json.Unmarshal(line, &r))
	require.Equal(t, "DRIFT", r.Verdict)
	require.NotZero(t, r.ConfirmRunID)
	require.Contains(t, r.Reason, fmt.Sprintf("Confirmed by run %d", r.ConfirmRunID))
	require.Equal(t, before+2*720, e.sim.Stats().Requests, "the confirmation is a second full run")
}

// TestTargetsRunConcurrently: the runs on different targets overlap (each
// target has its own concurrency), and the reports keep the config's order.
func TestTargetsRunConcurrently(t *testing.T) {
	t.Parallel()
	cfg := sim.Config{Seed: 5, Models: []sim.Model{{Name: "sim-gpt", Profile: sim.Profile{Seed: 1, Accuracy: 0.9}}}}
	e := setup(t, envOpts{cases: 20, sim: cfg})
	// The first target's requests wait until the second target has sent
	// one: sequential runs would make them wait for nothing. The wait is
	// bounded by one deadline for the whole test, generous enough for a
	// loaded machine to start the second run.
	bSeen := make(chan struct{})
	var once sync.Once
	var overlapped atomic.Bool
	deadline := time.Now().Add(60 * time.Second)
	first := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		select {
		case <-bSeen:
			overlapped.Store(true)
		case <-time.After(time.Until(deadline)):
		}
		e.sim.ServeHTTP(w, r)
	}))
	t.Cleanup(first.Close)
	second := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		once.Do(func() { close(bSeen) })
		e.sim.ServeHTTP(w, r)
	}))
	t.Cleanup(second.Close)
	b, err := os.ReadFile(e.cfgPath)
	require.NoError(t, err)
	c := strings.Replace(string(b), e.simURL+"/v1", first.URL+"/v1", 1)
	c = strings.Replace(c, "suites: [suites/]", fmt.Sprintf(`  - name: second
    provider: openai
    base_url: %s/v1
    model: sim-gpt
    api_key: sk-test
suites: [suites/]`, second.URL), 1)
	require.NoError(t, os.WriteFile(e.cfgPath, []byte(c), 0o600))

	jsonPath := filepath.Join(e.dir, "r.json")
	code, _, stderr := e.run(t, context.Background(), "run", "--samples", "2", "--no-progress", "--json", jsonPath)
	require.Equal(t, 0, code, stderr)
	reports := readReports(t, jsonPath)
	require.Len(t, reports, 2)
	require.Equal(t, []string{"gpt", "second"}, []string{reports[0].Target, reports[1].Target})
	for _, r := range reports {
		require.Equal(t, "BASELINE", r.Verdict)
		require.Equal(t, 40, r.Metrics.Samples)
	}
	require.True(t, overlapped.Load(), "the second target's run started while the first's was in flight")
}
