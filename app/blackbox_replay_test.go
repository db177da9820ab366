package app_test

// A replay endpoint for the black-box sweep (blackbox_ground_truth_test.go): an
// OpenAI chat-completions server on 127.0.0.1 that answers each prompt with
// a sample drawn from that prompt's pool of "recorded" outputs of model
// version A or B. Unlike the simulator (sim/), the outputs look like real
// LLM recordings: free prose of heavy-tailed (lognormal) length with varied
// phrasing from sample to sample, short arithmetic answers in several
// formats with occasional wrong answers, JSON that is sometimes fenced or
// broken, and refusals on sensitive prompts.
//
// Every output is a pure function of (seed, case, recording index,
// version). The semantic draws of a recording (right or wrong, which wrong
// answer, length, refusal, format) come from a stream that does not depend
// on the version, so version B differs from A only where a scenario changes
// something (common random numbers): a paraphrase keeps every answer and
// length, an accuracy drop only flips answers whose draw falls in the gap.

import (
	"encoding/json"
	"fmt"
	"hash/fnv"
	"math"
	"math/rand/v2"
	"net/http"
	"net/http/httptest"
	"sort"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/driftwatch/driftwatch/eval/check"
)

// bbKind is the kind of prompt a case is.
type bbKind uint8

const (
	bbProse     bbKind = iota // free-form explanation
	bbMath                    // short arithmetic answer
	bbJSON                    // JSON extraction
	bbSensitive               // borderline request, sometimes refused
)

var bbKindNames = [...]string{"prose", "math", "json", "sensitive"}

func (k bbKind) String() string { return bbKindNames[k] }

// bbStyle is a model version's phrasing.
type bbStyle uint8

const (
	bbStyleA        bbStyle = iota // the baseline's phrasing
	bbStyleReworded                // every sentence frame, opener and filler reworded
	bbStyleSynonyms                // the baseline's phrasing with a few words swapped
)

// bbCase is one prompt and the generation parameters of its recordings.
type bbCase struct {
	ID     string
	Kind   bbKind
	Prompt string
	Vars   map[string]any // dataset row (checks are templated over it)
	key    uint64         // hash of ID: the case's RNG stream
	lenMu  float64        // log median output tokens (prose, sensitive)
	// prose and sensitive answers
	topic string
	terms []string
	facts []bbFact
	// math
	answer   int
	wrong    []int
	pCorrect float64
	expr     string
	work     func(result int) string
	bare     float64 // probability of a bare-number answer
	// json
	person bbPerson
	pFence float64
	// sensitive
	pRefuse float64
}

type bbFact struct{ s, o, rel int }

type bbPerson struct {
	Name string `json:"name"`
	Age  int    `json:"age"`
	City string `json:"city"`
}

// bbVersion is one model version: its identity and how its outputs differ
// from version A's. The zero change fields mean "as A".
type bbVersion struct {
	Name        string // versions with the same name share their recordings
	Model       string
	Fingerprint string
	Style       bbStyle
	Verbosity   float64            // multiplies prose and answer lengths (0: 1)
	AccDrop     float64            // relative drop of P(correct) on math cases
	JSONFence   map[string]bool    // these JSON cases fence their JSON (still valid)
	JSONBroken  map[string]bool    // these JSON cases wrap it in prose or break it
	Refuse      map[string]float64 // refusal probability of these cases
	// Unique draws a fresh recording for every request instead of one of
	// poolSize recordings per case.
	Unique bool
}

// bbPoolSize is the number of recordings per case and version.
const bbPoolSize = 24

// bbReplay is the replay endpoint.
type bbReplay struct {
	URL      string
	seed     uint64
	cases    map[string]*bbCase // by prompt
	version  atomic.Pointer[bbVersion]
	requests atomic.Int64
	mu       sync.Mutex
	draws    map[string]uint64 // per case: requests so far
}

// newReplay starts the endpoint, closed when the test ends.
func newReplay(t testing.TB, seed uint64, cases []*bbCase, v *bbVersion) *bbReplay {
	t.Helper()
	r := &bbReplay{seed: seed, cases: make(map[string]*bbCase, len(cases)), draws: map[string]uint64{}}
	for _, c := range cases {
		r.cases[c.Prompt] = c
	}
	r.version.Store(v)
	srv := httptest.NewServer(http.HandlerFunc(r.serve))
	t.Cleanup(srv.Close)
	r.URL = srv.URL + "/v1"
	return r
}

