// Package alert turns run reports into alert events and moves them through a
// pipeline of small stages (built from events to delivery, one stage at a time):
//
//	Events(report) -> Resolve -> Dedup -> Route -> Enqueue (outbox) -> Dispatcher -> Notifier
//
// Each stage has one method that takes a context and events and returns the
// events that remain. Resolve tracks drift episodes in the alert log and
// keeps a resolved event only when it ends one; Dedup reads the persisted
// alert log, so a restart does not re-alert; Enqueue writes one outbox row
// per (event, channel) before anything is sent, so a crash loses nothing; the
// Dispatcher delivers pending rows with retry and exponential backoff and
// marks each one sent right after a 2xx answer.
//
// Notifiers (alert/slack, alert/webhook, the LogNotifier here) satisfy the
// one-method Notifier interface. Model output inside events is untrusted:
// notifiers escape it for their medium.
package alert

import (
	"cmp"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"math"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/driftwatch/driftwatch/drift"
	"github.com/driftwatch/driftwatch/report"
)

// Kind says what an event is about. Kinds are part of the webhook JSON: keep
// them stable.
type Kind string

// Event kinds.
const (
	KindDrift           Kind = "drift"
	KindIdentityChanged Kind = "identity_changed"
	KindInconclusive    Kind = "inconclusive"
	KindRunFailed       Kind = "run_failed"
	KindRunStopped      Kind = "run_stopped"
	// KindResolved says that a drift episode is over: a completed STABLE
	// run followed a drift alert. It shares the drift alert's dedup key and
	// carries its severity (see Resolve).
	KindResolved Kind = "resolved"
)

// Severity orders events for routing: a channel receives events at or above
// its minimum severity.
type Severity int

// Severities, lowest first.
const (
	SeverityInfo Severity = iota + 1
	SeverityWarning
	SeverityCritical
)

var severityNames = map[Severity]string{SeverityInfo: "info", SeverityWarning: "warning", SeverityCritical: "critical"}

// String returns "info", "warning" or "critical".
func (s Severity) String() string {
	if n, ok := severityNames[s]; ok {
		return n
	}
	return "severity(" + strconv.Itoa(int(s)) + ")"
}

// MarshalText encodes the severity by name; an unset or unknown severity
// is "" (so that encoding never fails).
func (s Severity) MarshalText() ([]byte, error) {
	return []byte(severityNames[s]), nil
}

// UnmarshalText accepts "info", "warning" (or "warn"), "critical" and "" (unset).
func (s *Severity) UnmarshalText(b []byte) error {
	if len(b) == 0 {
		*s = 0
		return nil
	}
	v, err := ParseSeverity(string(b))
	if err != nil {
		return err
	}
	*s = v
	return nil
}

// ParseSeverity parses a severity name, case-insensitively.
func ParseSeverity(name string) (Severity, error) {
	switch strings.ToLower(strings.TrimSpace(name)) {
	case "info":
		return SeverityInfo, nil
	case "warning", "warn":
		return SeverityWarning, nil
	case "critical", "crit":
		return SeverityCritical, nil
	}
	return 0, fmt.Errorf("unknown severity %q (want info, warning or critical)", name)
}

// Limits of what an event carries. Outputs are cut here so that outbox rows
// stay small; notifiers cut again for their medium.
const (
	TopCasesDefault   = 3
	EventExampleRunes = 1000
)

