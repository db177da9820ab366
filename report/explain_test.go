package report_test

import (
	"encoding/json"
	"math"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/driftwatch/driftwatch/drift"
	"github.com/driftwatch/driftwatch/report"
)

// base is a completed run 16 of a 150-case suite compared with run 9.
func base(verdict, reason string) *report.Report {
	return &report.Report{
		Suite: "support", Target: "gpt4o", RunID: 16, BaselineRunIDs: []int64{9}, Verdict: verdict, Reason: reason,
		Status: "completed",
		Metrics: report.Metrics{
			PassRate: &report.Value{Value: 0.86, Baseline: f(0.87), Delta: f(-0.01), CI: &drift.Interval{Low: -0.031, High: 0.012}, P: f(0.4)},
			Samples:  750, Passed: 645, Cases: 150, SamplesPerCase: 5,
		},
		MDE: 0.042,
	}
}

func identities(r *report.Report) *report.Report {
	r.IdentityChanged = true
	r.BaselineIdentity = &report.Identity{Provider: "openai", RequestedModel: "gpt-4o", ResolvedModel: "gpt-4o-2024-08-06"}
	r.Identity = &report.Identity{Provider: "openai", RequestedModel: "gpt-4o", ResolvedModel: "gpt-4o-2024-11-20"}
	r.Findings = append(r.Findings, drift.Finding{Metric: drift.MetricIdentity, Scope: drift.ScopeSuite, Statistic: "set of sample identities",
		Verdict: drift.IdentityChanged, P: 1, Q: 1, Reason: "new identity 3fa2c9d1 not seen in the baseline (baseline: 0b1c2d3e); a hint, not an alarm"})
	return r
}

func passRateDrop() drift.Finding {
	return drift.Finding{Metric: drift.MetricPassRate, Scope: drift.ScopeSuite, Statistic: "CMH", Baseline: 0.87, Current: 0.76,
		Effect: -0.11, CI: &drift.Interval{Low: -0.16, High: -0.07}, P: 1e-6, Q: 1e-5, Verdict: drift.Drift,
		Reason: "pass rate 0.870 -> 0.760 (delta -0.110, 95% CI -0.160..-0.070, floor -0.020 or a localised case); Holm q=1e-05 <= 0.01"}
}

