package app_test

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/driftwatch/driftwatch/cli"
	"github.com/driftwatch/driftwatch/eval"
	"github.com/driftwatch/driftwatch/suites"
)

// badSuites is the folder of yamlsuite's test suites, one mistake each.
var badSuites = filepath.Join("..", "eval", "yamlsuite", "testdata", "bad")

// badSuiteCases lists each bad suite file with where its one error is and a
// key phrase of the message.
var badSuiteCases = []struct {
	file  string
	where string // file:line, relative to badSuites
	words string
}{
	{"syntax.yaml", "syntax.yaml:2", "mapping values are not allowed"},
	{"unknown_field.yaml", "unknown_field.yaml:4", `unknown field "temprature"`},
	{"unknown_check.yaml", "unknown_check.yaml:6", `unknown check type "containz"`},
	{"bad_regex.yaml", "bad_regex.yaml:4", "missing closing )"},
	{"missing_dataset.yaml", "missing_dataset.yaml:4", "not found"},
	{"missing_var.yaml", "missing_var.yaml:6", `missing variable "language"`},
	{"missing_var_dataset.yaml", "missing_var_dataset.yaml:2", `missing variable "language"`},
	{"missing_var_check_dataset.yaml", "missing_var_check_dataset.yaml:6", `missing variable "expected"`},
	{"duplicate_id.yaml", "duplicate_id.yaml:8", `duplicate case id "seventeen"`},
	{"bad_role.yaml", "bad_role.yaml:7", `unknown role "bot"`},
	{"bad_csv.yaml", "bad_csv.csv:3", "wrong number of fields"},
}

// cliResult is what one in-process driftwatch invocation produced.
type cliResult struct {
	code           int
	stdout, stderr string
}

// runCLI runs driftwatch in-process with the example Go suites registered.
func runCLI(t testing.TB, args ...string) cliResult {
	t.Helper()
	reg := eval.NewRegistry()
	suites.Register(reg)
	ctx, cancel := context.WithCancel(context.Background())
	t.Cleanup(cancel)
	var stdout, stderr bytes.Buffer
	code := cli.Main(ctx, args, reg, &stdout, &stderr)
	return cliResult{code: code, stdout: stdout.String(), stderr: stderr.String()}
}

func TestSuitesLintBad(t *testing.T) {
	t.Parallel()
	for _, tt := range badSuiteCases {
		t.Run(tt.file, func(t *testing.T) {
			t.Parallel()
			r := runCLI(t, "suites", "lint", filepath.Join(badSuites, tt.file))
			require.Equal(t, cli.ExitConfig, r.code, "stderr: %s", r.stderr)
			require.Contains(t, r.stderr, filepath.Join(badSuites, tt.where)+": ")
			require.Contains(t, r.stderr, tt.words)
			require.Empty(t, r.stdout)
		})
	}
}

func TestSuitesLintBadFolder(t *testing.T) {
	t.Parallel()
	// Every file's problem is reported in one go.
	r := runCLI(t, "suites", "lint", badSuites)
	require.Equal(t, cli.ExitConfig, r.code)
	for _, tt := range badSuiteCases {
		require.Contains(t, r.stderr, filepath.Join(badSuites, tt.where)+": ")
	}
}

func TestSuitesLintGood(t *testing.T) {
	t.Parallel()
	r := runCLI(t, "suites", "lint", filepath.Join("..", "suites"))
	require.Equal(t, cli.ExitOK, r.code, "stderr: %s", r.stderr)
	require.Equal(t, "ok: 3 suites, 185 cases\n", r.stdout)
}

func TestSuitesLintFromConfig(t *testing.T) {
	t.Parallel()
	// Without paths, lint checks the config's suites.
	dir := t.TempDir()
	cfg := filepath.Join(dir, "driftwatch.yaml")
	abs, err := filepath.Abs(filepath.Join(badSuites, "bad_role.yaml"))
	require.NoError(t, err)
	require.NoError(t, os.WriteFile(cfg, []byte("suites:\n  - "+abs+"\n"), 0o600))
	r := runCLI(t, "--config", cfg, "suites", "lint")
	require.Equal(t, cli.ExitConfig, r.code)
	require.Contains(t, r.stderr, abs+":7: ")
}

// runConfig is a driftwatch.yaml whose database and target cannot be
// reached: touching either would fail with a different error.
const runConfig = `database_url: postgres://driftwatch:db-secret@127.0.0.1:1/x?connect_timeout=2
targets:
  - name: unreachable
    provider: openai
    base_url: http://127.0.0.1:1/v1
    model: gpt-test
    api_key: sk-test-not-secret
suites:
  - %s
  - %s
`

func TestRunWithBadSuiteStopsBeforeDatabase(t *testing.T) {
	t.Parallel()
	for _, tt := range badSuiteCases {
		t.Run(tt.file, func(t *testing.T) {
			t.Parallel()
			good, err := filepath.Abs(filepath.Join("..", "suites", "support_triage.yaml"))
			require.NoError(t, err)
			bad, err := filepath.Abs(filepath.Join(badSuites, tt.file))
			require.NoError(t, err)
			cfg := filepath.Join(t.TempDir(), "driftwatch.yaml")
			require.NoError(t, os.WriteFile(cfg, fmt.Appendf(nil, runConfig, good, bad), 0o600))

			r := runCLI(t, "run", "--config", cfg, "--no-progress")
			require.Equal(t, cli.ExitConfig, r.code, "stderr: %s", r.stderr)
			where, err := filepath.Abs(filepath.Join(badSuites, tt.where))
			require.NoError(t, err)
			require.Contains(t, r.stderr, where+": ")
			require.Contains(t, r.stderr, tt.words)
			// The suite error came first: no database or model was tried.
			require.NotContains(t, r.stderr, "127.0.0.1:1")
			require.NotContains(t, r.stderr, "db-secret")
			require.NotContains(t, r.stderr, "connect")
			require.Empty(t, r.stdout)
		})
	}
}

// A YAML suite that takes the name of a Go suite of the binary is a lint
// error at the YAML's name line, not a surprise at run time.
func TestSuitesLintYAMLNamedLikeAGoSuite(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	suite := filepath.Join(dir, "suites", "mine.yaml")
	require.NoError(t, os.MkdirAll(filepath.Dir(suite), 0o755))
	require.NoError(t, os.WriteFile(suite, []byte("# my own suite\nname: codegen\nprompt: hi\ncases:\n  - id: a\nchecks:\n  - {type: contains, value: x}\n"), 0o644))
	cfg := filepath.Join(dir, "driftwatch.yaml")
	require.NoError(t, os.WriteFile(cfg, []byte("suites: [suites/]\n"), 0o600))
	r := runCLI(t, "--config", cfg, "suites", "lint")
	require.Equal(t, cli.ExitConfig, r.code, "stdout: %s", r.stdout)
	require.Contains(t, r.stderr, suite+`:2: name: suite "codegen" is also a Go suite of this binary`)
}
