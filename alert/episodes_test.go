package alert_test

import (
	"context"
	"encoding/json"
	"io"
	"math"
	"math/rand/v2"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/driftwatch/driftwatch/alert"
	"github.com/driftwatch/driftwatch/alert/slack"
	"github.com/driftwatch/driftwatch/drift"
	"github.com/driftwatch/driftwatch/report"
	"github.com/driftwatch/driftwatch/storage/storagetest"
)

// slackReceiver is a local Slack: one incoming webhook per channel path,
// recording every message body it receives.
type slackReceiver struct {
	mu   sync.Mutex
	msgs []receivedMsg
}

type receivedMsg struct {
	channel string
	text    string // the notification text
	blocks  string // every block text, one per line
}

func (s *slackReceiver) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	b, err := io.ReadAll(io.LimitReader(r.Body, 1<<20))
	if err != nil || r.Method != http.MethodPost || r.Header.Get("Content-Type") != "application/json" {
		http.Error(w, "bad request", http.StatusBadRequest)
		return
	}
	var m struct {
		Text   string `json:"text"`
		Blocks []struct {
			Text *struct {
				Text string `json:"text"`
			} `json:"text"`
			Fields []struct {
				Text string `json:"text"`
			} `json:"fields"`
			Elements []struct {
				Text any    `json:"text"`
				URL  string `json:"url"`
			} `json:"elements"`
		} `json:"blocks"`
	}
	if err := json.Unmarshal(b, &m); err != nil || m.Text == "" || len(m.Blocks) == 0 || len(m.Blocks) > slack.MaxBlocks {
		http.Error(w, "invalid_blocks", http.StatusBadRequest)
		return
	}
	var lines []string
	for _, bl := range m.Blocks {
		if bl.Text != nil {
			lines = append(lines, bl.Text.Text)
		}
		for _, f := range bl.Fields {
			lines = append(lines, f.Text)
		}
		for _, e := range bl.Elements {
			if txt, ok := e.Text.(string); ok {
				lines = append(lines, txt)
			}
			if e.URL != "" {
				lines = append(lines, e.URL)
			}
		}
	}
	s.mu.Lock()
	s.msgs = append(s.msgs, receivedMsg{channel: strings.TrimPrefix(r.URL.Path, "/services/"), text: m.Text, blocks: strings.Join(lines, "\n")})
	s.mu.Unlock()
	_, _ = io.WriteString(w, "ok")
}

func (s *slackReceiver) take() []receivedMsg {
	s.mu.Lock()
	defer s.mu.Unlock()
	out := s.msgs
	s.msgs = nil
	return out
}

// episodeNight is one simulated night: the true pass rate, the verdict the
// nightly comparison gives it, the channels configured that night, and the
// messages expected (channel → "KIND since"; since "" when the message has
// no since line).
type episodeNight struct {
	rate     float64
	verdict  drift.Verdict
	cases    bool // the drift is localised to cases (else examples only)
	channels []string
	want     map[string]string
}

