// Package report renders the outcome of a run against its baseline as the
// --json contract (documented in the README), JUnit XML for CI systems, and
// Markdown for people.
//
// The JSON field names are a contract: scripts parse them. Add fields, never
// rename or remove them.
package report

import (
	"cmp"
	"encoding/json"
	"encoding/xml"
	"fmt"
	"io"
	"math"
	"sort"
	"strings"
	"time"

	"github.com/driftwatch/driftwatch/drift"
	"github.com/driftwatch/driftwatch/internal/textsafe"
)

// Report is the outcome of one (suite, target) run. It is one object of the
// --json output.
type Report struct {
	// Project is the project the run belongs to (omitted for runs stored
	// before projects).
	Project        string  `json:"project,omitempty"`
	Suite          string  `json:"suite"`
	Target         string  `json:"target"`
	RunID          int64   `json:"run_id"`
	BaselineRunIDs []int64 `json:"baseline_run_ids"`
	// Verdict is STABLE, DRIFT, INCONCLUSIVE or BASELINE.
	Verdict string `json:"verdict"`
	Reason  string `json:"reason"`
	// Summary is the report in plain words, numbers after (Explain): what
	// changed, how much, how sure, since when, what to do. It is derived
	// from the other fields each time the report is encoded.
	Summary string `json:"summary,omitempty"`
	// IdentityChanged is the separate identity signal; PinViolated says a
	// pinned target did not match its pin (exit code 1).
	IdentityChanged  bool      `json:"identity_changed"`
	PinViolated      bool      `json:"pin_violated,omitempty"`
	Identity         *Identity `json:"identity,omitempty"`
	BaselineIdentity *Identity `json:"baseline_identity,omitempty"`
	// Status of the run: completed, stopped (interrupted or budget) or failed.
	Status       string          `json:"status"`
	Error        string          `json:"error,omitempty"`
	Metrics      Metrics         `json:"metrics"`
	Findings     []drift.Finding `json:"findings"`
	DriftedCases []string        `json:"drifted_cases"`
	ChangedCases []string        `json:"changed_cases,omitempty"`
	// MDE is the minimum detectable pass-rate drop at 80% power for this
	// suite's cases and samples.
	MDE float64 `json:"mde"`
	// PassZ is the standardised pass-rate statistic against the baseline
	// (negative: a drop); CUSUM accumulates it across runs.
	PassZ float64 `json:"pass_z"`
	// CUSUM is the slow-drift detector's state over the runs compared with
	// the current baseline; nil for a baseline run.
	CUSUM *CUSUM `json:"cusum,omitempty"`
	// Calibration is the A/A calibration of the pass-rate test between the
	// pooled baseline runs (lambda); nil with fewer than three.
	Calibration *drift.Calibration `json:"calibration,omitempty"`
	// Sampling is how the night sampled: its plan (staged or fixed, K),
	// the looks taken and, for a night stopped early as STABLE, the look
	// that stopped it (stopped_at) with its reason and MDE.
	Sampling *drift.Staged `json:"sampling,omitempty"`
	// ChangePoint dates the last change of the pass rate over the suite's
	// recent runs on this target (BOCPD, for reporting only: it never sets
	// the verdict); nil for a first run.
	ChangePoint *ChangePoint `json:"change_point,omitempty"`
	// ConfirmRunID is the confirmation run, when one was made.
	ConfirmRunID int64     `json:"confirm_run_id,omitempty"`
	StartedAt    time.Time `json:"started_at"`
	FinishedAt   time.Time `json:"finished_at"`
	WallSeconds  float64   `json:"wall_seconds"`
	// Cases summarises each case of the current run (JUnit and Markdown use
	// it; --json includes it).
	Cases []Case `json:"cases,omitempty"`
}

