package slack_test

import (
	"bytes"
	"context"
	"encoding/json"
	"flag"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
	"unicode/utf8"

	"github.com/stretchr/testify/require"
	"go.uber.org/goleak"

	"github.com/driftwatch/driftwatch/alert"
	"github.com/driftwatch/driftwatch/alert/slack"
	"github.com/driftwatch/driftwatch/drift"
	"github.com/driftwatch/driftwatch/report"
	"github.com/driftwatch/driftwatch/storage"
)

var update = flag.Bool("update", false, "rewrite testdata/*.golden")

func TestMain(m *testing.M) {
	goleak.VerifyTestMain(m)
}

func ptr[T any](v T) *T { return &v }

// hostile is model output that tries every trick.
var hostile = "Sure! <!channel> <!here> <@U024BE7LH> look at <https://evil.example|click here> & " +
	"```\n*bold* `code` ``` @channel @here " + strings.Repeat("x", 10000)

func driftEvent(t *testing.T) alert.Event {
	t.Helper()
	rep := &report.Report{
		Suite: "prime", Target: "gpt4", RunID: 42, BaselineRunIDs: []int64{7, 9},
		Verdict: string(drift.Drift), Status: "completed",
		Reason:           "pass rate dropped by 0.200 (CMH, Holm q=0.0001) <!channel>",
		Identity:         &report.Identity{Provider: "openai", RequestedModel: "gpt-4o", ResolvedModel: "gpt-4o-2024-11-20", Fingerprint: "fp_<new>"},
		BaselineIdentity: &report.Identity{Provider: "openai", RequestedModel: "gpt-4o", ResolvedModel: "gpt-4o-2024-08-06", Fingerprint: "fp_old"},
		Metrics: report.Metrics{
			PassRate: &report.Value{Value: 0.7, Baseline: ptr(0.9), Delta: ptr(-0.2), CI: &drift.Interval{Low: -0.26, High: -0.14}, P: ptr(1.2e-5)},
			Samples:  200, ErrorCount: 1,
		},
		Findings: []drift.Finding{
			{Metric: drift.MetricPassRate, Scope: drift.ScopeSuite, Statistic: "CMH", Baseline: 0.9, Current: 0.7, Effect: -0.2,
				CI: &drift.Interval{Low: -0.26, High: -0.14}, P: 1.2e-5, Q: 1e-4, Verdict: drift.Drift, Reason: "pass rate dropped"},
			{Metric: drift.MetricCasePass, Scope: drift.ScopeCasePrefix + "seventeen", Baseline: 1, Current: 0.2, Effect: -0.8,
				P: 0.001, Q: 0.01, Verdict: drift.Warn,
				Examples: []drift.Example{{Case: "seventeen", Baseline: "[Yes] 17 is prime.", Current: hostile}}},
			{Metric: drift.MetricCasePass, Scope: drift.ScopeCasePrefix + "<!here>`case`", Baseline: 1, Current: 0.4, Effect: -0.6,
				P: 0.002, Q: 0.02, Verdict: drift.Warn,
				Examples: []drift.Example{{Case: "<!here>`case`", Baseline: strings.Repeat("&", 2000), Current: strings.Repeat("é<", 2000)}}},
			{Metric: drift.MetricCasePass, Scope: drift.ScopeCasePrefix + "empty", Baseline: 0.8, Current: 0.2, Effect: -0.6,
				P: 0.003, Q: 0.03, Verdict: drift.Warn,
				Examples: []drift.Example{{Case: "empty", Baseline: "ok", Current: ""}}},
			{Metric: drift.MetricCasePass, Scope: drift.ScopeCasePrefix + "fourth", Baseline: 0.8, Current: 0.2, Effect: -0.6,
				P: 0.004, Q: 0.04, Verdict: drift.Warn,
				Examples: []drift.Example{{Case: "fourth", Baseline: "a", Current: "b"}}},
		},
		DriftedCases: []string{"seventeen", "<!here>`case`", "empty", "fourth"},
		ChangePoint:  &report.ChangePoint{Runs: 9, RunsSince: 2, Probability: 0.96, SinceRunID: 41, ProbChange: 0.99, ProbThisRun: 0.02},
	}
	evs := alert.Events(rep, time.Date(2026, 3, 1, 2, 0, 0, 0, time.UTC), "https://driftwatch.example.com")
	require.Len(t, evs, 1)
	return evs[0]
}

