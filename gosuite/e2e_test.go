package gosuite_test

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/driftwatch/driftwatch/cli"
	"github.com/driftwatch/driftwatch/eval"
	"github.com/driftwatch/driftwatch/sim"
	"github.com/driftwatch/driftwatch/storage/storagetest"
)

// checkoutRoot is the root of the driftwatch module this test runs in, the
// target of the user module's replace directive.
func checkoutRoot(t testing.TB) string {
	t.Helper()
	_, file, _, ok := runtime.Caller(0)
	require.True(t, ok)
	return filepath.Dir(filepath.Dir(file))
}

// offlineGo makes the go commands the build runs work offline against the
// module cache and the checkout, sharing this process's build cache, and
// points the binary cache at a folder of the test. It returns that folder.
// It sets the environment, so its test cannot be parallel.
func offlineGo(t *testing.T) (cacheDir string) {
	t.Helper()
	out, err := exec.Command("go", "env", "GOCACHE", "GOMODCACHE").Output()
	require.NoError(t, err)
	env := strings.Split(strings.TrimSpace(string(out)), "\n")
	require.Len(t, env, 2)
	t.Setenv("GOCACHE", env[0])
	t.Setenv("GOMODCACHE", env[1])
	t.Setenv("GOFLAGS", "-mod=mod")
	t.Setenv("GOPROXY", "off")
	t.Setenv("GOSUMDB", "off")
	t.Setenv("GOTOOLCHAIN", "local")
	xdg := t.TempDir()
	t.Setenv("XDG_CACHE_HOME", xdg) // os.UserCacheDir: where built binaries go
	return filepath.Join(xdg, "driftwatch", "gosuite")
}

// userGoMod is the user's go.mod: the module and the one requirement.
const userGoMod = `module example.com/myevals

go 1.26

require github.com/driftwatch/driftwatch v0.0.0

replace github.com/driftwatch/driftwatch => %s
`

// userSuite is the user's one suite file: six arithmetic cases, as
// EvalXxx functions of package evals, and the suite's options.
const userSuite = `package evals

import (
	"fmt"
	"strconv"

	"github.com/driftwatch/driftwatch/eval"
	"github.com/driftwatch/driftwatch/eval/check"
)

// EvalOpts sets the suite's samples per case and sampling parameters.
func EvalOpts() eval.SuiteOpts {
	t := 0.7
	return eval.SuiteOpts{Samples: 8, Params: eval.Params{Temperature: &t, MaxTokens: 32}}
}

func EvalSmall(t *eval.T)    { sum(t, 12, 30) }
func EvalMedium(t *eval.T)   { sum(t, 341, 980) }
func EvalLarge(t *eval.T)    { sum(t, 4021, 7735) }
func EvalNegative(t *eval.T) { sum(t, 164, -414) }
func EvalCarry(t *eval.T)    { sum(t, 999, 1) }
func EvalZero(t *eval.T)     { sum(t, 0, 58) }

// sum asks for a+b and checks the answer.
func sum(t *eval.T, a, b int) {
	t.Helper()
	out := t.Ask(fmt.Sprintf("What is %d + %d? Reply with only the number.", a, b))
	t.Check(out, check.Contains(strconv.Itoa(a+b)))
}
`

// jsonReport is the part of the --json report this test reads.
type jsonReport struct {
	Suite        string   `json:"suite"`
	Verdict      string   `json:"verdict"`
	Reason       string   `json:"reason"`
	ChangedCases []string `json:"changed_cases"`
	Cases        []struct {
		Key     string `json:"key"`
		Changed bool   `json:"changed"`
	} `json:"cases"`
	Metrics struct {
		Samples int `json:"samples"`
	} `json:"metrics"`
}

