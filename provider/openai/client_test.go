package openai

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

const plantedKey = "sk-PLANTED-key-9f8e7d6c5b4a"

const prompt = "Is 17 a prime number? Answer [Yes] or [No]."

// okBody is a chat completion as api.openai.com documents it.
const okBody = `{
  "id": "chatcmpl-123", "object": "chat.completion", "created": 1728933352,
  "model": "gpt-4o-2024-08-06", "system_fingerprint": "fp_6b68a8204b",
  "choices": [{"index": 0, "message": {"role": "assistant", "content": "[Yes]"}, "logprobs": null, "finish_reason": "stop"}],
  "usage": {"prompt_tokens": 20, "completion_tokens": 3, "total_tokens": 23}
}`

type testBundle struct {
	srv    *httptest.Server
	calls  atomic.Int64
	times  []time.Time
	mu     sync.Mutex
	reqs   []*http.Request
	bodies [][]byte
	logs   *bytes.Buffer
	logMu  *sync.Mutex
}

type lockedWriter struct {
	mu *sync.Mutex
	b  *bytes.Buffer
}

func (w lockedWriter) Write(p []byte) (int, error) {
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.b.Write(p)
}

// setup starts a server whose handler answers call n (1-based) with h.
func setup(t *testing.T, h func(w http.ResponseWriter, r *http.Request, n int)) *testBundle {
	t.Helper()
	b := &testBundle{logs: &bytes.Buffer{}, logMu: &sync.Mutex{}}
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
	return b
}

func (b *testBundle) client(t *testing.T, cfg Config) *Client {
	t.Helper()
	if cfg.BaseURL == "" {
		cfg.BaseURL = b.srv.URL + "/v1"
	}
	cfg.Model = cmpOr(cfg.Model, "gpt-4o")
	if cfg.APIKey == "" {
		cfg.APIKey = plantedKey
	}
	if cfg.Retry == (provider.Retry{}) {
		cfg.Retry = provider.Retry{MaxAttempts: 3, BaseDelay: 5 * time.Millisecond, MaxDelay: time.Second}
	}
	logger := slog.New(slog.NewJSONHandler(lockedWriter{b.logMu, b.logs}, &slog.HandlerOptions{Level: slog.LevelDebug}))
	c, err := New(cfg, logger)
	require.NoError(t, err)
	return c
}

func (b *testBundle) logText() string {
	b.logMu.Lock()
	defer b.logMu.Unlock()
	return b.logs.String()
}

func cmpOr(a, b string) string {
	if a != "" {
		return a
	}
	return b
}

func userReq() *eval.Request {
	temp := 0.0
	return &eval.Request{
		Messages: []eval.Message{{Role: eval.RoleSystem, Content: "Be careful."}, {Role: eval.RoleUser, Content: prompt}},
		Params:   eval.Params{Temperature: &temp, MaxTokens: 16},
	}
}

func requireNoLeak(t *testing.T, b *testBundle, err error) {
	t.Helper()
	require.NotContains(t, err.Error(), "PLANTED")
	require.NotContains(t, err.Error(), prompt)
	require.NotContains(t, b.logText(), "PLANTED")
	require.NotContains(t, b.logText(), prompt)
}

func TestCompleteSuccessIdentity(t *testing.T) {
	t.Parallel()
	b := setup(t, func(w http.ResponseWriter, r *http.Request, _ int) {
		w.Header().Set("Content-Type", "application/json")
		w.Header().Set("Openai-Version", "2020-10-01")
		w.Header().Set("X-Request-Id", "req_abc")
		_, _ = io.WriteString(w, okBody)
	})
	c := b.client(t, Config{})
	resp, err := c.Complete(t.Context(), userReq())
	require.NoError(t, err)
	require.Equal(t, "[Yes]", resp.Text)
	require.Equal(t, "stop", resp.FinishReason)
	require.Equal(t, eval.Usage{InputTokens: 20, OutputTokens: 3}, resp.Usage)
	require.Equal(t, 1, resp.Attempts)
	require.Positive(t, resp.Latency)
	require.JSONEq(t, okBody, string(resp.Raw))
	require.InDelta(t, (20*2.5+3*10.0)/1e6, resp.CostUSD, 1e-12)
	require.Equal(t, eval.Identity{
		Provider: "openai", RequestedModel: "gpt-4o", ResolvedModel: "gpt-4o-2024-08-06",
		Fingerprint: "fp_6b68a8204b", Extra: map[string]string{"openai_version": "2020-10-01"},
	}, resp.Identity)

	r := b.reqs[0]
	require.Equal(t, "/v1/chat/completions", r.URL.Path)
	require.Equal(t, "Bearer "+plantedKey, r.Header.Get("Authorization"))
	var sent map[string]any
	require.NoError(t, json.Unmarshal(b.bodies[0], &sent))
	require.Equal(t, "gpt-4o", sent["model"])
	require.Contains(t, sent, "temperature", "temperature 0 is sent, not omitted")
	require.Less(t, sent["temperature"].(float64), 1e-6)
	require.EqualValues(t, 16, sent["max_tokens"])
	require.NotContains(t, b.logText(), "PLANTED")
}