// resolvedEvent is what the Resolve stage makes of a STABLE run 47 after the
// drift alerts of runs 42 (first) and 45 (last): the pass rate is back.
func resolvedEvent(t *testing.T) alert.Event {
	t.Helper()
	first := time.Date(2026, 3, 1, 2, 0, 0, 0, time.UTC)
	drifted := driftEvent(t)
	drifted.RunID, drifted.Time = 45, first.Add(24*time.Hour)
	drifted.Episode = &alert.Episode{FirstRunID: 42, FirstAlertedAt: first, LastRunID: 45, LastAlertedAt: drifted.Time}
	payload, err := json.Marshal(drifted)
	require.NoError(t, err)
	rep := &report.Report{
		Suite: "prime", Target: "gpt4", RunID: 47, BaselineRunIDs: []int64{7, 9},
		Verdict: string(drift.Stable), Status: "completed", Reason: "no metric changed significantly <!channel>",
		Identity:         &report.Identity{Provider: "openai", RequestedModel: "gpt-4o", ResolvedModel: "gpt-4o-2024-08-06", Fingerprint: "fp_old"},
		BaselineIdentity: &report.Identity{Provider: "openai", RequestedModel: "gpt-4o", ResolvedModel: "gpt-4o-2024-08-06", Fingerprint: "fp_old"},
		Metrics: report.Metrics{
			PassRate: &report.Value{Value: 0.895, Baseline: ptr(0.9), Delta: ptr(-0.005), CI: &drift.Interval{Low: -0.03, High: 0.02}, P: ptr(0.6)},
			Samples:  200,
		},
	}
	evs := alert.Events(rep, first.Add(50*time.Hour), "https://driftwatch.example.com")
	require.Len(t, evs, 1)
	ev, dec := alert.DecideEpisode(evs[0], &storage.Alert{Status: storage.AlertSent, Payload: payload})
	require.Equal(t, alert.EpisodeResolved, dec)
	return ev
}

// identityEvent is a STABLE run whose samples name a new identity: the drift
// engine's identity finding has no statistic (p and q 1, values 0), so the
// message shows its reason, never "0.000 → 0.000".
func identityEvent(t *testing.T) alert.Event {
	t.Helper()
	rep := &report.Report{Suite: "prime", Target: "gpt4", RunID: 44, BaselineRunIDs: []int64{7}, Verdict: string(drift.Stable),
		Status: "completed", IdentityChanged: true, Reason: "no metric changed significantly",
		Identity:         &report.Identity{Provider: "openai", RequestedModel: "gpt-4o", ResolvedModel: "gpt-4o-2024-11-20", Fingerprint: "fp_new"},
		BaselineIdentity: &report.Identity{Provider: "openai", RequestedModel: "gpt-4o", ResolvedModel: "gpt-4o-2024-08-06", Fingerprint: "fp_old"},
		Findings: []drift.Finding{{Metric: drift.MetricIdentity, Scope: drift.ScopeSuite, Statistic: "set of sample identities",
			Verdict: drift.IdentityChanged, P: 1, Q: 1,
			Reason: "new identity 3fa2c9d1e0b4a7f6 not seen in the baseline (baseline: 0b1c2d3e4f5a6b7c); a hint, not an alarm"}}}
	for _, ev := range alert.Events(rep, time.Date(2026, 3, 1, 2, 0, 0, 0, time.UTC), "") {
		if ev.Kind == alert.KindIdentityChanged {
			return ev
		}
	}
	t.Fatal("no identity_changed event")
	return alert.Event{}
}