// bbChatRequest is the part of a chat completion request the replay reads.
type bbChatRequest struct {
	Model       string   `json:"model"`
	MaxTokens   int      `json:"max_tokens"`
	Temperature *float64 `json:"temperature"`
	MaxCompl    int      `json:"max_completion_tokens"`
	Stream      bool     `json:"stream"`
	Messages    []struct {
		Role    string `json:"role"`
		Content string `json:"content"`
	} `json:"messages"`
}

func (r *bbReplay) serve(w http.ResponseWriter, req *http.Request) {
	if req.Method != http.MethodPost || !strings.HasSuffix(req.URL.Path, "/chat/completions") {
		http.Error(w, `{"error":{"message":"not found","type":"invalid_request_error"}}`, http.StatusNotFound)
		return
	}
	var in bbChatRequest
	if err := json.NewDecoder(req.Body).Decode(&in); err != nil || len(in.Messages) == 0 || in.Stream {
		http.Error(w, `{"error":{"message":"bad request","type":"invalid_request_error"}}`, http.StatusBadRequest)
		return
	}
	var prompt string
	promptTokens := 0
	for _, m := range in.Messages {
		promptTokens += bbTokens(m.Content) + 4
		if m.Role == "user" {
			prompt = m.Content
		}
	}
	c := r.cases[prompt]
	if c == nil {
		http.Error(w, `{"error":{"message":"no recording for this prompt","type":"invalid_request_error"}}`, http.StatusNotFound)
		return
	}
	v := r.version.Load()
	r.mu.Lock()
	n := r.draws[c.ID]
	r.draws[c.ID] = n + 1
	r.mu.Unlock()
	pick := rand.New(rand.NewPCG(r.seed^0x5eed, c.key+n))
	var text string
	var tokens int
	switch {
	case in.Temperature != nil && *in.Temperature < 1e-6: // the provider sends 0 as 1e-45
		text, tokens = c.greedy(r.seed, pick, v)
	case v.Unique:
		text, tokens = c.generate(r.seed, n, v)
	default:
		text, tokens = c.generate(r.seed, uint64(pick.IntN(bbPoolSize)), v)
	}
	finish := "stop"
	maxTok := max(in.MaxTokens, in.MaxCompl)
	if maxTok > 0 && tokens > maxTok {
		text, tokens, finish = bbTruncate(text, maxTok), maxTok, "length"
	}
	id := r.requests.Add(1)
	resp := map[string]any{
		"id":                 fmt.Sprintf("chatcmpl-bb%012d", id),
		"object":             "chat.completion",
		"created":            time.Now().Unix(),
		"model":              v.Model,
		"system_fingerprint": v.Fingerprint,
		"choices": []map[string]any{{
			"index":         0,
			"message":       map[string]any{"role": "assistant", "content": text, "refusal": nil},
			"logprobs":      nil,
			"finish_reason": finish,
		}},
		"usage": map[string]any{"prompt_tokens": promptTokens, "completion_tokens": tokens, "total_tokens": promptTokens + tokens},
	}
	b, err := json.Marshal(resp)
	if err != nil {
		http.Error(w, err.Error(), http.StatusInternalServerError)
		return
	}
	h := w.Header()
	h.Set("Content-Type", "application/json")
	h.Set("x-request-id", "req_"+strconv.FormatInt(id, 36)) // per request: never part of the identity
	h.Set("openai-processing-ms", strconv.Itoa(200+int(id%700)))
	h.Set("openai-version", "2020-10-01")
	_, _ = w.Write(b)
}

// Use switches the endpoint to another model version.
func (r *bbReplay) Use(v *bbVersion) { r.version.Store(v) }

// bbTokens estimates tokens the way BPE tokenizers roughly count English:
// about four bytes per token.
func bbTokens(s string) int {
	return (len(s) + 3) / 4
}

// bbTruncate cuts text to about max tokens (a truncated recording).
func bbTruncate(text string, maxTok int) string {
	words := strings.Fields(text)
	keep := min(len(words), maxTok*4/(1+bbTokens(text)*4/max(1, len(words))))
	// Keep the line structure of the part that stays.
	out, seen := []byte{}, 0
	for i := 0; i < len(text) && seen < keep; {
		j := i
		for j < len(text) && (text[j] == ' ' || text[j] == '\n') {
			j++
		}
		k := j
		for k < len(text) && text[k] != ' ' && text[k] != '\n' {
			k++
		}
		if k > j {
			seen++
		}
		out = append(out, text[i:k]...)
		i = k
	}
	return string(out)
}

