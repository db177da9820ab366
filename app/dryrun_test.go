package app_test

import (
	"bytes"
	"context"
	"regexp"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/driftwatch/driftwatch/cli"
	"github.com/driftwatch/driftwatch/eval"
	"github.com/driftwatch/driftwatch/sim"
	"github.com/driftwatch/driftwatch/storage/storagetest"
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

// TestMigrateNeedsConfigOrDatabaseURL: migrate never picks the embedded
// default database by accident.
func TestMigrateNeedsConfigOrDatabaseURL(t *testing.T) {
	t.Chdir(t.TempDir())
	t.Setenv("DATABASE_URL", "")
	var stdout, stderr bytes.Buffer
	code := cli.Main(context.Background(), []string{"migrate"}, eval.NewRegistry(), &stdout, &stderr)
	require.Equal(t, 3, code)
	require.Contains(t, stderr.String(), "config file driftwatch.yaml not found")

	t.Setenv("DATABASE_URL", storagetest.NewDatabaseURL(t))
	stderr.Reset()
	code = cli.Main(context.Background(), []string{"migrate"}, eval.NewRegistry(), &stdout, &stderr)
	require.Equal(t, 0, code, stderr.String())
}