// ChangePoint is the Bayesian online change-point posterior (drift.BOCPD)
// over the pass counts of the suite's last runs on the
// target, this run last.
type ChangePoint struct {
	// Runs is the number of runs the posterior covers.
	Runs int `json:"runs"`
	// RunsSince is the most likely number of runs at the current pass rate,
	// this run included (Runs: no change), with its posterior probability.
	RunsSince   int     `json:"runs_since"`
	Probability float64 `json:"probability"`
	// SinceRunID is the first run at the current pass rate when a change is
	// the most likely explanation, else 0.
	SinceRunID int64 `json:"since_run_id,omitempty"`
	// ProbChange is the probability of at least one change over the runs;
	// ProbThisRun that this run is the first at a new pass rate.
	ProbChange  float64 `json:"prob_change"`
	ProbThisRun float64 `json:"prob_this_run"`
	// EpisodeStartRunID is the first run of the current episode: the run
	// after the last baseline run or after the run that ended the last drift
	// episode. SinceRunID is never before it.
	EpisodeStartRunID int64 `json:"episode_start_run_id,omitempty"`
	// SinceProbability is the posterior probability that the current pass
	// rate began at SinceRunID.
	SinceProbability float64 `json:"since_probability,omitempty"`
	// SinceUnclear says the evidence does not date the change within the
	// current episode (a slow decline, or too few runs): show "since:
	// unclear" rather than a run.
	SinceUnclear bool `json:"since_unclear,omitempty"`
}

// CUSUM is the state of the one-sided CUSUM on per-run pass-rate z.
type CUSUM struct {
	Statistic float64 `json:"statistic"`
	Threshold float64 `json:"threshold"`
	Runs      int     `json:"runs"`
	Alarm     bool    `json:"alarm"`
}

// Identity is who answered.
type Identity struct {
	Provider       string            `json:"provider,omitempty"`
	RequestedModel string            `json:"requested_model,omitempty"`
	ResolvedModel  string            `json:"resolved_model,omitempty"`
	Fingerprint    string            `json:"fingerprint,omitempty"`
	Digest         string            `json:"digest,omitempty"`
	Extra          map[string]string `json:"extra,omitempty"`
}

// Metrics are the run's suite-level numbers next to the baseline's.
type Metrics struct {
	PassRate      *Value  `json:"pass_rate"`
	RefusalRate   *Value  `json:"refusal_rate"`
	JSONValidRate *Value  `json:"json_valid_rate,omitempty"`
	CodeFenceRate *Value  `json:"code_fence_rate,omitempty"`
	OutputLength  *Value  `json:"output_length,omitempty"`
	FinishLength  *Value  `json:"finish_length_rate,omitempty"`
	ErrorRate     float64 `json:"error_rate"`
	ErrorCount    int     `json:"error_count"`
	// Passed counts the samples that passed (of Samples - ErrorCount).
	Passed         int     `json:"passed"`
	Samples        int     `json:"samples"`
	Cases          int     `json:"cases"`
	SamplesPerCase int     `json:"samples_per_case"`
	InputTokens    int64   `json:"input_tokens"`
	OutputTokens   int64   `json:"output_tokens"`
	CostUSD        float64 `json:"cost_usd"`
}

// Value is one metric: the current value, the baseline's, the change with its
// 95% CI and the test's p-value where there is one.
type Value struct {
	Value    float64         `json:"value"`
	Baseline *float64        `json:"baseline,omitempty"`
	Delta    *float64        `json:"delta,omitempty"`
	CI       *drift.Interval `json:"ci,omitempty"`
	P        *float64        `json:"p,omitempty"`
}

// Case summarises one case of the run.
type Case struct {
	Key      string   `json:"key"`
	Samples  int      `json:"samples"`
	Passed   int      `json:"passed"`
	Failed   int      `json:"failed"`
	Errored  int      `json:"errored"`
	Baseline *float64 `json:"baseline_pass_rate,omitempty"`
	Drifted  bool     `json:"drifted,omitempty"`
	Changed  bool     `json:"changed,omitempty"`
	// Reason is the first failure or error message of the case.
	Reason string `json:"reason,omitempty"`
	File   string `json:"-"`
}

