package check_test

import (
	"context"
	"strings"
	"testing"
	"time"
	"unicode/utf8"

	"github.com/driftwatch/driftwatch/eval"
	"github.com/driftwatch/driftwatch/eval/check"
	"github.com/stretchr/testify/require"
	"go.uber.org/goleak"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

// long is a 1 MiB+ output used to check bounds and reason sizes.
var long = strings.Repeat("lorem ipsum dolor sit amet ", 40000) + "NEEDLE"

type checkCase struct {
	name   string
	check  eval.Checker
	in     eval.CheckInput
	pass   bool
	score  float64 // checked when >= 0
	reason string  // substring of the reason, when set
}

func out(s string) eval.CheckInput { return eval.CheckInput{Output: s} }

func runCases(t *testing.T, cases []checkCase) {
	t.Helper()
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			r := tc.check.Check(context.Background(), tc.in)
			require.Equal(t, tc.pass, r.Pass, "reason: %s", r.Reason)
			require.GreaterOrEqual(t, r.Score, 0.0)
			require.LessOrEqual(t, r.Score, 1.0)
			if tc.score >= 0 {
				require.InDelta(t, tc.score, r.Score, 0.01, "reason: %s", r.Reason)
			}
			require.NotEmpty(t, r.Name)
			require.NotEmpty(t, r.Reason)
			require.LessOrEqual(t, utf8.RuneCountInString(r.Reason), 410, "reason too long")
			if tc.reason != "" {
				require.Contains(t, r.Reason, tc.reason)
			}
		})
	}
}

func TestText(t *testing.T) {
	t.Parallel()
	runCases(t, []checkCase{
		{"equals trims", check.Equals("Paris"), out("  Paris\n"), true, 1, ""},
		{"equals differs", check.Equals("Paris"), out("paris"), false, 0, `does not equal "Paris"`},
		{"equals empty", check.Equals(""), out(" \n"), true, 1, ""},
		{"contains", check.Contains("Paris"), out("It is Paris."), true, 1, ""},
		{"contains missing", check.Contains("Paris"), out("It is Lyon."), false, 0, "does not contain"},
		{"contains unicode", check.Contains("日本"), out("東京は日本の首都"), true, 1, ""},
		{"contains empty output", check.Contains("x"), out(""), false, 0, ""},
		{"contains long", check.Contains("NEEDLE"), out(long), true, 1, ""},
		{"contains long miss reason bounded", check.Contains("HAYSTACK"), out(long), false, 0, "…"},
		{"not-contains", check.NotContains("sorry"), out("Here you go"), true, 1, ""},
		{"not-contains hit", check.NotContains("sorry"), out("so sorry"), false, 0, "at byte 3"},
		{"icontains", check.IContains("PARIS"), out("paris"), true, 1, ""},
		{"icontains unicode", check.IContains("ÉTÉ"), out("un été chaud"), true, 1, ""},
		{"not-icontains", check.NotIContains("Sorry"), out("SORRY"), false, 0, ""},
		{"contains-any", check.ContainsAny("cat", "dog"), out("a dog"), true, 1, ""},
		{"contains-any none", check.ContainsAny("cat", "dog"), out("a bird"), false, 0, "none of"},
		{"contains-all partial", check.ContainsAll("a", "b", "c", "z"), out("abc"), false, 0.75, `lacks 1 of 4 values: "z"`},
		{"contains-all", check.ContainsAll("a", "b"), out("ab"), true, 1, ""},
		{"icontains-any", check.IContainsAny("CAT"), out("Cat"), true, 1, ""},
		{"icontains-all", check.IContainsAll("CAT", "DOG"), out("cat and dog"), true, 1, ""},
		{"starts-with", check.StartsWith("Yes"), out("\n Yes, indeed"), true, 1, ""},
		{"starts-with no", check.StartsWith("Yes"), out("No"), false, 0, ""},
		{"ends-with", check.EndsWith("END"), out("the END\n"), true, 1, ""},
		{"ends-with long miss", check.EndsWith("xyz"), out(long), false, 0, "NEEDLE"},
		{"not", check.Not(check.Contains("a")), out("b"), true, 1, "not: "},
	})
}

