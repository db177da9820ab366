package alert_test

import (
	"encoding/json"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/driftwatch/driftwatch/alert"
	"github.com/driftwatch/driftwatch/drift"
	"github.com/driftwatch/driftwatch/report"
)

func TestEvents(t *testing.T) {
	t.Parallel()
	now := time.Date(2026, 3, 1, 2, 0, 0, 0, time.UTC)
	type want struct {
		kind alert.Kind
		sev  alert.Severity
	}
	tests := []struct {
		name   string
		mutate func(r *report.Report)
		want   []want
	}{
		{"drift", func(*report.Report) {}, []want{{alert.KindDrift, alert.SeverityCritical}}},
		// A resolved candidate has no severity until Resolve finds the
		// drift alert it resolves.
		{"stable", func(r *report.Report) { r.Verdict = string(drift.Stable) }, []want{{alert.KindResolved, 0}}},
		{"baseline", func(r *report.Report) { r.Verdict = string(drift.Baseline) }, nil},
		{"inconclusive", func(r *report.Report) { r.Verdict = string(drift.Inconclusive) }, []want{{alert.KindInconclusive, alert.SeverityWarning}}},
		{"stable with identity change", func(r *report.Report) { r.Verdict, r.IdentityChanged = string(drift.Stable), true },
			[]want{{alert.KindIdentityChanged, alert.SeverityWarning}, {alert.KindResolved, 0}}},
		{"drift with identity change", func(r *report.Report) { r.IdentityChanged = true },
			[]want{{alert.KindIdentityChanged, alert.SeverityWarning}, {alert.KindDrift, alert.SeverityCritical}}},
		{"pin violated", func(r *report.Report) {
			r.Verdict, r.Status, r.IdentityChanged, r.PinViolated = string(drift.Inconclusive), "failed", true, true
		}, []want{{alert.KindIdentityChanged, alert.SeverityCritical}}},
		{"budget stop", func(r *report.Report) { r.Verdict, r.Status = string(drift.Inconclusive), "stopped" },
			[]want{{alert.KindRunStopped, alert.SeverityWarning}}},
		{"failed", func(r *report.Report) { r.Status, r.Error = "failed", "boom" }, []want{{alert.KindRunFailed, alert.SeverityWarning}}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			r := driftReport(7)
			tt.mutate(r)
			evs := alert.Events(r, now, "https://dw.example.com/")
			require.Len(t, evs, len(tt.want))
			for i, w := range tt.want {
				ev := evs[i]
				require.Equal(t, w.kind, ev.Kind)
				require.Equal(t, w.sev, ev.Severity)
				require.Equal(t, "https://dw.example.com/runs/7", ev.URL)
				keyKind := w.kind
				if w.kind == alert.KindResolved {
					keyKind = alert.KindDrift // the episode's key
				}
				require.Equal(t, "driftwatch/"+string(keyKind)+"/prime@gpt4", ev.DedupKey)
				require.NotEmpty(t, ev.Fingerprint)
				_, err := json.Marshal(ev)
				require.NoError(t, err)
			}
		})
	}
}

func TestEventsDriftContent(t *testing.T) {
	t.Parallel()
	r := driftReport(7)
	r.Findings[0].P = nanValue() // NaN must not break the JSON payload
	ev := alert.Events(r, time.Unix(0, 0), "")[0]
	require.Empty(t, ev.URL)
	require.Len(t, ev.Findings, 1, "only suite-level alarms")
	require.Equal(t, drift.MetricPassRate, ev.Findings[0].Metric)
	require.Nil(t, ev.Findings[0].Examples)
	require.Len(t, ev.Cases, 1)
	require.Equal(t, "seventeen", ev.Cases[0].Case)
	require.Equal(t, "[No] 17 = 3*6-1", ev.Cases[0].After)
	_, err := json.Marshal(ev)
	require.NoError(t, err)

	long := driftReport(7)
	long.Findings[2].Examples[0].Current = strings.Repeat("é", 10000)
	ev = alert.Events(long, time.Unix(0, 0), "")[0]
	require.Len(t, []rune(ev.Cases[0].After), alert.EventExampleRunes)
}

func TestEventsFingerprint(t *testing.T) {
	t.Parallel()
	fp := func(mutate func(*report.Report)) string {
		r := driftReport(7)
		mutate(r)
		return alert.Events(r, time.Unix(0, 0), "")[0].Fingerprint
	}
	base := fp(func(*report.Report) {})
	require.Equal(t, base, fp(func(r *report.Report) { r.Findings[0].Current, r.RunID = 0.65, 8 }), "numbers and run don't change it")
	require.NotEqual(t, base, fp(func(r *report.Report) {
		r.Findings[1].Verdict = drift.Drift // refusal rate drifts too
	}), "a new drifted metric changes it")
}

func TestSeverityText(t *testing.T) {
	t.Parallel()
	for _, s := range []alert.Severity{alert.SeverityInfo, alert.SeverityWarning, alert.SeverityCritical} {
		b, err := s.MarshalText()
		require.NoError(t, err)
		var back alert.Severity
		require.NoError(t, back.UnmarshalText(b))
		require.Equal(t, s, back)
	}
	_, err := alert.ParseSeverity("loud")
	require.ErrorContains(t, err, "info, warning or critical")
}

func TestTruncateRunes(t *testing.T) {
	t.Parallel()
	tests := []struct {
		in   string
		n    int
		want string
	}{
		{"hello", 10, "hello"},
		{"hello", 5, "hello"},
		{"hello", 4, "hel…"},
		{"héllo", 3, "hé…"},
		{"x", 0, ""},
	}
	for _, tt := range tests {
		t.Run(tt.in, func(t *testing.T) {
			t.Parallel()
			require.Equal(t, tt.want, alert.TruncateRunes(tt.in, tt.n))
		})
	}
}

// A drift event carries the run the pass rate changed at; a run whose
// change point names no change, and events of other kinds, carry none.
func TestDriftEventCarriesTheChangePoint(t *testing.T) {
	t.Parallel()
	now := time.Date(2026, 3, 1, 2, 0, 0, 0, time.UTC)
	cp := &report.ChangePoint{Runs: 9, RunsSince: 2, Probability: 0.96, SinceRunID: 41, ProbChange: 0.99}
	rep := &report.Report{Suite: "s", Target: "t", RunID: 42, Verdict: string(drift.Drift), Status: "completed", ChangePoint: cp}
	evs := alert.Events(rep, now, "")
	require.Len(t, evs, 1)
	require.Equal(t, alert.KindDrift, evs[0].Kind)
	require.Equal(t, cp, evs[0].ChangePoint)
	body, err := json.Marshal(evs[0])
	require.NoError(t, err)
	require.Contains(t, string(body), `"change_point":{"runs":9,"runs_since":2,"probability":0.96,"since_run_id":41,`)

	rep.ChangePoint = &report.ChangePoint{Runs: 9, RunsSince: 9, Probability: 0.99}
	require.Nil(t, alert.Events(rep, now, "")[0].ChangePoint, "no change is the likeliest: nothing to date")

	rep.Verdict, rep.ChangePoint = string(drift.Inconclusive), cp
	evs = alert.Events(rep, now, "")
	require.Len(t, evs, 1)
	require.Nil(t, evs[0].ChangePoint, "only drift events are dated")
}