func bbHash(s string) uint64 {
	h := fnv.New64a()
	_, _ = h.Write([]byte(s))
	return h.Sum64()
}

// draws are the semantic random numbers of one recording: shared by every
// version, so versions differ only where their parameters do.
type bbDraws struct {
	r *rand.Rand
}

func (d bbDraws) u() float64  { return d.r.Float64() }
func (d bbDraws) n(k int) int { return d.r.IntN(k) }
func (d bbDraws) z() float64  { return d.r.NormFloat64() }

// generate renders recording idx of the case as version v would have
// answered: the text and its completion tokens.
func (c *bbCase) generate(seed, idx uint64, v *bbVersion) (string, int) {
	d := bbDraws{rand.New(rand.NewPCG(seed^c.key, idx))}
	verb := v.Verbosity
	if verb == 0 {
		verb = 1
	}
	var text string
	switch c.Kind {
	case bbProse:
		text = c.prose(d, v.Style, verb, false)
	case bbMath:
		text = c.math(d, v)
	case bbJSON:
		text = c.json(d, v)
	case bbSensitive:
		if d.u() < c.refusal(v) {
			text = bbRefusal(d, v.Style, c)
		} else {
			text = c.prose(d, v.Style, verb, true)
		}
	}
	if v.Style == bbStyleSynonyms {
		text = bbSwapSynonyms(text, rand.New(rand.NewPCG(seed^c.key^0x51, idx)))
	}
	return text, bbTokens(text)
}

// refusal is the case's refusal probability in version v.
func (c *bbCase) refusal(v *bbVersion) float64 {
	if q, ok := v.Refuse[c.ID]; ok {
		return q
	}
	return c.pRefuse
}

// refuses reports whether recording idx is a refusal: the first semantic
// draw of a sensitive case decides (see generate).
func (c *bbCase) refuses(seed, idx uint64, v *bbVersion) bool {
	return c.Kind == bbSensitive && rand.New(rand.NewPCG(seed^c.key, idx)).Float64() < c.refusal(v)
}

// greedy returns a recording of the case at temperature 0, where real
// endpoints are not deterministic either (batching, hardware;
// section 3): nine requests in ten get the dominant recording, the tenth
// one of three alternatives that, for prose, share the dominant one's first
// 40-90% and continue differently (a late divergence), and for short
// answers, JSON and refusals are recordings of their own.
func (c *bbCase) greedy(seed uint64, pick *rand.Rand, v *bbVersion) (string, int) {
	const alternatives = 3
	dom, _ := c.generate(seed, 0, v)
	if pick.Float64() < 0.9 {
		return dom, bbTokens(dom)
	}
	idx := uint64(1 + pick.IntN(alternatives))
	alt, _ := c.generate(seed, idx, v)
	if c.Kind == bbProse || c.Kind == bbSensitive && !c.refuses(seed, 0, v) && !c.refuses(seed, idx, v) {
		frac := 0.4 + 0.5*rand.New(rand.NewPCG(seed^c.key^0x9e, idx)).Float64()
		dw, aw := strings.SplitAfter(dom, " "), strings.SplitAfter(alt, " ")
		cut := int(frac * float64(len(dw)))
		alt = strings.Join(dw[:cut], "") + strings.Join(aw[min(cut, len(aw)):], "")
	}
	return alt, bbTokens(alt)
}

// Phrasing of the two styles, in pairs of about equal length so that a
// reworded answer has the length of the original.
var bbFrames = [2][]string{
	{
		"{S} {V} the {O}.",
		"In most setups, {S} {V} the {O}.",
		"The key idea is that {S} {V} the {O}.",
		"{S} will {Vb} the {O} whenever it needs to.",
		"You can rely on {S} to {Vb} the {O}.",
		"Because {S} {V} the {O}, the whole system stays consistent.",
		"Note that {S} also {V} the {O}.",
		"When a request arrives, {S} {V} the {O} first.",
		"In other words, {S} is there to {Vb} the {O}.",
		"A common mistake is to forget that {S} {V} the {O}.",
	},
	{
		"It is {S} that {V} {O}.",
		"Typically, {S} is what {V} the {O}.",
		"Think of {S} as what {V} the {O}.",
		"As needed, {S} goes ahead and {V} the {O}.",
		"{S} can be trusted to {Vb} the {O}.",
		"The system remains coherent overall since {S} {V} the {O}.",
		"{S} {V} the {O} as well.",
		"As soon as a request comes in, {S} {V} the {O}.",
		"Put differently, the job of {S} is to {Vb} {O}.",
		"People often overlook how {S} {V} the {O}.",
	},
}

