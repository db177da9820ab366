// Package slack delivers alert events to a Slack incoming webhook as Block
// Kit messages built with slack-go's types.
//
// Model output and anything derived from it is untrusted: it is escaped for
// Slack's mrkdwn (& < > become entities, so <!channel>, <@U…> and
// <https://x|label> links are inert), bare @channel/@here/@everyone are
// broken with a zero-width space, backticks are replaced so an output can't
// close its code block, and every example is truncated in runes.
package slack

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"regexp"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/slack-go/slack"

	"github.com/driftwatch/driftwatch/alert"
	"github.com/driftwatch/driftwatch/drift"
	"github.com/driftwatch/driftwatch/internal/textsafe"
	"github.com/driftwatch/driftwatch/report"
)

// Message limits. Slack rejects a section over 3000 characters and a
// header over 150.
const (
	ExampleRunes    = 300
	SectionMaxRunes = 3000
	HeaderMaxRunes  = 150
	TopCases        = 3
)

// Config is one Slack incoming webhook.
type Config struct {
	// WebhookURL is the incoming webhook's address: a secret. Required.
	WebhookURL alert.Secret `json:"webhook_url" yaml:"webhook_url"`
	// Channel overrides the webhook's default channel when set (legacy
	// webhooks only; app-scoped webhooks ignore it).
	Channel string `json:"channel,omitempty" yaml:"channel"`
}

// Notifier posts events to Slack.
type Notifier struct {
	cfg          Config
	client       *http.Client
	logger       *slog.Logger
	postJSONFunc alert.PostJSONFunc
}

// New returns a Notifier. client nil means http.DefaultClient; logger nil
// discards.
func New(cfg Config, client *http.Client, logger *slog.Logger) (*Notifier, error) {
	if cfg.WebhookURL.IsZero() {
		return nil, errors.New("slack: webhook_url is empty: set alerts.slack.webhook_url (e.g. ${SLACK_WEBHOOK_URL})")
	}
	if !cfg.WebhookURL.IsHTTPURL() {
		// Never echo the value: it is the credential.
		return nil, errors.New("slack: webhook_url is not an http(s) URL: copy it from the Slack app's Incoming Webhooks page")
	}
	if logger == nil {
		logger = slog.New(slog.DiscardHandler)
	}
	return &Notifier{cfg: cfg, client: client, logger: logger.With("component", "alert_slack"), postJSONFunc: alert.PostJSON}, nil
}

// Notify posts ev as a Block Kit message.
func (n *Notifier) Notify(ctx context.Context, ev *alert.Event) error {
	body, err := json.Marshal(Message(ev, n.cfg.Channel))
	if err != nil {
		return alert.Permanent(fmt.Errorf("slack: encode message: %w", err))
	}
	if err := n.postJSONFunc(ctx, n.client, n.cfg.WebhookURL, body, nil); err != nil {
		return fmt.Errorf("slack: %w", err)
	}
	n.logger.DebugContext(ctx, "slack message posted", "dedup_key", ev.DedupKey)
	return nil
}

// Message builds the Block Kit message for ev: a header with the verdict,
// suite and target; for a resolved event, which drift alerts it resolves;
// the identity before and after; the numbers with their CI, p and q (for a
// resolved event, the current pass rate against the baseline's); the top
// drifted cases with one before/after example each; and a button to the
// run's dashboard page when the event has a URL.
func Message(ev *alert.Event, channel string) *slack.WebhookMessage {
	title := Title(ev)
	var blocks []slack.Block
	blocks = append(blocks, slack.NewHeaderBlock(plain(alert.TruncateRunes(title, HeaderMaxRunes))))

	severity := "*Severity*\n" + ev.Severity.String()
	if ev.Kind == alert.KindResolved {
		severity = "*Status*\nresolved (was " + ev.Severity.String() + ")"
	}
	fields := []*slack.TextBlockObject{
		md("*Suite*\n" + code(ev.Suite)),
		md("*Target*\n" + code(ev.Target)),
		md(severity),
		md("*Run*\n" + runLine(ev)),
	}
	blocks = append(blocks, slack.NewSectionBlock(md(limit(Escape(ev.Reason))), fields, nil))

	if ev.Kind == alert.KindResolved && ev.Episode != nil {
		blocks = append(blocks, slack.NewSectionBlock(md("*Drift resolved*\n"+resolution(ev)), nil, nil))
	}

	if ev.Identity != nil || ev.BaselineIdentity != nil {
		label := "*Identity*"
		if ev.Kind == alert.KindIdentityChanged || ev.PinViolated {
			label = "*Identity changed*"
		}
		txt := fmt.Sprintf("%s\nbefore: %s\nafter: %s", label, identityLine(ev.BaselineIdentity), identityLine(ev.Identity))
		blocks = append(blocks, slack.NewSectionBlock(md(limit(txt)), nil, nil))
	}

	if nums := numbers(ev); nums != "" {
		blocks = append(blocks, slack.NewSectionBlock(md(limit(nums)), nil, nil))
	}

	cases := ev.Cases
	if len(cases) > TopCases {
		cases = cases[:TopCases]
	}
	if len(cases) > 0 {
		blocks = append(blocks, slack.NewDividerBlock())
		blocks = append(blocks, slack.NewSectionBlock(md(fmt.Sprintf("*Top drifted cases* (%d of %d)", len(cases), max(ev.DriftedCases, len(cases)))), nil, nil))
	}
	for _, c := range cases {
		blocks = append(blocks, slack.NewSectionBlock(md(caseText(c)), nil, nil))
	}

	ctxText := fmt.Sprintf("%d samples, %d errors · driftwatch", ev.Samples, ev.Errors)
	blocks = append(blocks, slack.NewContextBlock("", md(ctxText)))

	if ev.URL != "" {
		btn := slack.NewButtonBlockElement("open_run", strconv.FormatInt(ev.RunID, 10), plain("Open run "+strconv.FormatInt(ev.RunID, 10)))
		btn.URL = ev.URL
		blocks = append(blocks, slack.NewActionBlock("actions", btn))
	}
	summary := ev.Reason
	if ev.Kind == alert.KindResolved && ev.Episode != nil {
		summary = resolution(ev)
	}
	return &slack.WebhookMessage{
		Channel: channel,
		Text:    Escape(alert.TruncateRunes(title+": "+summary, 300)),
		Blocks:  &slack.Blocks{BlockSet: blocks},
	}
}