func TestRetryAfterHonoured(t *testing.T) {
	t.Parallel()
	const wait = 200 * time.Millisecond
	b := setup(t, func(w http.ResponseWriter, r *http.Request, n int) {
		if n == 1 {
			w.Header().Set("Retry-After", "0.2")
			w.WriteHeader(http.StatusTooManyRequests)
			_, _ = io.WriteString(w, `{"error":{"message":"Rate limit reached","type":"requests","code":"rate_limit_exceeded"}}`)
			return
		}
		_, _ = io.WriteString(w, okBody)
	})
	c := b.client(t, Config{})
	resp, err := c.Complete(t.Context(), userReq())
	require.NoError(t, err)
	require.Equal(t, 2, resp.Attempts)
	gap := b.times[1].Sub(b.times[0])
	require.GreaterOrEqual(t, gap, wait)
	require.Less(t, gap, wait+2*time.Second)
	require.Contains(t, b.logText(), "retrying completion")
	require.NotContains(t, b.logText(), "PLANTED")
}

func TestServerErrorThenSuccess(t *testing.T) {
	t.Parallel()
	b := setup(t, func(w http.ResponseWriter, r *http.Request, n int) {
		if n == 1 {
			http.Error(w, `{"error":{"message":"The server had an error","type":"server_error"}}`, http.StatusInternalServerError)
			return
		}
		_, _ = io.WriteString(w, okBody)
	})
	resp, err := b.client(t, Config{}).Complete(t.Context(), userReq())
	require.NoError(t, err)
	require.Equal(t, 2, resp.Attempts)
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
		h        func(w http.ResponseWriter, r *http.Request, n int)
		kind     eval.ErrorKind
		calls    int64
		contains string
	}{
		{"bad request not retried", func(w http.ResponseWriter, r *http.Request, _ int) {
			w.WriteHeader(http.StatusBadRequest)
			// Servers sometimes echo the prompt and the key: both must go.
			_, _ = io.WriteString(w, `{"error":{"message":"Invalid value for 'temperature' in `+prompt+` key `+plantedKey+`","type":"invalid_request_error","param":"temperature"}}`)
		}, eval.ErrBadRequest, 1, "invalid_request_error: Invalid value for 'temperature'"},
		{"auth", func(w http.ResponseWriter, r *http.Request, _ int) {
			w.WriteHeader(http.StatusUnauthorized)
			_, _ = io.WriteString(w, `{"error":{"message":"Incorrect API key provided: sk-PLANTED*****4a.","type":"invalid_request_error","code":"invalid_api_key"}}`)
		}, eval.ErrAuth, 1, "Incorrect API key"},
		{"ollama string error", func(w http.ResponseWriter, r *http.Request, _ int) {
			w.WriteHeader(http.StatusNotFound)
			_, _ = io.WriteString(w, `{"error":"model \"nope\" not found, try pulling it first"}`)
		}, eval.ErrBadRequest, 1, "not found, try pulling"},
		{"malformed json", func(w http.ResponseWriter, r *http.Request, _ int) {
			w.Header().Set("Content-Type", "application/json")
			_, _ = io.WriteString(w, `{"id":"chatcmpl-1","choices":[{"message":`)
		}, eval.ErrMalformed, 1, "malformed JSON response body"},
		{"no choices", func(w http.ResponseWriter, r *http.Request, _ int) {
			_, _ = io.WriteString(w, `{"id":"x","model":"gpt-4o","choices":[]}`)
		}, eval.ErrMalformed, 1, "no choices"},
		{"500 exhausts retries", func(w http.ResponseWriter, r *http.Request, _ int) {
			w.WriteHeader(http.StatusBadGateway)
			_, _ = io.WriteString(w, "<html>bad gateway</html>")
		}, eval.ErrServer, 3, "Bad Gateway"},
		{"hung server times out", func(w http.ResponseWriter, r *http.Request, _ int) {
			<-r.Context().Done()
		}, eval.ErrTimeout, 3, "no complete response within 100ms"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			b := setup(t, tc.h)
			_, err := b.client(t, Config{Timeout: hungTimeout(tc.kind)}).Complete(t.Context(), userReq())
			require.Error(t, err)
			var te *eval.TargetError
			require.ErrorAs(t, err, &te)
			require.Equal(t, tc.kind, te.Kind, err.Error())
			require.Equal(t, "openai", te.Provider)
			require.Equal(t, "gpt-4o", te.Model)
			require.Equal(t, tc.calls, b.calls.Load())
			require.Contains(t, err.Error(), tc.contains)
			requireNoLeak(t, b, err)
		})
	}
}

