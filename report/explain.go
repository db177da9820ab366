package report

import (
	"cmp"
	"fmt"
	"math"
	"regexp"
	"slices"
	"strconv"
	"strings"

	"github.com/driftwatch/driftwatch/drift"
)

// Explain returns the plain-language account of a stored report, the first
// thing a person reads: what happened, how much, how sure and what to do,
// with the numbers after the words. It reads only what the report stores
// (verdict, metrics, findings, change point, CUSUM) and computes no
// statistic. Every channel (terminal, Markdown, JUnit, Slack, dashboard)
// shows this text; the statistics stay in --json and behind a details fold.
//
// Examples:
//
//	pass rate fell 11 points (95% CI 7–16) on 14 of 150 cases since run 15; identity changed gpt-4o-2024-08-06 → gpt-4o-2024-11-20; if expected: `driftwatch baseline accept 16`
//	no drift detected: pass rate 86.0% against 87.0% (−1 point, 95% CI −3 to +1); a drop of 4.2 points or more would have been caught
func Explain(r *Report) string {
	return strings.Join(ExplainParts(r), "; ")
}

// ExplainParts is Explain as separate clauses, most important first.
func ExplainParts(r *Report) []string {
	if r == nil {
		return nil
	}
	var out []string
	switch {
	case r.PinViolated:
		return []string{"the answering model is not the pinned one: " + identityClause(r)}
	case r.Status == "failed":
		out = append(out, "the run failed before it could be compared: "+cmp.Or(r.Error, r.Reason, "no reason recorded"))
	case r.Status == "stopped":
		out = append(out, "the run was stopped before it finished (interrupted or over budget), so it was not compared: "+cmp.Or(r.Reason, r.Error, "no reason recorded"))
	}
	if r.Status == "failed" || r.Status == "stopped" {
		return out
	}
	switch drift.Verdict(r.Verdict) {
	case drift.Baseline:
		out = append(out, baselineClause(r))
	case drift.Stable:
		out = append(out, stableClause(r))
	case drift.Drift:
		out = append(out, driftClauses(r)...)
	case drift.Inconclusive:
		out = append(out, inconclusiveClauses(r)...)
	default:
		out = append(out, strings.ToLower(r.Verdict)+": "+r.Reason)
	}
	if r.IdentityChanged {
		out = append(out, "identity changed "+identityClause(r))
	}
	if w := len(Warnings(r)); w > 0 && drift.Verdict(r.Verdict) == drift.Stable {
		out = append(out, fmt.Sprintf("%s below the alarm level", plural(w, "warning", "warnings")))
	}
	if drift.Verdict(r.Verdict) == drift.Drift && r.RunID != 0 {
		out = append(out, fmt.Sprintf("if expected: `driftwatch baseline accept %d`", r.RunID))
	}
	return out
}

// Warnings are the report's WARN findings: significant at the warning level
// but not alarms. People should see them next to the verdict.
func Warnings(r *Report) []drift.Finding {
	var out []drift.Finding
	for _, f := range r.Findings {
		if f.Verdict == drift.Warn {
			out = append(out, f)
		}
	}
	return out
}

// SinceText says when the current change began, from the stored change
// point: "since run 15", "since: unclear" when the evidence does not date
// it, "" when the report has no change point.
func SinceText(cp *ChangePoint) string {
	switch {
	case cp == nil:
		return ""
	case cp.SinceUnclear || cp.SinceRunID == 0:
		return "since: unclear"
	}
	return "since run " + strconv.FormatInt(cp.SinceRunID, 10)
}

func baselineClause(r *Report) string {
	m := r.Metrics
	s := fmt.Sprintf("first run of this suite on this target, now the baseline later runs are compared with: %s × %s",
		plural(m.Cases, "case", "cases"), plural(m.SamplesPerCase, "sample", "samples"))
	if m.PassRate != nil {
		s += ", pass rate " + percent(m.PassRate.Value)
	}
	if r.MDE > 0 {
		s += fmt.Sprintf(" (minimum detectable drop at 80%% power: %s points)", pts(r.MDE))
	}
	return s
}