// TestAlertEpisodesThroughSlack plays simulated nights (1000 samples a
// night, seeded) through the whole alert path: the change point dated by
// report.DateChange over the stored verdicts, alert.Events, the pipeline
// (resolve, dedup, route, enqueue on the real alert log), the dispatcher and
// the Slack notifier, into a local Slack receiver with two channels. For
// every message it checks the kind, the "since", the label of the listed
// outputs and who received it.
func TestAlertEpisodesThroughSlack(t *testing.T) {
	t.Parallel()
	const p0, low = 0.85, 0.72
	both := []string{"oncall", "team"}
	drifted := func(since string) map[string]string {
		return map[string]string{"oncall": "DRIFT " + since, "team": "DRIFT " + since}
	}
	resolved := map[string]string{"oncall": "RESOLVED", "team": "RESOLVED"}
	scenarios := []struct {
		name   string
		nights []episodeNight
	}{
		{"drift, recovery, drift", []episodeNight{
			{rate: p0, verdict: drift.Baseline, channels: []string{"team"}}, // 0
			{rate: p0, verdict: drift.Stable, channels: []string{"team"}},   // 1
			{rate: p0, verdict: drift.Stable, channels: []string{"team"}},   // 2
			{rate: low, verdict: drift.Drift, channels: []string{"team"}, want: map[string]string{"team": "DRIFT since night 3"}},
			{rate: low, verdict: drift.Drift, channels: both, want: map[string]string{"team": "DRIFT since night 3", "oncall": "DRIFT since night 3"}},
			// Recovery: the resolution goes to both, which both heard of it.
			{rate: p0, verdict: drift.Stable, channels: both, want: resolved},
			{rate: p0, verdict: drift.Stable, channels: both},
			// The relapse is dated to its own first night, not to the
			// recovery two nights before.
			{rate: low, verdict: drift.Drift, cases: true, channels: both, want: drifted("since night 7")},
			{rate: low, verdict: drift.Drift, cases: true, channels: both, want: drifted("since night 7")},
			{rate: p0, verdict: drift.Stable, channels: both, want: resolved},
		}},
		{"slow decline", func() []episodeNight {
			ns := []episodeNight{{rate: p0, verdict: drift.Baseline, channels: []string{"team"}}}
			for i := range 14 {
				ns = append(ns, episodeNight{rate: p0 - 0.005*float64(i), verdict: drift.Stable, channels: []string{"team"}})
			}
			// The CUSUM alarms on night 15: no run is dated.
			ns = append(ns, episodeNight{rate: p0 - 0.075, verdict: drift.Drift, channels: []string{"team"}, want: map[string]string{"team": "DRIFT since: unclear"}},
				// Oncall joins mid-episode and hears of the drift...
				episodeNight{rate: p0 - 0.08, verdict: drift.Drift, channels: both, want: drifted("since: unclear")},
				// ...and of its end.
				episodeNight{rate: p0, verdict: drift.Stable, channels: both, want: resolved})
			return ns
		}()},
		{"a resolution reaches only the channels told of the drift", []episodeNight{
			{rate: p0, verdict: drift.Baseline, channels: []string{"team"}},
			{rate: 0.6, verdict: drift.Drift, channels: []string{"team"}, want: map[string]string{"team": "DRIFT since night 1"}},
			{rate: p0, verdict: drift.Stable, channels: both, want: map[string]string{"team": "RESOLVED"}},
		}},
	}
	for _, sc := range scenarios {
		t.Run(sc.name, func(t *testing.T) {
			t.Parallel()
			playEpisodes(t, sc.nights)
		})
	}
}

func playEpisodes(t *testing.T, nights []episodeNight) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	st := storagetest.NewStore(t)
	recv := &slackReceiver{}
	srv := httptest.NewServer(recv)
	defer srv.Close()
	notifiers := map[string]alert.Notifier{}
	for _, ch := range []string{"oncall", "team"} {
		n, err := slack.New(slack.Config{WebhookURL: alert.NewSecret(srv.URL + "/services/" + ch)}, srv.Client(), nil)
		require.NoError(t, err)
		notifiers[ch] = n
	}
	clock := newFakeClock()
	rng := rand.New(rand.NewPCG(15, 3))
	var (
		hist      []report.HistoryRun
		runIDs    []int64
		baselines []int64
	)
	const total = 1000
	for i, n := range nights {
		clock.Advance(24 * time.Hour)
		runID := newRun(t, st)
		runIDs = append(runIDs, runID)
		mu, sd := total*n.rate, math.Sqrt(total*n.rate*(1-n.rate))
		passed := min(max(int(math.Round(mu+sd*rng.NormFloat64())), 0), total)
		hist = append(hist, report.HistoryRun{RunID: runID, Passed: passed, Total: total, Verdict: string(n.verdict)})
		rep := nightReport(runID, baselines, passed, total, n)
		if n.verdict == drift.Baseline {
			baselines = append(baselines, runID)
		} else {
			rep.ChangePoint = report.DateChange(hist, baselines)
		}
		routes := map[string]alert.Severity{}
		for _, ch := range n.channels {
			routes[ch] = alert.SeverityWarning
		}
		pipeline := alert.Sequence{alert.NewResolve(st, nil), alert.NewDedup(st, 24*time.Hour, clock.Now, nil),
			alert.Route{MinSeverity: routes}, alert.NewEnqueue(st, clock.Now)}
		_, err := pipeline.Exec(ctx, alert.Events(rep, clock.Now(), "https://dash.example"))
		require.NoError(t, err, "night %d", i)
		active := map[string]alert.Notifier{}
		for _, ch := range n.channels {
			active[ch] = notifiers[ch]
		}
		_, failed, err := alert.NewDispatcher(st, &alert.DispatcherConfig{Notifiers: active, NowFunc: clock.Now}).DeliverPending(ctx)
		require.NoError(t, err)
		require.Zero(t, failed, "night %d: Slack took every message", i)

		got := map[string]string{}
		for _, m := range recv.take() {
			_, dup := got[m.channel]
			require.False(t, dup, "night %d: one message per channel", i)
			got[m.channel] = describe(t, m, runIDs, n)
		}
		want := n.want
		if want == nil {
			want = map[string]string{}
		}
		require.Equal(t, want, got, "night %d (%s, %d of %d passed)", i, n.verdict, passed, total)
	}
}