func TestContentFilterAndToolCalls(t *testing.T) {
	t.Parallel()
	b := setup(t, func(w http.ResponseWriter, r *http.Request, n int) {
		if n == 1 {
			_, _ = io.WriteString(w, `{"id":"c1","model":"gpt-4o-2024-08-06","choices":[{"index":0,"message":{"role":"assistant","content":null},"finish_reason":"content_filter"}],"usage":{"prompt_tokens":5,"completion_tokens":0}}`)
			return
		}
		_, _ = io.WriteString(w, `{"id":"c2","model":"gpt-4o-2024-08-06","choices":[{"index":0,"message":{"role":"assistant","content":null,"tool_calls":[{"id":"call_1","type":"function","function":{"name":"get_weather","arguments":"{\"city\":\"Paris\"}"}}]},"finish_reason":"tool_calls"}]}`)
	})
	c := b.client(t, Config{})
	resp, err := c.Complete(t.Context(), userReq())
	require.NoError(t, err)
	require.Equal(t, "content_filter", resp.FinishReason)
	req := userReq()
	req.Tools = []eval.Tool{{Name: "get_weather", Parameters: json.RawMessage(`{"type":"object","properties":{"city":{"type":"string"}}}`)}}
	resp, err = c.Complete(t.Context(), req)
	require.NoError(t, err)
	require.Equal(t, "tool_calls", resp.FinishReason)
	require.Equal(t, []eval.ToolCall{{ID: "call_1", Name: "get_weather", Arguments: `{"city":"Paris"}`}}, resp.ToolCalls)
	require.Contains(t, string(b.bodies[1]), `"name":"get_weather"`)
}

func sse(w http.ResponseWriter, chunks ...string) {
	w.Header().Set("Content-Type", "text/event-stream")
	for _, c := range chunks {
		_, _ = fmt.Fprintf(w, "data: %s\n\n", c)
		w.(http.Flusher).Flush()
	}
}

func TestStreaming(t *testing.T) {
	t.Parallel()
	b := setup(t, func(w http.ResponseWriter, r *http.Request, n int) {
		head := `"id":"chatcmpl-9","object":"chat.completion.chunk","created":1,"model":"gpt-4o-mini-2024-07-18","system_fingerprint":"fp_44709d6fcb"`
		sse(w,
			`{`+head+`,"choices":[{"index":0,"delta":{"role":"assistant","content":""},"finish_reason":null}]}`,
			`{`+head+`,"choices":[{"index":0,"delta":{"content":"[Ye"},"finish_reason":null}]}`,
			`{`+head+`,"choices":[{"index":0,"delta":{"content":"s]","tool_calls":[{"index":0,"id":"call_1","type":"function","function":{"name":"f","arguments":"{\"a\""}}]},"finish_reason":null}]}`,
			`{`+head+`,"choices":[{"index":0,"delta":{"tool_calls":[{"index":0,"function":{"arguments":":1}"}}]},"finish_reason":"stop"}]}`,
			`{`+head+`,"choices":[],"usage":{"prompt_tokens":9,"completion_tokens":4,"total_tokens":13}}`,
			`[DONE]`)
	})
	c := b.client(t, Config{Model: "gpt-4o-mini"})
	req := userReq()
	req.Stream = true
	resp, err := c.Complete(t.Context(), req)
	require.NoError(t, err)
	require.Equal(t, "[Yes]", resp.Text)
	require.Equal(t, "stop", resp.FinishReason)
	require.Equal(t, eval.Usage{InputTokens: 9, OutputTokens: 4}, resp.Usage)
	require.Equal(t, "gpt-4o-mini-2024-07-18", resp.Identity.ResolvedModel)
	require.Equal(t, "fp_44709d6fcb", resp.Identity.Fingerprint)
	require.Equal(t, []eval.ToolCall{{ID: "call_1", Name: "f", Arguments: `{"a":1}`}}, resp.ToolCalls)
	require.Contains(t, string(resp.Raw), `"content":"[Yes]"`)
	require.Contains(t, string(b.bodies[0]), `"stream_options":{"include_usage":true}`)
}

func TestStreamingMalformedChunk(t *testing.T) {
	t.Parallel()
	b := setup(t, func(w http.ResponseWriter, r *http.Request, n int) {
		sse(w, `{"id":"x","choices":[{"index":0,"delta":{"content":"a"}}]}`, `{"id":`, `[DONE]`)
	})
	req := userReq()
	req.Stream = true
	_, err := b.client(t, Config{}).Complete(t.Context(), req)
	require.Equal(t, eval.ErrMalformed, eval.KindOf(err), fmt.Sprint(err))
	require.EqualValues(t, 1, b.calls.Load())
}