func stableClause(r *Report) string {
	s := "no drift detected"
	if v := r.Metrics.PassRate; v != nil && v.Baseline != nil {
		s += fmt.Sprintf(": pass rate %s against %s", percent(v.Value), percent(*v.Baseline))
		if v.Delta != nil {
			s += " (" + signedPoints(*v.Delta)
			if v.CI != nil {
				s += ", 95% CI " + signedRange(v.CI.Low, v.CI.High)
			}
			s += ")"
		}
	}
	if r.MDE > 0 && len(r.BaselineRunIDs) > 0 {
		s += fmt.Sprintf("; a drop of %s points or more would have been caught", pts(r.MDE))
	}
	return s
}

func driftClauses(r *Report) []string {
	var out []string
	since := SinceText(r.ChangePoint)
	// The pass rate is what a suite is for: its alarm leads, the other
	// metrics follow in the engine's order (by q).
	alarms := slices.Clone(r.Findings)
	slices.SortStableFunc(alarms, func(a, b drift.Finding) int {
		return cmp.Compare(passRateRank(a.Metric), passRateRank(b.Metric))
	})
	for _, f := range alarms {
		if f.Scope != drift.ScopeSuite || f.Verdict != drift.Drift {
			continue
		}
		c, detail := findingWords(r, f)
		if f.Metric == drift.MetricPassRate && len(r.DriftedCases) > 0 && r.Metrics.Cases >= len(r.DriftedCases) {
			c += fmt.Sprintf(" on %d of %s", len(r.DriftedCases), plural(r.Metrics.Cases, "case", "cases"))
		}
		if since != "" && !r.ChangePoint.SinceUnclear && r.ChangePoint.SinceRunID != 0 &&
			(f.Metric == drift.MetricPassRate || f.Metric == drift.MetricCUSUM) {
			c += " " + since
			since = ""
		}
		if detail != "" {
			c += " (" + detail + ")"
		}
		out = append(out, c)
	}
	if len(out) == 0 {
		out = append(out, "drift: "+r.Reason)
	}
	if since != "" {
		// Undated, or dated while the pass rate did not alarm: a clause of
		// its own after the first.
		out = append(out[:1], append([]string{since}, out[1:]...)...)
	}
	return out
}

func passRateRank(metric string) int {
	switch metric {
	case drift.MetricPassRate:
		return 0
	case drift.MetricCUSUM:
		return 1
	}
	return 2
}

// smallFirstRunHint is what to do when a suite is too small for a verdict.
const smallFirstRunHint = "to fix: run more samples per case (`--samples`) or lower `drift.min_samples`"

func inconclusiveClauses(r *Report) []string {
	m := r.Metrics
	reason := r.Reason
	first := len(r.BaselineRunIDs) == 0
	ok := m.Samples - m.ErrorCount
	needed := ""
	if g := neededRe.FindStringSubmatch(reason); g != nil {
		needed = ", at least " + g[1] + " needed"
	}
	switch {
	case strings.Contains(reason, "error rate"):
		return []string{fmt.Sprintf("too many errors to judge the model: %d of %d samples errored (%s)", m.ErrorCount, m.Samples, percent(m.ErrorRate)),
			"check the endpoint, its rate limits and credentials, then run again"}
	case strings.Contains(reason, "no comparable baseline samples"):
		return []string{"the baseline has no usable samples: all of them errored",
			"accept a healthy run as the baseline: `driftwatch baseline accept RUN_ID`"}
	case strings.Contains(reason, "no baseline samples"):
		return []string{"there is nothing to compare with: the baseline has no samples",
			"accept a healthy run as the baseline: `driftwatch baseline accept RUN_ID`"}
	case strings.Contains(reason, "no current samples"):
		return []string{"the run produced no samples to compare"}
	case first && strings.HasPrefix(reason, "only "):
		return []string{fmt.Sprintf("too few samples for a first run to become the baseline: %d without error%s", ok, needed), smallFirstRunHint}
	case strings.HasPrefix(reason, "only "):
		return []string{fmt.Sprintf("too few samples to decide: %d comparable%s", ok, needed), smallFirstRunHint}
	}
	return []string{"not enough evidence to decide: " + reason}
}

