package sim_test

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/sashabaranov/go-openai"
	"github.com/stretchr/testify/require"
	"go.uber.org/goleak"

	"github.com/driftwatch/driftwatch/sim"
)

func TestMain(m *testing.M) {
	goleak.VerifyTestMain(m)
}

type testBundle struct {
	srv *sim.Server
	url string
}

func setup(t testing.TB, cfg sim.Config, opts ...sim.Option) *testBundle {
	t.Helper()
	srv, err := sim.New(cfg, opts...)
	require.NoError(t, err)
	hs := httptest.NewServer(srv)
	t.Cleanup(func() {
		srv.Close()
		hs.Close()
	})
	return &testBundle{srv: srv, url: hs.URL}
}

func setupScenario(t testing.TB, name string) *testBundle {
	t.Helper()
	cfg, err := sim.Scenario(name)
	require.NoError(t, err)
	return setup(t, cfg)
}

// do sends a request and returns the response with its body read.
func (b *testBundle) do(t testing.TB, method, path string, body any, hdr ...string) (*http.Response, []byte) {
	t.Helper()
	var rd io.Reader
	if body != nil {
		js, err := json.Marshal(body)
		require.NoError(t, err)
		rd = bytes.NewReader(js)
	}
	req, err := http.NewRequestWithContext(t.Context(), method, b.url+path, rd)
	require.NoError(t, err)
	req.Header.Set("Content-Type", "application/json")
	for i := 0; i+1 < len(hdr); i += 2 {
		req.Header.Set(hdr[i], hdr[i+1])
	}
	resp, err := http.DefaultClient.Do(req)
	require.NoError(t, err)
	defer resp.Body.Close()
	data, err := io.ReadAll(resp.Body)
	require.NoError(t, err)
	return resp, data
}

// oaChatResponse is OpenAI's documented chat completion object.
type oaChatResponse struct {
	ID                string `json:"id"`
	Object            string `json:"object"`
	Created           int64  `json:"created"`
	Model             string `json:"model"`
	SystemFingerprint string `json:"system_fingerprint"`
	Choices           []struct {
		Index   int `json:"index"`
		Message struct {
			Role      string  `json:"role"`
			Content   *string `json:"content"`
			ToolCalls []struct {
				ID       string `json:"id"`
				Type     string `json:"type"`
				Function struct {
					Name      string `json:"name"`
					Arguments string `json:"arguments"`
				} `json:"function"`
			} `json:"tool_calls"`
		} `json:"message"`
		FinishReason string `json:"finish_reason"`
	} `json:"choices"`
	Usage struct {
		PromptTokens     int `json:"prompt_tokens"`
		CompletionTokens int `json:"completion_tokens"`
		TotalTokens      int `json:"total_tokens"`
	} `json:"usage"`
}

func userMsg(prompt string) map[string]any {
	return map[string]any{"model": sim.GPTName, "messages": []map[string]any{{"role": "user", "content": prompt}}}
}

func (b *testBundle) chat(t testing.TB, body map[string]any) oaChatResponse {
	t.Helper()
	resp, data := b.do(t, http.MethodPost, "/v1/chat/completions", body)
	require.Equal(t, http.StatusOK, resp.StatusCode, string(data))
	var out oaChatResponse
	require.NoError(t, json.Unmarshal(data, &out), string(data))
	return out
}

func fixedModel(name string, p sim.Profile) sim.Model {
	return sim.Model{Name: name, Profile: p}
}

func TestChatCompletionWireFormat(t *testing.T) {
	t.Parallel()
	b := setupScenario(t, sim.ScenarioDefault)
	out := b.chat(t, userMsg("Answer with only the number: what is 17 + 25? [[sim:expect=42]]"))
	require.True(t, strings.HasPrefix(out.ID, "chatcmpl-"))
	require.Equal(t, "chat.completion", out.Object)
	require.Equal(t, sim.GPTResolved, out.Model)
	require.Equal(t, sim.GPTFingerprint, out.SystemFingerprint)
	require.NotZero(t, out.Created)
	require.Len(t, out.Choices, 1)
	require.Equal(t, "assistant", out.Choices[0].Message.Role)
	require.NotNil(t, out.Choices[0].Message.Content)
	require.Contains(t, []string{"stop", "length", "content_filter"}, out.Choices[0].FinishReason)
	require.Positive(t, out.Usage.PromptTokens)
	require.Equal(t, out.Usage.PromptTokens+out.Usage.CompletionTokens, out.Usage.TotalTokens)
	require.NotContains(t, *out.Choices[0].Message.Content, "sim:expect")
}

