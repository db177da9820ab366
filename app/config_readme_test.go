package app

import (
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"
)

// readmeBlock returns the README's fenced block that starts with first.
func readmeBlock(t *testing.T, first string) string {
	t.Helper()
	b, err := os.ReadFile(filepath.Join("..", "README.md"))
	require.NoError(t, err)
	for _, m := range regexp.MustCompile("(?s)```[a-z]*\n(.*?)```").FindAllStringSubmatch(string(b), -1) {
		if strings.HasPrefix(m[1], first) {
			return m[1]
		}
	}
	t.Fatalf("README.md has no block starting with %q", first)
	return ""
}

// TestREADMEConfigLoads loads the README's quick-start config with only the
// API key set: DATABASE_URL may be unset (the embedded default), and an
// unset key reads as empty with the warning the README shows.
func TestREADMEConfigLoads(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	path := filepath.Join(dir, "driftwatch.yaml")
	require.NoError(t, os.WriteFile(path, []byte(readmeBlock(t, "# driftwatch.yaml\ndatabase_url:")), 0o600))

	c, err := loadConfig(path, envOf(map[string]string{"OPENAI_API_KEY": "sk-test"}))
	require.NoError(t, err)
	require.Empty(t, c.DatabaseURL)
	require.Equal(t, "sk-test", c.Targets[0].APIKey)

	c, err = loadConfig(path, envOf(nil))
	require.NoError(t, err)
	require.Empty(t, c.Targets[0].APIKey)
	require.Len(t, c.Unset, 1, c.Unset.Error())
	shown := strings.TrimPrefix(strings.TrimSpace(readmeBlock(t, "driftwatch: warning: driftwatch.yaml:7:")), "driftwatch: warning: driftwatch.yaml")
	require.Equal(t, path+shown, c.Unset[0].Error())
}
