package app_test

import (
	"context"
	"regexp"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/driftwatch/driftwatch/sim"
)

// TestDryRunCaseFilter: --dry-run counts the cases that --case selects, with
// the same pattern rules as a run, and sends nothing.
func TestDryRunCaseFilter(t *testing.T) {
	t.Parallel()
	e := setup(t, envOpts{cases: 30, sim: sim.Config{Models: []sim.Model{{Name: "sim-gpt", Profile: sim.Profile{Accuracy: 1}}}}})
	code, stdout, stderr := e.run(t, context.Background(), "run", "--dry-run", "--case", "^c00[0-4]$")
	require.Equal(t, 0, code, stderr)
	require.Regexp(t, regexp.MustCompile(`(?m)^arith\s+gpt\s+5\s+4\s+20\s`), stdout+stderr)
	code, _, stderr = e.run(t, context.Background(), "run", "--dry-run", "--case", "c00[")
	require.Equal(t, 3, code)
	require.Contains(t, stderr, "--case")
	require.Zero(t, e.sim.Stats().Requests)
}