func TestGoOpenAIClient(t *testing.T) {
	t.Parallel()
	cfg := sim.Config{Seed: 7, APIKey: "sk-sim", Models: []sim.Model{{
		Name:     "m",
		Identity: sim.Identity{ResolvedModel: "m-2025-01-01", SystemFingerprint: "fp_x"},
		Profile:  sim.Profile{Accuracy: 1},
	}}}
	b := setup(t, cfg)
	oc := openai.DefaultConfig("sk-sim")
	oc.BaseURL = b.url + "/v1"
	client := openai.NewClientWithConfig(oc)
	req := openai.ChatCompletionRequest{
		Model:    "m",
		Messages: []openai.ChatCompletionMessage{{Role: openai.ChatMessageRoleUser, Content: "What is 17 + 25?"}},
	}

	t.Run("plain", func(t *testing.T) {
		t.Parallel()
		resp, err := client.CreateChatCompletion(t.Context(), req)
		require.NoError(t, err)
		require.Equal(t, "m-2025-01-01", resp.Model)
		require.Equal(t, "fp_x", resp.SystemFingerprint)
		require.Contains(t, resp.Choices[0].Message.Content, "42")
		require.Equal(t, openai.FinishReasonStop, resp.Choices[0].FinishReason)
		require.Positive(t, resp.Usage.CompletionTokens)
	})
	t.Run("stream", func(t *testing.T) {
		t.Parallel()
		sreq := req
		sreq.Stream = true
		sreq.StreamOptions = &openai.StreamOptions{IncludeUsage: true}
		stream, err := client.CreateChatCompletionStream(t.Context(), sreq)
		require.NoError(t, err)
		defer stream.Close()
		var text strings.Builder
		var finish openai.FinishReason
		var usage *openai.Usage
		for range 1000 {
			chunk, err := stream.Recv()
			if errors.Is(err, io.EOF) {
				break
			}
			require.NoError(t, err)
			require.Equal(t, "m-2025-01-01", chunk.Model)
			if chunk.Usage != nil {
				usage = chunk.Usage
			}
			for _, c := range chunk.Choices {
				text.WriteString(c.Delta.Content)
				if c.FinishReason != "" {
					finish = c.FinishReason
				}
			}
		}
		require.Contains(t, text.String(), "42")
		require.Equal(t, openai.FinishReasonStop, finish)
		require.NotNil(t, usage)
		require.Positive(t, usage.TotalTokens)
	})
	t.Run("tool call", func(t *testing.T) {
		t.Parallel()
		treq := openai.ChatCompletionRequest{
			Model:    "m",
			Messages: []openai.ChatCompletionMessage{{Role: openai.ChatMessageRoleUser, Content: "Call the weather tool for Paris."}},
			Tools: []openai.Tool{{Type: openai.ToolTypeFunction, Function: &openai.FunctionDefinition{
				Name:       "get_weather",
				Parameters: json.RawMessage(`{"type":"object","properties":{"city":{"type":"string"}},"required":["city"]}`),
			}}},
		}
		resp, err := client.CreateChatCompletion(t.Context(), treq)
		require.NoError(t, err)
		require.Equal(t, openai.FinishReasonToolCalls, resp.Choices[0].FinishReason)
		require.Len(t, resp.Choices[0].Message.ToolCalls, 1)
		tc := resp.Choices[0].Message.ToolCalls[0]
		require.Equal(t, "get_weather", tc.Function.Name)
		require.JSONEq(t, `{"city":"Paris"}`, tc.Function.Arguments)

		// The tool result becomes the answer of the next turn.
		treq.Messages = append(treq.Messages, resp.Choices[0].Message, openai.ChatCompletionMessage{
			Role: openai.ChatMessageRoleTool, ToolCallID: tc.ID, Content: "sunny",
		})
		resp, err = client.CreateChatCompletion(t.Context(), treq)
		require.NoError(t, err)
		require.Contains(t, resp.Choices[0].Message.Content, "sunny")
	})
	t.Run("bad key", func(t *testing.T) {
		t.Parallel()
		bad := openai.DefaultConfig("sk-wrong")
		bad.BaseURL = b.url + "/v1"
		_, err := openai.NewClientWithConfig(bad).CreateChatCompletion(t.Context(), req)
		var apiErr *openai.APIError
		require.ErrorAs(t, err, &apiErr)
		require.Equal(t, http.StatusUnauthorized, apiErr.HTTPStatusCode)
	})
}

