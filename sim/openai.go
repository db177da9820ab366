package sim

import (
	"bytes"
	"cmp"
	"encoding/json"
	"io"
	"math"
	"net/http"
	"strconv"
	"time"

	"github.com/driftwatch/driftwatch/internal/jsonw"
)

const maxBodyBytes = 8 << 20

// oaRequest is the subset of OpenAI's chat completion request the simulator
// reads.
type oaRequest struct {
	Model         string      `json:"model"`
	Messages      []oaMessage `json:"messages"`
	Stream        bool        `json:"stream"`
	StreamOptions *struct {
		IncludeUsage bool `json:"include_usage"`
	} `json:"stream_options"`
	MaxTokens           int `json:"max_tokens"`
	MaxCompletionTokens int `json:"max_completion_tokens"`
	ResponseFormat      *struct {
		Type string `json:"type"`
	} `json:"response_format"`
	Tools []struct {
		Type     string `json:"type"`
		Function struct {
			Name       string          `json:"name"`
			Parameters json.RawMessage `json:"parameters"`
		} `json:"function"`
	} `json:"tools"`
	ToolChoice json.RawMessage `json:"tool_choice"`
}

type oaMessage struct {
	Role    string      `json:"role"`
	Content textContent `json:"content"`
}

// textContent reads a message content that is a string, null, or an array
// of parts; the text parts are concatenated (Anthropic's tool_result
// content is read the same way).
type textContent string

func (c *textContent) UnmarshalJSON(b []byte) error {
	b = bytes.TrimSpace(b)
	switch {
	case len(b) == 0 || b[0] == 'n':
		*c = ""
		return nil
	case b[0] == '"':
		var s string
		if err := json.Unmarshal(b, &s); err != nil {
			return err
		}
		*c = textContent(s)
		return nil
	}
	var parts []struct {
		Type    string      `json:"type"`
		Text    string      `json:"text"`
		Content textContent `json:"content"`
	}
	if err := json.Unmarshal(b, &parts); err != nil {
		return err
	}
	var s []byte
	for _, p := range parts {
		t := p.Text
		if p.Type == "tool_result" {
			t = string(p.Content)
		}
		if t == "" {
			continue
		}
		if len(s) > 0 {
			s = append(s, '\n')
		}
		s = append(s, t...)
	}
	*c = textContent(s)
	return nil
}

// readJSON decodes the request body into v using a pooled buffer.
func readJSON(r *http.Request, v any) error {
	bp := getBuf()
	defer putBuf(bp)
	buf := bytes.NewBuffer((*bp)[:0])
	_, err := buf.ReadFrom(http.MaxBytesReader(nil, r.Body, maxBodyBytes))
	*bp = buf.Bytes()
	if err != nil {
		return err
	}
	return json.Unmarshal(buf.Bytes(), v)
}

func oaError(w http.ResponseWriter, status int, typ, code, message string) {
	bp := getBuf()
	defer putBuf(bp)
	b := append((*bp)[:0], `{"error":{"message":`...)
	b = jsonw.AppendString(b, message)
	b = append(b, `,"type":`...)
	b = jsonw.AppendString(b, typ)
	b = append(b, `,"param":null,"code":`...)
	if code == "" {
		b = append(b, "null"...)
	} else {
		b = jsonw.AppendString(b, code)
	}
	b = append(b, "}}\n"...)
	*bp = b
	writeBody(w, status, "application/json", b)
}

func writeBody(w http.ResponseWriter, status int, contentType string, b []byte) {
	h := w.Header()
	h.Set("Content-Type", contentType)
	h.Set("Content-Length", strconv.Itoa(len(b)))
	w.WriteHeader(status)
	_, _ = w.Write(b)
}

func setRetryAfter(w http.ResponseWriter, d time.Duration) {
	w.Header().Set("Retry-After", strconv.Itoa(int(math.Ceil(d.Seconds()))))
	w.Header().Set("retry-after-ms", strconv.FormatInt(d.Milliseconds(), 10))
}

