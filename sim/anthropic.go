package sim

import (
	"bytes"
	"encoding/json"
	"io"
	"net/http"
	"strconv"

	"github.com/driftwatch/driftwatch/internal/jsonw"
)

// anRequest is the subset of Anthropic's Messages request the simulator
// reads.
type anRequest struct {
	Model     string      `json:"model"`
	MaxTokens int         `json:"max_tokens"`
	System    textContent `json:"system"`
	Messages  []anMessage `json:"messages"`
	Stream    bool        `json:"stream"`
	Tools     []struct {
		Name        string          `json:"name"`
		InputSchema json.RawMessage `json:"input_schema"`
	} `json:"tools"`
	ToolChoice *struct {
		Type string `json:"type"`
		Name string `json:"name"`
	} `json:"tool_choice"`
}

type anMessage struct {
	Role    string    `json:"role"`
	Content anContent `json:"content"`
}

// anContent is a message content: a string or an array of blocks. A user
// message carrying a tool_result block is treated as a tool message.
type anContent struct {
	text       string
	toolResult bool
}

func (c *anContent) UnmarshalJSON(b []byte) error {
	b = bytes.TrimSpace(b)
	if len(b) > 0 && b[0] == '[' {
		var blocks []struct {
			Type string `json:"type"`
		}
		if err := json.Unmarshal(b, &blocks); err != nil {
			return err
		}
		for _, bl := range blocks {
			if bl.Type == "tool_result" {
				c.toolResult = true
			}
		}
	}
	var t textContent
	if err := t.UnmarshalJSON(b); err != nil {
		return err
	}
	c.text = string(t)
	return nil
}

func anError(w http.ResponseWriter, status int, typ, message string) {
	bp := getBuf()
	defer putBuf(bp)
	b := append((*bp)[:0], `{"type":"error","error":{"type":`...)
	b = jsonw.AppendString(b, typ)
	b = append(b, `,"message":`...)
	b = jsonw.AppendString(b, message)
	b = append(b, "}}\n"...)
	*bp = b
	writeBody(w, status, "application/json", b)
}

func (s *Server) handleMessages(w http.ResponseWriter, r *http.Request) {
	w.Header().Set("request-id", "req_sim"+strconv.FormatUint(s.nextID(), 10))
	if !s.checkKey(r, true) {
		s.countErr(errAuth)
		anError(w, http.StatusUnauthorized, "authentication_error", "invalid x-api-key (simulator)")
		return
	}
	if s.cfg.RequireAnthropicVersion && r.Header.Get("anthropic-version") == "" {
		s.countErr(errBadRequest)
		anError(w, http.StatusBadRequest, "invalid_request_error", "anthropic-version: header is required")
		return
	}
	var req anRequest
	if err := readJSON(r, &req); err != nil {
		s.countErr(errBadRequest)
		anError(w, http.StatusBadRequest, "invalid_request_error", "The request body is not valid JSON (simulator).")
		return
	}
	m := s.lookup(req.Model)
	switch {
	case m == nil:
		s.countErr(errNotFound)
		anError(w, http.StatusNotFound, "not_found_error", "model: "+req.Model+" is not a simulated model")
		return
	case req.MaxTokens <= 0:
		s.countErr(errBadRequest)
		anError(w, http.StatusBadRequest, "invalid_request_error", "max_tokens: Field required")
		return
	case len(req.Messages) == 0:
		s.countErr(errBadRequest)
		anError(w, http.StatusBadRequest, "invalid_request_error", "messages: at least one message is required")
		return
	}
	in := genInput{maxTokens: req.MaxTokens, msgs: make([]msg, 0, len(req.Messages)+1)}
	if req.System != "" {
		in.msgs = append(in.msgs, msg{role: "system", content: string(req.System)})
	}
	for _, mm := range req.Messages {
		role := mm.Role
		if mm.Content.toolResult {
			role = "tool"
		}
		in.msgs = append(in.msgs, msg{role: role, content: mm.Content.text})
	}
	for _, t := range req.Tools {
		in.tools = append(in.tools, toolDef{name: t.Name, params: t.InputSchema})
	}
	if tc := req.ToolChoice; tc != nil {
		in.toolChoice = tc.Type
		if tc.Type == "tool" {
			in.toolChoice = tc.Name
		}
	}
	adm, ok := s.limit(w, &in, true)
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
		anError(w, http.StatusTooManyRequests, "rate_limit_error", "Simulated rate limit for "+m.name+". Please retry.")
		return
	case errServer:
		s.countErr(errServer)
		if x.r.chance(0.5) {
			anError(w, 529, "overloaded_error", "Overloaded (simulator)")
		} else {
			anError(w, http.StatusInternalServerError, "api_error", "Internal server error (simulator)")
		}
		return
	case errHang:
		s.countErr(errHang)
		if s.hang(r.Context(), x) {
			anError(w, http.StatusGatewayTimeout, "timeout_error", "The simulator held this request until it timed out.")
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
			_, _ = io.WriteString(w, "event: message_start\ndata: {\"type\":\"message_start\",\"message\":{\"id\":\"msg_sim\",\"ty\n\n")
			return
		}
		writeBody(w, http.StatusOK, "application/json", []byte(`{"id":"msg_sim","type":"message","role":"assistant","content":[{"type":"text","text":"The ans`))
		return
	}
	if !s.wait(r.Context(), x) {
		return
	}

	bp := getBuf()
	defer putBuf(bp)
	tp := getBuf()
	defer putBuf(tp)
	out := x.generate(*tp, "toolu_sim")
	*tp = out.text[:0]
	s.finish(x, &out)
	s.lim.settle(adm, out.promptTokens+out.completionTokens)
	id := s.nextID()

	if req.Stream {
		b := appendAnStream((*bp)[:0], x.st, id, &out)
		*bp = b
		h := w.Header()
		h.Set("Content-Type", "text/event-stream")
		h.Set("Cache-Control", "no-cache")
		w.WriteHeader(http.StatusOK)
		_, _ = w.Write(b)
		return
	}
	b := appendAnHead((*bp)[:0], x.st, id)
	b = append(b, `,"content":[`...)
	for i, c := range out.calls {
		if i > 0 {
			b = append(b, ',')
		}
		b = appendToolUse(b, c, true)
	}
	if out.finish != finishTool && out.finish != finishFilter {
		b = append(b, `{"type":"text","text":`...)
		b = jsonw.AppendString(b, string(out.text))
		b = append(b, '}')
	}
	b = append(b, `],"stop_reason":"`...)
	b = append(b, anStop(out.finish)...)
	b = append(b, `","stop_sequence":null,"usage":{"input_tokens":`...)
	b = strconv.AppendInt(b, int64(out.promptTokens), 10)
	b = append(b, `,"output_tokens":`...)
	b = strconv.AppendInt(b, int64(out.completionTokens), 10)
	b = append(b, "}}\n"...)
	*bp = b
	writeBody(w, http.StatusOK, "application/json", b)
}