// MarshalJSON encodes the report with empty lists as [] and non-finite
// numbers as 0, so every encoding of a report (files, stored summaries,
// exports) is valid JSON.
func (r *Report) MarshalJSON() ([]byte, error) {
	type plain Report
	return json.Marshal((*plain)(r.normalized()))
}

// WriteJSON writes one compact JSON object per report, one per line (JSON
// Lines; a single report is a single JSON object).
func WriteJSON(w io.Writer, reports []*Report) error {
	enc := json.NewEncoder(w)
	for _, r := range reports {
		if err := enc.Encode(r); err != nil {
			return fmt.Errorf("encode report: %w", err)
		}
	}
	return nil
}

// normalized returns r with nil slices as empty ones, so that fields are
// always arrays in JSON, and NaN/Inf replaced (JSON cannot carry them).
func (r *Report) normalized() *Report {
	c := *r
	c.Summary = Explain(r)
	if c.BaselineRunIDs == nil {
		c.BaselineRunIDs = []int64{}
	}
	if c.DriftedCases == nil {
		c.DriftedCases = []string{}
	}
	c.Findings = make([]drift.Finding, len(r.Findings))
	for i, f := range r.Findings {
		f.P, f.Q, f.Effect = finite(f.P), finite(f.Q), finite(f.Effect)
		f.Baseline, f.Current = finite(f.Baseline), finite(f.Current)
		if f.CI != nil {
			ci := drift.Interval{Low: finite(f.CI.Low), High: finite(f.CI.High)}
			f.CI = &ci
		}
		c.Findings[i] = f
	}
	c.MDE, c.PassZ = finite(c.MDE), finite(c.PassZ)
	if c.CUSUM != nil {
		cu := *c.CUSUM
		cu.Statistic = finite(cu.Statistic)
		c.CUSUM = &cu
	}
	if c.Calibration != nil {
		cal := *c.Calibration
		cal.Lambda, cal.Sparse = finite(cal.Lambda), finite(cal.Sparse)
		c.Calibration = &cal
	}
	for _, v := range []**Value{&c.Metrics.PassRate, &c.Metrics.RefusalRate, &c.Metrics.JSONValidRate, &c.Metrics.CodeFenceRate, &c.Metrics.OutputLength, &c.Metrics.FinishLength} {
		if *v != nil {
			*v = (*v).finite()
		}
	}
	c.Metrics.ErrorRate, c.Metrics.CostUSD = finite(c.Metrics.ErrorRate), finite(c.Metrics.CostUSD)
	return &c
}

// finite returns a copy of v with non-finite numbers dropped or zeroed.
func (v *Value) finite() *Value {
	c := *v
	c.Value = finite(c.Value)
	c.Baseline, c.Delta, c.P = finitePtr(c.Baseline), finitePtr(c.Delta), finitePtr(c.P)
	if c.CI != nil {
		ci := drift.Interval{Low: finite(c.CI.Low), High: finite(c.CI.High)}
		c.CI = &ci
	}
	return &c
}

func finitePtr(p *float64) *float64 {
	if p == nil || math.IsNaN(*p) || math.IsInf(*p, 0) {
		return nil
	}
	return p
}

func finite(x float64) float64 {
	if math.IsNaN(x) || math.IsInf(x, 0) {
		return 0
	}
	return x
}

// ExitCode is the run's exit code contract: 1 when any report drifted or a
// pinned identity did not match, else 2 when any is inconclusive or stopped,
// else 0.
func ExitCode(reports []*Report) int {
	code := 0
	for _, r := range reports {
		switch {
		case r.Verdict == string(drift.Drift) || r.PinViolated:
			return 1
		case r.Verdict == string(drift.Inconclusive) || r.Status != "completed":
			code = 2
		}
	}
	return code
}

