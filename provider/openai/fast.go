package openai

//lint:file-ignore SA1019 go-openai still rejects its retired completions-only models, so fastEligible lists them too

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"net/http"
	"strconv"
	"strings"
	"unicode/utf8"

	goopenai "github.com/sashabaranov/go-openai"

	"github.com/driftwatch/driftwatch/eval"
	"github.com/driftwatch/driftwatch/internal/jsonw"
	"github.com/driftwatch/driftwatch/provider"
)

// The fast path sends a plain (non-streaming, tool-free) chat completion
// without go-openai: it writes the request JSON directly and decodes only
// the response fields a Response needs. go-openai marshals its full request
// struct through reflection and decodes its full response struct (every
// message twice, for multi-part content), which was a fifth of a benchmark
// run's CPU. Everything else (streams, tools, Azure, the models go-openai
// validates) keeps the go-openai path; both paths produce the same errors,
// which classify reads from the capture.

// fastEligible reports whether a client's requests may take the fast path:
// not Azure (deployment URL and api-key header), and not a model go-openai
// validates or rejects before sending (reasoning models, GPT-6, the
// completions-only GPT-3 models).
func fastEligible(fl FlavorDefaults, model string, reasoning bool) bool {
	if fl.DeploymentInPath || reasoning || strings.HasPrefix(model, "gpt-6") {
		return false
	}
	switch model {
	case goopenai.CodexCodeDavinci002, goopenai.CodexCodeCushman001, goopenai.CodexCodeDavinci001,
		goopenai.GPT3TextDavinci003, goopenai.GPT3TextDavinci002, goopenai.GPT3TextCurie001,
		goopenai.GPT3TextBabbage001, goopenai.GPT3TextAda001, goopenai.GPT3TextDavinci001,
		goopenai.GPT3DavinciInstructBeta, goopenai.GPT3Davinci, goopenai.GPT3CurieInstructBeta,
		goopenai.GPT3Curie, goopenai.GPT3Ada, goopenai.GPT3Babbage:
		return false
	}
	return true
}

// fastRequest reports whether req can take the fast path.
func (c *Client) fastRequest(req *eval.Request) bool {
	if !c.fast || req.Stream || len(req.Tools) > 0 {
		return false
	}
	for i := range req.Messages {
		if len(req.Messages[i].ToolCalls) > 0 {
			return false
		}
	}
	return true
}

// bodySize estimates the JSON size of req, to allocate its body once.
func (c *Client) bodySize(req *eval.Request) int {
	n := 128 + len(c.model)
	for i := range req.Messages {
		m := &req.Messages[i]
		n += 48 + len(m.Role) + len(m.Content) + len(m.Name) + len(m.ToolCallID)
	}
	for _, s := range req.Params.Stop {
		n += 4 + len(s)
	}
	return n + n/16 // escapes
}

// appendRequest writes the JSON body go-openai would send for req (same
// fields and omissions; field order differs, which no server minds).
func (c *Client) appendRequest(b []byte, req *eval.Request) []byte {
	b = append(b, `{"model":`...)
	b = jsonw.AppendString(b, c.model)
	b = append(b, `,"messages":[`...)
	for i := range req.Messages {
		m := &req.Messages[i]
		if i > 0 {
			b = append(b, ',')
		}
		b = append(b, `{"role":`...)
		b = jsonw.AppendString(b, m.Role)
		if m.Content != "" {
			b = append(b, `,"content":`...)
			b = jsonw.AppendString(b, m.Content)
		}
		if m.Name != "" {
			b = append(b, `,"name":`...)
			b = jsonw.AppendString(b, m.Name)
		}
		if m.ToolCallID != "" {
			b = append(b, `,"tool_call_id":`...)
			b = jsonw.AppendString(b, m.ToolCallID)
		}
		b = append(b, '}')
	}
	b = append(b, `],"stream":false`...) // go-openai sends it too
	p := &req.Params
	if p.MaxTokens > 0 {
		b = append(b, `,"max_tokens":`...)
		b = strconv.AppendInt(b, int64(p.MaxTokens), 10)
	}
	if p.Temperature != nil {
		t := float32(*p.Temperature)
		if t == 0 {
			// As buildRequest: go-openai omits a zero temperature; the
			// smallest positive float32 is greedy decoding.
			t = math.SmallestNonzeroFloat32
		}
		if t != 0 {
			b = append(b, `,"temperature":`...)
			b = appendFloat32(b, t)
		}
	}
	if p.TopP != nil {
		if t := float32(*p.TopP); t != 0 {
			b = append(b, `,"top_p":`...)
			b = appendFloat32(b, t)
		}
	}
	if len(p.Stop) > 0 {
		b = append(b, `,"stop":[`...)
		for i, s := range p.Stop {
			if i > 0 {
				b = append(b, ',')
			}
			b = jsonw.AppendString(b, s)
		}
		b = append(b, ']')
	}
	if p.Seed != nil {
		b = append(b, `,"seed":`...)
		b = strconv.AppendInt(b, int64(int(*p.Seed)), 10)
	}
	return append(b, '}')
}