func appendAnHead(b []byte, st *stage, id uint64) []byte {
	b = append(b, `{"id":"msg_sim`...)
	b = strconv.AppendUint(b, id, 10)
	b = append(b, `","type":"message","role":"assistant","model":`...)
	return jsonw.AppendString(b, st.id.ResolvedModel)
}

func appendToolUse(b []byte, c toolCall, withInput bool) []byte {
	b = append(b, `{"type":"tool_use","id":`...)
	b = jsonw.AppendString(b, c.id)
	b = append(b, `,"name":`...)
	b = jsonw.AppendString(b, c.name)
	b = append(b, `,"input":`...)
	if withInput {
		b = append(b, c.args...)
	} else {
		b = append(b, "{}"...)
	}
	return append(b, '}')
}

func anStop(f finishKind) string {
	switch f {
	case finishLength:
		return "max_tokens"
	case finishFilter:
		return "refusal"
	case finishTool:
		return "tool_use"
	}
	return "end_turn"
}

func appendEvent(b []byte, event string) []byte {
	b = append(b, "event: "...)
	b = append(b, event...)
	return append(b, "\ndata: "...)
}

// appendAnStream renders Anthropic's SSE event sequence: message_start,
// content_block_start/delta/stop per block, message_delta, message_stop.
func appendAnStream(b []byte, st *stage, id uint64, out *genOutput) []byte {
	b = appendEvent(b, "message_start")
	b = append(b, `{"type":"message_start","message":`...)
	b = appendAnHead(b, st, id)
	b = append(b, `,"content":[],"stop_reason":null,"stop_sequence":null,"usage":{"input_tokens":`...)
	b = strconv.AppendInt(b, int64(out.promptTokens), 10)
	b = append(b, `,"output_tokens":1}}}`+"\n\n"...)
	b = appendEvent(b, "ping")
	b = append(b, `{"type":"ping"}`+"\n\n"...)

	idx := 0
	for _, c := range out.calls {
		b = appendEvent(b, "content_block_start")
		b = append(b, `{"type":"content_block_start","index":`...)
		b = strconv.AppendInt(b, int64(idx), 10)
		b = append(b, `,"content_block":`...)
		b = appendToolUse(b, c, false)
		b = append(b, "}\n\n"...)
		b = appendEvent(b, "content_block_delta")
		b = append(b, `{"type":"content_block_delta","index":`...)
		b = strconv.AppendInt(b, int64(idx), 10)
		b = append(b, `,"delta":{"type":"input_json_delta","partial_json":`...)
		b = jsonw.AppendString(b, c.args)
		b = append(b, "}}\n\n"...)
		b = appendBlockStop(b, idx)
		idx++
	}
	if out.finish != finishTool && out.finish != finishFilter {
		b = appendEvent(b, "content_block_start")
		b = append(b, `{"type":"content_block_start","index":`...)
		b = strconv.AppendInt(b, int64(idx), 10)
		b = append(b, `,"content_block":{"type":"text","text":""}}`+"\n\n"...)
		for text := out.text; len(text) > 0; {
			piece := nextPiece(text)
			text = text[len(piece):]
			b = appendEvent(b, "content_block_delta")
			b = append(b, `{"type":"content_block_delta","index":`...)
			b = strconv.AppendInt(b, int64(idx), 10)
			b = append(b, `,"delta":{"type":"text_delta","text":`...)
			b = jsonw.AppendString(b, string(piece))
			b = append(b, "}}\n\n"...)
		}
		b = appendBlockStop(b, idx)
	}
	b = appendEvent(b, "message_delta")
	b = append(b, `{"type":"message_delta","delta":{"stop_reason":"`...)
	b = append(b, anStop(out.finish)...)
	b = append(b, `","stop_sequence":null},"usage":{"output_tokens":`...)
	b = strconv.AppendInt(b, int64(out.completionTokens), 10)
	b = append(b, "}}\n\n"...)
	b = appendEvent(b, "message_stop")
	return append(b, `{"type":"message_stop"}`+"\n\n"...)
}

func appendBlockStop(b []byte, idx int) []byte {
	b = appendEvent(b, "content_block_stop")
	b = append(b, `{"type":"content_block_stop","index":`...)
	b = strconv.AppendInt(b, int64(idx), 10)
	return append(b, "}\n\n"...)
}
