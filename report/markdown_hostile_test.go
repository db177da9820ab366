package report_test

import (
	"bytes"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/driftwatch/driftwatch/drift"
	"github.com/driftwatch/driftwatch/report"
)

// TestWriteMarkdownModelTextCannotInjectMarkup: a model name, fingerprint,
// output or error text with backticks, blank lines, HTML and terminal
// escapes stays literal text inside the report: no raw HTML, no heading or
// list of its own, no escape character.
func TestWriteMarkdownModelTextCannotInjectMarkup(t *testing.T) {
	t.Parallel()
	hostile := "x`\n\n<img src=x onerror=alert(1)>\n# ALL GOOD\n- [click](http://evil)\x1b]52;c;Y3VybA==\x07\x1b[2J"
	r := &report.Report{
		Suite: "prime", Target: "gpt4", RunID: 44, BaselineRunIDs: []int64{7}, Verdict: "DRIFT", Status: "completed",
		Reason: "drift in pass_rate; endpoint said " + hostile, IdentityChanged: true,
		Identity:         &report.Identity{RequestedModel: "gpt-4o", ResolvedModel: hostile, Fingerprint: "fp_" + hostile},
		BaselineIdentity: &report.Identity{RequestedModel: hostile},
		Metrics:          report.Metrics{Samples: 10, Cases: 2, SamplesPerCase: 5},
		DriftedCases:     []string{"p17"},
		Findings: []drift.Finding{
			{Metric: drift.MetricIdentity, Scope: drift.ScopeSuite, Verdict: drift.IdentityChanged, Reason: "resolved model " + hostile},
			{Metric: drift.MetricPassRate, Scope: drift.ScopeSuite, Verdict: drift.Drift, Reason: "pass rate dropped",
				Examples: []drift.Example{{Case: "p17", Baseline: "[Yes] " + hostile, Current: hostile}}},
		},
	}
	var b bytes.Buffer
	require.NoError(t, report.WriteMarkdown(&b, []*report.Report{r}))
	out := b.String()
	require.NotContains(t, out, "\x1b")
	require.NotContains(t, out, "\x07")
	require.NotContains(t, out, "\n\n<img", "no HTML block")
	require.NotRegexp(t, `(^|[^\\])<img`, withoutCodeSpans(out), "no raw HTML tag outside a code span")
	for _, line := range strings.Split(out, "\n") {
		if strings.HasPrefix(line, "#") {
			require.True(t, strings.HasPrefix(line, "# prime on gpt4") || strings.HasPrefix(line, "## "), "a heading the report did not write: %q", line)
		}
		require.False(t, strings.HasPrefix(line, "- [click]"), "a list item the report did not write: %q", line)
	}
	// The identity line stays one line of code spans that the text cannot close.
	require.Contains(t, out, "**Identity changed**: ``x`  <img")
	require.Contains(t, out, "# ALL GOOD - [click](http://evil)`` → ``")
}

// withoutCodeSpans removes the inline code spans of md as CommonMark reads
// them: a run of n backticks (not escaped) up to the next run of exactly n.
func withoutCodeSpans(md string) string {
	var b strings.Builder
	for i := 0; i < len(md); {
		if md[i] == '\\' && i+1 < len(md) { // an escaped character opens nothing
			b.WriteString(md[i : i+2])
			i += 2
			continue
		}
		if md[i] != '`' {
			b.WriteByte(md[i])
			i++
			continue
		}
		n := 0
		for i+n < len(md) && md[i+n] == '`' {
			n++
		}
		end := -1
		for j := i + n; j < len(md); {
			if md[j] != '`' {
				j++
				continue
			}
			m := 0
			for j+m < len(md) && md[j+m] == '`' {
				m++
			}
			if m == n {
				end = j + m
				break
			}
			j += m
		}
		if end < 0 {
			b.WriteString(md[i : i+n])
			i += n
			continue
		}
		i = end
	}
	return b.String()
}