// readSSE splits an SSE body into (event, data) pairs.
func readSSE(t testing.TB, body []byte) (events, datas []string) {
	t.Helper()
	sc := bufio.NewScanner(bytes.NewReader(body))
	event := ""
	for sc.Scan() {
		line := sc.Text()
		switch {
		case strings.HasPrefix(line, "event: "):
			event = strings.TrimPrefix(line, "event: ")
		case strings.HasPrefix(line, "data: "):
			events = append(events, event)
			datas = append(datas, strings.TrimPrefix(line, "data: "))
			event = ""
		}
	}
	require.NoError(t, sc.Err())
	return events, datas
}

func TestChatStreamWireFormat(t *testing.T) {
	t.Parallel()
	b := setupScenario(t, sim.ScenarioDefault)
	body := userMsg("Say something long. [[sim:expect=the quick brown fox jumps over the lazy dog]]")
	body["stream"] = true
	body["stream_options"] = map[string]any{"include_usage": true}
	resp, data := b.do(t, http.MethodPost, "/v1/chat/completions", body)
	require.Equal(t, http.StatusOK, resp.StatusCode)
	require.Equal(t, "text/event-stream", resp.Header.Get("Content-Type"))
	_, datas := readSSE(t, data)
	require.Equal(t, "[DONE]", datas[len(datas)-1])
	var sawFinish, sawUsage bool
	var text strings.Builder
	for _, d := range datas[:len(datas)-1] {
		var c struct {
			Object  string `json:"object"`
			Model   string `json:"model"`
			Choices []struct {
				Delta struct {
					Content string `json:"content"`
				} `json:"delta"`
				FinishReason *string `json:"finish_reason"`
			} `json:"choices"`
			Usage *struct {
				TotalTokens int `json:"total_tokens"`
			} `json:"usage"`
		}
		require.NoError(t, json.Unmarshal([]byte(d), &c), d)
		require.Equal(t, "chat.completion.chunk", c.Object)
		require.Equal(t, sim.GPTResolved, c.Model)
		for _, ch := range c.Choices {
			text.WriteString(ch.Delta.Content)
			if ch.FinishReason != nil {
				sawFinish = true
			}
		}
		if c.Usage != nil {
			require.Empty(t, c.Choices)
			sawUsage = true
		}
	}
	require.True(t, sawFinish)
	require.True(t, sawUsage)
	require.Greater(t, len(datas), 4, "the text arrives in several chunks")
	require.NotEmpty(t, text.String())
}

// anMessage is Anthropic's documented Messages response.
type anMessage struct {
	ID      string `json:"id"`
	Type    string `json:"type"`
	Role    string `json:"role"`
	Model   string `json:"model"`
	Content []struct {
		Type  string          `json:"type"`
		Text  string          `json:"text"`
		ID    string          `json:"id"`
		Name  string          `json:"name"`
		Input json.RawMessage `json:"input"`
	} `json:"content"`
	StopReason   string  `json:"stop_reason"`
	StopSequence *string `json:"stop_sequence"`
	Usage        struct {
		InputTokens  int `json:"input_tokens"`
		OutputTokens int `json:"output_tokens"`
	} `json:"usage"`
}

