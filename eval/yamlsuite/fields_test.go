package yamlsuite_test

import (
	"os"
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/driftwatch/driftwatch/eval/yamlsuite"
	"github.com/driftwatch/driftwatch/internal/yamldoc"
)

// writeSuite writes text as dir/name and returns its path.
func writeSuite(t *testing.T, dir, name, text string) string {
	t.Helper()
	path := filepath.Join(dir, name)
	require.NoError(t, os.WriteFile(path, []byte(text), 0o600))
	return path
}

// TestLoadChecksFieldsParamsThresholds: a misspelt field of a check (a
// "wieght" would silently weigh 1), sampling parameters no provider takes,
// thresholds outside [0, 1] and a negative samples are reported at their
// lines, in line order, with the field.
func TestLoadChecksFieldsParamsThresholds(t *testing.T) {
	t.Parallel()
	path := writeSuite(t, t.TempDir(), "s.yaml", `name: s
threshold: 2
samples: -3
params: {temperature: -1, top_p: 7, max_tokens: -5}
prompt: "hi {{.x}}"
checks:
  - type: contains
    value: "1"
    wieght: 2
cases:
  - id: a
    vars: {x: 1}
    threshold: -0.5
    params: {max_tokens: -1}
    checks:
      - {type: "contains", value: "{{.x}}", vaule: "y"}
`)
	_, err := yamlsuite.Load(path, yamlsuite.Options{})
	var es yamldoc.Errors
	require.ErrorAs(t, err, &es)
	var got []string
	for _, e := range es {
		got = append(got, e.Error())
	}
	require.Equal(t, []string{
		path + ":2: threshold: must be between 0 and 1 (the weighted share of checks that pass), got 2",
		path + ":3: samples: must not be negative, got -3 (0 or absent means the config's samples)",
		path + ":4: params.temperature: must be between 0 and 2, got -1",
		path + ":4: params.top_p: must be between 0 and 1, got 7",
		path + ":4: params.max_tokens: must not be negative, got -5 (0 or absent means the provider's default)",
		path + `:9: checks[0]: unknown field "wieght"`,
		path + ":13: cases[0].threshold: must be between 0 and 1 (the weighted share of checks that pass), got -0.5",
		path + ":14: cases[0].params.max_tokens: must not be negative, got -1 (0 or absent means the provider's default)",
		path + `:16: cases[0].checks[0]: unknown field "vaule"`,
	}, got)
}

// TestSuiteFilesFollowsALinkedFolder: a suites folder given as a symbolic
// link (a mounted ConfigMap, a shared checkout) is searched, not skipped.
func TestSuiteFilesFollowsALinkedFolder(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	real := filepath.Join(dir, "real")
	require.NoError(t, os.Mkdir(real, 0o755))
	writeSuite(t, real, "a.yaml", "name: a\nprompt: hi\ncases: [{id: x}]\n")
	link := filepath.Join(dir, "suites")
	require.NoError(t, os.Symlink(real, link))

	files, err := yamlsuite.SuiteFiles([]string{link})
	require.NoError(t, err)
	require.Equal(t, []string{filepath.Join(link, "a.yaml")}, files)
	suites, err := yamlsuite.LoadPaths([]string{link}, yamlsuite.Options{})
	require.NoError(t, err)
	require.Len(t, suites, 1)
}
