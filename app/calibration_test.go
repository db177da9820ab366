package app_test

import (
	"context"
	"flag"
	"fmt"
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/driftwatch/driftwatch/sim"
)

var calibrationTrials = flag.Int("calibration.trials", 3, "A/A and shifted trials per scenario in TestCalibrationThroughTheStack")

// TestCalibrationThroughTheStack runs the whole stack (CLI, provider,
// simulator, PostgreSQL, drift engine) on simulated nights with known ground
// truth: same-profile nights must not drift, a uniform 10-point drop (about 7 points
// observed: cases near 0 cannot drop further) must, at 200 cases x 5 samples.
// The default is a few trials; -calibration.trials=N gives rates over many
// seeds (recorded in BENCHMARKS.md).
func TestCalibrationThroughTheStack(t *testing.T) {
	t.Parallel()
	if testing.Short() {
		t.Skip("short mode")
	}
	profile := sim.Profile{Seed: 1, Mixture: mixture, Refusal: 0.02, Verbosity: 0.8, CodeFence: 0.05}
	dropped := profile
	dropped.Drop = 0.10
	scenarios := []struct {
		name  string
		next  sim.Profile
		drift bool
	}{
		{"A/A", profile, false},
		{"10-point drop", dropped, true},
	}
	for _, sc := range scenarios {
		var hits int
		for trial := range *calibrationTrials {
			cfg := sim.Config{Seed: int64(1000 + trial), Models: []sim.Model{{Name: "sim-gpt", Profile: profile,
				Updates: []sim.Update{{Name: sc.name, Profile: &sc.next}}}}}
			e := setup(t, envOpts{cases: 200, sim: cfg})
			ctx := context.Background()
			jsonPath := filepath.Join(e.dir, "r.json")
			code, _, stderr := e.run(t, ctx, "run", "--samples", "5", "--no-progress", "--json", jsonPath)
			require.Equal(t, 0, code, stderr)
			_, err := e.sim.Update("sim-gpt")
			require.NoError(t, err)
			code, _, stderr = e.run(t, ctx, "run", "--samples", "5", "--no-progress", "--json", jsonPath)
			require.Contains(t, []int{0, 1}, code, stderr)
			r := readReports(t, jsonPath)[0]
			t.Logf("%s trial %d: %s delta=%.3f reason=%s", sc.name, trial, r.Verdict, deref(r.Metrics.PassRate.Delta), r.Reason)
			if r.Verdict == "DRIFT" {
				hits++
				if !sc.drift {
					t.Logf("%s trial %d: false alarm: %s", sc.name, trial, r.Reason)
				}
			}
		}
		rate := float64(hits) / float64(*calibrationTrials)
		t.Logf("%s: DRIFT in %d of %d trials (%.2f)", sc.name, hits, *calibrationTrials, rate)
		if sc.drift {
			require.GreaterOrEqual(t, rate, 0.75, fmt.Sprintf("%s must be detected", sc.name))
		} else {
			require.LessOrEqual(t, rate, 0.25, "same-distribution nights must not drift")
		}
	}
}

func deref(p *float64) float64 {
	if p == nil {
		return 0
	}
	return *p
}
