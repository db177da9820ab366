package sim

import (
	"encoding/json"
	"math/big"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/driftwatch/driftwatch/internal/jsonw"
)

func TestEvalExpr(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name string
		in   string
		want int64
		ok   bool
	}{
		{"add", "17 + 25", 42, true},
		{"mul", "12*7", 84, true},
		{"precedence", "2 + 3 * 4", 14, true},
		{"parens", "(2 + 3) * 4", 20, true},
		{"unary minus", "-5 + 3", -2, true},
		{"exact division", "84 / 7", 12, true},
		{"inexact division", "10 / 3", 0, false},
		{"division by zero", "1 / 0", 0, false},
		{"no operator", "17", 0, false},
		{"dangling operator", "3 +", 0, false},
		{"unbalanced", "(3 + 4", 0, false},
		{"overflow", "9223372036854775807 + 1", 0, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			got, ok := evalExpr(tt.in)
			require.Equal(t, tt.ok, ok)
			if ok {
				require.Equal(t, tt.want, got)
			}
		})
	}
}

func TestAnalyze(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name   string
		prompt string
		kind   answerKind
		answer string
		check  func(t *testing.T, tk task)
	}{
		{"arithmetic", "What is 17 + 25?", kindNumber, "42", nil},
		{"compute", "Compute 12*7.", kindNumber, "84", nil},
		{"unicode operators", "What is 6 × 7?", kindNumber, "42", nil},
		{"prime yes", "Is 17 a prime number? Answer [Yes] or [No].", kindPrime, "Yes", func(t *testing.T, tk task) {
			require.True(t, tk.brackets)
		}},
		{"prime no", "Is 91 prime?", kindPrime, "No", nil},
		{"hint wins", "Capital of France? [[sim:expect=Paris]]", kindHint, "Paris", nil},
		{"hint over arithmetic", "What is 2+2? [[sim:expect=5]]", kindHint, "5", nil},
		{"generic", "Write a haiku about the sea.", kindGeneric, GenericAnswer, nil},
		{"boxed", `What is 3*3? Put the answer in \boxed{}.`, kindNumber, "9", func(t *testing.T, tk task) {
			require.True(t, tk.boxed)
		}},
		{"only", "Answer with only the number: 5 - 7", kindNumber, "-2", func(t *testing.T, tk task) {
			require.True(t, tk.only)
		}},
		{"json", "Reply in JSON. What is 1 + 1?", kindNumber, "2", func(t *testing.T, tk task) {
			require.True(t, tk.wantJSON)
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			tk := analyze(tt.prompt)
			require.Equal(t, tt.kind, tk.kind)
			require.Equal(t, tt.answer, tk.answer)
			if tt.check != nil {
				tt.check(t, tk)
			}
		})
	}
}

func TestStripHint(t *testing.T) {
	t.Parallel()
	clean, hint, ok := stripHint("Name a colour. [[sim:expect=blue]] Be brief.")
	require.True(t, ok)
	require.Equal(t, "blue", hint)
	require.Equal(t, "Name a colour.  Be brief.", clean)
	require.NotContains(t, clean, "sim:expect")
}

func TestWrongAnswer(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name   string
		prompt string
		check  func(t *testing.T, wrong string)
	}{
		{"number", "What is 17 + 25?", func(t *testing.T, w string) {
			require.Contains(t, []string{"32", "40", "41", "43", "44", "52"}, w)
		}},
		{"prime", "Is 17 prime?", func(t *testing.T, w string) { require.Equal(t, "No", w) }},
		{"hint yes", "[[sim:expect=yes]]", func(t *testing.T, w string) { require.Equal(t, "no", w) }},
		{"hint True", "[[sim:expect=True]]", func(t *testing.T, w string) { require.Equal(t, "False", w) }},
		{"hint letter", "[[sim:expect=B]]", func(t *testing.T, w string) {
			require.Contains(t, []string{"A", "C", "D"}, w)
		}},
		{"hint word", "[[sim:expect=Paris]]", func(t *testing.T, w string) {
			require.NotEqual(t, "Paris", w)
			require.NotEmpty(t, w)
		}},
		{"generic", "Tell me a story.", func(t *testing.T, w string) { require.Equal(t, GenericWrongAnswer, w) }},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			for i := range 20 {
				tk := analyze(tt.prompt)
				r := newRNG(uint64(i))
				tt.check(t, wrongAnswer(&tk, &r))
			}
		})
	}
}

func TestRender(t *testing.T) {
	t.Parallel()
	plain := compileProfile(Profile{})
	tests := []struct {
		name    string
		prompt  string
		profile *compiledProfile
		want    string
	}{
		{"boxed only", `Answer with only the number in \boxed{}: 17 + 25`, plain, `\boxed{42}`},
		{"brackets", "Is 17 a prime number? Answer [Yes] or [No].", plain, "Yes, 17 is a prime number. Final answer: [Yes]"},
		{"json", "What is 2 * 21? Respond in JSON.", plain, `{"answer": 42}`},
		{"json hint string", "Capital? Respond in JSON. [[sim:expect=Pa\"ris]]", plain, `{"answer": "Pa\"ris"}`},
		{"broken json", "What is 2 * 21? Respond in JSON.", compileProfile(Profile{BrokenJSON: 1}), `{"answer": 42,`},
		{"fence", "Answer with only the number: 1+1", compileProfile(Profile{CodeFence: 1}), "```\n2\n```"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			tk := analyze(tt.prompt)
			r := newRNG(1)
			got := string(render(nil, &tk, tt.profile, tk.answer, &r))
			require.Equal(t, tt.want, got)
		})
	}
}

func TestToolArgs(t *testing.T) {
	t.Parallel()
	schema := []byte(`{"type":"object","properties":{"city":{"type":"string"},"days":{"type":"integer"},"metric":{"type":"boolean"}},"required":["city"]}`)
	tk := analyze("Use the weather tool for Paris over 3 days.")
	got := toolArgs(nil, schema, &tk, tk.answer, "Use the weather tool for Paris over 3 days.")
	var v map[string]any
	require.NoError(t, json.Unmarshal(got, &v))
	require.Equal(t, map[string]any{"city": "Paris", "days": float64(3), "metric": true}, v)
}

func TestAppendJSONString(t *testing.T) {
	t.Parallel()
	for _, s := range []string{"plain", "quote \" backslash \\", "ctl \x01\n\t\r", "é ü 日本", "bad \xff utf8", "sep \u2028"} {
		var got string
		require.NoError(t, json.Unmarshal(jsonw.AppendString(nil, s), &got), s)
		want, err := json.Marshal(s)
		require.NoError(t, err)
		var w string
		require.NoError(t, json.Unmarshal(want, &w))
		require.Equal(t, w, got)
	}
}

func TestPromptHash(t *testing.T) {
	t.Parallel()
	require.Equal(t, PromptHash("What is  2+2?\n"), PromptHash("what is 2+2?"))
	require.NotEqual(t, PromptHash("ab", "c"), PromptHash("a", "bc"))
	require.Len(t, PromptHash("x"), 16)
}

func TestIsPrime(t *testing.T) {
	t.Parallel()
	for n := range uint64(2000) {
		require.Equal(t, big.NewInt(int64(n)).ProbablyPrime(20), isPrime(n), n)
	}
	for _, n := range []uint64{1<<61 - 1, 18446744073709551557, 3215031751, 341550071728321, 1<<62 + 1} {
		require.Equal(t, new(big.Int).SetUint64(n).ProbablyPrime(20), isPrime(n), n)
	}
}