// verdictReports are one report per verdict kind (and variant a person must
// tell apart), named as their golden files.
func verdictReports() map[string]*report.Report {
	drifted := identities(base("DRIFT", "drift in pass_rate (effect -0.110, q=1e-05)"))
	drifted.Metrics.PassRate = &report.Value{Value: 0.76, Baseline: f(0.87), Delta: f(-0.11), CI: &drift.Interval{Low: -0.16, High: -0.07}, P: f(1e-6)}
	drifted.Findings = append([]drift.Finding{passRateDrop()}, drifted.Findings...)
	drifted.DriftedCases = make([]string, 14)
	drifted.ChangePoint = &report.ChangePoint{Runs: 16, RunsSince: 2, Probability: 0.93, SinceRunID: 15, SinceProbability: 0.93, EpisodeStartRunID: 12}

	unclear := base("DRIFT", "drift in pass_rate (effect -0.050, q=0.004)")
	unclear.Findings = []drift.Finding{{Metric: drift.MetricPassRate, Scope: drift.ScopeSuite, Baseline: 0.87, Current: 0.82, Effect: -0.05,
		CI: &drift.Interval{Low: -0.08, High: -0.02}, P: 0.0004, Q: 0.004, Verdict: drift.Drift}}
	unclear.ChangePoint = &report.ChangePoint{Runs: 16, RunsSince: 16, SinceUnclear: true, EpisodeStartRunID: 10}

	slow := base("DRIFT", "slow drift: the pass-rate CUSUM over 12 runs since the baseline is 5.6 (> 5), although no single run was significant")
	slow.Findings = []drift.Finding{{Metric: drift.MetricCUSUM, Scope: drift.ScopeSuite, Statistic: "cusum", Current: 5.6, Effect: 5.6,
		P: math.NaN(), Q: math.NaN(), Verdict: drift.Drift, Reason: slow.Reason}}
	slow.CUSUM = &report.CUSUM{Statistic: 5.6, Threshold: 5, Runs: 12, Alarm: true}
	slow.ChangePoint = &report.ChangePoint{Runs: 16, RunsSince: 16, SinceUnclear: true, EpisodeStartRunID: 10}

	baseline := base("BASELINE", "first completed run: it is the baseline for later runs")
	baseline.BaselineRunIDs, baseline.MDE = nil, 0
	baseline.Metrics.PassRate = &report.Value{Value: 0.87}

	stable := base("STABLE", "no suite-level test survived Holm at 0.01 together with its effect floor (6 tests)")

	warned := base("STABLE", "no suite-level test survived Holm at 0.01 together with its effect floor (6 tests)")
	warned.Metrics.PassRate = &report.Value{Value: 0.835, Baseline: f(0.87), Delta: f(-0.035), CI: &drift.Interval{Low: -0.061, High: -0.011}, P: f(0.003)}
	warned.Findings = []drift.Finding{{Metric: drift.MetricPassRate, Scope: drift.ScopeSuite, Baseline: 0.87, Current: 0.835, Effect: -0.035,
		CI: &drift.Interval{Low: -0.061, High: -0.011}, P: 0.003, Q: 0.016, Verdict: drift.Warn}}

	identity := identities(base("STABLE", "no suite-level test survived Holm at 0.01 together with its effect floor (6 tests)"))

	smallFirst := base("INCONCLUSIVE", "only 12 samples without error (at least 20 needed): not accepted as a baseline")
	smallFirst.BaselineRunIDs, smallFirst.MDE = nil, 0
	smallFirst.Metrics = report.Metrics{PassRate: &report.Value{Value: 0.75}, Samples: 12, Passed: 9, Cases: 12, SamplesPerCase: 1}

	few := base("INCONCLUSIVE", "only 14 comparable current samples (errors excluded, cases in the baseline), minimum 20")
	few.Metrics.Samples, few.Metrics.Cases, few.Metrics.SamplesPerCase = 14, 14, 1

	errored := base("INCONCLUSIVE", "current error rate 0.310 (232 of 750 samples errored) exceeds the maximum 0.200")
	errored.Metrics.ErrorCount, errored.Metrics.ErrorRate = 232, 0.309

	baseErrored := base("INCONCLUSIVE", "no comparable baseline samples: all 750 baseline samples errored")

	pin := identities(base("INCONCLUSIVE", "pinned identity mismatch"))
	pin.Status, pin.PinViolated = "failed", true

	failed := base("INCONCLUSIVE", "")
	failed.Status, failed.Error = "failed", "openai gpt-4o: unauthorized (HTTP 401): check the API key"

	stopped := base("INCONCLUSIVE", "budget exhausted after 312 of 750 samples")
	stopped.Status = "stopped"

	return map[string]*report.Report{
		"baseline": baseline, "stable": stable, "stable_with_warning": warned, "stable_identity_changed": identity,
		"drift": drifted, "drift_since_unclear": unclear, "drift_slow": slow,
		"inconclusive_small_first_run": smallFirst, "inconclusive_few_samples": few, "inconclusive_errors": errored,
		"inconclusive_baseline_errored": baseErrored, "pin_violated": pin, "run_failed": failed, "run_stopped": stopped,
	}
}

// TestExplainVerdictGolden pins the plain-language account of each verdict
// kind: words first, numbers after, and what to do.
func TestExplainVerdictGolden(t *testing.T) {
	t.Parallel()
	for name, r := range verdictReports() {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			got := report.Explain(r)
			golden(t, "explain/verdict_"+name+".golden", []byte(got+"\n"))
			require.NotContains(t, got, "Holm", "no statistics jargon in the plain text")
			require.NotContains(t, got, "survived")
		})
	}
}

// TestExplainSpeaksToTheOnCallEngineer pins the sentences an on-call engineer
// reads first, independently of the golden files.
func TestExplainSpeaksToTheOnCallEngineer(t *testing.T) {
	t.Parallel()
	rs := verdictReports()
	require.Equal(t, "pass rate fell 11 points (95% CI 7–16) on 14 of 150 cases since run 15 (87.0% → 76.0%); "+
		"identity changed gpt-4o-2024-08-06 → gpt-4o-2024-11-20; if expected: `driftwatch baseline accept 16`", report.Explain(rs["drift"]))
	require.Contains(t, report.Explain(rs["drift_since_unclear"]), "since: unclear")
	require.Contains(t, report.Explain(rs["drift_slow"]), "since: unclear")
	small := report.Explain(rs["inconclusive_small_first_run"])
	require.Contains(t, small, "`--samples`")
	require.Contains(t, small, "`drift.min_samples`")
	require.NotContains(t, report.Explain(rs["baseline"]), "would have been caught", "no detectable drop without a baseline")
	require.Contains(t, report.Explain(rs["stable_with_warning"]), "1 warning")
	require.Contains(t, report.Explain(rs["stable_identity_changed"]), "gpt-4o-2024-08-06 → gpt-4o-2024-11-20")
}

