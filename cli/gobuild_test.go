package cli_test

import (
	"bytes"
	"context"
	"os"
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/driftwatch/driftwatch/cli"
	"github.com/driftwatch/driftwatch/eval"
)

// goSuiteDir is a folder with a config whose suites: list is entries, and
// a folder shout holding the Go source of a suite called shout (plus, with
// yaml, a YAML suite file).
func goSuiteDir(t *testing.T, entries string, yaml bool) (cfg string) {
	t.Helper()
	dir := t.TempDir()
	require.NoError(t, os.MkdirAll(filepath.Join(dir, "shout"), 0o755))
	require.NoError(t, os.WriteFile(filepath.Join(dir, "shout", "shout.go"), []byte("package shout\n"), 0o644))
	if yaml {
		require.NoError(t, os.WriteFile(filepath.Join(dir, "shout", "s.yaml"), []byte("name: loud\nprompt: hi\ncases: [{id: a}]\n"), 0o644))
	}
	cfg = filepath.Join(dir, "driftwatch.yaml")
	require.NoError(t, os.WriteFile(cfg, []byte("targets:\n  - {name: t, base_url: http://127.0.0.1:1/v1, model: m, api_key: k}\nsuites: "+entries+"\n"), 0o644))
	return cfg
}

func runWithShout(t *testing.T, args ...string) (int, string) {
	t.Helper()
	reg := eval.NewRegistry()
	reg.Register(eval.SuiteFunc("shout", eval.CaseFunc("a", func(*eval.T) {})))
	var stdout, stderr bytes.Buffer
	code := cli.Main(context.Background(), args, reg, &stdout, &stderr)
	return code, stderr.String()
}

// TestSuitesEntryThatIsAGoSuiteAndAGoFolderIsTheSuite: a suites: name
// that is a registered Go suite and also a folder (its Go source, no YAML)
// names the suite, instead of failing as a folder without YAML suites.
func TestSuitesEntryThatIsAGoSuiteAndAGoFolderIsTheSuite(t *testing.T) {
	t.Parallel()
	code, stderr := runWithShout(t, "--config", goSuiteDir(t, "[shout]", false), "suites", "lint")
	require.Equal(t, cli.ExitOK, code, stderr)
}

// TestSuitesEntryThatIsAGoSuiteAndAYAMLFolderIsAnError: when the folder
// holds YAML suites too, the name is ambiguous: the error is at the
// entry's line and says how to write each meaning.
func TestSuitesEntryThatIsAGoSuiteAndAYAMLFolderIsAnError(t *testing.T) {
	t.Parallel()
	cfg := goSuiteDir(t, "[shout]", true)
	code, stderr := runWithShout(t, "--config", cfg, "suites", "lint")
	require.Equal(t, cli.ExitConfig, code)
	require.Contains(t, stderr, cfg+":3: suites[0]: ")
	require.Contains(t, stderr, `"shout" is both a registered Go suite and a YAML suite path: write ./shout for the path, or rename the Go suite`)

	code, stderr = runWithShout(t, "--config", goSuiteDir(t, "[./shout]", true), "suites", "lint")
	require.Equal(t, cli.ExitOK, code, "./shout is the YAML folder: %s", stderr)
}

// TestSuitesEntryGoPatternNotBuiltIn: a binary not built from a suites:
// pattern says so at the entry's line and how to build it.
func TestSuitesEntryGoPatternNotBuiltIn(t *testing.T) {
	t.Parallel()
	cfg := goSuiteDir(t, "[./shout/...]", false)
	code, stderr := runWithShout(t, "--config", cfg, "suites", "lint")
	require.Equal(t, cli.ExitConfig, code)
	require.Contains(t, stderr, cfg+":3: suites[0]: ")
	require.Contains(t, stderr, `"./shout/..." is a Go package pattern, but this binary was not built with it: driftwatch run builds it, or build a binary with driftwatch build ./shout/... -o bin/driftwatch`)
}

// TestRunArgumentMustBeAGoPackagePattern: run's arguments are Go package
// patterns; anything else is a usage error that says what to write.
func TestRunArgumentMustBeAGoPackagePattern(t *testing.T) {
	t.Parallel()
	code, stderr := runWithShout(t, "--config", goSuiteDir(t, "[]", false), "run", "shout")
	require.Equal(t, cli.ExitConfig, code)
	require.Contains(t, stderr, `driftwatch: "shout" is not a Go package pattern: write ./evals/... for the packages below evals`)
}