// appendFloat32 formats f as encoding/json does for a float32.
func appendFloat32(b []byte, f float32) []byte {
	if math.IsNaN(float64(f)) || math.IsInf(float64(f), 0) {
		return append(b, '0') // encoding/json would fail; never produced here
	}
	abs := math.Abs(float64(f))
	format := byte('f')
	if abs != 0 && (float32(abs) < 1e-6 || float32(abs) >= 1e21) {
		format = 'e'
	}
	b = strconv.AppendFloat(b, float64(f), format, -1, 32)
	if format == 'e' {
		// clean up e-09 to e-9
		n := len(b)
		if n >= 4 && b[n-4] == 'e' && b[n-3] == '-' && b[n-2] == '0' {
			b[n-2] = b[n-1]
			b = b[:n-1]
		}
	}
	return b
}

// fastResponse is the part of a chat completion a Response needs.
type fastResponse struct {
	Model             string       `json:"model"`
	SystemFingerprint string       `json:"system_fingerprint"`
	Choices           []fastChoice `json:"choices"`
	Usage             struct {
		PromptTokens     tokenCount `json:"prompt_tokens"`
		CompletionTokens tokenCount `json:"completion_tokens"`
	} `json:"usage"`
}

type fastChoice struct {
	Message struct {
		Content   lenientString `json:"content"`
		Refusal   lenientString `json:"refusal"`
		ToolCalls []struct {
			ID       string `json:"id"`
			Function struct {
				Name      string `json:"name"`
				Arguments string `json:"arguments"`
			} `json:"function"`
		} `json:"tool_calls"`
	} `json:"message"`
	FinishReason string `json:"finish_reason"`
}

// tokenCount decodes a usage count of any JSON number form. A count that
// is not a whole number in range (a float, 1e18 written as 1e+18, a value
// past int64) decodes as -1, which provider.SanitizeUsage replaces by an
// estimate: a lying count must not fail the response.
type tokenCount int

func (n *tokenCount) UnmarshalJSON(b []byte) error {
	if string(b) == "null" {
		*n = 0
		return nil
	}
	var f float64
	if err := json.Unmarshal(b, &f); err != nil {
		return err
	}
	if f != math.Trunc(f) || f < math.MinInt32 || f > provider.MaxCallTokens {
		f = -1
	}
	*n = tokenCount(f)
	return nil
}

// lenientString decodes a JSON string, and treats null or multi-part
// (array) content as empty, as go-openai's message decoding does.
type lenientString string

func (s *lenientString) UnmarshalJSON(b []byte) error {
	if len(b) > 0 && b[0] != '"' {
		if b[0] == '[' || string(b) == "null" {
			return nil
		}
	}
	return json.Unmarshal(b, (*string)(s))
}