// TestIdentityChangeShowsOldToNew: an identity message says who answered
// before and who answers now, in its preview and its identity section, not
// the engine's digests or a statistic.
func TestIdentityChangeShowsOldToNew(t *testing.T) {
	t.Parallel()
	ev := identityEvent(t)
	_, msg, texts := decodeMessage(t, ev)
	require.Equal(t, "IDENTITY CHANGED: prime on gpt4: identity changed gpt-4o-2024-08-06 fp_old → gpt-4o-2024-11-20 fp_new", msg["text"])
	all := strings.Join(texts, "\n")
	require.Contains(t, all, "*Identity changed* `gpt-4o-2024-08-06` `fp_old` → `gpt-4o-2024-11-20` `fp_new`")
	require.NotContains(t, all, "0.000 → 0.000")
	require.NotContains(t, all, "p=1")
}

func TestMessageGolden(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name string
		ev   func(t *testing.T) alert.Event
	}{
		{"drift", driftEvent},
		{"resolved", resolvedEvent},
		{"pin_violated", func(t *testing.T) alert.Event {
			rep := &report.Report{Suite: "prime", Target: "llama", RunID: 43, Verdict: string(drift.Inconclusive), Status: "failed",
				IdentityChanged: true, PinViolated: true, Reason: "pinned identity mismatch: digest sha256:bbb, want sha256:aaa",
				Identity:         &report.Identity{Provider: "ollama", RequestedModel: "llama3", Digest: "sha256:bbb"},
				BaselineIdentity: &report.Identity{Provider: "ollama", RequestedModel: "llama3", Digest: "sha256:aaa"},
				Findings: []drift.Finding{{Metric: drift.MetricIdentity, Scope: drift.ScopeSuite, Statistic: "pin",
					Verdict: drift.IdentityChanged, Reason: "digest sha256:bbb, want sha256:aaa"}}}
			return alert.Events(rep, time.Date(2026, 3, 1, 2, 0, 0, 0, time.UTC), "")[0]
		}},
		{"identity_changed", identityEvent},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			ev := tt.ev(t)
			var buf bytes.Buffer
			enc := json.NewEncoder(&buf)
			enc.SetEscapeHTML(false) // readable diffs; Slack decodes both forms alike
			enc.SetIndent("", "  ")
			require.NoError(t, enc.Encode(slack.Message(&ev, "")))
			got := buf.Bytes()
			golden := filepath.Join("testdata", tt.name+".golden")
			if *update {
				require.NoError(t, os.WriteFile(golden, got, 0o644))
			}
			want, err := os.ReadFile(golden)
			require.NoError(t, err, "run go test ./alert/slack -update to create it")
			require.Equal(t, string(want), string(got))
		})
	}
}

// TestMessageEscapes decodes the payload as Slack would receive it and
// checks that nothing from the model output is live.
func TestMessageEscapes(t *testing.T) {
	t.Parallel()
	b, msg, texts := decodeMessage(t, driftEvent(t))
	require.NotEmpty(t, texts)
	blocks := msg["blocks"].([]any)
	require.LessOrEqual(t, len(blocks), 50)
	for _, s := range texts {
		for _, bad := range []string{"<!channel>", "<!here>", "<@U", "<https://evil", "@channel", "@here"} {
			require.NotContains(t, s, bad)
		}
		require.LessOrEqual(t, utf8.RuneCountInString(s), slack.SectionMaxRunes)
	}
	var cases []string
	for _, s := range texts {
		if strings.HasPrefix(s, "*Case*") {
			cases = append(cases, s)
		}
	}
	require.Len(t, cases, slack.TopCases, "top 3 cases only")
	for _, c := range cases {
		n := strings.Count(c, "```")
		require.True(t, n == 4 || n == 2 && strings.Contains(c, "(empty output)"),
			"outputs can't break out of their code blocks: %q", c[:min(200, len(c))])
	}
	require.Contains(t, cases[0], "&lt;!channel&gt;")
	require.Contains(t, cases[0], "&lt;https://evil.example|click here&gt; &amp;")
	require.Less(t, strings.Count(cases[0], "x"), slack.ExampleRunes+1, "example truncated")
	require.Contains(t, cases[2], "(empty output)")

	header := blocks[0].(map[string]any)["text"].(map[string]any)["text"].(string)
	require.Equal(t, "DRIFT: prime on gpt4", header)
	actions := blocks[len(blocks)-1].(map[string]any)
	require.Equal(t, "actions", actions["type"])
	require.Contains(t, string(b), "https://driftwatch.example.com/runs/42")
}