var bbRelations = [2][][2]string{
	{{"handles", "handle"}, {"stores", "store"}, {"checks", "check"}, {"sends", "send"}, {"caches", "cache"},
		{"tracks", "track"}, {"updates", "update"}, {"controls", "control"}, {"depends on", "depend on"},
		{"protects", "protect"}, {"speeds up", "speed up"}, {"simplifies", "simplify"}},
	{{"takes care of", "take care of"}, {"keeps", "keep"}, {"verifies", "verify"}, {"passes along", "pass along"},
		{"remembers", "remember"}, {"monitors", "monitor"}, {"refreshes", "refresh"}, {"governs", "govern"},
		{"relies on", "rely on"}, {"guards", "guard"}, {"accelerates", "accelerate"}, {"streamlines", "streamline"}},
}

var bbOpeners = [2][]string{
	{"", "", "Sure! ", "Great question. ", "Here's a simple explanation. ", "Happy to explain. ", "Let's break it down. "},
	{"", "", "Of course! ", "Good question. ", "Here is a plain overview. ", "Glad to walk through it. ", "Let me unpack this. "},
}

var bbClosers = [2][]string{
	{"", "", "Let me know if you'd like more detail!", "Hope this helps.", "In short, {T} comes down to {A} and {B}."},
	{"", "", "Happy to go deeper if that's useful!", "I hope that clarifies it.", "To sum up, {T} is mostly about {A} and {B}."},
}

var bbFillers = [2][]string{
	{
		"This matters in production because small delays add up.",
		"It is worth testing this early rather than late.",
		"Most teams start with the defaults and tune them later.",
		"The trade-off is usually between speed and safety.",
		"Monitoring helps you catch problems before users do.",
		"Documentation for this tends to be scattered, so keep notes.",
		"There are edge cases, but the basic idea is simple.",
		"For small projects you can often ignore this entirely.",
		"Keep in mind that defaults differ between versions.",
		"It helps to draw the flow on paper the first time.",
	},
	{
		"In production this counts, since little delays accumulate.",
		"Testing this early beats discovering it late.",
		"Teams tend to keep the defaults at first and adjust afterwards.",
		"You are generally trading speed against safety here.",
		"With monitoring in place you notice issues before your users.",
		"Docs on this are often spread around, so write things down.",
		"Edge cases exist, yet the core concept is straightforward.",
		"Smaller projects can frequently skip this altogether.",
		"Bear in mind the defaults change from version to version.",
		"Sketching the flow by hand the first time is useful.",
	},
}

var bbHeaders = [2]string{"### How {T} works", "### {T}, explained"}

func bbStyleIndex(s bbStyle) int {
	if s == bbStyleReworded {
		return 1
	}
	return 0
}

// prose renders an explanation: opener, sentences about the case's facts
// (random order, random frames) and fillers, in paragraphs or a list, and
// a closer. The number of sentences follows a lognormal token target.
func (c *bbCase) prose(d bbDraws, style bbStyle, verbosity float64, caveat bool) string {
	si := bbStyleIndex(style)
	target := math.Exp(c.lenMu+0.45*d.z()) * verbosity
	nSent := max(2, int(math.Round(target/13)))
	layout := d.n(10) // 0-5 paragraphs, 6-8 bullets, 9 header + paragraphs
	var b strings.Builder
	if layout == 9 {
		b.WriteString(strings.ReplaceAll(bbHeaders[si], "{T}", bbTitle(c.topic)))
		b.WriteString("\n\n")
	}
	opener := bbOpeners[si][d.n(len(bbOpeners[si]))]
	if caveat {
		opener = [2][]string{
			{"This is a common situation. ", "Be careful and check local rules first. ", "Safety first: ", ""},
			{"Plenty of people run into this. ", "Check the local regulations before you start. ", "Safety comes first: ", ""},
		}[si][d.n(4)]
	}
	b.WriteString(opener)
	perm := d.r.Perm(len(c.facts))
	for i := range nSent {
		var s string
		if d.u() < 0.75 {
			f := c.facts[perm[i%len(perm)]]
			fr := bbFrames[si][d.n(len(bbFrames[si]))]
			rel := bbRelations[si][f.rel]
			s = strings.NewReplacer("{S}", c.terms[f.s], "{O}", c.terms[f.o], "{V}", rel[0], "{Vb}", rel[1]).Replace(fr)
			s = strings.ToUpper(s[:1]) + s[1:]
		} else {
			s = bbFillers[si][d.n(len(bbFillers[si]))]
		}
		switch {
		case layout >= 6 && layout <= 8 && i > 0:
			b.WriteString("\n- ")
		case i > 0 && i%4 == 0:
			b.WriteString("\n\n")
		case i > 0:
			b.WriteString(" ")
		}
		b.WriteString(s)
	}
	if cl := bbClosers[si][d.n(len(bbClosers[si]))]; cl != "" {
		a, bb := d.n(len(c.terms)), d.n(len(c.terms))
		b.WriteString("\n\n")
		b.WriteString(strings.NewReplacer("{T}", c.topic, "{A}", c.terms[a], "{B}", c.terms[bb]).Replace(cl))
	}
	return b.String()
}

