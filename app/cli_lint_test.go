package app_test

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/driftwatch/driftwatch/cli"

	"github.com/stretchr/testify/require"
)

// modelChecksSuite uses both checks that need a model besides the target.
const modelChecksSuite = `name: graded
prompt: "{{.q}}"
checks:
  - type: llm-rubric
    value: The answer is polite.
  - type: embedding-similar
    value: A polite answer.
    threshold: 0.7
cases:
  - id: one
    vars: {q: "Hello?"}
`

// lintDir writes the suite and, when cfg is not empty, a driftwatch.yaml
// listing it; it returns the folder.
func lintDir(t *testing.T, suite, cfg string) string {
	t.Helper()
	dir := t.TempDir()
	require.NoError(t, os.WriteFile(filepath.Join(dir, "graded.yaml"), []byte(suite), 0o600))
	if cfg != "" {
		require.NoError(t, os.WriteFile(filepath.Join(dir, "driftwatch.yaml"), []byte(cfg), 0o600))
	}
	return dir
}

const lintTargets = `targets:
  - name: gpt
    model: gpt-4o
    api_key: sk-test-not-secret
  - name: claude
    provider: anthropic
    model: claude-x
    api_key: sk-test-not-secret
`

func TestSuitesLintModelChecks(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name   string
		config string // "" for none
		code   int
		want   []string
		reject []string
	}{
		{"without a config the shape is checked", "", cli.ExitOK, nil, nil},
		{"with a config, its judge and embedder", lintTargets + "judge: gpt\nembedder: gpt\nsuites: [graded.yaml]\n", cli.ExitOK, nil, nil},
		{"with a config without a judge", lintTargets + "embedder: gpt\nsuites: [graded.yaml]\n", cli.ExitConfig,
			[]string{"graded.yaml:4: ", "llm-rubric needs a judge model: set `judge:` in ", "driftwatch.yaml to the name of one of its targets"},
			[]string{"Options.Judge"}},
		{"with a config without an embedder", lintTargets + "judge: gpt\nsuites: [graded.yaml]\n", cli.ExitConfig,
			[]string{"graded.yaml:6: ", "embedding-similar needs an embedding model: set `embedder:` in "},
			[]string{"Options.Embedder"}},
		{"with an embedder that has no embeddings API", lintTargets + "judge: gpt\nembedder: claude\nsuites: [graded.yaml]\n", cli.ExitConfig,
			[]string{`embedder: target "claude" (provider anthropic) has no embeddings API`}, nil},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			dir := lintDir(t, modelChecksSuite, tc.config)
			args := []string{"suites", "lint", filepath.Join(dir, "graded.yaml")}
			if tc.config != "" {
				args = append([]string{"--config", filepath.Join(dir, "driftwatch.yaml")}, args...)
			}
			r := runCLI(t, args...)
			require.Equal(t, tc.code, r.code, "stderr: %s", r.stderr)
			for _, w := range tc.want {
				require.Contains(t, r.stderr, w)
			}
			for _, w := range tc.reject {
				require.NotContains(t, r.stderr, w)
			}
			if tc.code == cli.ExitOK {
				require.Equal(t, "ok: 1 suite, 1 case\n", r.stdout)
			}
		})
	}
}

func TestSuitesLintBadModelCheckShapeWithoutConfig(t *testing.T) {
	t.Parallel()
	dir := lintDir(t, `name: graded
prompt: hi
checks:
  - type: llm-rubric
    threshold: 3
cases:
  - id: one
`, "")
	r := runCLI(t, "suites", "lint", filepath.Join(dir, "graded.yaml"))
	require.Equal(t, cli.ExitConfig, r.code, "stderr: %s", r.stderr)
	require.Contains(t, r.stderr, filepath.Join(dir, "graded.yaml")+":4: ")
	require.NotContains(t, r.stderr, "judge")
}

func TestSuitesLintChecksScheduleSuites(t *testing.T) {
	t.Parallel()
	dir := lintDir(t, modelChecksSuite, lintTargets+`judge: gpt
embedder: gpt
suites: [graded.yaml]
schedules:
  - name: nightly
    cron: "0 3 * * *"
    suites: [graded, gradd]
`)
	cfg := filepath.Join(dir, "driftwatch.yaml")
	r := runCLI(t, "--config", cfg, "suites", "lint")
	require.Equal(t, cli.ExitConfig, r.code, "stderr: %s", r.stderr)
	require.Contains(t, r.stderr, cfg+`:15: schedules[0].suites[1]: schedule "nightly" names unknown suite "gradd" (known: `)
	require.Empty(t, r.stdout)
}

// TestSuitesLintWithoutSecrets: linting sends nothing, so a CI job without
// the API keys can lint with the config: unset ${VAR}s read as empty (with a
// warning), and the judge and embedder the config names stand in.
func TestSuitesLintWithoutSecrets(t *testing.T) {
	t.Parallel()
	targets := strings.ReplaceAll(lintTargets, "sk-test-not-secret", "${DRIFTWATCH_LINT_TEST_UNSET_KEY}")
	for _, tc := range []struct {
		name, config string
		code         int
		want         string
	}{
		{"judge and embedder named", targets + "judge: gpt\nembedder: gpt\nsuites: [graded.yaml]\n", cli.ExitOK, ""},
		{"no judge", targets + "embedder: gpt\nsuites: [graded.yaml]\n", cli.ExitConfig, "llm-rubric needs a judge model"},
		{"other problems still fail", targets + "judge: gpt\nembedder: gpt\nsamples: -1\nsuites: [graded.yaml]\n", cli.ExitConfig, "samples: must not be negative"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			dir := lintDir(t, modelChecksSuite, tc.config)
			for _, args := range [][]string{{"suites", "lint"}, {"suites", "lint", filepath.Join(dir, "graded.yaml")}} {
				r := runCLI(t, append([]string{"--config", filepath.Join(dir, "driftwatch.yaml")}, args...)...)
				require.Equal(t, tc.code, r.code, "stderr: %s", r.stderr)
				if tc.code == cli.ExitOK {
					require.Contains(t, r.stderr, "driftwatch: warning: "+filepath.Join(dir, "driftwatch.yaml")+":",
						"the unset variable is warned about, at its line")
					require.Contains(t, r.stderr, "api_key: environment variable DRIFTWATCH_LINT_TEST_UNSET_KEY is not set: read as empty")
					require.Equal(t, "ok: 1 suite, 1 case\n", r.stdout)
				} else {
					require.Contains(t, r.stderr, tc.want)
				}
			}
		})
	}
}
