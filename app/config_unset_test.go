package app_test

import (
	"context"
	"os"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/driftwatch/driftwatch/sim"
)

// TestRunWithUnsetKeyWarnsAndRuns: the README's config writes
// `api_key: ${OPENAI_API_KEY}`; against an endpoint that takes no key, a run
// with the variable unset works (the key reads as empty) and stderr warns
// at the key's line.
func TestRunWithUnsetKeyWarnsAndRuns(t *testing.T) {
	t.Parallel()
	e := setup(t, envOpts{cases: 25, sim: sim.Config{Seed: 7, Models: []sim.Model{{Name: "sim-gpt",
		Profile: sim.Profile{Seed: 1, Accuracy: 0.9}}}}})
	b, err := os.ReadFile(e.cfgPath)
	require.NoError(t, err)
	cfg := strings.Replace(string(b), "${DW_TEST_KEY:-sk-test-planted-secret-0123456789}", "${DW_TEST_UNSET_KEY_7f3a}", 1)
	require.NotEqual(t, string(b), cfg)
	require.NoError(t, os.WriteFile(e.cfgPath, []byte(cfg), 0o600))
	code, _, stderr := e.run(t, context.Background(), "run", "--samples", "1", "--no-progress")
	require.Equal(t, 0, code, stderr)
	require.Contains(t, stderr, "driftwatch: warning: "+e.cfgPath+":7: targets[0].api_key: environment variable DW_TEST_UNSET_KEY_7f3a is not set: read as empty")
	require.Equal(t, 1, strings.Count(stderr, "DW_TEST_UNSET_KEY_7f3a is not set"), "warned once")
}
