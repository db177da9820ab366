package alert_test

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"log/slog"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/driftwatch/driftwatch/alert"
	"github.com/driftwatch/driftwatch/drift"
	"github.com/driftwatch/driftwatch/report"
	"github.com/driftwatch/driftwatch/storage"
	"github.com/driftwatch/driftwatch/storage/storagetest"
)

// stableReport is a completed STABLE run of the same suite and target as
// driftReport: pass rate back to 0.895 against the baseline's 0.9.
func stableReport(runID int64) *report.Report {
	r := driftReport(runID)
	r.Verdict, r.Reason = string(drift.Stable), "no metric changed significantly"
	r.Findings, r.DriftedCases = nil, nil
	r.Metrics.PassRate = &report.Value{Value: 0.895, Baseline: ptr(0.9), Delta: ptr(-0.005), CI: &drift.Interval{Low: -0.03, High: 0.02}, P: ptr(0.6)}
	return r
}

// stored is ev as the alert log holds it: its JSON in the payload.
func stored(t *testing.T, ev alert.Event, status string) *storage.Alert {
	t.Helper()
	b, err := json.Marshal(ev)
	require.NoError(t, err)
	return &storage.Alert{Status: status, DedupKey: ev.DedupKey, Payload: b, CreatedAt: ev.Time.Add(time.Second)}
}

// episodeEvents returns a drift alert of run driftRun an hour before now and
// the resolved event of STABLE run stableRun that ends its episode.
func episodeEvents(t *testing.T, driftRun, stableRun int64, now time.Time) (drifted, resolved alert.Event) {
	t.Helper()
	drifted, _ = alert.DecideEpisode(alert.Events(driftReport(driftRun), now.Add(-time.Hour), "")[0], nil)
	resolved, dec := alert.DecideEpisode(alert.Events(stableReport(stableRun), now, "")[0], stored(t, drifted, storage.AlertSent))
	require.Equal(t, alert.EpisodeResolved, dec)
	return drifted, resolved
}