func (s *Server) handleChat(w http.ResponseWriter, r *http.Request) {
	if !s.checkKey(r, false) {
		s.countErr(errAuth)
		oaError(w, http.StatusUnauthorized, "invalid_request_error", "invalid_api_key", "Incorrect API key provided to the simulator.")
		return
	}
	var req oaRequest
	if err := readJSON(r, &req); err != nil {
		s.countErr(errBadRequest)
		oaError(w, http.StatusBadRequest, "invalid_request_error", "", "We could not parse the JSON body of your request (simulator).")
		return
	}
	m := s.lookup(req.Model)
	if m == nil && s.models[0].cur.Load().id.Server == ServerLlamaCPP {
		m = s.models[0] // llama-server answers with its one model whatever the request names
	}
	if m == nil {
		s.countErr(errNotFound)
		oaError(w, http.StatusNotFound, "invalid_request_error", "model_not_found",
			"The model `"+req.Model+"` does not exist in the simulator.")
		return
	}
	if len(req.Messages) == 0 {
		s.countErr(errBadRequest)
		oaError(w, http.StatusBadRequest, "invalid_request_error", "", "messages: at least one message is required.")
		return
	}
	in := genInput{
		msgs:      make([]msg, len(req.Messages)),
		maxTokens: req.MaxCompletionTokens,
		jsonMode:  req.ResponseFormat != nil && (req.ResponseFormat.Type == "json_object" || req.ResponseFormat.Type == "json_schema"),
	}
	if in.maxTokens == 0 {
		in.maxTokens = req.MaxTokens
	}
	for i, mm := range req.Messages {
		in.msgs[i] = msg{role: mm.Role, content: string(mm.Content)}
	}
	for _, t := range req.Tools {
		in.tools = append(in.tools, toolDef{name: t.Function.Name, params: t.Function.Parameters})
	}
	in.toolChoice = toolChoice(req.ToolChoice)
	adm, ok := s.limit(w, &in, false)
	if !ok {
		return
	}

	s.enter()
	defer s.leave()
	x := s.begin(m, &in)
	switch x.inject() {
	case errRateLimit:
		s.countErr(errRateLimit)
		setRetryAfter(w, x.st.profile.Errors.RetryAfter.D())
		oaError(w, http.StatusTooManyRequests, "requests", "rate_limit_exceeded",
			"Rate limit reached for simulated model "+m.name+". Please try again later.")
		return
	case errServer:
		s.countErr(errServer)
		oaError(w, http.StatusInternalServerError, "server_error", "", "The simulator injected a server error.")
		return
	case errHang:
		s.countErr(errHang)
		if s.hang(r.Context(), x) {
			oaError(w, http.StatusGatewayTimeout, "timeout", "", "The simulator held this request until it timed out.")
		}
		return
	case errMalformed:
		s.countErr(errMalformed)
		if !s.wait(r.Context(), x) {
			return
		}
		if req.Stream {
			w.Header().Set("Content-Type", "text/event-stream")
			w.WriteHeader(http.StatusOK)
			_, _ = io.WriteString(w, "data: {\"id\":\"chatcmpl-sim\",\"object\":\"chat.completion.chunk\",\"choices\":[{\"index\":0,\"delta\":{\"content\":\"The ans\n\n")
			return
		}
		writeBody(w, http.StatusOK, "application/json",
			[]byte(`{"id":"chatcmpl-sim","object":"chat.completion","choices":[{"index":0,"message":{"role":"assistant","content":"The ans`))
		return
	}
	if !s.wait(r.Context(), x) {
		return
	}

	bp := getBuf()
	defer putBuf(bp)
	tp := getBuf()
	defer putBuf(tp)
	out := x.generate(*tp, "call_")
	*tp = out.text[:0]
	s.finish(x, &out)
	s.lim.settle(adm, out.promptTokens+out.completionTokens)

	id := s.nextID()
	created := s.now().Unix()
	if req.Stream {
		includeUsage := req.StreamOptions != nil && req.StreamOptions.IncludeUsage
		b := appendOAStream((*bp)[:0], headOf(x.st, req.Model), id, created, &out, includeUsage)
		*bp = b
		h := w.Header()
		h.Set("Content-Type", "text/event-stream")
		h.Set("Cache-Control", "no-cache")
		w.WriteHeader(http.StatusOK)
		_, _ = w.Write(b)
		return
	}
	b := appendOAHead((*bp)[:0], "chat.completion", headOf(x.st, req.Model), id, created)
	b = append(b, `,"choices":[{"index":0,"message":{"role":"assistant","content":`...)
	if out.finish == finishTool {
		b = append(b, `null,"tool_calls":[`...)
		for i, c := range out.calls {
			if i > 0 {
				b = append(b, ',')
			}
			b = append(b, `{"id":`...)
			b = jsonw.AppendString(b, c.id)
			b = append(b, `,"type":"function","function":{"name":`...)
			b = jsonw.AppendString(b, c.name)
			b = append(b, `,"arguments":`...)
			b = jsonw.AppendString(b, c.args)
			b = append(b, "}}"...)
		}
		b = append(b, ']')
	} else {
		b = jsonw.AppendString(b, string(out.text))
	}
	b = append(b, `,"refusal":null},"logprobs":null,"finish_reason":"`...)
	b = append(b, oaFinish(out.finish)...)
	b = append(b, `"}],`...)
	b = appendOAUsage(b, &out)
	b = append(b, "}\n"...)
	*bp = b
	writeBody(w, http.StatusOK, "application/json", b)
}