// Event is one alarm-worthy outcome of a (suite, target) run. Its JSON is the
// generic webhook's body and the outbox row's payload; field names are stable.
type Event struct {
	Kind     Kind     `json:"kind"`
	Severity Severity `json:"severity"`
	// DedupKey groups events about the same thing (kind, suite, target). A
	// resolved event has the key of the drift alerts it resolves.
	DedupKey string `json:"dedup_key"`
	// Fingerprint digests what the event says (kind, verdict, the set of
	// drifted metrics, the new identity): a changed finding re-alerts.
	Fingerprint string    `json:"fingerprint"`
	Time        time.Time `json:"time"`

	Suite          string  `json:"suite"`
	Target         string  `json:"target"`
	RunID          int64   `json:"run_id"`
	BaselineRunIDs []int64 `json:"baseline_run_ids,omitempty"`
	Verdict        string  `json:"verdict"`
	Status         string  `json:"status"`
	Reason         string  `json:"reason"`
	Error          string  `json:"error,omitempty"`
	// Summary says what happened in plain words, numbers after
	// (report.Explain; for an identity event, the identity before and
	// after). Messages lead with it.
	Summary string `json:"summary,omitempty"`
	// Recipients, on a resolved event, are the channels that received a
	// drift alert of the episode it ends (set by Resolve from the alert
	// log): Route sends the resolution to those only.
	Recipients []string `json:"recipients,omitempty"`

	Identity         *report.Identity `json:"identity,omitempty"`
	BaselineIdentity *report.Identity `json:"baseline_identity,omitempty"`
	PinViolated      bool             `json:"pin_violated,omitempty"`

	// Findings are the suite-level alarms, without examples (see Cases).
	Findings []drift.Finding `json:"findings,omitempty"`
	// PassRate is the suite pass rate with the baseline's, the change and
	// its CI, when known.
	PassRate *report.Value `json:"pass_rate,omitempty"`
	// ChangePoint dates the pass-rate change a drift event reports: the
	// first run at the current pass rate within the current episode
	// (SinceRunID), or SinceUnclear when the evidence does not date it;
	// nil when the report has no change point.
	ChangePoint *report.ChangePoint `json:"change_point,omitempty"`
	// Episode is the drift episode a drift event belongs to, or the one a
	// resolved event ends. Set by the Resolve stage.
	Episode *Episode `json:"episode,omitempty"`
	// Cases are the top drifted cases, each with one before/after example.
	Cases        []CaseExample `json:"cases,omitempty"`
	DriftedCases int           `json:"drifted_cases"`
	Samples      int           `json:"samples"`
	Errors       int           `json:"errors"`

	// URL is the dashboard's page for the run; empty when no dashboard URL
	// is configured.
	URL string `json:"url,omitempty"`
	// Channel is set by the Route stage.
	Channel string `json:"channel,omitempty"`
	// AlertID is the outbox row, set by the Enqueue stage and the Dispatcher.
	AlertID int64 `json:"-"`
}

// Episode is a run of drift alerts for one (suite, target): from the first
// drift alert to the resolved alert that ends it.
type Episode struct {
	// FirstRunID is the run whose drift opened the episode, first alerted
	// at FirstAlertedAt.
	FirstRunID     int64     `json:"first_run_id"`
	FirstAlertedAt time.Time `json:"first_alerted_at"`
	// LastRunID is the run of the episode's latest drift alert, raised at
	// LastAlertedAt: on a drift event, the event itself; on a resolved
	// event, the drift alert it resolves.
	LastRunID     int64     `json:"last_run_id"`
	LastAlertedAt time.Time `json:"last_alerted_at"`
}

// CaseExample is one drifted case with one before/after output pair. The
// outputs are model text: untrusted.
type CaseExample struct {
	Case     string  `json:"case"`
	Metric   string  `json:"metric,omitempty"`
	Baseline float64 `json:"baseline"`
	Current  float64 `json:"current"`
	Q        float64 `json:"q"`
	Before   string  `json:"before"`
	After    string  `json:"after"`
}