func TestDecideEpisode(t *testing.T) {
	t.Parallel()
	t0 := time.Date(2026, 3, 1, 2, 0, 0, 0, time.UTC)
	now := t0.Add(50 * time.Hour)
	driftAt := func(runID int64, at time.Time) alert.Event { return alert.Events(driftReport(runID), at, "")[0] }
	stable := alert.Events(stableReport(9), now, "")[0]
	// An episode opened by run 1 at t0, last alerted for run 3.
	episode := &alert.Episode{FirstRunID: 1, FirstAlertedAt: t0, LastRunID: 3, LastAlertedAt: t0.Add(25 * time.Hour)}
	openDrift := driftAt(3, t0.Add(25*time.Hour))
	openDrift.Episode = episode
	resolved := stable
	resolved.Severity, resolved.Episode = alert.SeverityCritical, episode
	legacyDrift := driftAt(2, t0) // raised before episodes were recorded
	noTime := driftAt(2, time.Time{})
	noTimeAlert := stored(t, noTime, storage.AlertSent)
	noTimeAlert.CreatedAt = t0
	warnDrift := openDrift
	warnDrift.Severity = alert.SeverityWarning
	inconclusive := alert.Events(func() *report.Report { r := driftReport(9); r.Verdict = string(drift.Inconclusive); return r }(), now, "")[0]

	tests := []struct {
		name        string
		ev          alert.Event
		last        *storage.Alert
		want        alert.EpisodeDecision
		wantSev     alert.Severity
		wantEpisode *alert.Episode
	}{
		{"first drift opens an episode", driftAt(9, now), nil, alert.EpisodeOpened, alert.SeverityCritical,
			&alert.Episode{FirstRunID: 9, FirstAlertedAt: now, LastRunID: 9, LastAlertedAt: now}},
		{"drift after a drift continues its episode", driftAt(9, now), stored(t, openDrift, storage.AlertSent), alert.EpisodeContinued, alert.SeverityCritical,
			&alert.Episode{FirstRunID: 1, FirstAlertedAt: t0, LastRunID: 9, LastAlertedAt: now}},
		{"drift after a drift raised before episodes", driftAt(9, now), stored(t, legacyDrift, storage.AlertSent), alert.EpisodeContinued, alert.SeverityCritical,
			&alert.Episode{FirstRunID: 2, FirstAlertedAt: t0, LastRunID: 9, LastAlertedAt: now}},
		{"a drift alert without a time is dated by its row", driftAt(9, now), noTimeAlert, alert.EpisodeContinued, alert.SeverityCritical,
			&alert.Episode{FirstRunID: 2, FirstAlertedAt: t0, LastRunID: 9, LastAlertedAt: now}},
		{"drift after a resolved alert opens a new episode", driftAt(9, now), stored(t, resolved, storage.AlertSent), alert.EpisodeOpened, alert.SeverityCritical,
			&alert.Episode{FirstRunID: 9, FirstAlertedAt: now, LastRunID: 9, LastAlertedAt: now}},
		{"drift after an unreadable alert opens an episode", driftAt(9, now), &storage.Alert{Payload: []byte(`{}`)}, alert.EpisodeOpened, alert.SeverityCritical,
			&alert.Episode{FirstRunID: 9, FirstAlertedAt: now, LastRunID: 9, LastAlertedAt: now}},

		{"stable with nothing alerted", stable, nil, alert.EpisodeNotOpen, 0, nil},
		{"stable after a drift alert resolves it", stable, stored(t, openDrift, storage.AlertSent), alert.EpisodeResolved, alert.SeverityCritical, episode},
		{"stable after a drift alert still pending resolves it", stable, stored(t, openDrift, storage.AlertPending), alert.EpisodeResolved, alert.SeverityCritical, episode},
		{"stable after a drift alert given up on resolves it", stable, stored(t, openDrift, storage.AlertFailed), alert.EpisodeResolved, alert.SeverityCritical, episode},
		{"stable after a drift raised before episodes", stable, stored(t, legacyDrift, storage.AlertSent), alert.EpisodeResolved, alert.SeverityCritical,
			&alert.Episode{FirstRunID: 2, FirstAlertedAt: t0, LastRunID: 2, LastAlertedAt: t0}},
		{"the resolved event takes the drift alert's severity", stable, stored(t, warnDrift, storage.AlertSent), alert.EpisodeResolved, alert.SeverityWarning, episode},
		{"stable after the resolved alert", stable, stored(t, resolved, storage.AlertSent), alert.EpisodeAlreadyResolved, 0, nil},
		{"stable after a resolved alert given up on", stable, stored(t, resolved, storage.AlertFailed), alert.EpisodeAlreadyResolved, 0, nil},
		{"stable after an unreadable alert", stable, &storage.Alert{Payload: []byte(`not json`)}, alert.EpisodeNotOpen, 0, nil},

		{"other kinds pass untouched", inconclusive, stored(t, openDrift, storage.AlertSent), alert.EpisodeUntracked, alert.SeverityWarning, nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			got, dec := alert.DecideEpisode(tt.ev, tt.last)
			require.Equal(t, tt.want, dec, dec.String())
			require.Equal(t, tt.want != alert.EpisodeNotOpen && tt.want != alert.EpisodeAlreadyResolved, dec.Keep())
			require.Equal(t, tt.wantSev, got.Severity)
			require.Equal(t, tt.wantEpisode, got.Episode)
			want := tt.ev // nothing else changes
			want.Severity, want.Episode = got.Severity, got.Episode
			require.Equal(t, want, got)
		})
	}
}

// TestRouteResolved: a resolved event reaches exactly its recipients (the
// channels that got the episode's drift alert), whatever the channels'
// severities; a candidate Resolve did not keep goes nowhere.
func TestRouteResolved(t *testing.T) {
	t.Parallel()
	now := time.Date(2026, 3, 2, 2, 0, 0, 0, time.UTC)
	drifted, resolved := episodeEvents(t, 1, 2, now)
	candidate := alert.Events(stableReport(2), now, "")[0]
	channels := func(r alert.Route, ev alert.Event) []string {
		out, err := r.Exec(context.Background(), []alert.Event{ev})
		require.NoError(t, err)
		var cs []string
		for _, e := range out {
			cs = append(cs, e.Channel)
		}
		return cs
	}
	for _, r := range []alert.Route{
		{MinSeverity: map[string]alert.Severity{"slack": alert.SeverityWarning, "webhook": alert.SeverityInfo, "log": alert.SeverityInfo}},
		{MinSeverity: map[string]alert.Severity{"slack": alert.SeverityCritical, "log": alert.SeverityInfo}},
		{MinSeverity: map[string]alert.Severity{"log": 0}},
	} {
		want := channels(r, drifted)
		require.NotEmpty(t, want)
		ev := resolved
		ev.Recipients = want
		require.Equal(t, want, channels(r, ev), "the channels that got the drift alert")
		require.Empty(t, channels(r, candidate))
	}
	all := alert.Route{MinSeverity: map[string]alert.Severity{"slack": alert.SeverityWarning, "webhook": alert.SeverityInfo, "log": alert.SeverityInfo}}
	ev := resolved
	ev.Recipients = []string{"log", "pager"}
	require.Equal(t, []string{"log"}, channels(all, ev), "only recipients still configured")
	ev.Recipients = nil
	require.Empty(t, channels(all, ev), "no channel got the drift alert: nobody hears of its end")
}

