package check_test

import (
	"context"
	"slices"
	"testing"
	"time"

	"github.com/driftwatch/driftwatch/eval"
	"github.com/driftwatch/driftwatch/eval/check"
	"github.com/stretchr/testify/require"
	"gopkg.in/yaml.v3"
)

func f(v float64) *float64 { return &v }

func TestNew(t *testing.T) {
	t.Parallel()
	opts := check.Options{
		Judge:    judge(`{"pass":true,"score":0.9}`, nil, nil),
		Embedder: fakeEmbedder(map[string][]float64{"ref": {1, 0}, "same": {1, 0}}, nil),
	}
	toolIn := eval.CheckInput{
		Request:  &eval.Request{Tools: []eval.Tool{{Name: "f", Parameters: []byte(`{"type":"object"}`)}}},
		Response: &eval.Response{ToolCalls: []eval.ToolCall{{Name: "f", Arguments: `{}`}}},
	}
	for _, tc := range []struct {
		name string
		spec check.Spec
		in   eval.CheckInput
		pass bool
	}{
		{"equals", check.Spec{Type: "equals", Value: "a"}, out("a"), true},
		{"equals number as json", check.Spec{Type: "equals", Value: 42}, out("42.0"), true},
		{"equals object", check.Spec{Type: "equals", Value: map[string]any{"a": 1}}, out(`{"a": 1}`), true},
		{"not-equals", check.Spec{Type: "not-equals", Value: "a"}, out("b"), true},
		{"contains number", check.Spec{Type: "contains", Value: 7}, out("x7"), true},
		{"icontains", check.Spec{Type: "icontains", Value: "A"}, out("a"), true},
		{"not-icontains", check.Spec{Type: "not-icontains", Value: "A"}, out("a"), false},
		{"contains-any values", check.Spec{Type: "contains-any", Values: []string{"x", "y"}}, out("y"), true},
		{"contains-all yaml list", check.Spec{Type: "contains-all", Value: []any{"x", "y"}}, out("xy"), true},
		{"icontains-all", check.Spec{Type: "icontains-all", Values: []string{"X", "Y"}}, out("xy"), true},
		{"not-contains-any", check.Spec{Type: "not-contains-any", Values: []string{"x"}}, out("y"), true},
		{"regex", check.Spec{Type: "regex", Value: `^\d+$`}, out("12"), true},
		{"not-regex", check.Spec{Type: "not-regex", Value: `\d`}, out("12"), false},
		{"starts-with", check.Spec{Type: "starts-with", Value: "a"}, out("ab"), true},
		{"ends-with", check.Spec{Type: "ends_with", Value: "b"}, out("ab"), true},
		{"is-json", check.Spec{Type: "is-json"}, out("{}"), true},
		{"is-json schema", check.Spec{Type: "is-json", Schema: map[string]any{"type": "array"}}, out("{}"), false},
		{"not-is-json", check.Spec{Type: "not-is-json"}, out("nope"), true},
		{"contains-json", check.Spec{Type: "contains-json"}, out(`x {"a":1}`), true},
		{"contains-json schema", check.Spec{Type: "contains-json", Schema: `{"required":["b"]}`}, out(`x {"a":1}`), false},
		{"json-schema", check.Spec{Type: "json-schema", Value: map[string]any{"type": "object"}}, out(`{}`), true},
		{"json-path", check.Spec{Type: "json-path", Path: "$.a", Value: 1}, out(`{"a":1}`), true},
		{"is-refusal", check.Spec{Type: "is-refusal"}, out("I cannot assist with that."), true},
		{"not-refusal", check.Spec{Type: "not-refusal"}, out("Sure."), true},
		{"length", check.Spec{Type: "length", Min: f(1), Max: f(3)}, out("abcd"), false},
		{"tokens", check.Spec{Type: "tokens", Max: f(100)}, out("abcd"), true},
		{"finish-reason", check.Spec{Type: "finish-reason", Value: "stop"}, resp(eval.Response{FinishReason: "stop"}), true},
		{"tool-call", check.Spec{Type: "tool-call", Value: "f"}, toolIn, true},
		{"is-valid-tool-call", check.Spec{Type: "is-valid-tool-call"}, toolIn, true},
		{"levenshtein", check.Spec{Type: "levenshtein", Ref: "abc"}, out("abc"), true},
		{"rouge-l", check.Spec{Type: "rouge-l", Value: "a b c", Threshold: f(0.9)}, out("a b d"), false},
		{"similar", check.Spec{Type: "similar", Ref: "hello world"}, out("Hello world"), true},
		{"embedding-similar", check.Spec{Type: "embedding-similar", Ref: "ref"}, out("same"), true},
		{"llm-rubric", check.Spec{Type: "llm-rubric", Value: "is nice", Threshold: f(0.95)}, out("x"), false},
		{"latency ms", check.Spec{Type: "latency", Max: f(500)}, resp(eval.Response{Latency: 600 * time.Millisecond}), false},
		{"latency threshold", check.Spec{Type: "latency", Threshold: f(500)}, resp(eval.Response{Latency: 400 * time.Millisecond}), true},
		{"cost", check.Spec{Type: "cost", Threshold: f(0.01)}, resp(eval.Response{CostUSD: 0.001}), true},
		{"upper case type", check.Spec{Type: " Contains ", Value: "a"}, out("a"), true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			c, err := check.New(tc.spec, opts)
			require.NoError(t, err)
			r := c.Check(context.Background(), tc.in)
			require.Equal(t, tc.pass, r.Pass, r.Reason)
		})
	}
}