// findingKinds is one finding per kind the drift engine (and the CUSUM and
// pin checks) produce.
func findingKinds() map[string]drift.Finding {
	ci := func(lo, hi float64) *drift.Interval { return &drift.Interval{Low: lo, High: hi} }
	return map[string]drift.Finding{
		"pass_rate":          passRateDrop(),
		"pass_rate_rise":     {Metric: drift.MetricPassRate, Scope: "suite", Baseline: 0.7, Current: 0.78, Effect: 0.08, CI: ci(0.05, 0.11), Q: 0.001, Verdict: drift.Drift},
		"pass_rate_warn":     {Metric: drift.MetricPassRate, Scope: "suite", Baseline: 0.87, Current: 0.835, Effect: -0.035, CI: ci(-0.061, -0.011), Q: 0.016, Verdict: drift.Warn},
		"refusal_rate":       {Metric: drift.MetricRefusal, Scope: "suite", Baseline: 0.02, Current: 0.09, Effect: 0.07, CI: ci(0.04, 0.1), Q: 0.0002, Verdict: drift.Drift},
		"json_valid_rate":    {Metric: drift.MetricJSONValid, Scope: "suite", Baseline: 0.99, Current: 0.81, Effect: -0.18, CI: ci(-0.23, -0.13), Q: 1e-9, Verdict: drift.Drift},
		"code_fence_rate":    {Metric: drift.MetricCodeFence, Scope: "suite", Baseline: 0.1, Current: 0.6, Effect: 0.5, CI: ci(0.42, 0.58), Q: 1e-12, Verdict: drift.Drift},
		"finish_length_rate": {Metric: drift.MetricFinishLength, Scope: "suite", Baseline: 0, Current: 0.12, Effect: 0.12, CI: ci(0.08, 0.16), Q: 1e-6, Verdict: drift.Drift},
		"output_length":      {Metric: drift.MetricLength, Scope: "suite", Baseline: 212.4, Current: 151, Effect: -0.289, Q: 1e-5, Verdict: drift.Drift},
		"answer_changed":     {Metric: drift.MetricAnswer, Scope: "suite", Statistic: "changed answers 12 of 150 cases (k=1, binomial against noise 0.010)", Current: 0.08, Effect: 0.08, Q: 1e-4, Verdict: drift.Drift},
		"answer_distribution": {Metric: drift.MetricAnswer, Scope: "suite", Statistic: "sum of per-case total-variation distances, within-case permutation (999 permutations)",
			Baseline: 0.06, Current: 0.21, Effect: 0.15, Q: 0.002, Verdict: drift.Drift},
		"output_text_changed": {Metric: drift.MetricText, Scope: "suite", Statistic: "changed outputs 40 of 150 cases (k=1, whitespace-normalised exact match, binomial against noise 0.010)",
			Current: 0.267, Effect: 0.267, Q: 1e-8, Verdict: drift.Drift},
		"output_text_similarity": {Metric: drift.MetricText, Scope: "suite", Statistic: "sum of per-case MMD^2", Baseline: 0.82, Current: 0.61, Effect: 0.21, Q: 0.001, Verdict: drift.Drift},
		"pass_rate_cusum":        {Metric: drift.MetricCUSUM, Scope: "suite", Statistic: "cusum", Current: 5.6, Effect: 5.6, P: math.NaN(), Q: math.NaN(), Verdict: drift.Drift},
		"case_pass_rate":         {Metric: drift.MetricCasePass, Scope: "case:refund/eu", Baseline: 1, Current: 0.2, Effect: -0.8, Q: 0.03, Verdict: drift.Drift},
		"identity": {Metric: drift.MetricIdentity, Scope: "suite", Statistic: "set of sample identities", Verdict: drift.IdentityChanged, P: 1, Q: 1,
			Reason: "new identity 3fa2c9d1 not seen in the baseline (baseline: 0b1c2d3e); a hint, not an alarm"},
		"identity_pin": {Metric: drift.MetricIdentity, Scope: "suite", Statistic: "pin", Verdict: drift.IdentityChanged,
			Reason: "pin (warn): system fingerprint fp_new, pinned fp_old"},
		"pass_rate_calibration": {Metric: drift.MetricCalibration, Scope: "suite", Baseline: 1, Current: 3.4, Effect: 3.4, P: 1, Q: 1, Verdict: drift.Warn},
	}
}