// plainFast is plain without go-openai: body is the request JSON.
func (c *Client) plainFast(ctx context.Context, body []byte, cp *capture, req *eval.Request) (*eval.Response, error) {
	hreq, err := http.NewRequestWithContext(ctx, http.MethodPost, c.chatURL, bytes.NewReader(body))
	if err != nil {
		return nil, err
	}
	h := make(http.Header, 3+len(c.cfg.Headers))
	if c.auth != "" {
		h["Authorization"] = []string{c.auth}
	}
	// Fresh slices: a shared one would be mutated by any Header.Add.
	h["Accept"] = []string{"application/json"}
	h["Content-Type"] = []string{"application/json"}
	for k, v := range c.cfg.Headers {
		h.Set(k, v)
	}
	hreq.Header = h
	cp.sent = true
	resp, err := c.do(hreq)
	if err != nil {
		return nil, err
	}
	cp.status, cp.header = resp.StatusCode, resp.Header
	raw, err := provider.ReadBody(resp.Body, resp.ContentLength)
	resp.Body.Close()
	if err != nil {
		return nil, fmt.Errorf("read response body: %w", err)
	}
	cp.body = raw
	if resp.StatusCode < http.StatusOK || resp.StatusCode >= http.StatusBadRequest {
		return nil, errorResponse(resp, raw)
	}
	var r fastResponse
	if !decodeFast(raw, &r) {
		r = fastResponse{}
		if err := json.Unmarshal(raw, &r); err != nil {
			return nil, err
		}
	}
	if len(r.Choices) == 0 {
		return nil, &provider.AttemptError{Kind: eval.ErrMalformed, Status: cp.status, Err: errors.New("response has no choices")}
	}
	ch := &r.Choices[0]
	out := &eval.Response{
		Text:         string(ch.Message.Content),
		FinishReason: ch.FinishReason,
		Usage:        eval.Usage{InputTokens: int(r.Usage.PromptTokens), OutputTokens: int(r.Usage.CompletionTokens)},
		Raw:          raw,
	}
	if out.Text == "" && ch.Message.Refusal != "" {
		out.Text = string(ch.Message.Refusal)
	}
	if len(ch.Message.ToolCalls) > 0 {
		out.ToolCalls = make([]eval.ToolCall, len(ch.Message.ToolCalls))
		for i, tc := range ch.Message.ToolCalls {
			out.ToolCalls[i] = eval.ToolCall{ID: tc.ID, Name: tc.Function.Name, Arguments: tc.Function.Arguments}
		}
	}
	c.finish(out, req, r.Model, r.SystemFingerprint, cp.header)
	return out, nil
}

// errorResponse is go-openai's error for a failed response, so that
// classify and errorMessage treat both paths alike.
func errorResponse(resp *http.Response, body []byte) error {
	var er goopenai.ErrorResponse
	err := json.Unmarshal(body, &er)
	if err != nil || er.Error == nil {
		re := &goopenai.RequestError{HTTPStatus: resp.Status, HTTPStatusCode: resp.StatusCode, Err: err, Body: body}
		if er.Error != nil {
			re.Err = er.Error
		}
		return re
	}
	er.Error.HTTPStatus = resp.Status
	er.Error.HTTPStatusCode = resp.StatusCode
	return er.Error
}

// decodeFast fills r from a chat completion body without reflection (and
// without the deep recursion that grows every case goroutine's stack). It
// handles the common shape only: it returns false on anything else (tool
// calls, unexpected types, malformed JSON), and the caller then decodes
// with encoding/json, which also produces the errors.
func decodeFast(b []byte, r *fastResponse) bool {
	d := fastDec{b: b}
	ok := d.object(func(key []byte) bool {
		switch string(key) {
		case "model":
			return d.str(&r.Model)
		case "system_fingerprint":
			return d.strOrNull(&r.SystemFingerprint)
		case "usage":
			return d.nullOr(func() bool {
				return d.object(func(key []byte) bool {
					switch string(key) {
					case "prompt_tokens":
						return d.int((*int)(&r.Usage.PromptTokens))
					case "completion_tokens":
						return d.int((*int)(&r.Usage.CompletionTokens))
					}
					return d.skip()
				})
			})
		case "choices":
			return d.array(func(i int) bool {
				if i > 0 {
					return d.skip()
				}
				r.Choices = make([]fastChoice, 1)
				ch := &r.Choices[0]
				return d.object(func(key []byte) bool {
					switch string(key) {
					case "finish_reason":
						return d.strOrNull(&ch.FinishReason)
					case "message":
						return d.object(func(key []byte) bool {
							switch string(key) {
							case "content":
								return d.strOrNull((*string)(&ch.Message.Content))
							case "refusal":
								return d.strOrNull((*string)(&ch.Message.Refusal))
							case "tool_calls":
								return d.null() // calls: encoding/json
							}
							return d.skip()
						})
					}
					return d.skip()
				})
			})
		}
		return d.skip()
	})
	d.ws()
	return ok && d.i == len(b)
}

