package report_test

import (
	"bytes"
	"encoding/json"
	"encoding/xml"
	"flag"
	"math"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/driftwatch/driftwatch/drift"
	"github.com/driftwatch/driftwatch/report"
)

var update = flag.Bool("update", false, "rewrite the golden files")

func f(v float64) *float64 { return &v }

func driftReport() *report.Report {
	return &report.Report{
		Suite: "prime", Target: "gpt4", RunID: 42, BaselineRunIDs: []int64{7, 9},
		Verdict: "DRIFT", Reason: "drift in pass_rate (effect -0.330, q=1e-06)", IdentityChanged: true, Status: "completed",
		Identity:         &report.Identity{Provider: "openai", RequestedModel: "gpt-4", ResolvedModel: "gpt-4-0613", Fingerprint: "fp_b"},
		BaselineIdentity: &report.Identity{Provider: "openai", RequestedModel: "gpt-4", ResolvedModel: "gpt-4-0314", Fingerprint: "fp_a"},
		Metrics: report.Metrics{
			PassRate:    &report.Value{Value: 0.51, Baseline: f(0.84), Delta: f(-0.33), CI: &drift.Interval{Low: -0.4, High: -0.26}, P: f(1e-7)},
			RefusalRate: &report.Value{Value: 0.01, Baseline: f(0.01), Delta: f(0)},
			ErrorCount:  2, ErrorRate: 0.002, Samples: 1000, Passed: 509, Cases: 200, SamplesPerCase: 5,
		},
		Findings: []drift.Finding{
			{Metric: "pass_rate", Scope: "suite", Statistic: "CMH", Baseline: 0.84, Current: 0.51, Effect: -0.33,
				CI: &drift.Interval{Low: -0.4, High: -0.26}, P: 1e-7, Q: 1e-6, Verdict: drift.Drift, Reason: "pass rate dropped",
				Examples: []drift.Example{{Case: "p17", Baseline: "[Yes] 17 is prime.", Current: "[No] 17 = `1 x 17`."}}},
			{Metric: "case_pass_rate", Scope: "case:p17", P: 1e-4, Q: 0.01, Effect: -1, Verdict: drift.Drift, Reason: "collapsed"},
			{Metric: "output_text", Scope: "suite", P: math.NaN(), Q: math.Inf(1), Verdict: drift.Warn, Reason: "below floor"},
		},
		DriftedCases: []string{"p17"},
		ChangedCases: []string{"p99"},
		MDE:          0.031,
		ChangePoint: &report.ChangePoint{Runs: 12, RunsSince: 1, Probability: 0.97, SinceRunID: 42,
			ProbChange: 0.98, ProbThisRun: 0.97},
		StartedAt:   time.Date(2026, 11, 28, 2, 0, 0, 0, time.UTC),
		FinishedAt:  time.Date(2026, 11, 28, 2, 3, 0, 0, time.UTC),
		WallSeconds: 180,
		Cases: []report.Case{
			{Key: "p17", Samples: 5, Passed: 0, Failed: 5, Baseline: f(1), Drifted: true, Reason: "icontains: missing [yes]"},
			{Key: "p19", Samples: 5, Passed: 5},
			{Key: "p23", Samples: 5, Errored: 5, Reason: "openai gpt-4: server (HTTP 500)"},
			{Key: "p99", Samples: 5, Passed: 4, Failed: 1, Changed: true},
		},
	}
}

func golden(t *testing.T, name string, got []byte) {
	t.Helper()
	path := filepath.Join("testdata", name)
	if *update {
		require.NoError(t, os.WriteFile(path, got, 0o644))
	}
	want, err := os.ReadFile(path)
	require.NoError(t, err, "run go test ./report -update to create %s", path)
	require.Equal(t, string(want), string(got))
}

func TestWriteJSONIsOneObjectPerLine(t *testing.T) {
	t.Parallel()
	var b bytes.Buffer
	require.NoError(t, report.WriteJSON(&b, []*report.Report{driftReport(), {Suite: "s", Target: "t", RunID: 1, Verdict: "BASELINE", Status: "completed"}}))
	lines := bytes.Split(bytes.TrimSpace(b.Bytes()), []byte("\n"))
	require.Len(t, lines, 2)
	var second map[string]any
	require.NoError(t, json.Unmarshal(lines[1], &second))
	require.Equal(t, []any{}, second["baseline_run_ids"], "empty lists are arrays, never null")
	require.Equal(t, []any{}, second["drifted_cases"])
	var first map[string]any
	require.NoError(t, json.Unmarshal(lines[0], &first), "NaN and Inf are replaced: the line is valid JSON")
	golden(t, "drift.json", append(lines[0], '\n'))
}