// nightReport is the stored report of one simulated night.
func nightReport(runID int64, baselines []int64, passed, total int, n episodeNight) *report.Report {
	rate := float64(passed) / float64(total)
	rep := &report.Report{Suite: "prime", Target: "gpt4", RunID: runID, BaselineRunIDs: baselines, Verdict: string(n.verdict),
		Status: "completed", Metrics: report.Metrics{Passed: passed, Samples: total, Cases: 200, SamplesPerCase: 5,
			PassRate: &report.Value{Value: rate}}}
	if n.verdict == drift.Baseline {
		rep.Reason = "first completed run: it is the baseline for later runs"
		return rep
	}
	d := rate - 0.85
	rep.Metrics.PassRate.Baseline, rep.Metrics.PassRate.Delta = ptr(0.85), ptr(d)
	rep.Metrics.PassRate.CI = &drift.Interval{Low: d - 0.03, High: d + 0.03}
	rep.Reason = "no suite-level test survived Holm at 0.01 together with its effect floor (6 tests)"
	if n.verdict != drift.Drift {
		return rep
	}
	rep.Reason = "drift in pass_rate"
	f := drift.Finding{Metric: drift.MetricPassRate, Scope: drift.ScopeSuite, Baseline: 0.85, Current: rate, Effect: d,
		CI: rep.Metrics.PassRate.CI, P: 1e-6, Q: 1e-5, Verdict: drift.Drift,
		Examples: []drift.Example{{Case: "refund/eu", Baseline: "Refunds take 14 days.", Current: "I cannot help with refunds."}}}
	if d > -0.05 { // the slow decline: the CUSUM's alarm
		f = drift.Finding{Metric: drift.MetricCUSUM, Scope: drift.ScopeSuite, Statistic: "cusum", Current: 5.4, Effect: 5.4,
			P: math.NaN(), Q: math.NaN(), Verdict: drift.Drift}
		rep.CUSUM = &report.CUSUM{Statistic: 5.4, Threshold: 5, Alarm: true}
	}
	rep.Findings = []drift.Finding{f}
	rep.DriftedCases = []string{}
	if n.cases {
		rep.Findings = append(rep.Findings, drift.Finding{Metric: drift.MetricCasePass, Scope: drift.ScopeCasePrefix + "refund/eu",
			Baseline: 1, Current: 0.2, Effect: -0.8, P: 1e-4, Q: 0.01, Verdict: drift.Drift,
			Examples: []drift.Example{{Case: "refund/eu", Baseline: "Refunds take 14 days.", Current: "No."}}})
		rep.DriftedCases = []string{"refund/eu"}
	}
	return rep
}

// describe checks what every message must say and returns "KIND since …"
// (night numbers for run IDs) for the caller to compare.
func describe(t *testing.T, m receivedMsg, runIDs []int64, n episodeNight) string {
	t.Helper()
	kind, _, _ := strings.Cut(m.text, ":")
	require.Contains(t, m.blocks, "*Why* ", "every message says why")
	require.Contains(t, m.blocks, "/runs/", "and links the run")
	if kind != "DRIFT" {
		require.NotContains(t, m.blocks, "*Since*")
		require.NotContains(t, m.blocks, "Drifted cases")
		require.NotContains(t, m.blocks, "Example outputs")
		return kind
	}
	if n.cases {
		require.Contains(t, m.blocks, "*Drifted cases* (1 of 1", "a localised drift lists its drifted cases")
	} else {
		require.NotContains(t, m.blocks, "Drifted cases", "no case drifted on its own")
		if !strings.Contains(m.blocks, "declined slowly") {
			require.Contains(t, m.blocks, "*Example outputs* (before → after; no single case drifted on its own)")
		}
	}
	var since string
	for line := range strings.SplitSeq(m.blocks, "\n") {
		if rest, ok := strings.CutPrefix(line, "*Since* "); ok {
			since = rest
		}
	}
	require.NotEmpty(t, since, "a drift message says since when: %s", m.blocks)
	if strings.HasPrefix(since, "unclear") {
		require.Contains(t, m.text, "since: unclear")
		return "DRIFT since: unclear"
	}
	for night, id := range runIDs {
		if strings.HasPrefix(since, "run "+itoa(id)+",") {
			require.Contains(t, m.text, "since run "+itoa(id), "the why says the same")
			return "DRIFT since night " + itoa(int64(night))
		}
	}
	t.Fatalf("since names no run of this series: %q", since)
	return ""
}

func itoa(n int64) string { return fmtSprintf("%d", n) }