func TestAnthropicMessages(t *testing.T) {
	t.Parallel()
	cfg := sim.Config{APIKey: "ak", RequireAnthropicVersion: true, Models: []sim.Model{{
		Name: "claude-sim", Identity: sim.Identity{ResolvedModel: "claude-sim-20250101"}, Profile: sim.Profile{Accuracy: 1},
	}}}
	b := setup(t, cfg)
	hdr := []string{"x-api-key", "ak", "anthropic-version", "2023-06-01"}
	body := map[string]any{
		"model": "claude-sim", "max_tokens": 256, "system": "You are terse.",
		"messages": []map[string]any{{"role": "user", "content": "Is 17 a prime number? Answer [Yes] or [No]."}},
	}

	t.Run("plain", func(t *testing.T) {
		t.Parallel()
		resp, data := b.do(t, http.MethodPost, "/v1/messages", body, hdr...)
		require.Equal(t, http.StatusOK, resp.StatusCode, string(data))
		var m anMessage
		require.NoError(t, json.Unmarshal(data, &m))
		require.Equal(t, "message", m.Type)
		require.Equal(t, "assistant", m.Role)
		require.Equal(t, "claude-sim-20250101", m.Model)
		require.Equal(t, "end_turn", m.StopReason)
		require.Len(t, m.Content, 1)
		require.Equal(t, "text", m.Content[0].Type)
		require.Contains(t, m.Content[0].Text, "[Yes]")
		require.Positive(t, m.Usage.InputTokens)
		require.Positive(t, m.Usage.OutputTokens)
	})
	t.Run("stream", func(t *testing.T) {
		t.Parallel()
		sb := map[string]any{}
		for k, v := range body {
			sb[k] = v
		}
		sb["stream"] = true
		resp, data := b.do(t, http.MethodPost, "/v1/messages", sb, hdr...)
		require.Equal(t, http.StatusOK, resp.StatusCode)
		events, datas := readSSE(t, data)
		require.Equal(t, "message_start", events[0])
		require.Equal(t, "message_stop", events[len(events)-1])
		require.Contains(t, events, "content_block_start")
		require.Contains(t, events, "content_block_delta")
		require.Contains(t, events, "content_block_stop")
		require.Contains(t, events, "message_delta")
		var text strings.Builder
		var stop string
		for i, d := range datas {
			var e struct {
				Type  string `json:"type"`
				Delta struct {
					Type       string `json:"type"`
					Text       string `json:"text"`
					StopReason string `json:"stop_reason"`
				} `json:"delta"`
			}
			require.NoError(t, json.Unmarshal([]byte(d), &e), d)
			require.Equal(t, events[i], e.Type)
			if e.Delta.Type == "text_delta" {
				text.WriteString(e.Delta.Text)
			}
			if e.Type == "message_delta" {
				stop = e.Delta.StopReason
			}
		}
		require.Contains(t, text.String(), "[Yes]")
		require.Equal(t, "end_turn", stop)
	})
	t.Run("tool use", func(t *testing.T) {
		t.Parallel()
		tb := map[string]any{
			"model": "claude-sim", "max_tokens": 256,
			"tools": []map[string]any{{"name": "calc", "input_schema": map[string]any{
				"type": "object", "properties": map[string]any{"result": map[string]any{"type": "integer"}},
			}}},
			"messages": []map[string]any{{"role": "user", "content": "Use the calc tool: 6 * 7"}},
		}
		resp, data := b.do(t, http.MethodPost, "/v1/messages", tb, hdr...)
		require.Equal(t, http.StatusOK, resp.StatusCode, string(data))
		var m anMessage
		require.NoError(t, json.Unmarshal(data, &m))
		require.Equal(t, "tool_use", m.StopReason)
		require.Equal(t, "tool_use", m.Content[0].Type)
		require.Equal(t, "calc", m.Content[0].Name)
		require.JSONEq(t, `{"result":42}`, string(m.Content[0].Input))
	})
	t.Run("missing key", func(t *testing.T) {
		t.Parallel()
		resp, data := b.do(t, http.MethodPost, "/v1/messages", body, "anthropic-version", "2023-06-01")
		require.Equal(t, http.StatusUnauthorized, resp.StatusCode)
		require.Contains(t, string(data), "authentication_error")
	})
	t.Run("missing version", func(t *testing.T) {
		t.Parallel()
		resp, _ := b.do(t, http.MethodPost, "/v1/messages", body, "x-api-key", "ak")
		require.Equal(t, http.StatusBadRequest, resp.StatusCode)
	})
}