// TestFindingTextGolden pins the sentence of each finding kind.
func TestFindingTextGolden(t *testing.T) {
	t.Parallel()
	for name, f := range findingKinds() {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			got := report.FindingText(f)
			golden(t, "explain/finding_"+name+".golden", []byte(got+"\n"))
			require.NotContains(t, got, "Holm")
			require.False(t, strings.Contains(got, "NaN"), "no NaN in words: %s", got)
		})
	}
}

func TestSinceText(t *testing.T) {
	t.Parallel()
	require.Equal(t, "", report.SinceText(nil))
	require.Equal(t, "since run 15", report.SinceText(&report.ChangePoint{SinceRunID: 15}))
	require.Equal(t, "since: unclear", report.SinceText(&report.ChangePoint{SinceUnclear: true}))
	require.Equal(t, "since: unclear", report.SinceText(&report.ChangePoint{Runs: 9}), "a change point without a dated run")
}

// TestWriteMarkdownWordsFirstStatisticsFolded: the Markdown report opens with
// the plain-language account, lists warnings, keeps the statistics behind a
// details fold and never prints a minimum detectable drop without a
// baseline.
func TestWriteMarkdownWordsFirstStatisticsFolded(t *testing.T) {
	t.Parallel()
	rs := verdictReports()
	var b strings.Builder
	require.NoError(t, report.WriteMarkdown(&b, []*report.Report{rs["baseline"], rs["inconclusive_small_first_run"]}))
	md := b.String()
	require.NotContains(t, md, "Minimum detectable", "no MDE of 0.0 points without a baseline")
	require.Contains(t, md, "First run of this suite on this target, now the baseline")
	require.Contains(t, md, "lower `drift.min_samples`")

	b.Reset()
	require.NoError(t, report.WriteMarkdown(&b, []*report.Report{rs["stable_with_warning"]}))
	md = b.String()
	words, stats, ok := strings.Cut(md, "<details><summary>Statistics</summary>")
	require.True(t, ok, "statistics are folded")
	require.Contains(t, words, "No drift detected: pass rate 83.5% against 87.0%")
	require.Contains(t, words, "**Warnings** (below the alarm level):\n\n- pass rate fell 3.5 points (95% CI 1.1–6.1) (87.0% → 83.5%); a warning, not an alarm (q 0.016)")
	require.NotContains(t, words, "Holm")
	require.Contains(t, stats, "Minimum detectable pass-rate drop at 80% power: 4.2 points")
	require.Contains(t, stats, "Verdict reason: no suite-level test survived Holm")
}

// TestExplainPassRateLeads: whatever the engine's order (by q), the pass
// rate's alarm is said first, with the since.
func TestExplainPassRateLeads(t *testing.T) {
	t.Parallel()
	r := verdictReports()["drift"]
	length := drift.Finding{Metric: drift.MetricLength, Scope: drift.ScopeSuite, Baseline: 10.3, Current: 23.2, Effect: 1.26, Q: 1e-25, Verdict: drift.Drift}
	r.Findings = append([]drift.Finding{length}, r.Findings...)
	got := report.Explain(r)
	require.True(t, strings.HasPrefix(got, "pass rate fell 11 points (95% CI 7–16) on 14 of 150 cases since run 15"), got)
	require.Contains(t, got, "; outputs got longer by 126% (typical length 10.3 → 23.2 tokens);")
}

// TestJSONCarriesTheSummary: --json adds the plain-language summary next
// to the unchanged fields.
func TestJSONCarriesTheSummary(t *testing.T) {
	t.Parallel()
	var b strings.Builder
	require.NoError(t, report.WriteJSON(&b, []*report.Report{verdictReports()["inconclusive_small_first_run"]}))
	var got struct {
		Verdict string `json:"verdict"`
		Reason  string `json:"reason"`
		Summary string `json:"summary"`
	}
	require.NoError(t, json.Unmarshal([]byte(b.String()), &got))
	require.Equal(t, "INCONCLUSIVE", got.Verdict)
	require.Equal(t, "only 12 samples without error (at least 20 needed): not accepted as a baseline", got.Reason, "the reason is kept")
	require.Equal(t, report.Explain(verdictReports()["inconclusive_small_first_run"]), got.Summary)
}
