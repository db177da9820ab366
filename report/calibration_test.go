package report_test

import (
	"bytes"
	"encoding/json"
	"math"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/driftwatch/driftwatch/drift"
	"github.com/driftwatch/driftwatch/report"
)

// TestCalibrationInReports: the A/A calibration is an additive --json field
// (absent without one, non-finite numbers zeroed) and a Markdown line.
func TestCalibrationInReports(t *testing.T) {
	t.Parallel()
	r := driftReport()
	var buf bytes.Buffer
	require.NoError(t, report.WriteJSON(&buf, []*report.Report{r}))
	var raw map[string]json.RawMessage
	require.NoError(t, json.Unmarshal(buf.Bytes(), &raw))
	require.NotContains(t, raw, "calibration", "absent with fewer than three baseline runs")

	r.Calibration = &drift.Calibration{Lambda: 3.4, Sparse: math.NaN(), Pairs: 3, Runs: 3, Applied: true}
	buf.Reset()
	require.NoError(t, report.WriteJSON(&buf, []*report.Report{r}))
	var got struct {
		Calibration map[string]any `json:"calibration"`
	}
	require.NoError(t, json.Unmarshal(buf.Bytes(), &got))
	require.Equal(t, map[string]any{"lambda": 3.4, "lambda_sparse": 0.0, "pairs": 3.0, "runs": 3.0, "applied": true}, got.Calibration)
	require.True(t, math.IsNaN(r.Calibration.Sparse), "normalising does not modify the report")

	buf.Reset()
	require.NoError(t, report.WriteMarkdown(&buf, []*report.Report{r}))
	require.Contains(t, buf.String(), "A/A calibration over 3 baseline runs (3 pairs): λ = 3.40")
	require.Contains(t, buf.String(), "divided by √λ")
	require.Contains(t, buf.String(), "above 3.00: night-to-night variation")

	// λ = 1.8 from three runs is within sampling noise (its 95th
	// percentile is 3.0): corrected, not warned about.
	r.Calibration.Lambda = 1.8
	buf.Reset()
	require.NoError(t, report.WriteMarkdown(&buf, []*report.Report{r}))
	require.Contains(t, buf.String(), "λ = 1.80")
	require.NotContains(t, buf.String(), "night-to-night variation")
}