func TestIdentityEndpoints(t *testing.T) {
	t.Parallel()
	b := setupScenario(t, sim.ScenarioDefault)

	t.Run("v1 models", func(t *testing.T) {
		t.Parallel()
		resp, data := b.do(t, http.MethodGet, "/v1/models", nil)
		require.Equal(t, http.StatusOK, resp.StatusCode)
		var l struct {
			Object string `json:"object"`
			Data   []struct {
				ID          string `json:"id"`
				Object      string `json:"object"`
				Root        string `json:"root"`
				MaxModelLen int    `json:"max_model_len"`
			} `json:"data"`
		}
		require.NoError(t, json.Unmarshal(data, &l))
		require.Equal(t, "list", l.Object)
		require.Len(t, l.Data, 2)
		require.Equal(t, sim.LlamaName, l.Data[1].ID)
		require.Equal(t, "sim/Sim-Llama-8B-Instruct", l.Data[1].Root)
		require.Equal(t, 8192, l.Data[1].MaxModelLen)
	})
	t.Run("ollama tags", func(t *testing.T) {
		t.Parallel()
		_, data := b.do(t, http.MethodGet, "/api/tags", nil)
		var tags struct {
			Models []struct {
				Name    string `json:"name"`
				Digest  string `json:"digest"`
				Details struct {
					ParameterSize     string `json:"parameter_size"`
					QuantizationLevel string `json:"quantization_level"`
				} `json:"details"`
			} `json:"models"`
		}
		require.NoError(t, json.Unmarshal(data, &tags))
		require.Equal(t, sim.LlamaName, tags.Models[1].Name)
		require.Equal(t, sim.LlamaDigest, tags.Models[1].Digest)
		require.Equal(t, "Q4_K_M", tags.Models[1].Details.QuantizationLevel)
		require.Equal(t, "8.0B", tags.Models[1].Details.ParameterSize)
	})
	t.Run("ollama show", func(t *testing.T) {
		t.Parallel()
		resp, data := b.do(t, http.MethodPost, "/api/show", map[string]string{"model": sim.LlamaName + ":latest"})
		require.Equal(t, http.StatusOK, resp.StatusCode, string(data))
		var show struct {
			Digest  string `json:"digest"`
			Details struct {
				QuantizationLevel string `json:"quantization_level"`
				ParameterSize     string `json:"parameter_size"`
			} `json:"details"`
		}
		require.NoError(t, json.Unmarshal(data, &show))
		require.Equal(t, sim.LlamaDigest, show.Digest)
		require.Equal(t, "Q4_K_M", show.Details.QuantizationLevel)
		resp, _ = b.do(t, http.MethodPost, "/api/show", map[string]string{"model": "nope"})
		require.Equal(t, http.StatusNotFound, resp.StatusCode)
	})
	t.Run("llama.cpp props", func(t *testing.T) {
		t.Parallel()
		_, data := b.do(t, http.MethodGet, "/props?model="+sim.LlamaName, nil)
		var p map[string]any
		require.NoError(t, json.Unmarshal(data, &p))
		require.Equal(t, "/models/sim-llama-8b-instruct.Q4_K_M.gguf", p["model_path"])
		require.Equal(t, "b4748-c392e5094", p["build_info"])
		require.NotContains(t, p, "model_hash", "real llama.cpp reports no hash")
	})
	t.Run("tgi info", func(t *testing.T) {
		t.Parallel()
		_, data := b.do(t, http.MethodGet, "/info?model="+sim.LlamaName, nil)
		var info struct {
			ModelID    string `json:"model_id"`
			ModelSHA   string `json:"model_sha"`
			ModelDType string `json:"model_dtype"`
		}
		require.NoError(t, json.Unmarshal(data, &info))
		require.Equal(t, "sim/Sim-Llama-8B-Instruct", info.ModelID)
		require.Equal(t, "0e9e39f249a16976918f6564b8830bc894c89659", info.ModelSHA)
		require.Equal(t, "torch.bfloat16", info.ModelDType)
	})
}