func bbTitle(s string) string { return strings.ToUpper(s[:1]) + s[1:] }

// math renders a short answer: right with the case's probability (lower by
// AccDrop in version B, same draw), otherwise one of the case's typical
// wrong answers, in one of several formats.
func (c *bbCase) math(d bbDraws, v *bbVersion) string {
	si := bbStyleIndex(v.Style)
	uCorrect, uWrong, uFmt, nFmt := d.u(), d.u(), d.u(), d.n(4)
	res := c.answer
	if uCorrect >= c.pCorrect*(1-v.AccDrop) {
		switch {
		case uWrong < 0.6:
			res = c.wrong[0]
		case uWrong < 0.9:
			res = c.wrong[1]
		default:
			res = c.wrong[2]
		}
	}
	a := strconv.Itoa(res)
	if uFmt < c.bare {
		return a
	}
	formats := [2][]string{ // pairs of equal length
		{"The answer is {A}.", "{E} = {A}", "**{A}**", "{W}\n\nSo the answer is {A}."},
		{"The result is {A}.", "{E} → {A}", "__{A}__", "{W}\n\nSo the result is {A}."},
	}[si]
	return strings.NewReplacer("{A}", a, "{E}", c.expr, "{W}", c.work(res)).Replace(formats[nFmt])
}

// json renders the extraction: compact, spaced or pretty, keys in varying
// order; sometimes fenced, rarely wrapped in prose, broken or wrong.
func (c *bbCase) json(d bbDraws, v *bbVersion) string {
	uFence, uPreface, uBroken, uWrong, uChange := d.u(), d.u(), d.u(), d.u(), d.u()
	layout, order := d.n(3), d.n(3)
	p := c.person
	age := strconv.Itoa(p.Age)
	if uWrong < 0.02 {
		age = strconv.Quote(age) // a string where the schema wants an integer
	}
	keys := [3][2]string{{"name", strconv.Quote(p.Name)}, {"age", age}, {"city", strconv.Quote(p.City)}}
	switch order {
	case 1:
		keys[1], keys[2] = keys[2], keys[1]
	case 2:
		keys[0], keys[1] = keys[1], keys[0]
	}
	var parts []string
	for _, kv := range keys {
		sep := ": "
		if layout == 0 {
			sep = ":"
		}
		parts = append(parts, strconv.Quote(kv[0])+sep+kv[1])
	}
	var js string
	switch layout {
	case 0:
		js = "{" + strings.Join(parts, ",") + "}"
	case 1:
		js = "{" + strings.Join(parts, ", ") + "}"
	default:
		js = "{\n  " + strings.Join(parts, ",\n  ") + "\n}"
	}
	broken := uBroken < 0.01
	fence := uFence < c.pFence
	preface := uPreface < 0.01
	if v.JSONFence[c.ID] && uChange < 0.85 {
		fence = true
	}
	if v.JSONBroken[c.ID] && uChange < 0.85 {
		if uChange < 0.45 {
			preface = true
		} else {
			broken = true
		}
	}
	if broken {
		if layout == 2 {
			js = strings.TrimSuffix(js, "\n}") + ",\n}" // trailing comma
		} else {
			js = strings.TrimSuffix(js, "}") // cut off
		}
	}
	switch {
	case preface:
		intro := [2]string{"Here is the extracted data:", "Here's the JSON you asked for:"}[bbStyleIndex(v.Style)]
		return intro + "\n\n```json\n" + js + "\n```"
	case fence:
		return "```json\n" + js + "\n```"
	}
	return js
}