type fastDec struct {
	b []byte
	i int
}

func (d *fastDec) ws() {
	for d.i < len(d.b) {
		switch d.b[d.i] {
		case ' ', '\t', '\n', '\r':
			d.i++
		default:
			return
		}
	}
}

func (d *fastDec) peek() byte {
	d.ws()
	if d.i < len(d.b) {
		return d.b[d.i]
	}
	return 0
}

// object calls field for each key, positioned at its value.
func (d *fastDec) object(field func(key []byte) bool) bool {
	if d.peek() != '{' {
		return false
	}
	d.i++
	if d.peek() == '}' {
		d.i++
		return true
	}
	for {
		key, ok := d.rawStr()
		if !ok || d.peek() != ':' {
			return false
		}
		d.i++
		if !field(key) {
			return false
		}
		switch d.peek() {
		case ',':
			d.i++
		case '}':
			d.i++
			return true
		default:
			return false
		}
	}
}

func (d *fastDec) array(elem func(i int) bool) bool {
	if d.peek() != '[' {
		return false
	}
	d.i++
	if d.peek() == ']' {
		d.i++
		return true
	}
	for n := 0; ; n++ {
		if !elem(n) {
			return false
		}
		switch d.peek() {
		case ',':
			d.i++
		case ']':
			d.i++
			return true
		default:
			return false
		}
	}
}

// rawStr returns the bytes of a string without escapes or control
// characters (false otherwise).
func (d *fastDec) rawStr() ([]byte, bool) {
	if d.peek() != '"' {
		return nil, false
	}
	start := d.i + 1
	for j := start; j < len(d.b); j++ {
		switch c := d.b[j]; {
		case c == '"':
			d.i = j + 1
			return d.b[start:j], true
		case c == '\\' || c < 0x20:
			return nil, false
		}
	}
	return nil, false
}

func (d *fastDec) str(s *string) bool {
	b, ok := d.rawStr()
	if !ok || !utf8.Valid(b) {
		return false
	}
	*s = string(b)
	return true
}

func (d *fastDec) null() bool {
	if d.peek() == 'n' && bytes.HasPrefix(d.b[d.i:], []byte("null")) {
		d.i += 4
		return true
	}
	return false
}

func (d *fastDec) nullOr(f func() bool) bool {
	if d.null() {
		return true
	}
	return f()
}

func (d *fastDec) strOrNull(s *string) bool {
	return d.null() || d.str(s)
}

func (d *fastDec) int(n *int) bool {
	d.ws()
	j := d.i
	v := 0
	for j < len(d.b) && d.b[j] >= '0' && d.b[j] <= '9' && j-d.i < 15 {
		v = v*10 + int(d.b[j]-'0')
		j++
	}
	if j == d.i || j < len(d.b) && (d.b[j] == '.' || d.b[j] == 'e' || d.b[j] == 'E' || d.b[j] >= '0' && d.b[j] <= '9') {
		return false
	}
	*n, d.i = v, j
	return true
}

// skip passes over one value of any type (strings with escapes included).
func (d *fastDec) skip() bool {
	switch c := d.peek(); {
	case c == '{':
		return d.object(func([]byte) bool { return d.skip() })
	case c == '[':
		return d.array(func(int) bool { return d.skip() })
	case c == '"':
		for j := d.i + 1; j < len(d.b); j++ {
			switch d.b[j] {
			case '\\':
				j++
			case '"':
				d.i = j + 1
				return true
			}
		}
		return false
	case c == 'n':
		return d.null()
	case c == 't' && bytes.HasPrefix(d.b[d.i:], []byte("true")):
		d.i += 4
		return true
	case c == 'f' && bytes.HasPrefix(d.b[d.i:], []byte("false")):
		d.i += 5
		return true
	case c == '-' || c >= '0' && c <= '9':
		j := d.i + 1
		for j < len(d.b) && strings.IndexByte("0123456789.eE+-", d.b[j]) >= 0 {
			j++
		}
		d.i = j
		return true
	}
	return false
}