// Title is the message's plain-text headline, emoji-free.
func Title(ev *alert.Event) string {
	var what string
	switch ev.Kind {
	case alert.KindDrift:
		what = "DRIFT"
	case alert.KindIdentityChanged:
		what = "IDENTITY CHANGED"
		if ev.PinViolated {
			what = "PINNED IDENTITY MISMATCH"
		}
	case alert.KindInconclusive:
		what = "INCONCLUSIVE"
	case alert.KindRunFailed:
		what = "RUN FAILED"
	case alert.KindRunStopped:
		what = "RUN STOPPED"
	case alert.KindResolved:
		what = "RESOLVED"
	default:
		what = strings.ToUpper(string(ev.Kind))
	}
	return fmt.Sprintf("%s: %s on %s", what, ev.Suite, ev.Target)
}

// resolution says which drift alerts a resolved event ends: the run that is
// STABLE again, how long the drift lasted, and when and in which run it was
// first alerted (and the run of the last drift alert).
func resolution(ev *alert.Event) string {
	ep := ev.Episode
	s := fmt.Sprintf("Run %d is %s again", ev.RunID, Escape(ev.Verdict))
	if d := ev.Time.Sub(ep.FirstAlertedAt); d > 0 {
		s += " after " + age(d) + " of drift"
	}
	s += fmt.Sprintf(": first alerted %s (run %d)", ep.FirstAlertedAt.UTC().Format("2006-01-02 15:04 MST"), ep.FirstRunID)
	if ep.LastRunID != 0 && ep.LastRunID != ep.FirstRunID {
		s += fmt.Sprintf(", last alerted for run %d", ep.LastRunID)
	}
	return s + "."
}

// age renders a duration coarsely: minutes, hours, then days and hours.
func age(d time.Duration) string {
	switch {
	case d < time.Hour:
		return fmt.Sprintf("%d min", max(1, int(d/time.Minute)))
	case d < 48*time.Hour:
		return fmt.Sprintf("%d h", int(d/time.Hour))
	}
	return fmt.Sprintf("%d d %d h", int(d/(24*time.Hour)), int(d%(24*time.Hour)/time.Hour))
}

func runLine(ev *alert.Event) string {
	s := strconv.FormatInt(ev.RunID, 10)
	if len(ev.BaselineRunIDs) > 0 {
		ids := make([]string, len(ev.BaselineRunIDs))
		for i, id := range ev.BaselineRunIDs {
			ids[i] = strconv.FormatInt(id, 10)
		}
		s += " vs baseline " + strings.Join(ids, ", ")
	}
	return s
}