// neededRe finds the minimum sample count in the drift engine's and the
// first run's INCONCLUSIVE reasons.
var neededRe = regexp.MustCompile(`(?:minimum|at least) (\d+)`)

// FindingText is the plain-language sentence of one finding: what changed
// and by how much, then how sure in words. It reads the stored finding only.
func FindingText(f drift.Finding) string {
	return findingClause(nil, f)
}

func findingClause(r *Report, f drift.Finding) string {
	s, detail := findingWords(r, f)
	if detail != "" {
		s += " (" + detail + ")"
	}
	if f.Verdict == drift.Warn {
		s += "; a warning, not an alarm"
		if f.Q > 0 && f.Q < 1 {
			s += " (q " + num(f.Q) + ")"
		}
	}
	return s
}

// findingWords says what a finding found in words, and the numbers that
// back it (before → after) separately, so a caller can put the case count
// and the change point between them.
func findingWords(r *Report, f drift.Finding) (words, detail string) {
	switch f.Metric {
	case drift.MetricPassRate:
		words = "pass rate " + moved(f.Effect, "rose", "fell") + " " + points(math.Abs(f.Effect))
		if f.CI != nil {
			words += " (95% CI " + magnitudeRange(f.CI.Low, f.CI.High, f.Effect < 0) + ")"
		}
		return words, percent(f.Baseline) + " → " + percent(f.Current)
	case drift.MetricRefusal, drift.MetricJSONValid, drift.MetricCodeFence, drift.MetricFinishLength:
		words = rateName(f.Metric) + " " + moved(f.Effect, "rose", "fell") + " " + points(math.Abs(f.Effect))
		if f.CI != nil {
			words += " (95% CI " + magnitudeRange(f.CI.Low, f.CI.High, f.Effect < 0) + ")"
		}
		return words, percent(f.Baseline) + " → " + percent(f.Current)
	case drift.MetricLength:
		return fmt.Sprintf("outputs got %s by %.0f%%", moved(f.Effect, "longer", "shorter"), math.Abs(100*f.Effect)),
			fmt.Sprintf("typical length %s → %s tokens", trim1(f.Baseline), trim1(f.Current))
	case drift.MetricAnswer:
		if strings.HasPrefix(f.Statistic, "changed answers") {
			return fmt.Sprintf("the extracted answer changed on %s of the cases", percent(f.Current)), ""
		}
		return "the answers changed beyond run-to-run noise", fmt.Sprintf("mean per-case distance %.2f, noise alone gives %.2f", f.Current, f.Baseline)
	case drift.MetricText:
		if strings.HasPrefix(f.Statistic, "changed outputs") {
			return fmt.Sprintf("the output text changed on %s of the cases", percent(f.Current)), ""
		}
		return "the outputs read differently from the baseline's",
			fmt.Sprintf("similarity to the baseline's outputs %.2f, against %.2f among the baseline's own", f.Current, f.Baseline)
	case drift.MetricCUSUM:
		return "pass rate declined slowly: no single run was significant, but the evidence accumulated since the baseline crossed the alarm level",
			fmt.Sprintf("CUSUM %.1f", f.Current)
	case drift.MetricCasePass:
		return fmt.Sprintf("case %s passes %s of its samples, %s in the baseline", strings.TrimPrefix(f.Scope, drift.ScopeCasePrefix),
			percent(f.Current), percent(f.Baseline)), ""
	case drift.MetricIdentity:
		if f.Statistic == "pin" {
			return "the pinned identity did not match: " + strings.TrimPrefix(f.Reason, "pin (warn): "), ""
		}
		if r != nil {
			return "identity changed " + identityClause(r), ""
		}
		return "a model identity not seen in the baseline answered", f.Reason
	case drift.MetricCalibration:
		return "the baseline runs vary more from night to night than sampling noise explains: pool more baseline runs for steadier verdicts",
			fmt.Sprintf("λ %.2f", f.Current)
	}
	return fmt.Sprintf("%s changed", strings.ReplaceAll(f.Metric, "_", " ")), fmt.Sprintf("%.3g → %.3g", f.Baseline, f.Current)
}

