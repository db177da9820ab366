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

// TestChangePointDatesTheUpdate: over three stable nights and two nights
// after a silent update that drops the pass rate, the --json change_point
// names no change before the update, dates it to the first night after it
// (also on the second night, which compares as DRIFT again), and the
// Markdown report says so.
func TestChangePointDatesTheUpdate(t *testing.T) {
	t.Parallel()
	base := sim.Profile{Seed: 1, Mixture: mixture}
	worse := base
	worse.Drop = 0.25
	e := setup(t, envOpts{cases: 80, sim: sim.Config{Seed: 31, Models: []sim.Model{{Name: "sim-gpt", Profile: base,
		Updates: []sim.Update{{Name: "worse", Profile: &worse}}}}}})
	ctx := context.Background()
	type changePoint struct {
		Runs        int     `json:"runs"`
		RunsSince   int     `json:"runs_since"`
		Probability float64 `json:"probability"`
		SinceRunID  int64   `json:"since_run_id"`
		ProbChange  float64 `json:"prob_change"`
		ProbThisRun float64 `json:"prob_this_run"`
	}
	var updateRun int64
	for night, want := range []string{"BASELINE", "STABLE", "STABLE", "DRIFT", "DRIFT"} {
		if night == 3 {
			_, err := e.sim.Update("sim-gpt")
			require.NoError(t, err)
		}
		jsonPath, mdPath := filepath.Join(e.dir, "r.json"), filepath.Join(e.dir, "r.md")
		_, _, stderr := e.run(t, ctx, "run", "--samples", "3", "--no-progress", "--json", jsonPath, "--markdown", mdPath)
		b, err := os.ReadFile(jsonPath)
		require.NoError(t, err)
		var r struct {
			RunID       int64        `json:"run_id"`
			Verdict     string       `json:"verdict"`
			Reason      string       `json:"reason"`
			ChangePoint *changePoint `json:"change_point"`
			MDE         float64      `json:"mde"`
			Metrics     struct {
				Passed     int `json:"passed"`
				Samples    int `json:"samples"`
				ErrorCount int `json:"error_count"`
			} `json:"metrics"`
		}
		require.NoError(t, json.Unmarshal(bytes.TrimSpace(b), &r))
		require.Equal(t, want, r.Verdict, "night %d: %s\n%s", night, r.Reason, stderr)
		require.Positive(t, r.Metrics.Passed)
		require.Less(t, r.Metrics.Passed, r.Metrics.Samples-r.Metrics.ErrorCount)
		md, err := os.ReadFile(mdPath)
		require.NoError(t, err)
		require.Greater(t, r.MDE, 0.0, "night %d: every run reports its minimum detectable drop", night)
		require.Less(t, r.MDE, 0.5)
		if night == 0 {
			require.Nil(t, r.ChangePoint, "a baseline run has no history to date")
			require.Contains(t, stderr, "(minimum detectable drop at 80% power: ")
			continue
		}
		cp := r.ChangePoint
		require.NotNil(t, cp, "night %d", night)
		require.Equal(t, night+1, cp.Runs)
		t.Logf("night %d: %+v", night, *cp)
		switch {
		case night < 3:
			require.Zero(t, cp.SinceRunID, "no change before the update")
			require.Equal(t, night+1, cp.RunsSince)
			require.Less(t, cp.ProbThisRun, 0.05)
			require.NotContains(t, string(md), "Change point:")
		case night == 3:
			updateRun = r.RunID
			require.Equal(t, r.RunID, cp.SinceRunID, "dated to the first run after the update")
			require.Equal(t, 1, cp.RunsSince)
			require.Greater(t, cp.ProbThisRun, 0.9)
			require.Contains(t, string(md), "Change point: the pass rate most likely changed at run ")
		default:
			require.Equal(t, updateRun, cp.SinceRunID, "still dated to the update")
			require.Equal(t, 2, cp.RunsSince)
			require.Greater(t, cp.ProbChange, 0.9)
			require.Less(t, cp.ProbThisRun, 0.1)
		}
	}
}