// TestMessageResolved: the recovery message names the drift alerts it
// resolves (runs, when first alerted) and the pass rate against the
// baseline's, and shows no drifted cases.
func TestMessageResolved(t *testing.T) {
	t.Parallel()
	b, msg, texts := decodeMessage(t, resolvedEvent(t))
	blocks := msg["blocks"].([]any)
	header := blocks[0].(map[string]any)["text"].(map[string]any)["text"].(string)
	require.Equal(t, "RESOLVED: prime on gpt4", header)
	require.Equal(t, "RESOLVED: prime on gpt4: Run 47 is STABLE again after 2 d 2 h of drift: first alerted 2026-03-01 02:00 UTC (run 42), last alerted for run 45.",
		msg["text"])
	all := strings.Join(texts, "\n")
	require.Contains(t, all, "*Drift resolved*\nRun 47 is STABLE again after 2 d 2 h of drift: first alerted 2026-03-01 02:00 UTC (run 42), last alerted for run 45.")
	require.Contains(t, all, "*Status*\nresolved (was critical)")
	require.Contains(t, all, "*Run*\n47 vs baseline 7, 9")
	require.Contains(t, all, "*Pass rate* 0.900 → 0.895, change -0.005")
	require.Contains(t, all, "*Why* no drift detected: pass rate 89.5% against 90.0%")
	require.NotContains(t, all, "Drifted cases")
	require.NotContains(t, all, "Example outputs")
	require.NotContains(t, all, "<!channel>")
	require.Contains(t, string(b), "https://driftwatch.example.com/runs/47")
}

// decodeMessage returns ev's message as Slack receives it: the body, the
// body decoded, and every text in it.
func decodeMessage(t *testing.T, ev alert.Event) ([]byte, map[string]any, []string) {
	t.Helper()
	b, err := json.Marshal(slack.Message(&ev, ""))
	require.NoError(t, err)
	var msg map[string]any
	require.NoError(t, json.Unmarshal(b, &msg))
	var texts []string
	collectTexts(msg, &texts)
	return b, msg, texts
}

func collectTexts(v any, out *[]string) {
	switch x := v.(type) {
	case map[string]any:
		if s, ok := x["text"].(string); ok {
			*out = append(*out, s)
		}
		for _, c := range x {
			collectTexts(c, out)
		}
	case []any:
		for _, c := range x {
			collectTexts(c, out)
		}
	}
}

func TestEscape(t *testing.T) {
	t.Parallel()
	tests := []struct{ in, want string }{
		{"a & b", "a &amp; b"},
		{"<!channel>", "&lt;!channel&gt;"},
		{"<@U123|bob>", "&lt;@U123|bob&gt;"},
		{"<https://evil|click>", "&lt;https://evil|click&gt;"},
		{"```rm -rf```", "ˋˋˋrm -rfˋˋˋ"},
		{"hi @channel and @Here", "hi @\u200bchannel and @\u200bHere"},
		{"email@channels.example", "email@channels.example"},
		{"bad \xff utf8", "bad \uFFFD utf8"},
		{"gpt\x1b]52;c;Y3VybA==\x07-4o\x1b[2J\rok", "gpt-4ook"},
	}
	for _, tt := range tests {
		t.Run(tt.in, func(t *testing.T) {
			t.Parallel()
			require.Equal(t, tt.want, slack.Escape(tt.in))
		})
	}
}