// toolChoice reads OpenAI's tool_choice: "none" | "auto" | "required" |
// {"type":"function","function":{"name":...}}.
func toolChoice(raw json.RawMessage) string {
	raw = bytes.TrimSpace(raw)
	if len(raw) == 0 || raw[0] == 'n' && string(raw) == "null" {
		return ""
	}
	if raw[0] == '"' {
		var s string
		_ = json.Unmarshal(raw, &s) // an unreadable choice means "auto"
		return s
	}
	var o struct {
		Type     string `json:"type"`
		Name     string `json:"name"`
		Function struct {
			Name string `json:"name"`
		} `json:"function"`
	}
	if err := json.Unmarshal(raw, &o); err != nil {
		return ""
	}
	switch {
	case o.Function.Name != "":
		return o.Function.Name
	case o.Name != "":
		return o.Name
	}
	return o.Type
}

func oaFinish(f finishKind) string {
	switch f {
	case finishLength:
		return "length"
	case finishFilter:
		return "content_filter"
	case finishTool:
		return "tool_calls"
	}
	return "stop"
}

// respHead is what a chat completion says about its model.
type respHead struct{ model, fingerprint string }

// headOf is the model field and system_fingerprint of a response to a
// request for requested: the resolved model, or for a llama.cpp model the
// request's own model field echoed back and the server build.
func headOf(st *stage, requested string) respHead {
	if st.id.Server == ServerLlamaCPP {
		return respHead{model: requested, fingerprint: cmp.Or(st.id.BuildInfo, st.id.SystemFingerprint, llamaBuildDefault)}
	}
	return respHead{model: st.id.ResolvedModel, fingerprint: st.id.SystemFingerprint}
}

func appendOAHead(b []byte, object string, h respHead, id uint64, created int64) []byte {
	b = append(b, `{"id":"chatcmpl-sim`...)
	b = strconv.AppendUint(b, id, 10)
	b = append(b, `","object":"`...)
	b = append(b, object...)
	b = append(b, `","created":`...)
	b = strconv.AppendInt(b, created, 10)
	b = append(b, `,"model":`...)
	b = jsonw.AppendString(b, h.model)
	if h.fingerprint != "" {
		b = append(b, `,"system_fingerprint":`...)
		b = jsonw.AppendString(b, h.fingerprint)
	}
	return b
}

func appendOAUsage(b []byte, out *genOutput) []byte {
	b = append(b, `"usage":{"prompt_tokens":`...)
	b = strconv.AppendInt(b, int64(out.promptTokens), 10)
	b = append(b, `,"completion_tokens":`...)
	b = strconv.AppendInt(b, int64(out.completionTokens), 10)
	b = append(b, `,"total_tokens":`...)
	b = strconv.AppendInt(b, int64(out.promptTokens+out.completionTokens), 10)
	return append(b, '}')
}

