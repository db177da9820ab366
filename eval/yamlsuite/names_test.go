package yamlsuite_test

import (
	"os"
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/driftwatch/driftwatch/eval/yamlsuite"
)

// TestNames: the suite names of files and folders, including the suites
// LoadPaths with Only leaves out, without loading any case.
func TestNames(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	write := func(name, body string) string {
		t.Helper()
		p := filepath.Join(dir, name)
		require.NoError(t, os.WriteFile(p, []byte(body), 0o644))
		return p
	}
	// The datasets do not exist: Names must not render cases.
	write("b.yaml", "name: beta\nprompt: hi\ndataset: missing.jsonl\n")
	write("a.yml", "name: alpha\nprompt: hi\ndataset: missing.jsonl\n")
	write("broken.yaml", "name: [unclosed\n")
	write("nameless.yaml", "prompt: hi\n")
	other := filepath.Join(t.TempDir(), "z.yaml")
	require.NoError(t, os.WriteFile(other, []byte("name: zeta\nprompt: hi\n"), 0o644))

	names, err := yamlsuite.Names([]string{dir, other})
	require.NoError(t, err)
	require.Equal(t, []string{"alpha", "beta", "zeta"}, names)

	_, err = yamlsuite.Names([]string{filepath.Join(dir, "nope")})
	require.Error(t, err)
}