func TestSilentUpdate(t *testing.T) {
	t.Parallel()

	t.Run("after N requests", func(t *testing.T) {
		t.Parallel()
		cfg, err := sim.Scenario("silent-update@10")
		require.NoError(t, err)
		b := setup(t, cfg)
		for i := range 15 {
			out := b.chat(t, userMsg("What is 1 + 1?"))
			if i < 10 {
				require.Equal(t, sim.GPTResolved, out.Model, "request %d", i+1)
				require.Equal(t, sim.GPTFingerprint, out.SystemFingerprint)
			} else {
				require.Equal(t, sim.GPTResolvedUpdated, out.Model, "request %d", i+1)
				require.Equal(t, sim.GPTFingerprintNew, out.SystemFingerprint)
			}
		}
		st := b.srv.Stats()
		require.Equal(t, 1, st.Models[sim.GPTName].UpdatesApplied)
		require.Equal(t, "silent-update", st.Models[sim.GPTName].Update)
	})
	t.Run("manual via HTTP", func(t *testing.T) {
		t.Parallel()
		b := setupScenario(t, sim.ScenarioSilentUpdate)
		require.Equal(t, sim.GPTResolved, b.chat(t, userMsg("hi")).Model)
		p0, err := b.srv.CaseProbability(sim.GPTName, "Is 97 prime?")
		require.NoError(t, err)

		resp, data := b.do(t, http.MethodPost, "/sim/update?model="+sim.GPTName, nil)
		require.Equal(t, http.StatusOK, resp.StatusCode, string(data))
		require.Equal(t, sim.GPTResolvedUpdated, b.chat(t, userMsg("hi")).Model)
		p1, err := b.srv.CaseProbability(sim.GPTName, "Is 97 prime?")
		require.NoError(t, err)
		require.LessOrEqual(t, p1, p0, "the update only degrades")

		resp, _ = b.do(t, http.MethodPost, "/sim/update?model="+sim.GPTName, nil)
		require.Equal(t, http.StatusConflict, resp.StatusCode)
		resp, _ = b.do(t, http.MethodPost, "/sim/update?model=nope", nil)
		require.Equal(t, http.StatusNotFound, resp.StatusCode)
		_, err = b.srv.Update("nope")
		require.ErrorIs(t, err, sim.ErrUnknownModel)
	})
	t.Run("wall clock", func(t *testing.T) {
		t.Parallel()
		now := time.Date(2025, 1, 1, 0, 0, 0, 0, time.UTC)
		var clock atomicTime
		clock.set(now)
		cfg, err := sim.Scenario("silent-update@1h")
		require.NoError(t, err)
		b := setup(t, cfg, sim.WithClock(clock.get))
		require.Equal(t, sim.GPTResolved, b.chat(t, userMsg("hi")).Model)
		clock.set(now.Add(time.Hour))
		require.Equal(t, sim.GPTResolvedUpdated, b.chat(t, userMsg("hi")).Model)
		id, err := b.srv.Identity(sim.GPTName)
		require.NoError(t, err)
		require.Equal(t, sim.GPTFingerprintNew, id.SystemFingerprint)
	})
	t.Run("identity endpoints follow", func(t *testing.T) {
		t.Parallel()
		cfg := sim.Config{Models: []sim.Model{{
			Name:     "llama",
			Identity: sim.Identity{Digest: "aaa", Quantization: "Q4_0"},
			Profile:  sim.Profile{Accuracy: 1},
			Updates:  []sim.Update{{Identity: &sim.Identity{Digest: "bbb"}}},
		}}}
		b := setup(t, cfg)
		_, data := b.do(t, http.MethodGet, "/api/tags", nil)
		require.Contains(t, string(data), `"digest":"aaa"`)
		_, err := b.srv.Update("llama")
		require.NoError(t, err)
		_, data = b.do(t, http.MethodGet, "/api/tags", nil)
		require.Contains(t, string(data), `"digest":"bbb"`)
		require.Contains(t, string(data), `"quantization_level":"Q4_0"`, "unset identity fields are kept")
	})
}

func TestStart(t *testing.T) {
	t.Parallel()
	cfg, err := sim.Scenario(sim.ScenarioDefault)
	require.NoError(t, err)
	srv, err := sim.New(cfg)
	require.NoError(t, err)
	url, stop, err := srv.Start(t.Context(), "127.0.0.1:0")
	require.NoError(t, err)
	resp, err := http.Get(url + "/healthz")
	require.NoError(t, err)
	_, _ = io.Copy(io.Discard, resp.Body)
	require.NoError(t, resp.Body.Close())
	require.Equal(t, http.StatusOK, resp.StatusCode)
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	require.NoError(t, stop(ctx))
	require.NoError(t, stop(ctx), "stop is idempotent")
}

