package app_test

import (
	"bytes"
	"context"
	"encoding/json"
	"os"
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/driftwatch/driftwatch/sim"
)

// TestAACalibrationInReport: with baseline.runs 3, the first three stable
// runs are pooled into the baseline, and the fourth run's --json report
// carries the A/A calibration between those three runs (three pairs), and
// its Markdown report prints lambda. Runs compared with fewer pooled runs
// have none.
func TestAACalibrationInReport(t *testing.T) {
	t.Parallel()
	if testing.Short() {
		t.Skip("short mode")
	}
	e := setup(t, envOpts{cases: 60, sim: sim.Config{Seed: 11, Models: []sim.Model{{Name: "sim-gpt",
		Profile: sim.Profile{Seed: 1, Mixture: mixture}}}}})
	cfg, err := os.ReadFile(e.cfgPath)
	require.NoError(t, err)
	require.NoError(t, os.WriteFile(e.cfgPath, append(cfg, "baseline:\n  runs: 3\n"...), 0o600))
	ctx := context.Background()

	type calibration struct {
		Lambda  *float64 `json:"lambda"`
		Sparse  *float64 `json:"lambda_sparse"`
		Pairs   int      `json:"pairs"`
		Runs    int      `json:"runs"`
		Applied *bool    `json:"applied"`
	}
	var last struct {
		Verdict        string       `json:"verdict"`
		BaselineRunIDs []int64      `json:"baseline_run_ids"`
		PassZ          *float64     `json:"pass_z"`
		Calibration    *calibration `json:"calibration"`
	}
	for n := 1; n <= 4; n++ {
		path := filepath.Join(e.dir, "r.json")
		md := filepath.Join(e.dir, "r.md")
		code, _, stderr := e.run(t, ctx, "run", "--samples", "5", "--no-progress", "--json", path, "--markdown", md)
		require.Equal(t, 0, code, stderr)
		b, err := os.ReadFile(path)
		require.NoError(t, err)
		last.Calibration = nil
		require.NoError(t, json.Unmarshal(bytes.TrimSpace(b), &last))
		t.Logf("run %d: %s, baseline runs %v", n, last.Verdict, last.BaselineRunIDs)
		if n < 4 {
			require.Nil(t, last.Calibration, "run %d: fewer than three baseline runs, no calibration", n)
			continue
		}
		require.Equal(t, "STABLE", last.Verdict)
		require.Len(t, last.BaselineRunIDs, 3)
		require.NotNil(t, last.Calibration, "calibration in --json after three baseline runs")
		cal := last.Calibration
		require.NotNil(t, cal.Lambda)
		require.NotNil(t, cal.Sparse)
		require.NotNil(t, cal.Applied)
		require.Equal(t, 3, cal.Pairs)
		require.Equal(t, 3, cal.Runs)
		require.Greater(t, *cal.Lambda, 0.0)
		require.Equal(t, *cal.Lambda > 1 || *cal.Sparse > 1, *cal.Applied)
		require.NotNil(t, last.PassZ)
		mdText, err := os.ReadFile(md)
		require.NoError(t, err)
		require.Contains(t, string(mdText), "A/A calibration over 3 baseline runs (3 pairs): λ = ")
	}
}
