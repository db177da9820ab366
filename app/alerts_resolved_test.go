package app_test

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"testing"

	"github.com/driftwatch/driftwatch/sim/demo"

	"github.com/stretchr/testify/require"

	"github.com/driftwatch/driftwatch/sim"
)

// TestResolvedAlertsEndToEnd runs the CLI against the simulator with Slack
// pointed at a local receiver, through two drift episodes: a DRIFT run
// alerts; after the drifted run is accepted as the baseline, the next STABLE
// run sends one RESOLVED message naming the drift alert it resolves, and a
// further STABLE run sends nothing (although the repeat interval has
// passed); a new DRIFT alerts again and the STABLE run after it resolves
// that episode.
func TestResolvedAlertsEndToEnd(t *testing.T) {
	t.Parallel()
	base := sim.Profile{Seed: 1, Mixture: mixture}
	worse := sim.Profile{Seed: 1, Mixture: mixture, CollapseFraction: 0.1, CollapseBy: 0.7, Drop: 0.05}
	worseStill := worse
	worseStill.Drop = 0.15
	e := setup(t, envOpts{sim: sim.Config{Seed: 3, Models: []sim.Model{{Name: "sim-gpt", Profile: base,
		Updates: []sim.Update{{Name: "silent", Profile: &worse}, {Name: "silent again", Profile: &worseStill}}}}}})
	ctx := context.Background()
	slackURL, received, stop, err := demo.StartSlackReceiver(ctx)
	require.NoError(t, err)
	t.Cleanup(stop)
	cfg, err := os.ReadFile(e.cfgPath)
	require.NoError(t, err)
	// A repeat interval shorter than a run: Dedup alone would let every
	// event through again.
	cfg = fmt.Appendf(cfg, "alerts:\n  slack: {webhook_url: %q}\n  repeat_interval: 1ms\n", slackURL)
	require.NoError(t, os.WriteFile(e.cfgPath, cfg, 0o600))

	jsonPath := filepath.Join(e.dir, "r.json")
	// night runs the suite and returns its report and the Slack messages
	// it caused, as rendered text.
	var seen int
	night := func(wantCode int, wantVerdict string) (jsonReport, []string) {
		t.Helper()
		code, _, stderr := e.run(t, ctx, "run", "--samples", "10", "--no-progress", "--json", jsonPath)
		require.Equal(t, wantCode, code, stderr)
		r := readReports(t, jsonPath)[0]
		require.Equal(t, wantVerdict, r.Verdict, r.Reason)
		var msgs []string
		for _, m := range received()[seen:] {
			msgs = append(msgs, slackMessage(t, m))
		}
		seen += len(msgs)
		return r, msgs
	}
	accept := func(runID int64) {
		t.Helper()
		code, _, stderr := e.run(t, ctx, "baseline", "accept", fmt.Sprint(runID), "--note", "vendor update acknowledged", "--by", "tester")
		require.Equal(t, 0, code, stderr)
	}
	update := func() {
		t.Helper()
		_, err := e.sim.Update("sim-gpt")
		require.NoError(t, err)
	}

	_, msgs := night(0, "BASELINE")
	require.Empty(t, msgs, "a baseline alerts nobody")

	update()
	drift1, msgs := night(1, "DRIFT")
	require.Len(t, msgs, 1)
	require.Contains(t, msgs[0], "DRIFT: arith on gpt")

	accept(drift1.RunID)
	stable, msgs := night(0, "STABLE")
	require.Len(t, msgs, 1, "one recovery message")
	requireResolved(t, msgs[0], stable, drift1.RunID)

	_, msgs = night(0, "STABLE")
	require.Empty(t, msgs, "the episode is resolved already")

	update()
	drift2, msgs := night(1, "DRIFT")
	require.Len(t, msgs, 1, "a new episode alerts at once")
	require.Contains(t, msgs[0], "DRIFT: arith on gpt")

	accept(drift2.RunID)
	stable, msgs = night(0, "STABLE")
	require.Len(t, msgs, 1)
	requireResolved(t, msgs[0], stable, drift2.RunID)
}

// slackMessage renders a received Block Kit body as text, headed by its
// fallback text.
func slackMessage(t *testing.T, body []byte) string {
	t.Helper()
	var m struct {
		Text string `json:"text"`
	}
	require.NoError(t, json.Unmarshal(body, &m), string(body))
	return m.Text + "\n" + demo.SlackText(body)
}

// requireResolved checks a RESOLVED message: the STABLE run, the drift
// alert's run, the current pass rate against the baseline's.
func requireResolved(t *testing.T, msg string, stable jsonReport, driftRunID int64) {
	t.Helper()
	require.Contains(t, msg, "RESOLVED: arith on gpt")
	require.Contains(t, msg, fmt.Sprintf("Run %d is STABLE again after ", stable.RunID))
	require.Regexp(t, fmt.Sprintf(`first alerted \d{4}-\d\d-\d\d \d\d:\d\d UTC \(run %d\)\.`, driftRunID), msg)
	require.Contains(t, msg, "resolved (was critical)")
	require.Contains(t, msg, fmt.Sprintf("%d vs baseline %d", stable.RunID, driftRunID))
	pr := stable.Metrics.PassRate
	require.NotNil(t, pr.Baseline)
	require.Contains(t, msg, fmt.Sprintf("*Pass rate* %.3f → %.3f", *pr.Baseline, pr.Value))
	require.NotContains(t, msg, "Top drifted cases")
}
