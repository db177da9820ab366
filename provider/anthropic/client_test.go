package anthropic

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/driftwatch/driftwatch/eval"
	"github.com/driftwatch/driftwatch/provider"
)

const (
	plantedKey = "sk-ant-PLANTED-0123456789abcdef"
	prompt     = "Is 17 a prime number? Answer [Yes] or [No]."
)

func msgBody(stop, content string) string {
	return `{"id":"msg_01XFDUDYJgAACzvnptvVoYEL","type":"message","role":"assistant","model":"claude-3-5-sonnet-20241022",
	"content":` + content + `,"stop_reason":"` + stop + `","stop_sequence":null,"usage":{"input_tokens":12,"output_tokens":6}}`
}

type testBundle struct {
	srv    *httptest.Server
	calls  atomic.Int64
	mu     sync.Mutex
	times  []time.Time
	reqs   []*http.Request
	bodies [][]byte
	logs   syncBuffer
}

type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

// setup starts a server whose handler answers call n (1-based) with h, and
// a client of it with the default per-attempt timeout: a test server on a
// loaded machine can take longer than a short timeout to answer, which
// would add attempts.
func setup(t *testing.T, h func(w http.ResponseWriter, r *http.Request, n int)) (*testBundle, *Client) {
	t.Helper()
	return setupTimeout(t, 0, h)
}

// setupTimeout is setup with a per-attempt timeout (0: the default).
func setupTimeout(t *testing.T, timeout time.Duration, h func(w http.ResponseWriter, r *http.Request, n int)) (*testBundle, *Client) {
	t.Helper()
	b := &testBundle{}
	b.srv = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		n := int(b.calls.Add(1))
		body, _ := io.ReadAll(r.Body)
		b.mu.Lock()
		b.times = append(b.times, time.Now())
		b.reqs = append(b.reqs, r.Clone(r.Context()))
		b.bodies = append(b.bodies, body)
		b.mu.Unlock()
		h(w, r, n)
	}))
	t.Cleanup(b.srv.Close)
	logger := slog.New(slog.NewJSONHandler(&b.logs, &slog.HandlerOptions{Level: slog.LevelDebug}))
	c, err := New(Config{
		BaseURL: b.srv.URL, Model: "claude-3-5-sonnet-latest", APIKey: plantedKey, Timeout: timeout,
		Retry: provider.Retry{MaxAttempts: 3, BaseDelay: 5 * time.Millisecond, MaxDelay: time.Second},
	}, logger)
	require.NoError(t, err)
	return b, c
}

func userReq() *eval.Request {
	return &eval.Request{Messages: []eval.Message{
		{Role: eval.RoleSystem, Content: "Be careful."},
		{Role: eval.RoleUser, Content: prompt},
	}}
}

func TestCompleteSuccess(t *testing.T) {
	t.Parallel()
	b, c := setup(t, func(w http.ResponseWriter, r *http.Request, _ int) {
		w.Header().Set("Content-Type", "application/json")
		_, _ = io.WriteString(w, msgBody("end_turn", `[{"type":"text","text":"[Yes]"}]`))
	})
	resp, err := c.Complete(t.Context(), userReq())
	require.NoError(t, err)
	require.Equal(t, "[Yes]", resp.Text)
	require.Equal(t, "stop", resp.FinishReason)
	require.Equal(t, eval.Usage{InputTokens: 12, OutputTokens: 6}, resp.Usage)
	require.Equal(t, "claude-3-5-sonnet-20241022", resp.Identity.ResolvedModel)
	require.Equal(t, "claude-3-5-sonnet-latest", resp.Identity.RequestedModel)
	require.Equal(t, "anthropic", resp.Identity.Provider)
	require.InDelta(t, (12*3.0+6*15.0)/1e6, resp.CostUSD, 1e-12)
	require.Equal(t, 1, resp.Attempts)
	require.NotEmpty(t, resp.Raw)

	r := b.reqs[0]
	require.Equal(t, "/v1/messages", r.URL.Path)
	require.Equal(t, plantedKey, r.Header.Get("x-api-key"))
	require.Equal(t, "2023-06-01", r.Header.Get("anthropic-version"))
	var sent map[string]any
	require.NoError(t, json.Unmarshal(b.bodies[0], &sent))
	require.Equal(t, "Be careful.", sent["system"])
	require.EqualValues(t, 1024, sent["max_tokens"])
	require.Len(t, sent["messages"], 1)
	require.NotContains(t, b.logs.String(), "PLANTED")
}