func numbers(ev *alert.Event) string {
	var b strings.Builder
	if v := ev.PassRate; v != nil && v.Baseline != nil {
		fmt.Fprintf(&b, "*Pass rate* %.3f → %.3f", *v.Baseline, v.Value)
		if v.Delta != nil {
			fmt.Fprintf(&b, ", change %+.3f", *v.Delta)
		}
		if v.CI != nil {
			fmt.Fprintf(&b, " (95%% CI %+.3f to %+.3f)", v.CI.Low, v.CI.High)
		}
		if v.P != nil {
			fmt.Fprintf(&b, ", p=%.2g", *v.P)
		}
		b.WriteString("\n")
	}
	if cp := ev.ChangePoint; cp != nil {
		fmt.Fprintf(&b, "*Since* run %d: %d of the last %d runs at the new pass rate (change-point probability %.2f)\n",
			cp.SinceRunID, cp.RunsSince, cp.Runs, cp.Probability)
	}
	for _, f := range ev.Findings {
		if f.Metric == drift.MetricIdentity {
			// No statistic: the reason says what changed (the identity
			// section shows before and after).
			fmt.Fprintf(&b, "• *%s*: %s\n", Escape(f.Metric), Escape(alert.TruncateRunes(f.Reason, 300)))
			continue
		}
		fmt.Fprintf(&b, "• *%s*: %.3f → %.3f, effect %+.3f", Escape(f.Metric), f.Baseline, f.Current, f.Effect)
		if f.CI != nil {
			fmt.Fprintf(&b, " (95%% CI %+.3f to %+.3f)", f.CI.Low, f.CI.High)
		}
		fmt.Fprintf(&b, ", p=%.2g, q=%.2g\n", f.P, f.Q)
		if f.Reason != "" {
			fmt.Fprintf(&b, "   _%s_\n", Escape(alert.TruncateRunes(f.Reason, 300)))
		}
	}
	return strings.TrimRight(b.String(), "\n")
}

// caseText renders one case: its key and numbers, then the before and after
// outputs in code blocks, cut so the section fits Slack's limit.
func caseText(c alert.CaseExample) string {
	head := "*Case* " + code(alert.TruncateRunes(c.Case, 200))
	if c.Metric != "" && (c.Baseline != 0 || c.Current != 0) {
		head += fmt.Sprintf(": %s %.2f → %.2f", Escape(c.Metric), c.Baseline, c.Current)
		if c.Q > 0 {
			head += fmt.Sprintf(" (q=%.2g)", c.Q)
		}
	}
	budget := (SectionMaxRunes - utf8.RuneCountInString(head) - 64) / 2
	return head + "\n*Before*\n" + codeBlock(c.Before, budget) + "\n*After*\n" + codeBlock(c.After, budget)
}

// codeBlock renders untrusted text in a ``` block: escaped, backticks
// replaced, at most ExampleRunes runes of the original and at most budget
// runes once escaped.
func codeBlock(s string, budget int) string {
	s = strings.TrimSpace(strings.ToValidUTF8(s, "\uFFFD"))
	if s == "" {
		return "_(empty output)_"
	}
	n := ExampleRunes
	out := Escape(alert.TruncateRunes(s, n))
	for utf8.RuneCountInString(out) > budget-6 && n > 1 {
		n = n * 3 / 4
		out = Escape(alert.TruncateRunes(s, n))
	}
	return "```" + out + "```"
}

var (
	mrkdwnEscaper = strings.NewReplacer("&", "&amp;", "<", "&lt;", ">", "&gt;", "`", "ˋ")
	// Bare broadcast mentions; Slack only expands the <!channel> form in
	// blocks, but the fallback text and some clients are more liberal.
	broadcastRe = regexp.MustCompile(`(?i)@(channel|here|everyone)\b`)
)

// Escape makes untrusted text inert in Slack mrkdwn: &, < and > become
// entities (so no <!channel>, <@U…>, <#C…> or <url|label> survives),
// backticks become ˋ (no breaking out of code spans or blocks), and bare
// @channel, @here and @everyone get a zero-width space after the @.
// Control characters and terminal escape sequences are removed (a message
// may be copied to a terminal).
func Escape(s string) string {
	s = mrkdwnEscaper.Replace(textsafe.Terminal(s))
	return broadcastRe.ReplaceAllString(s, "@\u200b$1")
}

func code(s string) string { return "`" + Escape(s) + "`" }

func identityLine(id *report.Identity) string {
	if id == nil {
		return "_unknown_"
	}
	var parts []string
	for _, p := range []string{id.ResolvedModel, id.Fingerprint, id.Digest} {
		if p != "" {
			parts = append(parts, code(alert.TruncateRunes(p, 100)))
		}
	}
	if len(parts) == 0 {
		return code(alert.TruncateRunes(id.RequestedModel, 100))
	}
	return strings.Join(parts, " ")
}

// limit cuts escaped mrkdwn to Slack's section limit without splitting an
// entity.
func limit(s string) string {
	if utf8.RuneCountInString(s) <= SectionMaxRunes {
		return s
	}
	s = alert.TruncateRunes(s, SectionMaxRunes-1)
	s = strings.TrimSuffix(s, "…")
	if i := strings.LastIndexByte(s, '&'); i >= 0 && i >= len(s)-5 && !strings.Contains(s[i:], ";") {
		s = s[:i]
	}
	return s + "…"
}

// md is mrkdwn with verbatim set: Slack then parses only the <…> forms
// (which Escape neutralises), not bare mentions, channel names or URLs.
func md(s string) *slack.TextBlockObject {
	return slack.NewTextBlockObject(slack.MarkdownType, s, false, true)
}

func plain(s string) *slack.TextBlockObject {
	return slack.NewTextBlockObject(slack.PlainTextType, s, false, false)
}