func TestRegex(t *testing.T) {
	t.Parallel()
	runCases(t, []checkCase{
		{"match", check.MustRegex(`\d{3}`), out("call 555 now"), true, 1, `"555"`},
		{"no match", check.MustRegex(`^\d+$`), out("12a"), false, 0, ""},
		{"unicode class", check.MustRegex(`\p{Han}+`), out("abc漢字"), true, 1, ""},
		{"empty output", check.MustRegex(`^$`), out(""), true, 1, ""},
		{"long is bounded", check.MustRegex(`NEEDLE`), out(long), false, 0, "first 1048576 bytes"},
	})
	for _, tc := range []struct{ name, pattern, err string }{
		{"missing paren", `(abc`, `regex: missing closing ) in "(abc"`},
		{"bad repeat", `*a`, "regex: missing argument to repetition operator"},
		{"backreference", `(a)\1`, "regex: invalid escape sequence"},
		{"too long", strings.Repeat("a", check.MaxPatternLen+1), "regex: pattern is 4097 bytes, the limit is 4096"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			_, err := check.Regex(tc.pattern)
			require.ErrorContains(t, err, tc.err)
		})
	}
}

func TestRegexCatastrophicPatternIsLinear(t *testing.T) {
	t.Parallel()
	c := check.MustRegex(`(a+)+$`)
	in := strings.Repeat("a", 100_000) + "b" // exponential backtracking would never finish
	start := time.Now()
	r := c.Check(context.Background(), out(in))
	require.Less(t, time.Since(start), 5*time.Second)
	require.False(t, r.Pass)
	c = check.MustRegex(`^(a|aa)+$`)
	r = c.Check(context.Background(), out(strings.Repeat("a", 100000)+"!"))
	require.False(t, r.Pass)
}

func TestJSON(t *testing.T) {
	t.Parallel()
	schema := `{"type":"object","properties":{"answer":{"type":"integer"},"tags":{"type":"array","items":{"type":"string"}}},"required":["answer"],"additionalProperties":false}`
	runCases(t, []checkCase{
		{"is-json object", check.IsJSON(), out(`{"a":1}`), true, 1, ""},
		{"is-json fenced", check.IsJSON(), out("```json\n{\"a\": [1, 2]}\n```"), true, 1, ""},
		{"is-json invalid", check.IsJSON(), out(`{"a":1,}`), false, 0, "not valid JSON"},
		{"is-json trailing", check.IsJSON(), out(`{"a":1} {"b":2}`), false, 0, "after the JSON"},
		{"is-json prose", check.IsJSON(), out(`Here: {"a":1}`), false, 0, ""},
		{"is-json empty", check.IsJSON(), out(""), false, 0, ""},
		{"contains-json", check.ContainsJSON(), out(`Sure! {"a": 1} hope it helps`), true, 1, ""},
		{"contains-json none", check.ContainsJSON(), out(`{{{{ [[[`), false, 0, ""},
		{"contains-json adversarial", check.ContainsJSON(), out(strings.Repeat("{", 1<<20)), false, 0, ""},
		{"schema ok", check.MustJSONSchema(schema), out(`{"answer": 42, "tags": ["x"]}`), true, 1, ""},
		{"schema wrong type", check.MustJSONSchema(schema), out(`{"answer": "42"}`), false, 0, "at '/answer': got string, want integer"},
		{"schema missing", check.MustJSONSchema(schema), out(`{"tags": []}`), false, 0, "missing property"},
		{"schema extra", check.MustJSONSchema(schema), out(`{"answer": 1, "x": 2}`), false, 0, "additional properties 'x' not allowed"},
		{"schema invalid json", check.MustJSONSchema(schema), out(`{answer: 1}`), false, 0, "not valid JSON"},
		{"schema big int", check.MustJSONSchema(schema), out(`{"answer": 12345678901234567890}`), true, 1, ""},
		{"path", mustPath(t, "$.answer", 42), out(`{"answer": 42.0}`), true, 1, ""},
		{"path nested", mustPath(t, "$.items[1].id", "b"), out(`{"items":[{"id":"a"},{"id":"b"}]}`), true, 1, ""},
		{"path object", mustPath(t, "$.o", map[string]any{"x": 1}), out(`{"o":{"x":1}}`), true, 1, ""},
		{"path differs", mustPath(t, "$.answer", 42), out(`{"answer": 41}`), false, 0, "$.answer = 41, want 42"},
		{"path missing", mustPath(t, "$.nope", 1), out(`{"answer": 41}`), false, 0, "not found"},
		{"path unicode", mustPath(t, "$.city", "Zürich"), out(`{"city":"Zürich"}`), true, 1, ""},
	})
	_, err := check.JSONSchema(`{"type": 5}`)
	require.ErrorContains(t, err, "json-schema:")
	_, err = check.JSONSchema(`{"$ref": "http://example.com/s.json"}`)
	require.ErrorContains(t, err, "not allowed")
	_, err = check.JSONPathEquals("$.[", 1)
	require.ErrorContains(t, err, "json-path:")
}