// TestGoSuiteFromFreshModuleBaselineDriftThenChangedCase: a module of two
// authored files (go.mod and one suite file) runs with one driftwatch
// command, driftwatch run <module>/...: the first run is the BASELINE, a
// silent model update is DRIFT, and after the model is restored an edited
// case is reported as changed, not drifted, while the others are compared
// as before. The binary is built once, reused while nothing changed, and
// rebuilt once after the edit.
func TestGoSuiteFromFreshModuleBaselineDriftThenChangedCase(t *testing.T) {
	if testing.Short() {
		t.Skip("builds a Go binary")
	}
	cacheDir := offlineGo(t)
	ctx, cancel := context.WithTimeout(context.Background(), 8*time.Minute)
	defer cancel()

	// The user's module: exactly two authored files.
	mod := t.TempDir()
	require.NoError(t, os.WriteFile(filepath.Join(mod, "go.mod"), []byte(fmt.Sprintf(userGoMod, checkoutRoot(t))), 0o644))
	require.NoError(t, os.MkdirAll(filepath.Join(mod, "evals"), 0o755))
	suiteFile := filepath.Join(mod, "evals", "evals.go")
	require.NoError(t, os.WriteFile(suiteFile, []byte(userSuite), 0o644))

	// The environment: a simulated model that silently degrades and is
	// then fixed, a database, and a config naming them.
	good := sim.Profile{Seed: 1, Accuracy: 0.95}
	worse := sim.Profile{Seed: 1, Accuracy: 0.3}
	srv, err := sim.New(sim.Config{Seed: 7, Models: []sim.Model{{Name: "sim-gpt",
		Updates: []sim.Update{{Name: "silent", Profile: &worse}, {Name: "fixed", Profile: &good}}, Profile: good}}})
	require.NoError(t, err)
	simURL, stop, err := srv.Start(ctx, "127.0.0.1:0")
	require.NoError(t, err)
	t.Cleanup(func() { _ = stop(context.Background()) })
	envDir := t.TempDir()
	cfg := filepath.Join(envDir, "driftwatch.yaml")
	require.NoError(t, os.WriteFile(cfg, []byte(fmt.Sprintf(`database_url: %q
targets:
  - {name: gpt, provider: openai, base_url: %s/v1, model: sim-gpt, api_key: k}
`, storagetest.NewDatabaseURL(t), simURL)), 0o600))

	run := func(n int) (int, jsonReport, string) {
		t.Helper()
		out := filepath.Join(envDir, fmt.Sprintf("%d.json", n))
		var stdout, stderr bytes.Buffer
		start := time.Now()
		code := cli.Main(ctx, []string{"run", filepath.Join(mod, "..."), "--config", cfg, "--json", out, "--no-progress"},
			eval.NewRegistry(), &stdout, &stderr)
		t.Logf("run %d: exit %d in %v", n, code, time.Since(start).Round(time.Millisecond))
		b, err := os.ReadFile(out)
		require.NoError(t, err, "run %d: exit %d\n%s", n, code, stderr.String())
		var rep jsonReport // one report is written as an object, not a list
		require.NoError(t, json.Unmarshal(b, &rep), "only the module's suite runs: %s", b)
		return code, rep, stderr.String()
	}
	builds := func() int {
		entries, err := os.ReadDir(cacheDir)
		require.NoError(t, err)
		return len(entries)
	}

	code, r, stderr := run(1)
	require.Equal(t, cli.ExitOK, code, stderr)
	require.Equal(t, "BASELINE", r.Verdict, r.Reason)
	require.Equal(t, "evals", r.Suite, "the suite is named after the package")
	require.Equal(t, 6*8, r.Metrics.Samples, "six EvalXxx cases, EvalOpts' 8 samples each")
	require.Equal(t, 1, builds())

	_, err = srv.Update("sim-gpt")
	require.NoError(t, err)
	code, r, stderr = run(2)
	require.Equal(t, cli.ExitDrift, code, stderr)
	require.Equal(t, "DRIFT", r.Verdict, r.Reason)
	require.Empty(t, r.ChangedCases)
	require.Equal(t, 1, builds(), "nothing changed: the cached binary is reused")

	_, err = srv.Update("sim-gpt") // fixed: behaves as at the baseline again
	require.NoError(t, err)
	src, err := os.ReadFile(suiteFile)
	require.NoError(t, err)
	edited := strings.Replace(string(src), "sum(t, 341, 980)", "sum(t, 341, 981)", 1)
	require.NotEqual(t, string(src), edited)
	require.NoError(t, os.WriteFile(suiteFile, []byte(edited), 0o644))
	code, r, stderr = run(3)
	require.Equal(t, cli.ExitOK, code, stderr)
	require.Equal(t, "STABLE", r.Verdict, r.Reason)
	require.Equal(t, []string{"Medium"}, r.ChangedCases, "only the edited case changed")
	for _, c := range r.Cases {
		require.Equal(t, c.Key == "Medium", c.Changed, c.Key)
	}
	require.Equal(t, 2, builds(), "the edit rebuilt the binary once")

	// Still two authored files: the build wrote nothing but go.sum (and
	// go.mod's indirect requirements, as go get would).
	var authored []string
	require.NoError(t, filepath.WalkDir(mod, func(p string, d os.DirEntry, err error) error {
		if err == nil && !d.IsDir() && !strings.HasPrefix(d.Name(), "go.") {
			authored = append(authored, p)
		}
		return err
	}))
	require.Equal(t, []string{suiteFile}, authored)

	// driftwatch build writes the cached binary for a server; it is
	// driftwatch with the module's suite.
	bin := filepath.Join(envDir, "bin", "driftwatch")
	var stdout, errOut bytes.Buffer
	code = cli.Main(ctx, []string{"build", filepath.Join(mod, "..."), "-o", bin}, eval.NewRegistry(), &stdout, &errOut)
	require.Equal(t, cli.ExitOK, code, errOut.String())
	require.Equal(t, 2, builds(), "the binary run built is reused")
	out, err := exec.CommandContext(ctx, bin, "--config", cfg, "suites", "lint").CombinedOutput()
	require.NoError(t, err, "%s", out)

	// A compile error in the suite is go build's, at the file and line.
	broken := strings.Replace(edited, "sum(t, 999, 1)", "sum(t, 999)", 1)
	require.NoError(t, os.WriteFile(suiteFile, []byte(broken), 0o644))
	errOut.Reset()
	code = cli.Main(ctx, []string{"run", filepath.Join(mod, "..."), "--config", cfg}, eval.NewRegistry(), &stdout, &errOut)
	require.Equal(t, cli.ExitConfig, code)
	require.Regexp(t, `evals/evals.go:2\d:\d+: not enough arguments in call to sum`, errOut.String())
}