func TestStopReasonsAndTools(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct{ stop, want string }{
		{"refusal", "content_filter"}, {"max_tokens", "length"}, {"stop_sequence", "stop"}, {"pause_turn", "pause_turn"},
	} {
		t.Run(tc.stop, func(t *testing.T) {
			t.Parallel()
			_, c := setup(t, func(w http.ResponseWriter, r *http.Request, _ int) {
				_, _ = io.WriteString(w, msgBody(tc.stop, `[{"type":"text","text":"x"}]`))
			})
			resp, err := c.Complete(t.Context(), userReq())
			require.NoError(t, err)
			require.Equal(t, tc.want, resp.FinishReason)
			require.Contains(t, string(resp.Raw), `"stop_reason":"`+tc.stop+`"`, "the original reason is kept in Raw")
			require.NotContains(t, resp.Identity.Extra, "stop_reason", "per-response facts are not identity")
		})
	}
	t.Run("tool_use", func(t *testing.T) {
		t.Parallel()
		b, c := setup(t, func(w http.ResponseWriter, r *http.Request, _ int) {
			_, _ = io.WriteString(w, msgBody("tool_use", `[{"type":"text","text":"Checking."},{"type":"tool_use","id":"toolu_01A09q90qw90lq917835lq9","name":"get_weather","input":{"location":"San Francisco, CA"}}]`))
		})
		req := userReq()
		req.Tools = []eval.Tool{{Name: "get_weather", Description: "Weather", Parameters: json.RawMessage(`{"type":"object","properties":{"location":{"type":"string"}}}`)}}
		req.Messages = append(req.Messages,
			eval.Message{Role: eval.RoleAssistant, ToolCalls: []eval.ToolCall{{ID: "toolu_0", Name: "get_weather", Arguments: `{"location":"Paris"}`}}},
			eval.Message{Role: eval.RoleTool, ToolCallID: "toolu_0", Content: "15 degrees"})
		resp, err := c.Complete(t.Context(), req)
		require.NoError(t, err)
		require.Equal(t, "tool_calls", resp.FinishReason)
		require.Equal(t, []eval.ToolCall{{ID: "toolu_01A09q90qw90lq917835lq9", Name: "get_weather", Arguments: `{"location":"San Francisco, CA"}`}}, resp.ToolCalls)
		body := string(b.bodies[0])
		require.Contains(t, body, `"input_schema":{"type":"object"`)
		require.Contains(t, body, `{"type":"tool_use","id":"toolu_0","name":"get_weather","input":{"location":"Paris"}}`)
		require.Contains(t, body, `{"role":"user","content":[{"type":"tool_result","tool_use_id":"toolu_0","content":"15 degrees"}]}`)
	})
}

func TestRetries(t *testing.T) {
	t.Parallel()
	t.Run("429 honours retry-after", func(t *testing.T) {
		t.Parallel()
		b, c := setup(t, func(w http.ResponseWriter, r *http.Request, n int) {
			if n == 1 {
				w.Header().Set("Retry-After", "0.2")
				w.WriteHeader(http.StatusTooManyRequests)
				_, _ = io.WriteString(w, `{"type":"error","error":{"type":"rate_limit_error","message":"Number of request tokens has exceeded your per-minute rate limit"}}`)
				return
			}
			_, _ = io.WriteString(w, msgBody("end_turn", `[{"type":"text","text":"ok"}]`))
		})
		resp, err := c.Complete(t.Context(), userReq())
		require.NoError(t, err)
		require.Equal(t, 2, resp.Attempts)
		gap := b.times[1].Sub(b.times[0])
		require.GreaterOrEqual(t, gap, 200*time.Millisecond)
		require.Less(t, gap, 2200*time.Millisecond)
	})
	t.Run("529 overloaded then success", func(t *testing.T) {
		t.Parallel()
		_, c := setup(t, func(w http.ResponseWriter, r *http.Request, n int) {
			if n == 1 {
				w.WriteHeader(529)
				_, _ = io.WriteString(w, `{"type":"error","error":{"type":"overloaded_error","message":"Overloaded"}}`)
				return
			}
			_, _ = io.WriteString(w, msgBody("end_turn", `[{"type":"text","text":"ok"}]`))
		})
		resp, err := c.Complete(t.Context(), userReq())
		require.NoError(t, err)
		require.Equal(t, 2, resp.Attempts)
	})
}