func TestWriteJUnit(t *testing.T) {
	t.Parallel()
	var b bytes.Buffer
	require.NoError(t, report.WriteJUnit(&b, []*report.Report{driftReport()}))
	var doc struct {
		Suites []struct {
			Name     string `xml:"name,attr"`
			Tests    int    `xml:"tests,attr"`
			Failures int    `xml:"failures,attr"`
			Errors   int    `xml:"errors,attr"`
			Skipped  int    `xml:"skipped,attr"`
		} `xml:"testsuite"`
	}
	require.NoError(t, xml.Unmarshal(b.Bytes(), &doc))
	require.Len(t, doc.Suites, 1)
	s := doc.Suites[0]
	require.Equal(t, "prime@gpt4", s.Name)
	require.Equal(t, 5, s.Tests, "four cases and the (suite) verdict")
	require.Equal(t, 2, s.Failures, "the drifted case and the (suite) verdict fail")
	require.Equal(t, 1, s.Errors, "the all-errored case is an error")
	require.Equal(t, 1, s.Skipped, "the changed case is not compared")
	golden(t, "drift.junit.xml", b.Bytes())

	// A suite that drifts as a whole with no localised case still fails CI.
	r := driftReport()
	r.DriftedCases, r.Cases = nil, nil
	b.Reset()
	require.NoError(t, report.WriteJUnit(&b, []*report.Report{r}))
	require.Contains(t, b.String(), `name="(suite)"`)
	require.Contains(t, b.String(), "<failure")
}

// TestWriteJUnitInconclusiveIsAnError: an INCONCLUSIVE run (exit code 2) is
// an error testcase with the plain-language reason, so CI goes red; a
// STABLE run has neither failures nor errors.
func TestWriteJUnitInconclusiveIsAnError(t *testing.T) {
	t.Parallel()
	type suite struct {
		Failures int `xml:"failures,attr"`
		Errors   int `xml:"errors,attr"`
		Cases    []struct {
			Name  string `xml:"name,attr"`
			Error *struct {
				Message string `xml:"message,attr"`
			} `xml:"error"`
			Failure *struct {
				Message string `xml:"message,attr"`
			} `xml:"failure"`
		} `xml:"testcase"`
	}
	parse := func(r *report.Report) suite {
		var b bytes.Buffer
		require.NoError(t, report.WriteJUnit(&b, []*report.Report{r}))
		var doc struct {
			Suites []suite `xml:"testsuite"`
		}
		require.NoError(t, xml.Unmarshal(b.Bytes(), &doc))
		require.Len(t, doc.Suites, 1)
		return doc.Suites[0]
	}
	r := &report.Report{Suite: "tiny", Target: "t", RunID: 1, Verdict: "INCONCLUSIVE", Status: "completed",
		Reason:  "only 12 samples without error (at least 20 needed): not accepted as a baseline",
		Metrics: report.Metrics{Samples: 12, Cases: 12, SamplesPerCase: 1},
		Cases:   []report.Case{{Key: "a", Samples: 1, Passed: 1}}}
	s := parse(r)
	require.Equal(t, 0, s.Failures)
	require.Equal(t, 1, s.Errors, "INCONCLUSIVE makes CI red")
	require.Equal(t, 2, report.ExitCode([]*report.Report{r}), "as the exit code says")
	last := s.Cases[len(s.Cases)-1]
	require.Equal(t, "(suite)", last.Name)
	require.NotNil(t, last.Error)
	require.Contains(t, last.Error.Message, "INCONCLUSIVE: too few samples for a first run to become the baseline")
	require.Contains(t, last.Error.Message, "`--samples`")

	d := parse(driftReport())
	require.Contains(t, d.Cases[len(d.Cases)-1].Failure.Message, "DRIFT: pass rate fell 33 points")

	r.Verdict = "STABLE"
	s = parse(r)
	require.Zero(t, s.Failures+s.Errors, "a STABLE run is green")
}

func TestWriteMarkdown(t *testing.T) {
	t.Parallel()
	var b bytes.Buffer
	require.NoError(t, report.WriteMarkdown(&b, []*report.Report{driftReport()}))
	golden(t, "drift.md", b.Bytes())
	require.Contains(t, b.String(), "**Identity changed**")
	require.NotContains(t, b.String(), "`1 x 17`", "backticks in model output cannot break the Markdown code span")
}

func TestExitCode(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name     string
		verdicts []string
		status   string
		pin      bool
		want     int
	}{
		{"baseline", []string{"BASELINE"}, "completed", false, 0},
		{"stable", []string{"STABLE", "BASELINE"}, "completed", false, 0},
		{"drift wins over inconclusive", []string{"INCONCLUSIVE", "DRIFT"}, "completed", false, 1},
		{"inconclusive", []string{"STABLE", "INCONCLUSIVE"}, "completed", false, 2},
		{"stopped run", []string{"INCONCLUSIVE"}, "stopped", false, 2},
		{"pin violated", []string{"INCONCLUSIVE"}, "failed", true, 1},
		{"none", nil, "completed", false, 0},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			var rs []*report.Report
			for _, v := range tc.verdicts {
				rs = append(rs, &report.Report{Verdict: v, Status: tc.status, PinViolated: tc.pin})
			}
			require.Equal(t, tc.want, report.ExitCode(rs))
		})
	}
}