// Events returns one event per alarm-worthy outcome of rep: DRIFT, an
// identity change (critical when a pin was violated), INCONCLUSIVE, and a
// failed or stopped run. A STABLE run gives a resolved candidate without a
// severity: the Resolve stage keeps it, with the severity of the drift alert
// it resolves, only when it ends an open drift episode, and Route sends an
// event without a severity nowhere. BASELINE gives none: a run compared with
// nothing says nothing about a recovery. dashboardURL, when set, is the
// dashboard's base address; the event links to its run page.
func Events(rep *report.Report, now time.Time, dashboardURL string) []Event {
	if rep == nil {
		return nil
	}
	base := Event{
		Time: now.UTC(), Suite: rep.Suite, Target: rep.Target, RunID: rep.RunID,
		BaselineRunIDs: rep.BaselineRunIDs, Verdict: rep.Verdict, Status: rep.Status,
		Reason: rep.Reason, Error: rep.Error, Identity: rep.Identity, BaselineIdentity: rep.BaselineIdentity,
		PinViolated: rep.PinViolated, DriftedCases: len(rep.DriftedCases),
		Samples: rep.Metrics.Samples, Errors: rep.Metrics.ErrorCount, URL: runURL(dashboardURL, rep.RunID),
		PassRate: finiteValue(rep.Metrics.PassRate),
	}
	var out []Event
	add := func(kind Kind, sev Severity, parts ...string) {
		ev := base
		ev.Kind, ev.Severity = kind, sev
		keyKind := kind
		if kind == KindResolved {
			keyKind = KindDrift // one key for a drift episode: its alerts and their resolution
		}
		ev.DedupKey = dedupKey(keyKind, rep.Project, rep.Suite, rep.Target)
		ev.Fingerprint = fingerprint(append([]string{string(kind), rep.Verdict}, parts...))
		ev.Summary = report.Explain(rep)
		if kind == KindDrift {
			ev.Findings = suiteAlarms(rep.Findings)
			ev.Cases = topCases(rep)
			if cp := rep.ChangePoint; cp != nil && (cp.SinceRunID != 0 || cp.SinceUnclear) {
				c := *cp
				ev.ChangePoint = &c
			}
		}
		if kind == KindIdentityChanged {
			ev.Findings = identityFindings(rep.Findings)
			ev.Summary = identitySummary(rep)
		}
		out = append(out, ev)
	}
	pinFailed := rep.PinViolated
	if rep.IdentityChanged || pinFailed {
		sev := SeverityWarning
		if pinFailed {
			sev = SeverityCritical
		}
		add(KindIdentityChanged, sev, identityString(rep.BaselineIdentity), identityString(rep.Identity))
	}
	switch {
	case pinFailed:
		// The pin mismatch stopped the run; the identity event says it all.
	case rep.Status == "failed":
		add(KindRunFailed, SeverityWarning)
	case rep.Status == "stopped":
		add(KindRunStopped, SeverityWarning)
	case rep.Verdict == string(drift.Drift):
		add(KindDrift, SeverityCritical, driftedMetrics(rep.Findings)...)
	case rep.Verdict == string(drift.Inconclusive):
		add(KindInconclusive, SeverityWarning)
	case rep.Verdict == string(drift.Stable):
		add(KindResolved, 0)
	}
	return out
}

// dedupKey is the dedup key of an event about suite on target in project:
// projects never share one (the default project keeps the keys it had
// before projects).
func dedupKey(kind Kind, project, suite, target string) string {
	key := "driftwatch/" + string(kind) + "/" + suite + "@" + target
	if project != "" && project != "default" {
		key += "#" + project
	}
	return key
}

// identitySummary says who answers now: "identity changed old → new".
func identitySummary(rep *report.Report) string {
	before, after := report.IdentityName(rep.BaselineIdentity), report.IdentityName(rep.Identity)
	what := "identity changed "
	if rep.PinViolated {
		what = "the answering model is not the pinned one: "
	}
	if before != after || rep.PinViolated {
		return what + before + " → " + after
	}
	for _, f := range rep.Findings {
		if f.Metric == drift.MetricIdentity {
			return "identity changed: " + f.Reason
		}
	}
	return "identity changed"
}

// fingerprint hashes the parts with a separator that cannot be confused
// with their content.
func fingerprint(parts []string) string {
	h := sha256.New()
	for _, p := range parts {
		fmt.Fprintf(h, "%d:%s;", len(p), p)
	}
	return hex.EncodeToString(h.Sum(nil))[:16]
}

func runURL(base string, runID int64) string {
	if base == "" || runID == 0 {
		return ""
	}
	u, err := url.Parse(base)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return ""
	}
	return strings.TrimRight(u.String(), "/") + "/runs/" + strconv.FormatInt(runID, 10)
}

func identityString(id *report.Identity) string {
	if id == nil {
		return ""
	}
	return strings.Join([]string{id.Provider, id.RequestedModel, id.ResolvedModel, id.Fingerprint, id.Digest}, "\x00")
}

