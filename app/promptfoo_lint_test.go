package app_test

import (
	"os"
	"path/filepath"
	"testing"

	"github.com/driftwatch/driftwatch/cli"

	"github.com/stretchr/testify/require"
)

// TestSuitesLintPromptfooConfig: a promptfoo config in a suites folder
// lints as one suite (its tests file is part of it, not a suite), and
// what Driftwatch skips is named at its file:line.
func TestSuitesLintPromptfooConfig(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	pf := filepath.Join(dir, "tutor")
	require.NoError(t, os.MkdirAll(pf, 0o755))
	require.NoError(t, os.WriteFile(filepath.Join(pf, "promptfooconfig.yaml"), []byte(`prompts:
  - 'What is {{a}} + {{b}}?'
providers: [openai:gpt-4o-mini]
tests: file://tests.yaml
`), 0o600))
	require.NoError(t, os.WriteFile(filepath.Join(pf, "tests.yaml"), []byte(`- vars: {a: 1, b: 2}
  assert:
    - type: contains
      value: '3'
- vars: {a: 2, b: 2}
  assert:
    - type: perplexity
      threshold: 2
`), 0o600))
	r := runCLI(t, "suites", "lint", dir)
	require.Equal(t, cli.ExitOK, r.code, "stderr: %s", r.stderr)
	require.Equal(t, "ok: 1 suite, 2 cases\n", r.stdout)
	require.Contains(t, r.stderr, "warning: "+filepath.Join(pf, "tests.yaml")+":7: assertion perplexity: needs token logprobs")
	require.Contains(t, r.stderr, "warning: "+filepath.Join(pf, "promptfooconfig.yaml")+":3: providers")
}