func mustPath(t *testing.T, path string, v any) eval.Checker {
	t.Helper()
	c, err := check.JSONPathEquals(path, v)
	require.NoError(t, err)
	return c
}

func TestFormatFlags(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name       string
		text       string
		json, code bool
	}{
		{"object", `{"a":1}`, true, false},
		{"array ws", " [1,2]\n", true, false},
		{"string", `"hi"`, true, false},
		{"fenced json", "```json\n{\"a\":1}\n```", true, true},
		{"fenced plain", "```\n[1]\n```", true, true},
		{"two fences", "```json\n{}\n```\n```json\n{}\n```", false, true},
		{"prose + fence", "Here:\n```json\n{}\n```", false, true},
		{"tilde fence", "~~~\ncode\n~~~", false, true},
		{"empty", "", false, false},
		{"plain", "hello", false, false},
		{"inline backticks", "use `x` here", false, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			require.Equal(t, tc.json, check.JSONValid(tc.text))
			require.Equal(t, tc.code, check.HasCodeFence(tc.text))
		})
	}
}

func resp(r eval.Response) eval.CheckInput { return eval.CheckInput{Output: r.Text, Response: &r} }

func TestResponseChecks(t *testing.T) {
	t.Parallel()
	runCases(t, []checkCase{
		{"length ok", check.Length{Min: 2, Max: 5}, out("héllo"), true, 1, "5 characters"},
		{"length short", check.Length{Min: 10}, out("hello"), false, 0.5, "below the minimum 10"},
		{"length long", check.Length{Max: 3}, out("hello"), false, 0.6, "above the maximum 3"},
		{"length empty", check.Length{Min: 1}, out(""), false, 0, ""},
		{"length 1MB", check.Length{Max: 100}, out(long), false, -1, ""},
		{"tokens reported", check.Tokens{Max: 10}, resp(eval.Response{Text: "x", Usage: eval.Usage{OutputTokens: 20}}), false, 0.5, "(reported)"},
		{"tokens estimated", check.Tokens{Min: 1, Max: 10}, out("four words in here"), true, 1, "(estimated)"},
		{"finish ok", check.FinishReason("stop", "tool_calls"), resp(eval.Response{FinishReason: "STOP"}), true, 1, ""},
		{"finish length", check.FinishReason("stop"), resp(eval.Response{FinishReason: "length"}), false, 0, `"length"`},
		{"finish no response", check.FinishReason("stop"), out("x"), false, 0, "no response"},
		{"latency ok", check.Latency(time.Second), resp(eval.Response{Latency: 200 * time.Millisecond}), true, 1, ""},
		{"latency slow", check.Latency(time.Second), resp(eval.Response{Latency: 4 * time.Second}), false, 0.25, "exceeds 1s"},
		{"latency no response", check.Latency(time.Second), out(""), false, 0, "no response"},
		{"cost ok", check.Cost(0.01), resp(eval.Response{CostUSD: 0.001}), true, 1, ""},
		{"cost over", check.Cost(0.01), resp(eval.Response{CostUSD: 0.02}), false, 0.5, "exceeds"},
	})
	require.Equal(t, 3, check.EstimateTokens("hello world"))
	require.Equal(t, 0, check.EstimateTokens(""))
}