func TestScenarioAndConfig(t *testing.T) {
	t.Parallel()
	for _, name := range sim.Scenarios() {
		cfg, err := sim.Scenario(name)
		require.NoError(t, err, name)
		_, err = sim.New(cfg)
		require.NoError(t, err, name)
	}
	_, err := sim.Scenario("nope")
	require.ErrorContains(t, err, "known: default")
	_, err = sim.Scenario("silent-update@soon")
	require.Error(t, err)

	dir := t.TempDir()
	yml := filepath.Join(dir, "s.yaml")
	require.NoError(t, os.WriteFile(yml, []byte(`
seed: 3
latency: {fixed: 5ms}
models:
  - name: m
    identity: {resolved_model: m-1, system_fingerprint: fp_1}
    profile:
      seed: 9
      mixture:
        - {weight: 0.6, p: 0.98}
        - {weight: 0.4, min: 0.2, max: 0.8}
      errors: {rate_limit: 0.1, retry_after: 2s}
    updates:
      - name: worse
        after_requests: 100
        profile: {accuracy: 0.5}
        identity: {resolved_model: m-2}
`), 0o600))
	cfg, err := sim.LoadConfig(yml)
	require.NoError(t, err)
	require.Equal(t, int64(3), cfg.Seed)
	require.Equal(t, 5*time.Millisecond, cfg.Latency.Fixed.D())
	require.Equal(t, 2*time.Second, cfg.Models[0].Profile.Errors.RetryAfter.D())
	require.Equal(t, int64(100), cfg.Models[0].Updates[0].AfterRequests)
	require.Equal(t, "m-2", cfg.Models[0].Updates[0].Identity.ResolvedModel)

	js := filepath.Join(dir, "s.json")
	require.NoError(t, os.WriteFile(js, []byte(`{"models":[{"name":"m","profile":{"accuracy":0.5,"latency":{"fixed":"10ms"}}}]}`), 0o600))
	cfg, err = sim.LoadConfig(js)
	require.NoError(t, err)
	require.Equal(t, 10*time.Millisecond, cfg.Models[0].Profile.Latency.Fixed.D())

	bad := filepath.Join(dir, "bad.yaml")
	require.NoError(t, os.WriteFile(bad, []byte("models:\n  - name: m\n    profile: {acuracy: 0.5}\n"), 0o600))
	_, err = sim.LoadConfig(bad)
	require.ErrorContains(t, err, "acuracy")

	_, err = sim.New(sim.Config{Models: []sim.Model{{Name: "a"}, {Name: "a", Profile: sim.Profile{Refusal: 2}}}})
	require.ErrorContains(t, err, "duplicate model name")
	require.ErrorContains(t, err, "models[1].profile.refusal")
	_, err = sim.New(sim.Config{})
	require.ErrorContains(t, err, "at least one")
}

func TestRejections(t *testing.T) {
	t.Parallel()
	b := setup(t, sim.Config{APIKey: "k", Models: []sim.Model{fixedModel("m", sim.Profile{Accuracy: 1})}})
	resp, data := b.do(t, http.MethodPost, "/v1/chat/completions", userMsg("hi"))
	require.Equal(t, http.StatusUnauthorized, resp.StatusCode)
	require.Contains(t, string(data), "invalid_api_key")
	resp, _ = b.do(t, http.MethodGet, "/v1/models", nil, "Authorization", "Bearer nope")
	require.Equal(t, http.StatusUnauthorized, resp.StatusCode)
	resp, data = b.do(t, http.MethodPost, "/v1/chat/completions", userMsg("hi"), "Authorization", "Bearer k")
	require.Equal(t, http.StatusNotFound, resp.StatusCode, "sim-gpt is not in this config")
	require.Contains(t, string(data), "model_not_found")
	st := b.srv.Stats()
	require.Equal(t, int64(2), st.Errors["auth"])
	require.Equal(t, int64(1), st.Errors["not_found"])
	require.Zero(t, st.Requests, "rejected requests never reach a model")
}