type junitSuites struct {
	XMLName xml.Name     `xml:"testsuites"`
	Suites  []junitSuite `xml:"testsuite"`
}

type junitSuite struct {
	Name     string      `xml:"name,attr"`
	Tests    int         `xml:"tests,attr"`
	Failures int         `xml:"failures,attr"`
	Errors   int         `xml:"errors,attr"`
	Skipped  int         `xml:"skipped,attr"`
	Time     float64     `xml:"time,attr"`
	Props    []junitProp `xml:"properties>property"`
	Cases    []junitCase `xml:"testcase"`
}

type junitProp struct {
	Name  string `xml:"name,attr"`
	Value string `xml:"value,attr"`
}

type junitCase struct {
	Name      string        `xml:"name,attr"`
	Classname string        `xml:"classname,attr"`
	Failure   *junitMessage `xml:"failure,omitempty"`
	Error     *junitMessage `xml:"error,omitempty"`
	Skipped   *junitMessage `xml:"skipped,omitempty"`
}

type junitMessage struct {
	Message string `xml:"message,attr"`
	Body    string `xml:",chardata"`
}

// WriteJUnit writes one testsuite per report and one testcase per case. A case
// fails when it is localised as drifted; a case whose samples all errored is
// an error; a case changed since the baseline is skipped (not compared). A
// "(suite)" testcase carries the verdict: a failure for DRIFT (or a pinned
// identity mismatch), an error for INCONCLUSIVE and for a run that did not
// complete, with the plain-language reason (Explain) as its message.
func WriteJUnit(w io.Writer, reports []*Report) error {
	var out junitSuites
	for _, r := range reports {
		s := junitSuite{
			Name: r.Suite + "@" + r.Target,
			Time: r.WallSeconds,
			Props: []junitProp{
				{"run_id", fmt.Sprint(r.RunID)},
				{"verdict", r.Verdict},
				{"reason", r.Reason},
				{"summary", Explain(r)},
			},
		}
		drifted := map[string]bool{}
		for _, k := range r.DriftedCases {
			drifted[k] = true
		}
		for _, c := range r.Cases {
			jc := junitCase{Name: c.Key, Classname: r.Suite}
			switch {
			case drifted[c.Key]:
				msg := fmt.Sprintf("drifted: pass rate %s -> %.2f", fmtRate(c.Baseline), rate(c.Passed, c.Passed+c.Failed))
				jc.Failure = &junitMessage{Message: msg, Body: caseFindings(r, c.Key)}
				s.Failures++
			case c.Errored > 0 && c.Errored == c.Samples:
				jc.Error = &junitMessage{Message: "all samples errored", Body: c.Reason}
				s.Errors++
			case c.Changed:
				jc.Skipped = &junitMessage{Message: "case changed since the baseline: not compared"}
				s.Skipped++
			}
			s.Cases = append(s.Cases, jc)
		}
		// One "(suite)" testcase carries the verdict: a DRIFT is a failure
		// and an INCONCLUSIVE (or a run that did not complete) an error, so
		// CI goes red exactly when the exit code is not 0, each with the
		// plain-language reason.
		switch {
		case r.Verdict == string(drift.Drift) || r.PinViolated:
			s.Cases = append(s.Cases, junitCase{Name: "(suite)", Classname: r.Suite,
				Failure: &junitMessage{Message: "DRIFT: " + Explain(r), Body: suiteFindings(r)}})
			s.Failures++
		case r.Verdict == string(drift.Inconclusive) || (r.Status != "" && r.Status != "completed"):
			s.Cases = append(s.Cases, junitCase{Name: "(suite)", Classname: r.Suite,
				Error: &junitMessage{Message: cmp.Or(r.Verdict, "INCONCLUSIVE") + ": " + Explain(r), Body: r.Reason}})
			s.Errors++
		}
		s.Tests = len(s.Cases)
		out.Suites = append(out.Suites, s)
	}
	if _, err := io.WriteString(w, xml.Header); err != nil {
		return err
	}
	enc := xml.NewEncoder(w)
	enc.Indent("", "  ")
	if err := enc.Encode(out); err != nil {
		return fmt.Errorf("encode junit: %w", err)
	}
	_, err := io.WriteString(w, "\n")
	return err
}

