package cli

import (
	"bytes"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/driftwatch/driftwatch/drift"
	"github.com/driftwatch/driftwatch/report"
)

// TestPrintSummaryListsWarningsAndHints: the terminal summary says the
// verdict in words, lists WARN findings under it (a STABLE run with a
// warning does not look clean) and tells a small first run how to get a
// verdict.
func TestPrintSummaryListsWarningsAndHints(t *testing.T) {
	t.Parallel()
	p := func(x float64) *float64 { return &x }
	warned := &report.Report{Suite: "s", Target: "t", RunID: 5, BaselineRunIDs: []int64{1}, Verdict: "STABLE", Status: "completed",
		Reason: "no suite-level test survived Holm at 0.01 together with its effect floor (6 tests)",
		Metrics: report.Metrics{PassRate: &report.Value{Value: 0.835, Baseline: p(0.87), Delta: p(-0.035),
			CI: &drift.Interval{Low: -0.061, High: -0.011}}},
		Findings: []drift.Finding{{Metric: drift.MetricPassRate, Scope: drift.ScopeSuite, Baseline: 0.87, Current: 0.835, Effect: -0.035,
			CI: &drift.Interval{Low: -0.061, High: -0.011}, Q: 0.016, Verdict: drift.Warn}}}
	small := &report.Report{Suite: "tiny", Target: "t", RunID: 1, Verdict: "INCONCLUSIVE", Status: "completed",
		Reason:  "only 12 samples without error (at least 20 needed): not accepted as a baseline",
		Metrics: report.Metrics{Samples: 12, Cases: 12, SamplesPerCase: 1}}
	var stderr bytes.Buffer
	printSummary(&stderr, []*report.Report{warned, small})
	out := stderr.String()
	require.Contains(t, out, "s@t: no drift detected: pass rate 83.5% against 87.0%")
	require.Contains(t, out, "\n  WARN pass rate fell 3.5 points (95% CI 1.1–6.1) (87.0% → 83.5%); a warning, not an alarm (q 0.016)\n")
	require.Contains(t, out, "tiny@t: too few samples for a first run to become the baseline: 12 without error, at least 20 needed; "+
		"to fix: run more samples per case (`--samples`) or lower `drift.min_samples`\n")
	require.NotContains(t, out, "survived Holm")
}