func TestToolCall(t *testing.T) {
	t.Parallel()
	req := &eval.Request{Tools: []eval.Tool{{
		Name:       "get_weather",
		Parameters: []byte(`{"type":"object","properties":{"city":{"type":"string"},"unit":{"enum":["c","f"]}},"required":["city"]}`),
	}, {Name: "no_schema"}}}
	in := func(calls ...eval.ToolCall) eval.CheckInput {
		return eval.CheckInput{Request: req, Response: &eval.Response{ToolCalls: calls}}
	}
	named := func(name, schema string) eval.Checker {
		c, err := check.ToolCall(name, schema)
		require.NoError(t, err)
		return c
	}
	runCases(t, []checkCase{
		{"valid", named("get_weather", ""), in(eval.ToolCall{Name: "get_weather", Arguments: `{"city":"Oslo"}`}), true, 1, ""},
		{"missing required", named("get_weather", ""), in(eval.ToolCall{Name: "get_weather", Arguments: `{"unit":"c"}`}), false, 0, "missing property"},
		{"bad enum", named("get_weather", ""), in(eval.ToolCall{Name: "get_weather", Arguments: `{"city":"Oslo","unit":"k"}`}), false, 0, "at '/unit'"},
		{"invalid json", named("get_weather", ""), in(eval.ToolCall{Name: "get_weather", Arguments: `{"city":`}), false, 0, "not valid JSON"},
		{"not object", named("get_weather", ""), in(eval.ToolCall{Name: "get_weather", Arguments: `["Oslo"]`}), false, 0, "not a JSON object"},
		{"not called", named("get_weather", ""), in(eval.ToolCall{Name: "no_schema", Arguments: `{}`}), false, 0, `did not call "get_weather"`},
		{"no calls", named("", ""), in(), false, 0, "no tool call"},
		{"undeclared", named("", ""), in(eval.ToolCall{Name: "rm_rf", Arguments: `{}`}), false, 0, "not declared"},
		{"any valid", named("", ""), in(eval.ToolCall{Name: "no_schema", Arguments: `{"x":1}`}), true, 1, ""},
		{"half valid", named("get_weather", ""), in(
			eval.ToolCall{Name: "get_weather", Arguments: `{"city":"Oslo"}`},
			eval.ToolCall{Name: "get_weather", Arguments: `{}`}), false, 0.5, "1 of 2"},
		{"explicit schema", named("get_weather", `{"type":"object","required":["unit"]}`), in(eval.ToolCall{Name: "get_weather", Arguments: `{"city":"Oslo"}`}), false, 0, "unit"},
		{"no response", named("x", ""), out(""), false, 0, "no response"},
	})
	_, err := check.ToolCall("x", `{"type":`)
	require.ErrorContains(t, err, `tool-call "x": arguments json-schema`)
}

func TestFuncWeighted(t *testing.T) {
	t.Parallel()
	f := check.Func("len3", func(in eval.CheckInput) (bool, float64, string) {
		return len(in.Output) == 3, 7, "custom"
	})
	runCases(t, []checkCase{
		{"func clamps", f, out("abc"), true, 1, "custom"},
		{"weighted pass", check.Weighted([]check.WeightedCheck{
			{Check: check.Contains("a"), Weight: 3},
			{Check: check.Contains("z"), Weight: 1},
		}, 0.7), out("abc"), true, 0.75, "weighted score 0.750"},
		{"weighted fail", check.Weighted([]check.WeightedCheck{
			{Check: check.Contains("a"), Weight: 1},
			{Check: check.Contains("z"), Weight: 3},
		}, 0.5), out("abc"), false, 0.25, ""},
		{"weighted empty", check.Weighted(nil, 1), out(""), true, 1, ""},
	})
	r := check.WithWeight(check.Contains("a"), 2).Check(context.Background(), out("a"))
	require.InDelta(t, 2.0, r.Weight, 0)
}

func TestWeightedScore(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name string
		rs   []eval.CheckResult
		want float64
	}{
		{"none", nil, 1},
		{"zero weight is one", []eval.CheckResult{{Score: 1}, {Score: 0}}, 0.5},
		{"weights", []eval.CheckResult{{Score: 1, Weight: 3}, {Score: 0, Weight: 1}}, 0.75},
		{"negative ignored", []eval.CheckResult{{Score: 1, Weight: -5}, {Score: 0.5}}, 0.5},
		{"clamped", []eval.CheckResult{{Score: 7}, {Score: -1}}, 0.5},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			require.InDelta(t, tc.want, check.WeightedScore(tc.rs), 1e-9)
		})
	}
}
