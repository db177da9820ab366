package app

import (
	"os"
	"path/filepath"
	"testing"

	"github.com/driftwatch/driftwatch/config"
	"github.com/stretchr/testify/require"
)

func TestUnknownSuiteEntryIsLocated(t *testing.T) {
	t.Parallel()
	path := writeConfig(t, minimalTarget+"suites:\n  - nothere/\n")
	c, err := config.LoadWith(path, envOf(nil))
	require.NoError(t, err)
	_, _, err = New(c, Options{}).Catalog().Entries()
	require.ErrorContains(t, err, path+`:6: suites[0]: "nothere/" is neither a suite file or folder nor a registered Go suite`)
}

// writeConfig writes text as a config file and returns its path.
func writeConfig(t testing.TB, text string) string {
	t.Helper()
	path := filepath.Join(t.TempDir(), "c.yaml")
	require.NoError(t, os.WriteFile(path, []byte(text), 0o600))
	return path
}

func envOf(env map[string]string) func(string) (string, bool) {
	return func(k string) (string, bool) { v, ok := env[k]; return v, ok }
}

// minimalTarget is a valid target list; tests append fields to its target.
const minimalTarget = "targets:\n  - name: gpt\n    model: gpt-4o\n    api_key: k\n"