// driftedMetrics is the sorted set of suite metrics that alarmed.
func driftedMetrics(fs []drift.Finding) []string {
	var ms []string
	for _, f := range fs {
		if f.Scope == drift.ScopeSuite && f.Verdict == drift.Drift {
			ms = append(ms, f.Metric)
		}
	}
	slices.Sort(ms)
	return slices.Compact(ms)
}

func suiteAlarms(fs []drift.Finding) []drift.Finding {
	var out []drift.Finding
	for _, f := range fs {
		if f.Scope == drift.ScopeSuite && f.Verdict == drift.Drift {
			out = append(out, finiteFinding(f))
		}
	}
	return out
}

func identityFindings(fs []drift.Finding) []drift.Finding {
	var out []drift.Finding
	for _, f := range fs {
		if f.Metric == drift.MetricIdentity {
			out = append(out, finiteFinding(f))
		}
	}
	return out
}

// topCases picks up to TopCasesDefault drifted cases with one example each:
// per-case findings first (they come sorted by p), then the examples of the
// suite-level alarms.
func topCases(rep *report.Report) []CaseExample {
	var out []CaseExample
	seen := map[string]bool{}
	push := func(c CaseExample) {
		if len(out) < TopCasesDefault && !seen[c.Case] {
			seen[c.Case] = true
			out = append(out, c)
		}
	}
	for _, f := range rep.Findings {
		key, ok := strings.CutPrefix(f.Scope, drift.ScopeCasePrefix)
		if !ok || len(f.Examples) == 0 {
			continue
		}
		ex := f.Examples[0]
		push(CaseExample{Case: cmp.Or(ex.Case, key), Metric: f.Metric, Baseline: finite(f.Baseline), Current: finite(f.Current),
			Q: finite(f.Q), Before: TruncateRunes(ex.Baseline, EventExampleRunes), After: TruncateRunes(ex.Current, EventExampleRunes)})
	}
	for _, f := range rep.Findings {
		if f.Scope != drift.ScopeSuite || f.Verdict != drift.Drift {
			continue
		}
		for _, ex := range f.Examples {
			push(CaseExample{Case: ex.Case, Metric: f.Metric, Baseline: math.NaN(), Current: math.NaN(),
				Before: TruncateRunes(ex.Baseline, EventExampleRunes), After: TruncateRunes(ex.Current, EventExampleRunes)})
		}
	}
	for i := range out { // suite-level examples have no per-case numbers
		out[i].Baseline, out[i].Current = finite(out[i].Baseline), finite(out[i].Current)
	}
	return out
}

func finiteFinding(f drift.Finding) drift.Finding {
	f.Examples = nil
	f.P, f.Q, f.Effect = finite(f.P), finite(f.Q), finite(f.Effect)
	f.Baseline, f.Current = finite(f.Baseline), finite(f.Current)
	if f.CI != nil {
		f.CI = &drift.Interval{Low: finite(f.CI.Low), High: finite(f.CI.High)}
	}
	return f
}

func finiteValue(v *report.Value) *report.Value {
	if v == nil {
		return nil
	}
	c := *v
	c.Value = finite(c.Value)
	fp := func(p *float64) *float64 {
		if p == nil || math.IsNaN(*p) || math.IsInf(*p, 0) {
			return nil
		}
		x := *p
		return &x
	}
	c.Baseline, c.Delta, c.P = fp(c.Baseline), fp(c.Delta), fp(c.P)
	if c.CI != nil {
		c.CI = &drift.Interval{Low: finite(c.CI.Low), High: finite(c.CI.High)}
	}
	return &c
}

func finite(x float64) float64 {
	if math.IsNaN(x) || math.IsInf(x, 0) {
		return 0
	}
	return x
}

// TruncateRunes cuts s to at most n runes, the last of them "…" when it
// cut. It never splits a rune.
func TruncateRunes(s string, n int) string {
	if n <= 0 {
		return ""
	}
	if utf8.RuneCountInString(s) <= n {
		return s
	}
	i := 0
	for pos := range s {
		if i == n-1 {
			return s[:pos] + "…"
		}
		i++
	}
	return s
}