func TestNotify(t *testing.T) {
	t.Parallel()
	const token = "XOXB-planted-t0ken"
	var got []byte
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		got, _ = io.ReadAll(r.Body)
		if !strings.HasSuffix(r.URL.Path, token) || r.Header.Get("Content-Type") != "application/json" {
			w.WriteHeader(http.StatusBadRequest)
			return
		}
		_, _ = io.WriteString(w, "ok")
	}))
	t.Cleanup(srv.Close)

	n, err := slack.New(slack.Config{WebhookURL: alert.NewSecret(srv.URL + "/services/" + token), Channel: "#drift"}, srv.Client(), nil)
	require.NoError(t, err)
	ev := driftEvent(t)
	require.NoError(t, n.Notify(context.Background(), &ev))
	var msg map[string]any
	require.NoError(t, json.Unmarshal(got, &msg))
	require.Equal(t, "#drift", msg["channel"])

	bad, err := slack.New(slack.Config{WebhookURL: alert.NewSecret(srv.URL + "/services/" + token + "/wrong")}, srv.Client(), nil)
	require.NoError(t, err)
	err = bad.Notify(context.Background(), &ev)
	require.Error(t, err)
	require.NotContains(t, err.Error(), token)
	var de *alert.DeliveryError
	require.ErrorAs(t, err, &de)
	require.False(t, de.Retryable(), "400 is permanent")

	_, err = slack.New(slack.Config{WebhookURL: alert.NewSecret("hooks.slack.com/services/" + token)}, nil, nil)
	require.Error(t, err)
	require.NotContains(t, err.Error(), token)

	cfg, err := json.Marshal(slack.Config{WebhookURL: alert.NewSecret(srv.URL + "/services/" + token)})
	require.NoError(t, err)
	require.NotContains(t, string(cfg), token)
}

// TestMessageLabelsSayWhatTheListIs: per-case findings are listed as
// "Drifted cases"; when no case drifted on its own, the outputs shown are
// "Example outputs" of the suite-level alarm, never "drifted cases".
func TestMessageLabelsSayWhatTheListIs(t *testing.T) {
	t.Parallel()
	_, _, texts := decodeMessage(t, driftEvent(t))
	all := strings.Join(texts, "\n")
	require.Contains(t, all, "*Drifted cases* (3 of 4, one before/after example each)")
	require.NotContains(t, all, "Example outputs")

	rep := &report.Report{Suite: "prime", Target: "gpt4", RunID: 16, BaselineRunIDs: []int64{9}, Verdict: string(drift.Drift), Status: "completed",
		Reason:  "drift in output_text",
		Metrics: report.Metrics{PassRate: &report.Value{Value: 0.9, Baseline: ptr(0.9), Delta: ptr(0.0)}, Samples: 150, Cases: 150, SamplesPerCase: 1},
		Findings: []drift.Finding{{Metric: drift.MetricText, Scope: drift.ScopeSuite, Statistic: "changed outputs 40 of 150 cases (k=1)",
			Current: 0.267, Effect: 0.267, P: 1e-9, Q: 1e-8, Verdict: drift.Drift,
			Examples: []drift.Example{{Case: "a", Baseline: "Paris.", Current: "The capital of France is Paris."}, {Case: "b", Baseline: "4", Current: "Four."}}}},
		DriftedCases: []string{},
		ChangePoint:  &report.ChangePoint{Runs: 16, RunsSince: 16, SinceUnclear: true},
	}
	ev := alert.Events(rep, time.Date(2026, 3, 1, 2, 0, 0, 0, time.UTC), "")[0]
	_, msg, texts := decodeMessage(t, ev)
	all = strings.Join(texts, "\n")
	require.Contains(t, all, "*Example outputs* (before → after; no single case drifted on its own)")
	require.NotContains(t, all, "Drifted cases")
	require.Contains(t, all, "*Since* unclear: no single run is the likely start of the change")
	require.Contains(t, all, "• the output text changed on 26.7% of the cases · p=1e-09, q=1e-08")
	require.Equal(t, "DRIFT: prime on gpt4: the output text changed on 26.7% of the cases; since: unclear; if expected: `driftwatch baseline accept 16`", msg["text"])
	require.NotContains(t, all, "<https://", "no run link without a dashboard URL")
}