// appendOAStream renders a whole OpenAI SSE stream: a role chunk, content
// (or tool call) chunks of a few words each, a finish chunk, an optional
// usage chunk, and data: [DONE].
func appendOAStream(b []byte, st respHead, id uint64, created int64, out *genOutput, includeUsage bool) []byte {
	chunk := func(b []byte) []byte {
		b = append(b, "data: "...)
		b = appendOAHead(b, "chat.completion.chunk", st, id, created)
		return append(b, `,"choices":[{"index":0,"delta":`...)
	}
	end := func(b []byte, finish string) []byte {
		b = append(b, `,"logprobs":null,"finish_reason":`...)
		b = append(b, finish...)
		b = append(b, "}]"...)
		if includeUsage {
			b = append(b, `,"usage":null`...)
		}
		return append(b, "}\n\n"...)
	}
	b = chunk(b)
	b = append(b, `{"role":"assistant","content":"","refusal":null}`...)
	b = end(b, "null")
	if out.finish == finishTool {
		for i, c := range out.calls {
			b = chunk(b)
			b = append(b, `{"tool_calls":[{"index":`...)
			b = strconv.AppendInt(b, int64(i), 10)
			b = append(b, `,"id":`...)
			b = jsonw.AppendString(b, c.id)
			b = append(b, `,"type":"function","function":{"name":`...)
			b = jsonw.AppendString(b, c.name)
			b = append(b, `,"arguments":""}}]}`...)
			b = end(b, "null")
			b = chunk(b)
			b = append(b, `{"tool_calls":[{"index":`...)
			b = strconv.AppendInt(b, int64(i), 10)
			b = append(b, `,"function":{"arguments":`...)
			b = jsonw.AppendString(b, c.args)
			b = append(b, `}}]}`...)
			b = end(b, "null")
		}
	} else {
		for text := out.text; len(text) > 0; {
			piece := nextPiece(text)
			text = text[len(piece):]
			b = chunk(b)
			b = append(b, `{"content":`...)
			b = jsonw.AppendString(b, string(piece))
			b = append(b, '}')
			b = end(b, "null")
		}
	}
	b = chunk(b)
	b = append(b, "{}"...)
	b = end(b, `"`+oaFinish(out.finish)+`"`)
	if includeUsage {
		b = append(b, "data: "...)
		b = appendOAHead(b, "chat.completion.chunk", st, id, created)
		b = append(b, `,"choices":[],`...)
		b = appendOAUsage(b, out)
		b = append(b, "}\n\n"...)
	}
	return append(b, "data: [DONE]\n\n"...)
}

// nextPiece returns the first stream piece of text: up to three words with
// their trailing spaces.
func nextPiece(text []byte) []byte {
	words := 0
	for i := 0; i < len(text); i++ {
		if text[i] == ' ' || text[i] == '\n' {
			words++
			if words == 3 {
				return text[:i+1]
			}
		}
	}
	return text
}

func (s *Server) handleModels(w http.ResponseWriter, r *http.Request) {
	if !s.checkKey(r, false) {
		s.countErr(errAuth)
		oaError(w, http.StatusUnauthorized, "invalid_request_error", "invalid_api_key", "Incorrect API key provided to the simulator.")
		return
	}
	bp := getBuf()
	defer putBuf(bp)
	b := append((*bp)[:0], `{"object":"list","data":[`...)
	created := s.started.Unix()
	for i, m := range s.models {
		st := s.current(m, m.requests.Load())
		if i > 0 {
			b = append(b, ',')
		}
		if st.id.Server == ServerLlamaCPP {
			b = appendLlamaModel(b, llamaFileOf(st.id, m.name), created)
			continue
		}
		b = append(b, `{"id":`...)
		b = jsonw.AppendString(b, m.name)
		b = append(b, `,"object":"model","created":`...)
		b = strconv.AppendInt(b, created, 10)
		b = append(b, `,"owned_by":"driftwatch-simulator","root":`...)
		b = jsonw.AppendString(b, st.id.Root)
		b = append(b, `,"parent":null,"max_model_len":`...)
		b = strconv.AppendInt(b, int64(st.id.MaxModelLen), 10)
		b = append(b, '}')
	}
	b = append(b, "]}\n"...)
	*bp = b
	if s.models[0].cur.Load().id.Server == ServerLlamaCPP {
		// llama-server's headers and unterminated body.
		w.Header().Set("Server", "llama.cpp")
		writeBody(w, http.StatusOK, "application/json; charset=utf-8", b[:len(b)-1])
		return
	}
	writeBody(w, http.StatusOK, "application/json", b)
}