func caseFindings(r *Report, key string) string {
	var b strings.Builder
	for _, f := range r.Findings {
		if f.Scope == drift.ScopeCasePrefix+key {
			fmt.Fprintf(&b, "%s: %.3f -> %.3f (p=%.2g, q=%.2g) %s\n", f.Metric, f.Baseline, f.Current, f.P, f.Q, f.Reason)
			for _, ex := range f.Examples {
				fmt.Fprintf(&b, "before: %s\nafter:  %s\n", oneLine(ex.Baseline, 300), oneLine(ex.Current, 300))
			}
		}
	}
	return b.String()
}

func suiteFindings(r *Report) string {
	var b strings.Builder
	for _, f := range r.Findings {
		if f.Scope == drift.ScopeSuite && f.Verdict == drift.Drift {
			fmt.Fprintf(&b, "%s: %.3f -> %.3f (effect %+.3f, p=%.2g, q=%.2g) %s\n", f.Metric, f.Baseline, f.Current, f.Effect, f.P, f.Q, f.Reason)
		}
	}
	return b.String()
}

func rate(n, d int) float64 {
	if d == 0 {
		return 0
	}
	return float64(n) / float64(d)
}

func fmtRate(p *float64) string {
	if p == nil {
		return "?"
	}
	return fmt.Sprintf("%.2f", *p)
}

func oneLine(s string, max int) string {
	s = strings.Join(strings.Fields(s), " ")
	r := []rune(s)
	if len(r) > max {
		return string(r[:max]) + "…"
	}
	return s
}

// WriteMarkdown writes a human report: first the plain-language account
// (Explain), the warnings, what changed with examples and the drifted
// cases; then the statistics (metrics table, counts, minimum detectable
// drop, calibration, change point, tests) behind a "details" fold. It
// renders the stored report and computes no statistic.
func WriteMarkdown(w io.Writer, reports []*Report) error {
	var b strings.Builder
	for _, r := range reports {
		fmt.Fprintf(&b, "# %s on %s: %s\n\n", textsafe.Markdown(r.Suite), textsafe.Markdown(r.Target), r.Verdict)
		if why := Explain(r); why != "" {
			// The words hold model-controlled text (model names, reasons):
			// literal text, never markup.
			b.WriteString(markdownWords(capitalize(why)) + ".\n\n")
		}
		fmt.Fprintf(&b, "Run %d", r.RunID)
		if len(r.BaselineRunIDs) > 0 {
			fmt.Fprintf(&b, " compared with baseline run(s) %s", joinIDs(r.BaselineRunIDs))
		}
		b.WriteString(".\n\n")
		if r.IdentityChanged && r.BaselineIdentity != nil && r.Identity != nil {
			fmt.Fprintf(&b, "**Identity changed**: %s → %s\n\n", identityLine(r.BaselineIdentity), identityLine(r.Identity))
		} else if r.Identity != nil {
			fmt.Fprintf(&b, "Identity: %s\n\n", identityLine(r.Identity))
		}
		if ws := Warnings(r); len(ws) > 0 {
			b.WriteString("**Warnings** (below the alarm level):\n\n")
			for _, f := range ws {
				fmt.Fprintf(&b, "- %s\n", FindingText(f))
			}
			b.WriteString("\n")
		}
		var alarms []drift.Finding
		for _, f := range r.Findings {
			// The identity line above says what an identity finding found.
			if f.Scope == drift.ScopeSuite && f.Verdict != drift.Warn && (f.Metric != drift.MetricIdentity || f.Statistic == "pin") {
				alarms = append(alarms, f)
			}
		}
		if len(alarms) > 0 {
			b.WriteString("## What changed\n\n")
			for _, f := range alarms {
				fmt.Fprintf(&b, "- %s\n", markdownWords(findingClause(r, f)))
				for _, ex := range f.Examples {
					fmt.Fprintf(&b, "  - example, case %s\n    - before: %s\n    - after: %s\n", textsafe.Code(ex.Case), mdQuote(ex.Baseline), mdQuote(ex.Current))
				}
			}
			b.WriteString("\n")
		}
		if len(r.DriftedCases) > 0 {
			keys := append([]string{}, r.DriftedCases...)
			sort.Strings(keys)
			fmt.Fprintf(&b, "## Drifted cases (%d)\n\n", len(keys))
			for _, k := range keys {
				fmt.Fprintf(&b, "- %s\n", textsafe.Code(k))
			}
			b.WriteString("\n")
		}
		if len(r.ChangedCases) > 0 {
			fmt.Fprintf(&b, "%d case(s) changed since the baseline and were not compared.\n\n", len(r.ChangedCases))
		}
		b.WriteString("<details><summary>Statistics</summary>\n\n")
		writeMarkdownDetails(&b, r)
		b.WriteString("</details>\n\n")
	}
	_, err := io.WriteString(w, b.String())
	return err
}