// TestResolveStage runs events → resolve → dedup → route → enqueue against
// the real alert log, night after night: one resolved alert per drift
// episode, whatever the repeat interval, and a drift right after a
// resolution alerts at once.
func TestResolveStage(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	st := storagetest.NewStore(t)
	clock := newFakeClock()
	pipeline := alert.Sequence{
		alert.NewResolve(st, nil),
		alert.NewDedup(st, 24*time.Hour, clock.Now, nil),
		alert.Route{MinSeverity: map[string]alert.Severity{"slack": alert.SeverityWarning, "log": alert.SeverityInfo}},
		alert.NewEnqueue(st, clock.Now),
	}
	type night struct {
		advance time.Duration
		drift   bool
		want    alert.Kind // "": nothing alerted
		first   int        // the episode's first night (index into runs)
		last    int        // the night of the drift alert resolved
	}
	nights := []night{
		{drift: true, want: alert.KindDrift, first: 0, last: 0},
		{advance: time.Hour, drift: true},                                                // dedup: same drift
		{advance: 25 * time.Hour, drift: true, want: alert.KindDrift, first: 0, last: 2}, // repeat interval
		{advance: time.Hour, want: alert.KindResolved, first: 0, last: 2},
		{advance: time.Hour},      // already resolved
		{advance: 25 * time.Hour}, // still resolved after the repeat interval
		{advance: time.Hour, drift: true, want: alert.KindDrift, first: 6, last: 6},
		{advance: time.Hour, want: alert.KindResolved, first: 6, last: 6},
		{advance: time.Hour, drift: true, want: alert.KindDrift, first: 8, last: 8}, // same fingerprint, 2 h later: a new episode
		{advance: time.Hour, want: alert.KindResolved, first: 8, last: 8},
	}
	runs := make([]int64, len(nights))
	times := make([]time.Time, len(nights))
	for i, n := range nights {
		clock.Advance(n.advance)
		runs[i], times[i] = newRun(t, st), clock.Now()
		rep := stableReport(runs[i])
		if n.drift {
			rep = driftReport(runs[i])
		}
		// Another target that never drifted is STABLE every night.
		other := stableReport(runs[i])
		other.Target = "claude"
		events := append(alert.Events(rep, clock.Now(), ""), alert.Events(other, clock.Now(), "")...)
		out, err := pipeline.Exec(ctx, events)
		require.NoError(t, err, "night %d", i)
		if n.want == "" {
			require.Empty(t, out, "night %d", i)
			continue
		}
		require.Len(t, out, 2, "night %d: log and slack", i)
		for j, ch := range []string{"log", "slack"} {
			ev := out[j]
			require.Equal(t, ch, ev.Channel)
			require.Equal(t, n.want, ev.Kind, "night %d", i)
			require.Equal(t, "gpt4", ev.Target)
			require.Equal(t, alert.SeverityCritical, ev.Severity)
			require.Equal(t, "driftwatch/drift/prime@gpt4", ev.DedupKey)
			require.Equal(t, &alert.Episode{FirstRunID: runs[n.first], FirstAlertedAt: times[n.first],
				LastRunID: runs[n.last], LastAlertedAt: times[n.last]}, ev.Episode, "night %d", i)
		}
		last, err := st.LastAlert(ctx, "driftwatch/drift/prime@gpt4")
		require.NoError(t, err)
		require.Equal(t, out[1].AlertID, last.ID, "the log's newest alert is this night's")
	}
}