// TestGoSuiteFromConfigSuitesEntry: with ./evals/... under the config's
// suites: next to a YAML folder, driftwatch run with no arguments builds
// the binary and runs both the YAML suite and the Go suite, as serve and
// worker do.
func TestGoSuiteFromConfigSuitesEntry(t *testing.T) {
	if testing.Short() {
		t.Skip("builds a Go binary")
	}
	offlineGo(t)
	ctx, cancel := context.WithTimeout(context.Background(), 8*time.Minute)
	defer cancel()
	srv, err := sim.New(sim.Config{Models: []sim.Model{{Name: "sim-gpt", Profile: sim.Profile{Seed: 1, Accuracy: 0.95}}}})
	require.NoError(t, err)
	simURL, stop, err := srv.Start(ctx, "127.0.0.1:0")
	require.NoError(t, err)
	t.Cleanup(func() { _ = stop(context.Background()) })

	mod := t.TempDir()
	for name, content := range map[string]string{
		"go.mod":          fmt.Sprintf(userGoMod, checkoutRoot(t)),
		"evals/evals.go":  userSuite,
		"yaml/sum.yaml":   "name: yaml-sum\nsamples: 20\nprompt: \"What is 2 + 3?\"\ncases: [{id: five}]\nchecks: [{type: contains, value: \"5\"}]\n",
		"driftwatch.yaml": fmt.Sprintf("database_url: %q\ntargets:\n  - {name: gpt, base_url: %s/v1, model: sim-gpt, api_key: k}\nsuites: [yaml/, ./evals/...]\n", storagetest.NewDatabaseURL(t), simURL),
	} {
		require.NoError(t, os.MkdirAll(filepath.Dir(filepath.Join(mod, name)), 0o755))
		require.NoError(t, os.WriteFile(filepath.Join(mod, name), []byte(content), 0o644))
	}
	out := filepath.Join(t.TempDir(), "r.json")
	var stdout, stderr bytes.Buffer
	code := cli.Main(ctx, []string{"run", "--config", filepath.Join(mod, "driftwatch.yaml"), "--json", out, "--no-progress"},
		eval.NewRegistry(), &stdout, &stderr)
	require.Equal(t, cli.ExitOK, code, stderr.String())
	b, err := os.ReadFile(out)
	require.NoError(t, err)
	var names []string
	for dec := json.NewDecoder(bytes.NewReader(b)); dec.More(); { // one JSON object per report
		var r jsonReport
		require.NoError(t, dec.Decode(&r), "%s", b)
		require.Equal(t, "BASELINE", r.Verdict, r.Suite)
		names = append(names, r.Suite)
	}
	require.ElementsMatch(t, []string{"yaml-sum", "evals"}, names)
}
