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

// Message limits. Slack's Block Kit reference: at most 50 blocks in a
// message; a section's text at most 3000 characters, its fields at most 10
// of at most 2000 characters each; a header's text at most 150; a context
// block at most 10 elements; a button's text at most 75 characters and its
// URL at most 3000. The message's top-level text (the notification) is cut
// well below Slack's 40,000 at FallbackRunes.
const (
	ExampleRunes    = 300
	SectionMaxRunes = 3000
	FieldMaxRunes   = 2000
	HeaderMaxRunes  = 150
	ButtonMaxRunes  = 75
	URLMaxRunes     = 3000
	MaxBlocks       = 50
	MaxFields       = 10
	FallbackRunes   = 300
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
// suite and target; the plain-language "why" (Event.Summary) with the suite,
// target, severity and run; for a resolved event, which drift alerts it
// resolves; the identity before → after; the numbers (pass rate with its CI,
// since when, each alarm in words with its p and q); the drifted cases or,
// when no case drifted on its own, example outputs, each with one
// before/after pair; and a link and button to the run's dashboard page when
// the event has a URL. It stays within Slack's limits (see the constants).
func Message(ev *alert.Event, channel string) *slack.WebhookMessage {
	title := Title(ev)
	var blocks []slack.Block
	blocks = append(blocks, slack.NewHeaderBlock(plain(alert.TruncateRunes(title, HeaderMaxRunes))))

	severity := "*Severity*\n" + ev.Severity.String()
	if ev.Kind == alert.KindResolved {
		severity = "*Status*\nresolved (was " + ev.Severity.String() + ")"
	}
	fields := []*slack.TextBlockObject{
		md(limitTo("*Suite*\n"+code(alert.TruncateRunes(ev.Suite, 500)), FieldMaxRunes)),
		md(limitTo("*Target*\n"+code(alert.TruncateRunes(ev.Target, 500)), FieldMaxRunes)),
		md(severity),
		md(limitTo("*Run*\n"+runLine(ev), FieldMaxRunes)),
	}
	why := summary(ev)
	blocks = append(blocks, slack.NewSectionBlock(md(limit("*Why* "+commandSpans(Escape(why)))), fields, nil))

	if ev.Kind == alert.KindResolved && ev.Episode != nil {
		blocks = append(blocks, slack.NewSectionBlock(md("*Drift resolved*\n"+resolution(ev)), nil, nil))
	}

	if ev.Identity != nil || ev.BaselineIdentity != nil {
		txt := "*Identity* " + identityLine(ev.Identity)
		if ev.Kind == alert.KindIdentityChanged || ev.PinViolated || (ev.BaselineIdentity != nil && identityLine(ev.BaselineIdentity) != identityLine(ev.Identity)) {
			txt = fmt.Sprintf("*Identity changed* %s → %s", identityLine(ev.BaselineIdentity), identityLine(ev.Identity))
		}
		blocks = append(blocks, slack.NewSectionBlock(md(limit(txt)), nil, nil))
	}

	if nums := numbers(ev); nums != "" {
		blocks = append(blocks, slack.NewSectionBlock(md(limit(nums)), nil, nil))
	}

	// Per-case findings are the drifted cases; examples of suite-level
	// alarms illustrate them. The label says which the list is.
	var drifted, examples []alert.CaseExample
	for _, c := range ev.Cases {
		if c.Metric == drift.MetricCasePass {
			drifted = append(drifted, c)
		} else {
			examples = append(examples, c)
		}
	}
	room := TopCases
	if len(drifted) > 0 {
		shown := drifted[:min(len(drifted), room)]
		room -= len(shown)
		blocks = append(blocks, slack.NewDividerBlock(),
			slack.NewSectionBlock(md(fmt.Sprintf("*Drifted cases* (%d of %d, one before/after example each)", len(shown), max(ev.DriftedCases, len(drifted)))), nil, nil))
		for _, c := range shown {
			blocks = append(blocks, slack.NewSectionBlock(md(caseText(c)), nil, nil))
		}
	}
	if len(examples) > 0 && room > 0 {
		shown := examples[:min(len(examples), room)]
		label := "*Example outputs* (before → after; no single case drifted on its own)"
		if len(drifted) > 0 {
			label = "*Example outputs* (before → after)"
		}
		blocks = append(blocks, slack.NewDividerBlock(), slack.NewSectionBlock(md(label), nil, nil))
		for _, c := range shown {
			blocks = append(blocks, slack.NewSectionBlock(md(caseText(c)), nil, nil))
		}
	}

	ctxText := fmt.Sprintf("%d samples, %d errors · driftwatch", ev.Samples, ev.Errors)
	if link := runLink(ev); link != "" {
		ctxText = link + " · " + ctxText
	}
	blocks = append(blocks, slack.NewContextBlock("", md(limit(ctxText))))

	if ev.URL != "" && utf8.RuneCountInString(ev.URL) <= URLMaxRunes {
		label := alert.TruncateRunes("Open run "+strconv.FormatInt(ev.RunID, 10), ButtonMaxRunes)
		btn := slack.NewButtonBlockElement("open_run", strconv.FormatInt(ev.RunID, 10), plain(label))
		btn.URL = ev.URL
		blocks = append(blocks, slack.NewActionBlock("actions", btn))
	}
	if len(blocks) > MaxBlocks { // unreachable with TopCases; kept as the contract
		blocks = blocks[:MaxBlocks]
	}
	text := why
	if ev.Kind == alert.KindResolved && ev.Episode != nil {
		text = resolution(ev)
	}
	return &slack.WebhookMessage{
		Channel: channel,
		Text:    commandSpans(limitTo(Escape(alert.TruncateRunes(title+": "+text, FallbackRunes)), FallbackRunes)),
		Blocks:  &slack.Blocks{BlockSet: blocks},
	}
}

// acceptRe finds the escaped re-baseline command of a summary: only digits
// inside, so it is safe to show as a code span again.
var acceptRe = regexp.MustCompile("ˋ(driftwatch baseline accept [0-9]+)ˋ")

// commandSpans turns the escaped re-baseline command back into a code span.
func commandSpans(escaped string) string { return acceptRe.ReplaceAllString(escaped, "`$1`") }

// summary is what the message says first: the event's plain-language
// summary, else (an event queued by an older version) its reason.
func summary(ev *alert.Event) string {
	if ev.Summary != "" {
		return ev.Summary
	}
	return ev.Reason
}

// runLink is a mrkdwn link to the run's dashboard page, "" without a URL
// (or one Slack would not take).
func runLink(ev *alert.Event) string {
	if ev.URL == "" || utf8.RuneCountInString(ev.URL) > URLMaxRunes || strings.ContainsAny(ev.URL, "|<> ") {
		return ""
	}
	return "<" + strings.ReplaceAll(ev.URL, "&", "&amp;") + "|run " + strconv.FormatInt(ev.RunID, 10) + " on the dashboard>"
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
		if cp.SinceRunID != 0 && !cp.SinceUnclear {
			fmt.Fprintf(&b, "*Since* run %d, the first run at the new pass rate (%d of the last %d runs; probability %.2f)\n",
				cp.SinceRunID, cp.RunsSince, cp.Runs, cp.Probability)
		} else {
			b.WriteString("*Since* unclear: no single run is the likely start of the change\n")
		}
	}
	for _, f := range ev.Findings {
		if f.Metric == drift.MetricIdentity {
			// No statistic: the identity section shows before and after.
			if f.Statistic == "pin" {
				fmt.Fprintf(&b, "• %s\n", Escape(alert.TruncateRunes(report.FindingText(f), 300)))
			}
			continue
		}
		fmt.Fprintf(&b, "• %s", Escape(alert.TruncateRunes(report.FindingText(f), 300)))
		if f.Metric != drift.MetricCUSUM {
			fmt.Fprintf(&b, " · p=%.2g, q=%.2g", f.P, f.Q)
		}
		b.WriteString("\n")
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
func limit(s string) string { return limitTo(s, SectionMaxRunes) }

// limitTo cuts escaped mrkdwn to n runes without splitting an entity.
func limitTo(s string, n int) string {
	if utf8.RuneCountInString(s) <= n {
		return s
	}
	s = alert.TruncateRunes(s, n-1)
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