func TestLogNotifierEpisode(t *testing.T) {
	t.Parallel()
	now := time.Date(2026, 3, 2, 2, 0, 0, 0, time.UTC)
	_, resolved := episodeEvents(t, 41, 42, now)
	var buf bytes.Buffer
	n := alert.NewLogNotifier(slog.New(slog.NewJSONHandler(&buf, nil)), slog.LevelWarn)
	require.NoError(t, n.Notify(context.Background(), &resolved))
	var line struct {
		Level    string `json:"level"`
		Kind     string `json:"kind"`
		Severity string `json:"severity"`
		Summary  string `json:"summary"`
		RunID    int64  `json:"run_id"`
		PassRate struct {
			Baseline float64 `json:"baseline"`
			Current  float64 `json:"current"`
		} `json:"pass_rate"`
		Episode struct {
			FirstRunID     int64     `json:"first_run_id"`
			FirstAlertedAt time.Time `json:"first_alerted_at"`
			LastRunID      int64     `json:"last_run_id"`
		} `json:"episode"`
	}
	require.NoError(t, json.Unmarshal(buf.Bytes(), &line), buf.String())
	require.Equal(t, "WARN", line.Level)
	require.Equal(t, "resolved", line.Kind)
	require.Equal(t, "critical", line.Severity)
	require.True(t, strings.HasPrefix(line.Summary, "no drift detected: pass rate 89.5% against 90.0%"), "the log says why: %q", line.Summary)
	require.Equal(t, int64(42), line.RunID)
	require.Equal(t, 0.9, line.PassRate.Baseline)
	require.Equal(t, 0.895, line.PassRate.Current)
	require.Equal(t, int64(41), line.Episode.FirstRunID)
	require.Equal(t, int64(41), line.Episode.LastRunID)
	require.True(t, now.Add(-time.Hour).Equal(line.Episode.FirstAlertedAt))
}

// TestResolvedGoesOnlyToEpisodeRecipients plays, against the real alert
// log, an episode whose drift alert reached "log" and "webhook" but not
// Slack (Slack was configured after the drift) nor "pager" (its delivery
// was given up): the resolution goes to "log" and "webhook" only.
func TestResolvedGoesOnlyToEpisodeRecipients(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	st := storagetest.NewStore(t)
	clock := newFakeClock()
	pipeline := func(channels ...string) alert.Sequence {
		routes := map[string]alert.Severity{}
		for _, c := range channels {
			routes[c] = alert.SeverityInfo
		}
		return alert.Sequence{alert.NewResolve(st, nil), alert.NewDedup(st, 24*time.Hour, clock.Now, nil),
			alert.Route{MinSeverity: routes}, alert.NewEnqueue(st, clock.Now)}
	}
	routed := func(out []alert.Event) []string {
		var cs []string
		for _, e := range out {
			cs = append(cs, string(e.Kind)+"→"+e.Channel)
		}
		return cs
	}
	driftRun := newRun(t, st)
	out, err := pipeline("log", "pager", "webhook").Exec(ctx, alert.Events(driftReport(driftRun), clock.Now(), ""))
	require.NoError(t, err)
	require.Equal(t, []string{"drift→log", "drift→pager", "drift→webhook"}, routed(out))
	for _, ev := range out {
		if ev.Channel == "pager" {
			require.NoError(t, st.MarkAlertFailed(ctx, ev.AlertID, errors.New("gave up"), time.Time{}))
		}
	}
	chans, err := st.EpisodeChannels(ctx, "driftwatch/drift/prime@gpt4", driftRun)
	require.NoError(t, err)
	require.Equal(t, []string{"log", "webhook"}, chans)

	clock.Advance(time.Hour)
	out, err = pipeline("log", "pager", "slack", "webhook").Exec(ctx, alert.Events(stableReport(newRun(t, st)), clock.Now(), ""))
	require.NoError(t, err)
	require.Equal(t, []string{"resolved→log", "resolved→webhook"}, routed(out), "not Slack, which never heard of the drift")
	require.Equal(t, []string{"log", "webhook"}, out[0].Recipients)

	// The next episode reaches Slack too, and so does its resolution.
	clock.Advance(time.Hour)
	out, err = pipeline("log", "slack").Exec(ctx, alert.Events(driftReport(newRun(t, st)), clock.Now(), ""))
	require.NoError(t, err)
	require.Equal(t, []string{"drift→log", "drift→slack"}, routed(out))
	clock.Advance(time.Hour)
	out, err = pipeline("log", "slack", "webhook").Exec(ctx, alert.Events(stableReport(newRun(t, st)), clock.Now(), ""))
	require.NoError(t, err)
	require.Equal(t, []string{"resolved→log", "resolved→slack"}, routed(out))
}