// identityClause is "old → new" from the report's identities, else the
// identity finding's reason.
func identityClause(r *Report) string {
	if r.BaselineIdentity != nil && r.Identity != nil {
		before, after := IdentityName(r.BaselineIdentity), IdentityName(r.Identity)
		if before != after {
			return before + " → " + after
		}
	}
	for _, f := range r.Findings {
		if f.Metric == drift.MetricIdentity {
			return f.Reason
		}
	}
	if r.Identity != nil {
		return "to " + IdentityName(r.Identity)
	}
	return "(identities unknown)"
}

// IdentityName names an identity by what tells identities apart: resolved
// model, system fingerprint and digest, else the requested model.
func IdentityName(id *Identity) string {
	if id == nil {
		return "(unknown)"
	}
	var parts []string
	for _, p := range []string{id.ResolvedModel, id.Fingerprint, id.Digest} {
		if p != "" {
			parts = append(parts, p)
		}
	}
	if len(parts) == 0 {
		return cmp.Or(id.RequestedModel, "(unknown)")
	}
	return strings.Join(parts, " ")
}

func rateName(metric string) string {
	switch metric {
	case drift.MetricRefusal:
		return "refusal rate"
	case drift.MetricJSONValid:
		return "share of valid JSON outputs"
	case drift.MetricCodeFence:
		return "share of outputs with code fences"
	case drift.MetricFinishLength:
		return "share of outputs cut off at the length limit"
	}
	return metric
}

func moved(x float64, up, down string) string {
	if x < 0 {
		return down
	}
	return up
}

// pts renders a fraction as points with at most one decimal: 0.113 → 11.3,
// 0.11 → 11.
func pts(x float64) string { return trim1(100 * x) }

func trim1(x float64) string {
	s := strconv.FormatFloat(math.Round(10*x)/10, 'f', 1, 64)
	s = strings.TrimSuffix(s, ".0")
	if s == "-0" {
		s = "0"
	}
	return s
}

func points(x float64) string {
	if s := pts(x); s != "1" {
		return s + " points"
	}
	return "1 point"
}

func signedPoints(x float64) string {
	s := pts(x)
	if x > 0 && s != "0" {
		s = "+" + s
	}
	s = strings.Replace(s, "-", "−", 1)
	if s == "1" || s == "+1" || s == "−1" {
		return s + " point"
	}
	return s + " points"
}

// signedRange renders a CI in signed points: "−3 to +1".
func signedRange(lo, hi float64) string {
	f := func(x float64) string {
		s := pts(x)
		if x > 0 && s != "0" {
			s = "+" + s
		}
		return strings.Replace(s, "-", "−", 1)
	}
	return f(lo) + " to " + f(hi)
}

// magnitudeRange renders the CI of a change as magnitudes in the change's
// direction ("7 to 16" for a fall with CI −0.16..−0.07), or signed when it
// crosses zero.
func magnitudeRange(lo, hi float64, down bool) string {
	if down && hi <= 0 {
		return pts(-hi) + "–" + pts(-lo)
	}
	if !down && lo >= 0 {
		return pts(lo) + "–" + pts(hi)
	}
	return signedRange(lo, hi) + " points"
}

func percent(x float64) string { return strconv.FormatFloat(100*x, 'f', 1, 64) + "%" }

func plural(n int, one, many string) string {
	if n == 1 {
		return "1 " + one
	}
	return strconv.Itoa(n) + " " + many
}