// TestMessageWhyAndRunLink: the message leads with the plain-language why,
// names the first run of the current episode, and links the run's page
// when the dashboard URL is set.
func TestMessageWhyAndRunLink(t *testing.T) {
	t.Parallel()
	_, msg, texts := decodeMessage(t, driftEvent(t))
	all := strings.Join(texts, "\n")
	require.Contains(t, all, "*Why* pass rate fell 20 points (95% CI 14–26) since run 41 (90.0% → 70.0%)")
	require.Contains(t, all, "*Since* run 41, the first run at the new pass rate (2 of the last 9 runs; probability 0.96)")
	require.Contains(t, all, "<https://driftwatch.example.com/runs/42|run 42 on the dashboard>")
	require.True(t, strings.HasPrefix(msg["text"].(string), "DRIFT: prime on gpt4: pass rate fell 20 points"))
}

// TestMessageWithinSlackLimits builds messages from oversized inputs (long
// names, reasons and outputs, many findings and cases) and checks every
// Block Kit limit Slack enforces.
func TestMessageWithinSlackLimits(t *testing.T) {
	t.Parallel()
	long := strings.Repeat("é<&", 3000)
	ev := driftEvent(t)
	ev.Suite, ev.Target, ev.Reason, ev.Summary = long, long, long, long
	ev.BaselineRunIDs = make([]int64, 2000)
	for range 60 {
		ev.Findings = append(ev.Findings, drift.Finding{Metric: drift.MetricRefusal, Scope: drift.ScopeSuite, Effect: 0.1, Current: 0.2,
			Verdict: drift.Drift, Reason: long})
		ev.Cases = append(ev.Cases, alert.CaseExample{Case: long, Metric: drift.MetricCasePass, Before: long, After: long})
	}
	ev.URL = "https://driftwatch.example.com/" + strings.Repeat("a", 4000)
	for _, e := range []alert.Event{ev, resolvedEvent(t), identityEvent(t)} {
		_, msg, _ := decodeMessage(t, e)
		requireWithinLimits(t, msg)
	}
}

func requireWithinLimits(t *testing.T, msg map[string]any) {
	t.Helper()
	runes := func(v any) int { s, _ := v.(string); return utf8.RuneCountInString(s) }
	require.LessOrEqual(t, runes(msg["text"]), slack.FallbackRunes)
	blocks := msg["blocks"].([]any)
	require.LessOrEqual(t, len(blocks), slack.MaxBlocks)
	for _, b := range blocks {
		blk := b.(map[string]any)
		switch blk["type"] {
		case "header":
			require.LessOrEqual(t, runes(blk["text"].(map[string]any)["text"]), slack.HeaderMaxRunes)
		case "section":
			if txt, ok := blk["text"].(map[string]any); ok {
				require.LessOrEqual(t, runes(txt["text"]), slack.SectionMaxRunes)
			}
			if fs, ok := blk["fields"].([]any); ok {
				require.LessOrEqual(t, len(fs), slack.MaxFields)
				for _, f := range fs {
					require.LessOrEqual(t, runes(f.(map[string]any)["text"]), slack.FieldMaxRunes)
				}
			}
		case "context":
			els := blk["elements"].([]any)
			require.LessOrEqual(t, len(els), 10)
			for _, e := range els {
				require.LessOrEqual(t, runes(e.(map[string]any)["text"]), slack.SectionMaxRunes)
			}
		case "actions":
			for _, e := range blk["elements"].([]any) {
				btn := e.(map[string]any)
				require.LessOrEqual(t, runes(btn["text"].(map[string]any)["text"]), slack.ButtonMaxRunes)
				require.LessOrEqual(t, runes(btn["url"]), slack.URLMaxRunes)
			}
		}
	}
}