// bbRefusal renders a refusal.
func bbRefusal(d bbDraws, style bbStyle, c *bbCase) string {
	rs := [2][]string{
		{
			"I'm sorry, but I can't help with that.",
			"I can't help with {X}.",
			"I'm not able to provide instructions for that. If this is urgent, please contact a professional who can help safely.",
			"Sorry, but I can't assist with that request.",
			"I can't provide guidance on {X}, as it could be misused. If you're in a difficult situation, a licensed professional can help.",
		},
		{
			"Sorry, but I can't help with this one.",
			"I'm not able to help with {X}.",
			"I am unable to provide steps for that. For anything urgent, please reach out to a qualified professional.",
			"I'm sorry, but I can't assist with this request.",
			"I can't give advice on {X} because it could be misused. A licensed professional is the right person to ask.",
		},
	}[bbStyleIndex(style)]
	return strings.ReplaceAll(rs[d.n(len(rs))], "{X}", c.topic)
}

// bbSynonyms are word swaps that keep the meaning (a light paraphrase).
var bbSynonyms = map[string]string{
	"usually": "typically", "simple": "straightforward", "most": "many", "start": "begin", "small": "minor",
	"problems": "issues", "also": "additionally", "first": "initially", "helps": "assists", "common": "frequent",
	"whole": "entire", "often": "frequently", "rather": "instead", "keep": "retain", "basic": "fundamental",
	"answer": "result", "great": "good", "break": "split", "like": "want",
}

// bbSwapSynonyms swaps each word of the list with probability 0.5.
func bbSwapSynonyms(text string, r *rand.Rand) string {
	var b strings.Builder
	start := -1
	flush := func(end int) {
		w := text[start:end]
		if s, ok := bbSynonyms[w]; ok && r.Float64() < 0.5 {
			w = s
		}
		b.WriteString(w)
		start = -1
	}
	for i := 0; i < len(text); i++ {
		ch := text[i]
		letter := ch >= 'a' && ch <= 'z'
		switch {
		case letter && start < 0:
			start = i
		case !letter && start >= 0:
			flush(i)
			b.WriteByte(ch)
		case !letter:
			b.WriteByte(ch)
		}
	}
	if start >= 0 {
		flush(len(text))
	}
	return b.String()
}

// TestBlackboxReplayLooksRecorded checks the properties of the replayed
// outputs that make the sweep realistic: varied phrasing of one prompt,
// heavy-tailed lengths, refusals that the runner flags as refusals (and
// answers it does not), JSON that is valid most of the time, and rewordings
// that keep each recording's length.
func TestBlackboxReplayLooksRecorded(t *testing.T) {
	t.Parallel()
	cases := bbCases(1, bbDefaultSizes)
	a, re := bbVersionA(), bbVersionA()
	re.Style = bbStyleReworded
	var proseTokens []float64
	var distinct, total, refusals, jsonValid, jsonN, fenced int
	var lenA, lenB float64
	recordings := uint64(bbPoolSize)
	if bbRaceEnabled {
		recordings = 6 // the refusal rules are slow under the race detector
	}
	for _, c := range cases {
		seen := map[string]bool{}
		for i := range recordings {
			for _, v := range []*bbVersion{a, re} {
				text, tokens := c.generate(1, i, v)
				refused := check.IsRefusal(text)
				if c.Kind == bbSensitive && refused {
					refusals++
				}
				require.Equal(t, c.refuses(1, i, v), refused, "refusal flag of %q", text)
				if v != a {
					lenB += float64(tokens)
					continue
				}
				lenA += float64(tokens)
				switch c.Kind {
				case bbProse:
					proseTokens = append(proseTokens, float64(tokens))
					total++
					if !seen[text] {
						distinct++
						seen[text] = true
					}
				case bbJSON:
					jsonN++
					if check.JSONValid(text) {
						jsonValid++
					}
					if check.HasCodeFence(text) {
						fenced++
					}
				}
			}
		}
	}
	require.Greater(t, float64(distinct)/float64(total), 0.95, "a prompt's recordings are worded differently")
	sort.Float64s(proseTokens)
	p50, p99 := proseTokens[len(proseTokens)/2], proseTokens[len(proseTokens)*99/100]
	require.Greater(t, p99/p50, 3.0, "heavy-tailed lengths: p50 %.0f, p99 %.0f tokens", p50, p99)
	require.Positive(t, refusals)
	require.InDelta(t, 0.96, float64(jsonValid)/float64(jsonN), 0.03, "JSON valid rate")
	require.InDelta(t, 0.09, float64(fenced)/float64(jsonN), 0.04, "JSON fence rate")
	require.InDelta(t, 1, lenB/lenA, 0.03, "rewording keeps lengths")
}
