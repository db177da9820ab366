package app_test

import (
	"os"
	"path/filepath"
	"testing"

	"github.com/driftwatch/driftwatch/cli"

	"github.com/stretchr/testify/require"

	"github.com/driftwatch/driftwatch/storage/storagetest"
)

// TestUnknownRunIsNotFound: commands given a run id that does not exist
// say so in a few words (not "run 7: get run 7: not found") and exit 3.
func TestUnknownRunIsNotFound(t *testing.T) {
	t.Parallel()
	cfg := filepath.Join(t.TempDir(), "driftwatch.yaml")
	require.NoError(t, os.WriteFile(cfg, []byte("database_url: "+storagetest.NewDatabaseURL(t)+"\n"), 0o600))
	for _, args := range [][]string{
		{"baseline", "accept", "999999"},
		{"report", "999999"},
		{"diff", "999999", "999998"},
		{"run", "--resume", "999999"},
	} {
		r := runCLI(t, append([]string{"--config", cfg}, args...)...)
		require.Equal(t, cli.ExitConfig, r.code, "%v: %s", args, r.stderr)
		require.Equal(t, "driftwatch: run 999999 not found\n", r.stderr, "%v", args)
	}
}
