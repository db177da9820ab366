package openai

import (
	"encoding/json"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/driftwatch/driftwatch/eval"
)

func TestDecodeFastMatchesEncodingJSON(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name string
		body string
		fast bool // the fast decoder handles it (else encoding/json does)
	}{
		{"documented", okBody, true},
		{"simulator", `{"id":"chatcmpl-sim1","object":"chat.completion","created":1,"model":"m-1","system_fingerprint":"fp","choices":[{"index":0,"message":{"role":"assistant","content":"The answer is 7.","refusal":null},"logprobs":null,"finish_reason":"stop"}],"usage":{"prompt_tokens":7,"completion_tokens":4,"total_tokens":11,"details":{"x":[1.5e3,-2,true,false,"a\"b"]}}}`, true},
		{"null content", `{"model":"m","choices":[{"message":{"role":"assistant","content":null},"finish_reason":"content_filter"}],"usage":null}`, true},
		{"refusal", `{"model":"m","choices":[{"message":{"content":"","refusal":"I can't."},"finish_reason":"stop"},{"message":{"content":"second"}}]}`, true},
		{"escapes", `{"model":"m","choices":[{"message":{"content":"line\nnext \u00e9 \"q\""},"finish_reason":"stop"}]}`, false},
		{"tool calls", `{"model":"m","choices":[{"message":{"content":null,"tool_calls":[{"id":"c1","type":"function","function":{"name":"f","arguments":"{}"}}]},"finish_reason":"tool_calls"}]}`, false},
		{"float tokens", `{"model":"m","choices":[],"usage":{"prompt_tokens":1.0}}`, false},
		{"truncated", `{"id":"chatcmpl-1","choices":[{"message":`, false},
		{"trailing", `{"model":"m"} x`, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			var fast, std fastResponse
			require.Equal(t, tc.fast, decodeFast([]byte(tc.body), &fast))
			if !tc.fast {
				return
			}
			require.NoError(t, json.Unmarshal([]byte(tc.body), &std))
			require.Equal(t, std.Model, fast.Model)
			require.Equal(t, std.SystemFingerprint, fast.SystemFingerprint)
			require.Equal(t, std.Usage, fast.Usage)
			require.Equal(t, len(std.Choices) > 0, len(fast.Choices) > 0)
			if len(std.Choices) > 0 {
				require.Equal(t, std.Choices[0], fast.Choices[0])
			}
		})
	}
}

func TestAppendRequestMatchesGoOpenAI(t *testing.T) {
	t.Parallel()
	c, err := New(Config{BaseURL: "http://127.0.0.1:1/v1", Model: "gpt-4o", APIKey: "k"}, nil)
	require.NoError(t, err)
	temp, topP, seed := 0.0, 0.9, int64(42)
	for _, req := range []*eval.Request{
		userReq(),
		{Messages: []eval.Message{{Role: "user", Content: "<b>&amp;</b> \u2028 \x01 \xff é \"q\" \\"}}},
		{Messages: []eval.Message{{Role: "system", Content: "s"}, {Role: "tool", Content: "r", ToolCallID: "c1", Name: "f"}},
			Params: eval.Params{Temperature: &temp, TopP: &topP, Seed: &seed, MaxTokens: 5, Stop: []string{"\n", "END"}}},
	} {
		require.True(t, c.fastRequest(req))
		want, err := json.Marshal(c.buildRequest(req))
		require.NoError(t, err)
		require.JSONEq(t, string(want), string(c.appendRequest(nil, req)))
	}
}
