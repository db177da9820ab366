package app_test

import (
	"bytes"
	"context"
	"os"
	"path/filepath"
	"regexp"
	"strings"
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

// A dry run of a staged suite (no explicit k) says what a night is
// expected to send in each mode: about 1.8 calls per case when quiet, K
// when it goes on, and that the first nights run at K.
func TestDryRunEstimatesStagedNights(t *testing.T) {
	t.Parallel()
	e := setup(t, envOpts{cases: 30, sim: sim.Config{Models: []sim.Model{{Name: "sim-gpt", Profile: sim.Profile{Accuracy: 1}}}}})
	path := filepath.Join(e.dir, "suites", "arith.yaml")
	b, err := os.ReadFile(path)
	require.NoError(t, err)
	require.NoError(t, os.WriteFile(path, []byte(strings.Replace(string(b), "samples: 4\n", "", 1)), 0o644))
	code, stdout, stderr := e.run(t, context.Background(), "run", "--dry-run")
	require.Equal(t, 0, code, stderr)
	require.Regexp(t, `arith@gpt: a staged night sends about \d+ calls when quiet \(1\.[5-9]\d per case\), up to 150 when it goes on to K; fixed nights send 150\. The first 3 nights run at K`, stdout)
	require.Zero(t, e.sim.Stats().Requests)
}