// writeMarkdownDetails writes the statistics of the details fold.
func writeMarkdownDetails(b *strings.Builder, r *Report) {
	fmt.Fprintf(b, "Verdict reason: %s\n\n", textsafe.Markdown(r.Reason))
	m := r.Metrics
	header := "| metric | baseline | current | change (95% CI) | p |\n|---|---|---|---|---|\n"
	for _, row := range []struct {
		name string
		v    *Value
	}{{"pass rate", m.PassRate}, {"refusal rate", m.RefusalRate}, {"JSON valid", m.JSONValidRate}, {"code fences", m.CodeFenceRate}, {"output length (tokens)", m.OutputLength}, {"finish=length", m.FinishLength}} {
		if row.v == nil {
			continue
		}
		b.WriteString(header)
		header = ""
		fmt.Fprintf(b, "| %s | %s | %.3f | %s | %s |\n", row.name, optF(row.v.Baseline), row.v.Value, deltaCI(row.v), optG(row.v.P))
	}
	if header == "" {
		b.WriteString("\n")
	}
	fmt.Fprintf(b, "%d cases × %d samples, %d errors (%.1f%%), %d+%d tokens, $%.4f.",
		m.Cases, m.SamplesPerCase, m.ErrorCount, 100*m.ErrorRate, m.InputTokens, m.OutputTokens, m.CostUSD)
	if r.MDE > 0 {
		// Never "0.0 points": a report without a baseline may have none.
		fmt.Fprintf(b, " Minimum detectable pass-rate drop at 80%% power: %.1f points.", 100*r.MDE)
	}
	b.WriteString("\n\n")
	if cal := r.Calibration; cal != nil {
		fmt.Fprintf(b, "A/A calibration over %d baseline runs (%d pairs): λ = %.2f (sparse-collapse %.2f)", cal.Runs, cal.Pairs, cal.Lambda, cal.Sparse)
		if cal.Applied {
			b.WriteString("; the pass-rate statistics are divided by √λ")
		}
		if at := drift.LambdaWarnAt(cal.Runs); cal.Lambda > at {
			fmt.Fprintf(b, "; above %.2f: night-to-night variation, pool more baseline runs", at)
		}
		b.WriteString(".\n\n")
	}
	if cp := r.ChangePoint; cp != nil && cp.SinceRunID != 0 {
		fmt.Fprintf(b, "Change point: the pass rate most likely changed at run %d (%d of the last %d runs at the new rate; probability %.2f, of any change %.2f).\n\n",
			cp.SinceRunID, cp.RunsSince, cp.Runs, cp.Probability, cp.ProbChange)
	} else if cp != nil && cp.SinceUnclear {
		fmt.Fprintf(b, "Change point: unclear (no run of the current episode is the likely start; probability of any change over the last %d runs %.2f).\n\n", cp.Runs, cp.ProbChange)
	}
	if c := r.CUSUM; c != nil {
		fmt.Fprintf(b, "CUSUM over %d runs since the baseline: %.2f (alarm above %.0f).\n\n", c.Runs, c.Statistic, c.Threshold)
	}
	var tests []drift.Finding
	for _, f := range r.Findings {
		if f.Metric != drift.MetricIdentity {
			tests = append(tests, f)
		}
	}
	if len(tests) > 0 {
		b.WriteString("Tests:\n\n")
		for _, f := range tests {
			fmt.Fprintf(b, "- **%s** %s (%s): %.3f → %.3f, effect %+.3f", f.Metric, f.Scope, f.Verdict, f.Baseline, f.Current, f.Effect)
			if f.CI != nil {
				fmt.Fprintf(b, " [%+.3f, %+.3f]", f.CI.Low, f.CI.High)
			}
			fmt.Fprintf(b, ", p=%s, q=%s. %s\n", num(f.P), num(f.Q), textsafe.Markdown(f.Reason))
		}
		b.WriteString("\n")
	}
	for _, f := range r.Findings {
		if f.Metric == drift.MetricIdentity {
			fmt.Fprintf(b, "- **%s** (%s): %s\n", f.Metric, f.Verdict, textsafe.Markdown(f.Reason))
		}
	}
}