func TestAzure(t *testing.T) {
	t.Parallel()
	b := setup(t, func(w http.ResponseWriter, r *http.Request, _ int) {
		w.Header().Set("X-Ms-Region", "Sweden Central")
		_, _ = io.WriteString(w, okBody)
	})
	c := b.client(t, Config{Flavor: FlavorAzure, BaseURL: b.srv.URL, Model: "gpt-4o", Deployment: "my-gpt4o.prod"})
	resp, err := c.Complete(t.Context(), userReq())
	require.NoError(t, err)
	r := b.reqs[0]
	require.Equal(t, "/openai/deployments/my-gpt4o.prod/chat/completions", r.URL.Path)
	require.Equal(t, AzureAPIVersionDefault, r.URL.Query().Get("api-version"))
	require.Equal(t, plantedKey, r.Header.Get("api-key"))
	require.Empty(t, r.Header.Get("Authorization"))
	require.Equal(t, "azure", resp.Identity.Provider)
	require.Equal(t, "Sweden Central", resp.Identity.Extra["x_ms_region"])
}

func TestFlavorsAndConfig(t *testing.T) {
	t.Parallel()
	fl := Flavors()
	for _, name := range []string{"openai", "azure", "gemini", "anthropic-openai", "mistral", "groq", "together", "openrouter", "vllm", "ollama", "llamacpp", "tgi", "lmstudio"} {
		require.Contains(t, fl, name)
	}
	require.Equal(t, "http://localhost:11434/v1", fl[FlavorOllama].BaseURL)
	require.Equal(t, AuthAPIKey, fl[FlavorAzure].Auth)

	_, err := New(Config{Flavor: "nope", Model: "m"}, nil)
	require.ErrorContains(t, err, "want one of")
	_, err = New(Config{Model: "gpt-4o"}, nil)
	require.ErrorContains(t, err, "api_key: required")
	_, err = New(Config{Flavor: FlavorAzure, Model: "gpt-4o", APIKey: plantedKey}, nil)
	require.ErrorContains(t, err, "base_url")
	require.NotContains(t, err.Error(), "PLANTED")
	c, err := New(Config{Flavor: FlavorOllama, Model: "llama3.2"}, nil)
	require.NoError(t, err, "open servers need no key")
	require.Equal(t, "ollama", c.Name())

	cfg := Config{Model: "gpt-4o", APIKey: plantedKey, Headers: map[string]string{"X-Title": "driftwatch"}}
	j, err := json.Marshal(cfg)
	require.NoError(t, err)
	require.NotContains(t, string(j), "PLANTED")
	require.NotContains(t, fmt.Sprintf("%v %+v %#v", cfg, cfg, cfg), "PLANTED")
	var buf bytes.Buffer
	slog.New(slog.NewJSONHandler(&buf, nil)).Info("cfg", "cfg", cfg)
	require.NotContains(t, buf.String(), "PLANTED")
}

func TestBudgetOption(t *testing.T) {
	t.Parallel()
	b := setup(t, func(w http.ResponseWriter, r *http.Request, _ int) { _, _ = io.WriteString(w, okBody) })
	budget := provider.NewBudget(0.0001)
	c, err := New(Config{BaseURL: b.srv.URL + "/v1", Model: "gpt-4o", APIKey: plantedKey}, nil, WithBudget(budget))
	require.NoError(t, err)
	var lastErr error
	for range 10 {
		if _, lastErr = c.Complete(t.Context(), userReq()); lastErr != nil {
			break
		}
	}
	require.Equal(t, eval.ErrBudget, eval.KindOf(lastErr))
	require.ErrorContains(t, lastErr, "openai gpt-4o: budget")
	require.LessOrEqual(t, budget.Spent(), 0.0001+0.00008)
}

func TestTransportRefused(t *testing.T) {
	t.Parallel()
	// Nothing listens on port 1. (A closed test server's port can be taken
	// by a parallel test's.)
	c, err := New(Config{BaseURL: "http://127.0.0.1:1/v1", Model: "gpt-4o", APIKey: plantedKey,
		Retry: provider.Retry{MaxAttempts: 2, BaseDelay: time.Millisecond, MaxDelay: time.Millisecond}}, nil)
	require.NoError(t, err)
	_, err = c.Complete(t.Context(), userReq())
	require.Equal(t, eval.ErrTransport, eval.KindOf(err), fmt.Sprint(err))
	require.Contains(t, err.Error(), "after 2 attempts")
	require.NotContains(t, err.Error(), "PLANTED")
}