func TestNewErrors(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name string
		spec check.Spec
		opts check.Options
		err  string
	}{
		{"typo", check.Spec{Type: "containz", Value: "a"}, check.Options{}, `unknown check type "containz" (did you mean "contains"?)`},
		{"typo negation", check.Spec{Type: "not-contans", Value: "a"}, check.Options{}, `(did you mean "not-contains"?)`},
		{"far off", check.Spec{Type: "frobnicate"}, check.Options{}, `unknown check type "frobnicate" (see check.Types)`},
		{"empty type", check.Spec{}, check.Options{}, "check type is required"},
		{"no negation of refusal", check.Spec{Type: "not-is-refusal"}, check.Options{}, "unknown check type"},
		{"regex", check.Spec{Type: "regex", Value: "(abc"}, check.Options{}, `regex: missing closing ) in "(abc"`},
		{"not-regex", check.Spec{Type: "not-regex", Value: "(abc"}, check.Options{}, `regex: missing closing )`},
		{"missing value", check.Spec{Type: "contains"}, check.Options{}, "contains: value is required"},
		{"map value", check.Spec{Type: "contains", Value: map[string]any{}}, check.Options{}, "contains: value must be a string, got map[string]interface {}"},
		{"unused field", check.Spec{Type: "contains", Value: "a", Path: "$.x"}, check.Options{}, `contains: field "path" is not used by this check type`},
		{"empty values", check.Spec{Type: "contains-any"}, check.Options{}, "values is required"},
		{"bad list item", check.Spec{Type: "contains-all", Value: []any{"a", []any{}}}, check.Options{}, "value[1] must be a string"},
		{"json-schema missing", check.Spec{Type: "json-schema"}, check.Options{}, "json-schema: schema is required"},
		{"json-schema invalid", check.Spec{Type: "json-schema", Value: `{"type":`}, check.Options{}, "json-schema: schema is not valid JSON"},
		{"json-path no path", check.Spec{Type: "json-path", Value: 1}, check.Options{}, "json-path: path is required"},
		{"length no bounds", check.Spec{Type: "length"}, check.Options{}, "length: set min and/or max"},
		{"length inverted", check.Spec{Type: "length", Min: f(5), Max: f(2)}, check.Options{}, "max 2 is below min 5"},
		{"length fractional", check.Spec{Type: "length", Min: f(1.5)}, check.Options{}, "min 1.5 must be a whole number"},
		{"threshold range", check.Spec{Type: "similar", Ref: "a", Threshold: f(2)}, check.Options{}, "similar: threshold 2 is outside [0,1]"},
		{"similar no ref", check.Spec{Type: "similar"}, check.Options{}, "ref is required"},
		{"ref and value", check.Spec{Type: "rouge-l", Ref: "a", Value: "b"}, check.Options{}, "set ref or value, not both"},
		{"no embedder", check.Spec{Type: "embedding-similar", Ref: "a"}, check.Options{}, "no embedder configured"},
		{"no judge", check.Spec{Type: "llm-rubric", Value: "x"}, check.Options{}, "llm-rubric: no judge configured"},
		{"latency missing", check.Spec{Type: "latency"}, check.Options{}, "latency: max is required (in milliseconds)"},
		{"cost negative", check.Spec{Type: "cost", Max: f(-1)}, check.Options{}, "cost: max -1 must be > 0"},
		{"negative weight", check.Spec{Type: "contains", Value: "a", Weight: -1}, check.Options{}, "weight -1 must be"},
		{"tool schema invalid", check.Spec{Type: "tool-call", Schema: 5}, check.Options{}, "schema must be an object or JSON text"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			_, err := check.New(tc.spec, tc.opts)
			require.ErrorContains(t, err, tc.err)
		})
	}
}

func TestNewWeightAndYAML(t *testing.T) {
	t.Parallel()
	var specs []check.Spec
	require.NoError(t, yaml.Unmarshal([]byte(`
- type: contains
  value: Paris
  weight: 2
- type: json-schema
  schema:
    type: object
    required: [answer]
- type: contains-any
  value: [a, b]
- type: length
  max: 100
`), &specs))
	require.Len(t, specs, 4)
	var rs []eval.CheckResult
	for _, s := range specs {
		c, err := check.New(s, check.Options{})
		require.NoError(t, err)
		rs = append(rs, c.Check(context.Background(), out(`{"answer": "Paris"}`)))
	}
	require.InDelta(t, 2.0, rs[0].Weight, 0)
	require.True(t, rs[0].Pass)
	require.True(t, rs[1].Pass, rs[1].Reason)
	require.True(t, rs[2].Pass)
	require.InDelta(t, 1.0, check.WeightedScore(rs), 1e-9)
}

func TestTypes(t *testing.T) {
	t.Parallel()
	ts := check.Types()
	require.True(t, slices.IsSorted(ts))
	for _, want := range []string{"equals", "contains", "icontains", "contains-any", "contains-all", "icontains-any",
		"icontains-all", "not-contains", "not-icontains", "not-equals", "regex", "not-regex", "starts-with", "ends-with",
		"is-json", "contains-json", "json-schema", "json-path", "is-refusal", "not-refusal", "length", "tokens",
		"finish-reason", "is-valid-tool-call", "tool-call", "levenshtein", "rouge-l", "similar", "embedding-similar",
		"llm-rubric", "latency", "cost"} {
		require.Contains(t, ts, want)
	}
	require.NotContains(t, ts, "not-is-refusal")
}