func capitalize(s string) string {
	for i, c := range s {
		if i == 0 {
			return strings.ToUpper(string(c)) + s[len(string(c)):]
		}
	}
	return s
}

// num formats a p- or q-value; "–" when there is none.
func num(x float64) string {
	if math.IsNaN(x) || math.IsInf(x, 0) {
		return "–"
	}
	return fmt.Sprintf("%.2g", x)
}

func joinIDs(ids []int64) string {
	s := make([]string, len(ids))
	for i, id := range ids {
		s[i] = fmt.Sprint(id)
	}
	return strings.Join(s, ", ")
}

func identityLine(id *Identity) string {
	parts := []string{}
	for _, p := range []string{id.ResolvedModel, id.Fingerprint, id.Digest} {
		if p != "" {
			parts = append(parts, textsafe.Code(p))
		}
	}
	if len(parts) == 0 {
		return textsafe.Code(id.RequestedModel)
	}
	return strings.Join(parts, " ")
}

func optF(p *float64) string {
	if p == nil {
		return "–"
	}
	return fmt.Sprintf("%.3f", *p)
}

func optG(p *float64) string {
	if p == nil {
		return "–"
	}
	return fmt.Sprintf("%.2g", *p)
}

func deltaCI(v *Value) string {
	if v.Delta == nil {
		return "–"
	}
	s := fmt.Sprintf("%+.3f", *v.Delta)
	if v.CI != nil {
		s += fmt.Sprintf(" [%+.3f, %+.3f]", v.CI.Low, v.CI.High)
	}
	return s
}

// mdQuote shows model output as a one-line code span of at most 300
// characters (backticks become ', so the span reads as the output did).
func mdQuote(s string) string {
	s = oneLine(textsafe.Line(s), 300)
	s = strings.ReplaceAll(s, "`", "'")
	return textsafe.Code(s)
}

// markdownWords renders plain-language text for Markdown: its `code`
// spans as code spans and the rest as literal text, each escaped, so that
// model-controlled words inside (model names, reasons) never become markup
// or HTML, whatever backticks they hold.
func markdownWords(s string) string {
	parts := strings.Split(s, "`")
	var b strings.Builder
	for i, p := range parts {
		switch {
		case i%2 == 1 && i < len(parts)-1:
			b.WriteString(textsafe.Code(p))
		case p != "":
			b.WriteString(textsafe.Markdown(p))
		}
	}
	return b.String()
}