// hungTimeout is the per-attempt timeout of an error case: short for the
// hung server, which times out, and the default for the others (a short
// timeout would add attempts when a loaded machine answers slowly).
func hungTimeout(kind eval.ErrorKind) time.Duration {
	if kind == eval.ErrTimeout {
		return 100 * time.Millisecond
	}
	return 0
}

func TestErrors(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name     string
		h        func(w http.ResponseWriter, r *http.Request)
		kind     eval.ErrorKind
		calls    int64
		contains string
	}{
		{"bad request", func(w http.ResponseWriter, r *http.Request) {
			w.WriteHeader(http.StatusBadRequest)
			_, _ = io.WriteString(w, `{"type":"error","error":{"type":"invalid_request_error","message":"messages.0.content: `+prompt+` is bad; key `+plantedKey+`"}}`)
		}, eval.ErrBadRequest, 1, "invalid_request_error: messages.0.content"},
		{"auth", func(w http.ResponseWriter, r *http.Request) {
			w.WriteHeader(http.StatusUnauthorized)
			_, _ = io.WriteString(w, `{"type":"error","error":{"type":"authentication_error","message":"invalid x-api-key"}}`)
		}, eval.ErrAuth, 1, "authentication_error"},
		{"malformed", func(w http.ResponseWriter, r *http.Request) {
			_, _ = io.WriteString(w, `{"id":"msg_1","content":[{"type":"te`)
		}, eval.ErrMalformed, 1, "malformed JSON response body"},
		{"hung", func(w http.ResponseWriter, r *http.Request) { <-r.Context().Done() }, eval.ErrTimeout, 3, "no complete response within 100ms"},
		{"500 exhausted", func(w http.ResponseWriter, r *http.Request) {
			w.WriteHeader(http.StatusInternalServerError)
			_, _ = io.WriteString(w, `{"type":"error","error":{"type":"api_error","message":"Internal server error"}}`)
		}, eval.ErrServer, 3, "api_error"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			b, c := setupTimeout(t, hungTimeout(tc.kind), func(w http.ResponseWriter, r *http.Request, _ int) { tc.h(w, r) })
			_, err := c.Complete(t.Context(), userReq())
			var te *eval.TargetError
			require.ErrorAs(t, err, &te)
			require.Equal(t, tc.kind, te.Kind, err.Error())
			require.Equal(t, "anthropic", te.Provider)
			require.Equal(t, "claude-3-5-sonnet-latest", te.Model)
			require.Equal(t, tc.calls, b.calls.Load())
			require.Contains(t, err.Error(), tc.contains)
			require.NotContains(t, err.Error(), "PLANTED")
			require.NotContains(t, err.Error(), prompt)
			require.NotContains(t, b.logs.String(), "PLANTED")
			require.NotContains(t, b.logs.String(), prompt)
		})
	}
}

func writeSSE(w http.ResponseWriter, events ...string) {
	w.Header().Set("Content-Type", "text/event-stream")
	for _, e := range events {
		var typ struct {
			Type string `json:"type"`
		}
		_ = json.Unmarshal([]byte(e), &typ)
		_, _ = fmt.Fprintf(w, "event: %s\ndata: %s\n\n", typ.Type, e)
		w.(http.Flusher).Flush()
	}
}

