package alert_test

import (
	"context"
	"encoding/json"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/driftwatch/driftwatch/alert"
	"github.com/driftwatch/driftwatch/storage"
	"github.com/driftwatch/driftwatch/storage/storagetest"
)

func TestDecide(t *testing.T) {
	t.Parallel()
	now := time.Date(2026, 3, 2, 2, 0, 0, 0, time.UTC)
	prev := func(fp string, at time.Time, status string) *storage.Alert {
		b, _ := json.Marshal(alert.Event{Fingerprint: fp, Time: at})
		return &storage.Alert{Status: status, Payload: b}
	}
	ev := &alert.Event{Fingerprint: "aaa"}
	tests := []struct {
		name string
		last *storage.Alert
		want alert.Decision
	}{
		{"never alerted", nil, alert.DecisionNew},
		{"same within interval", prev("aaa", now.Add(-time.Hour), storage.AlertSent), alert.DecisionSuppressed},
		{"same, still pending", prev("aaa", now.Add(-time.Hour), storage.AlertPending), alert.DecisionSuppressed},
		{"same after interval", prev("aaa", now.Add(-24*time.Hour), storage.AlertSent), alert.DecisionRepeat},
		{"changed within interval", prev("bbb", now.Add(-time.Minute), storage.AlertSent), alert.DecisionChanged},
		{"last given up", prev("aaa", now.Add(-time.Minute), storage.AlertFailed), alert.DecisionRetryGivenUp},
		{"unreadable payload", &storage.Alert{Status: storage.AlertSent, Payload: []byte(`{}`)}, alert.DecisionChanged},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			require.Equal(t, tt.want, alert.Decide(ev, tt.last, now, 24*time.Hour))
		})
	}
}

// TestDedupStage runs events → dedup → route → enqueue against the real
// alert log, night after night.
func TestDedupStage(t *testing.T) {
	t.Parallel()
	type step struct {
		advance time.Duration
		mutate  func(*alert.Event)
		sent    bool
	}
	tests := []struct {
		name  string
		steps []step
	}{
		{"same key and fingerprint within the interval is suppressed", []step{{sent: true}, {advance: 23 * time.Hour, sent: false}}},
		{"after the interval it alerts again", []step{{sent: true}, {advance: 24 * time.Hour, sent: true}, {advance: time.Hour, sent: false}}},
		{"a changed fingerprint alerts again", []step{{sent: true}, {advance: time.Minute, mutate: func(e *alert.Event) { e.Fingerprint = "other" }, sent: true},
			{advance: time.Minute, mutate: func(e *alert.Event) { e.Fingerprint = "other" }, sent: false}}},
		{"another key is independent", []step{{sent: true}, {mutate: func(e *alert.Event) { e.DedupKey += "-x" }, sent: true}}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			ctx := context.Background()
			st := storagetest.NewStore(t)
			runID := newRun(t, st)
			clock := newFakeClock()
			pipeline := alert.Sequence{
				alert.NewDedup(st, 24*time.Hour, clock.Now, nil),
				alert.Route{MinSeverity: map[string]alert.Severity{"slack": alert.SeverityWarning, "log": alert.SeverityInfo}},
				alert.NewEnqueue(st, clock.Now),
			}
			for i, s := range tt.steps {
				clock.Advance(s.advance)
				ev := alert.Events(driftReport(runID), clock.Now(), "")[0]
				if s.mutate != nil {
					s.mutate(&ev)
				}
				out, err := pipeline.Exec(ctx, []alert.Event{ev})
				require.NoError(t, err)
				if !s.sent {
					require.Empty(t, out, "step %d", i)
					continue
				}
				require.Len(t, out, 2, "step %d: one row per channel", i)
				require.Equal(t, "log", out[0].Channel)
				require.Equal(t, "slack", out[1].Channel)
				require.NotZero(t, out[0].AlertID)
			}
		})
	}
}

func TestRoute(t *testing.T) {
	t.Parallel()
	r := alert.Route{MinSeverity: map[string]alert.Severity{"slack": alert.SeverityCritical, "webhook": alert.SeverityWarning, "log": alert.SeverityInfo}}
	out, err := r.Exec(context.Background(), []alert.Event{{DedupKey: "a", Severity: alert.SeverityWarning}, {DedupKey: "b", Severity: alert.SeverityCritical}})
	require.NoError(t, err)
	var got []string
	for _, e := range out {
		got = append(got, e.DedupKey+">"+e.Channel)
	}
	require.Equal(t, []string{"a>log", "a>webhook", "b>log", "b>slack", "b>webhook"}, got)
}
