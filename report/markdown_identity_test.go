package report_test

import (
	"bytes"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/driftwatch/driftwatch/drift"
	"github.com/driftwatch/driftwatch/report"
)

// TestWriteMarkdownIdentityFindings: identity findings have no statistic
// (the drift engine's says p=1, q=1 and values 0; a pin's p=0), so the
// Markdown says their reason, not "0.000 → 0.000, p=1, q=1".
func TestWriteMarkdownIdentityFindings(t *testing.T) {
	t.Parallel()
	r := &report.Report{
		Suite: "prime", Target: "gpt4", RunID: 44, BaselineRunIDs: []int64{7}, Verdict: "STABLE", Status: "completed",
		Reason: "no metric changed significantly", IdentityChanged: true,
		Identity:         &report.Identity{Provider: "openai", RequestedModel: "gpt-4o", ResolvedModel: "gpt-4o-2024-11-20", Fingerprint: "fp_new"},
		BaselineIdentity: &report.Identity{Provider: "openai", RequestedModel: "gpt-4o", ResolvedModel: "gpt-4o-2024-08-06", Fingerprint: "fp_old"},
		Metrics:          report.Metrics{Samples: 1000, Cases: 200, SamplesPerCase: 5},
		Findings: []drift.Finding{
			{Metric: drift.MetricIdentity, Scope: drift.ScopeSuite, Statistic: "set of sample identities", Verdict: drift.IdentityChanged,
				P: 1, Q: 1, Reason: "new identity 3fa2c9d1e0b4a7f6 not seen in the baseline (baseline: 0b1c2d3e4f5a6b7c); a hint, not an alarm"},
			{Metric: drift.MetricIdentity, Scope: drift.ScopeSuite, Statistic: "pin", Verdict: drift.IdentityChanged,
				Reason: "pin (warn): system fingerprint fp_new, pinned fp_old"},
		},
	}
	var b bytes.Buffer
	require.NoError(t, report.WriteMarkdown(&b, []*report.Report{r}))
	golden(t, "identity.md", b.Bytes())
	require.Contains(t, b.String(), "- **identity** (IDENTITY_CHANGED): new identity 3fa2c9d1e0b4a7f6 not seen in the baseline")
	require.Contains(t, b.String(), "- **identity** (IDENTITY_CHANGED): pin (warn): system fingerprint fp_new, pinned fp_old\n")
	require.NotContains(t, b.String(), "0.000 → 0.000")
}