func TestStreaming(t *testing.T) {
	t.Parallel()
	b, c := setup(t, func(w http.ResponseWriter, r *http.Request, _ int) {
		writeSSE(w,
			`{"type":"message_start","message":{"id":"msg_1nZdL29xx5MUA1yADyHTEsnR8uuvGzszyY","type":"message","role":"assistant","content":[],"model":"claude-sonnet-4-20250514","stop_reason":null,"stop_sequence":null,"usage":{"input_tokens":25,"output_tokens":1}}}`,
			`{"type":"content_block_start","index":0,"content_block":{"type":"text","text":""}}`,
			`{"type":"ping"}`,
			`{"type":"content_block_delta","index":0,"delta":{"type":"text_delta","text":"[Ye"}}`,
			`{"type":"content_block_delta","index":0,"delta":{"type":"text_delta","text":"s]"}}`,
			`{"type":"content_block_stop","index":0}`,
			`{"type":"content_block_start","index":1,"content_block":{"type":"tool_use","id":"toolu_01T1x1fJ34qAmk2tNTrN7Up6","name":"get_weather","input":{}}}`,
			`{"type":"content_block_delta","index":1,"delta":{"type":"input_json_delta","partial_json":"{\"location\":"}}`,
			`{"type":"content_block_delta","index":1,"delta":{"type":"input_json_delta","partial_json":" \"Paris\"}"}}`,
			`{"type":"content_block_stop","index":1}`,
			`{"type":"message_delta","delta":{"stop_reason":"tool_use","stop_sequence":null},"usage":{"output_tokens":15}}`,
			`{"type":"message_stop"}`)
	})
	req := userReq()
	req.Stream = true
	resp, err := c.Complete(t.Context(), req)
	require.NoError(t, err)
	require.Equal(t, "[Yes]", resp.Text)
	require.Equal(t, "tool_calls", resp.FinishReason)
	require.Equal(t, eval.Usage{InputTokens: 25, OutputTokens: 15}, resp.Usage)
	require.Equal(t, "claude-sonnet-4-20250514", resp.Identity.ResolvedModel)
	require.Equal(t, []eval.ToolCall{{ID: "toolu_01T1x1fJ34qAmk2tNTrN7Up6", Name: "get_weather", Arguments: `{"location": "Paris"}`}}, resp.ToolCalls)
	require.Contains(t, string(resp.Raw), `"stop_reason":"tool_use"`)
	require.Contains(t, string(b.bodies[0]), `"stream":true`)
}

func TestStreamingErrorEventRetried(t *testing.T) {
	t.Parallel()
	_, c := setup(t, func(w http.ResponseWriter, r *http.Request, n int) {
		if n == 1 {
			writeSSE(w, `{"type":"message_start","message":{"id":"m","model":"claude-3-5-haiku-20241022","usage":{"input_tokens":3,"output_tokens":1}}}`,
				`{"type":"error","error":{"type":"overloaded_error","message":"Overloaded"}}`)
			return
		}
		writeSSE(w, `{"type":"message_start","message":{"id":"m","model":"claude-3-5-haiku-20241022","usage":{"input_tokens":3,"output_tokens":1}}}`,
			`{"type":"content_block_start","index":0,"content_block":{"type":"text","text":""}}`,
			`{"type":"content_block_delta","index":0,"delta":{"type":"text_delta","text":"I can't help with that."}}`,
			`{"type":"message_delta","delta":{"stop_reason":"refusal"},"usage":{"output_tokens":7}}`,
			`{"type":"message_stop"}`)
	})
	req := userReq()
	req.Stream = true
	resp, err := c.Complete(t.Context(), req)
	require.NoError(t, err)
	require.Equal(t, 2, resp.Attempts)
	require.Equal(t, "content_filter", resp.FinishReason)
	require.Contains(t, string(resp.Raw), `"stop_reason":"refusal"`)
}

func TestConfig(t *testing.T) {
	t.Parallel()
	_, err := New(Config{Model: "claude-sonnet-4"}, nil)
	require.ErrorContains(t, err, "api_key: required")
	cfg := Config{Model: "claude-sonnet-4", APIKey: plantedKey}
	j, err := json.Marshal(cfg)
	require.NoError(t, err)
	require.NotContains(t, string(j), "PLANTED")
	require.NotContains(t, fmt.Sprintf("%v %+v %#v", cfg, cfg, cfg), "PLANTED")
	c, err := New(Config{Model: "m", APIKey: plantedKey, BaseURL: "https://api.anthropic.com/v1/"}, nil)
	require.NoError(t, err)
	require.Equal(t, "https://api.anthropic.com/v1/messages", c.url)
}
