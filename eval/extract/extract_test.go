package extract_test

import (
	"fmt"
	"strings"
	"testing"

	"github.com/driftwatch/driftwatch/eval"
	"github.com/driftwatch/driftwatch/eval/extract"
	"github.com/stretchr/testify/require"
	"go.uber.org/goleak"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

var long = strings.Repeat("filler text 7 ", 80000) // > 1 MiB

type exCase struct {
	name string
	in   string
	want string // "" means ok is false
}

func run(t *testing.T, e eval.Extractor, cases []exCase) {
	t.Helper()
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			got, ok := e.Extract(tc.in)
			require.Equal(t, tc.want != "", ok, "got %q", got)
			require.Equal(t, tc.want, got)
		})
	}
}

func TestRegex(t *testing.T) {
	t.Parallel()
	run(t, extract.MustRegex(`(?i)category:\s*(\w+)`), []exCase{
		{"group", "Category: Billing\nmore", "Billing"},
		{"none", "no category here", ""},
		{"empty", "", ""},
		{"long", long + "category: late", ""}, // beyond the 1 MiB bound
	})
	run(t, extract.MustRegex(`\d+`), []exCase{
		{"whole match", "abc 123 def 456", "123"},
		{"unicode", "値は４２", ""}, // \d is ASCII only in RE2
	})
	run(t, extract.MustRegex(`(x)?y+`), []exCase{
		{"unused group falls back", "yyy", "yyy"},
		{"used group", "xyy", "x"},
	})
	_, err := extract.Regex("(a")
	require.EqualError(t, err, `regex: missing closing ) in "(a"`)
	_, err = extract.Regex(strings.Repeat("a", 5000))
	require.ErrorContains(t, err, "limit is 4096")
}

func TestJSONPath(t *testing.T) {
	t.Parallel()
	e, err := extract.JSONPath("$.answer")
	require.NoError(t, err)
	run(t, e, []exCase{
		{"string", `{"answer": " Paris "}`, "Paris"},
		{"number", `{"answer": 42.0}`, "42"},
		{"bool", `{"answer": true}`, "true"},
		{"null", `{"answer": null}`, "null"},
		{"object sorted", `{"answer": {"b":1,"a":2}}`, `{"a":2,"b":1}`},
		{"fenced", "```json\n{\"answer\": \"B\"}\n```", "B"},
		{"missing", `{"x": 1}`, ""},
		{"invalid", `{"answer": `, ""},
		{"prose", `The answer is {"answer": 1}`, ""},
		{"unicode", `{"answer": "Zürich"}`, "Zürich"},
		{"empty", ``, ""},
	})
	_, err = extract.JSONPath("$.[")
	require.ErrorContains(t, err, "json-path:")
}

func TestFirstLine(t *testing.T) {
	t.Parallel()
	run(t, extract.FirstLine(), []exCase{
		{"simple", "Positive\nbecause ...", "Positive"},
		{"blank lines", "\n\n  **Negative.**  \nx", "Negative"},
		{"heading", "## Neutral\n", "Neutral"},
		{"backticks", "`spam`", "spam"},
		{"empty", "", ""},
		{"only space", " \n\t\n", ""},
		{"unicode", "  Позитивный\n", "Позитивный"},
		{"long", long, strings.TrimSpace(long[:extract.MaxFirstLineRunes])},
	})
	e, err := extract.New(extract.Spec{Type: "first-line", Lower: true})
	require.NoError(t, err)
	got, ok := e.Extract("POSITIVE.\n")
	require.True(t, ok)
	require.Equal(t, "positive", got)
}

func TestChoice(t *testing.T) {
	t.Parallel()
	run(t, extract.Choice(), []exCase{
		{"bare", "B", "B"},
		{"paren", "(C)", "C"},
		{"paren with text", "(D) Paris", "D"},
		{"letter paren", "A) 42", "A"},
		{"letter dot", "B. Because...", "B"},
		{"bold", "**C**", "C"},
		{"answer colon", "Let me think.\nAnswer: B", "B"},
		{"answer lower", "answer: b", "B"},
		{"the answer is paren", "Considering all options, the answer is (C).", "C"},
		{"final answer bold", "Final answer: **D**", "D"},
		{"last answer wins", "The answer is (A)... wait, no. The answer is (B).", "B"},
		{"article a", "The answer is a bit unclear, but I'd go with (C).", "C"},
		{"capital I", "The answer is I think (B)", "B"},
		{"single paren mention", "Option (D) fits best since it covers both.", "D"},
		{"ambiguous parens", "Either (A) or (B).", ""},
		{"none", "Paris is the capital.", ""},
		{"empty", "", ""},
		{"option word", "The answer is option C.", "C"},
		{"long", long + "Answer: A", ""},
	})
}

func TestBoxed(t *testing.T) {
	t.Parallel()
	run(t, extract.Boxed(), []exCase{
		{"int", `so \boxed{42}.`, "42"},
		{"float zero", `\boxed{42.0}`, "42"},
		{"thousands", `\boxed{1,000}`, "1000"},
		{"dollars math", `$\boxed{ 3.50 }$`, "3.5"},
		{"nested", `\boxed{\frac{1}{2}}`, `\frac{1}{2}`},
		{"dfrac", `\boxed{\dfrac{3}{4}}`, `\frac{3}{4}`},
		{"last wins", `\boxed{1} then \boxed{2}`, "2"},
		{"text", `\boxed{\text{yes}}`, `\text{yes}`},
		{"negative", `\boxed{-7}`, "-7"},
		{"unclosed", `\boxed{42`, ""},
		{"empty box", `\boxed{}`, ""},
		{"none", "42", ""},
		{"empty", "", ""},
	})
}

func TestYesNo(t *testing.T) {
	t.Parallel()
	run(t, extract.YesNo(), []exCase{
		{"yes", "Yes, it is.", "yes"},
		{"no bold", "**No.** Because...", "no"},
		{"correct", "Correct — the sky is blue.", "yes"},
		{"answer is", "Thinking about it, the answer is no.", "no"},
		{"only one word", "I would say yes overall.", "yes"},
		{"both words", "Yes and no, it depends.", "yes"},
		{"ambiguous", "It depends: sometimes yes, sometimes no.", ""},
		{"none", "Maybe.", ""},
		{"empty", "", ""},
		{"no inside word", "Nobody knows; it's unknowable.", ""},
		{"unicode quote", "“Yes”", "yes"},
	})
}

func TestNumber(t *testing.T) {
	t.Parallel()
	run(t, extract.Number(), []exCase{
		{"last", "3 apples and 5 pears: 8 fruits", "8"},
		{"decimal zero", "The total is 42.0", "42"},
		{"thousands", "It costs $1,000.", "1000"},
		{"negative", "The temperature is -5 degrees", "-5"},
		{"unicode minus", "Δ = −3", "-3"},
		{"hyphen range", "pages 2-3", "3"},
		{"model name", "GPT-4", "4"},
		{"decimal", "pi is 3.14159", "3.14159"},
		{"leading dot", "p = .5", "0.5"},
		{"percent not kept", "about 50%", "50"},
		{"scientific", "6.02e23 atoms", "6.02e+23"},
		{"none", "no digits", ""},
		{"empty", "", ""},
		{"long", long, "7"},
	})
	for _, tc := range []struct{ in, want string }{
		{"42.0", "42"}, {"1,000", "1000"}, {"0.50", "0.5"}, {"+3", "3"}, {"-0", "0"}, {"12%", "12%"}, {"1,00", ""}, {"abc", ""},
	} {
		t.Run("normalize "+tc.in, func(t *testing.T) {
			t.Parallel()
			got, ok := extract.NormalizeNumber(tc.in)
			require.Equal(t, tc.want != "", ok)
			require.Equal(t, tc.want, got)
		})
	}
}

func TestNew(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		spec     extract.Spec
		in, want string
		err      string
	}{
		{spec: extract.Spec{Type: "regex", Value: `is (\w+)`}, in: "it is Blue", want: "Blue"},
		{spec: extract.Spec{Type: "regex", Value: `is (\w+)`, Lower: true}, in: "it is Blue", want: "blue"},
		{spec: extract.Spec{Type: "json_path", Value: "$.a"}, in: `{"a":"x"}`, want: "x"},
		{spec: extract.Spec{Type: "choice"}, in: "Answer: C", want: "C"},
		{spec: extract.Spec{Type: "boxed"}, in: `\boxed{7}`, want: "7"},
		{spec: extract.Spec{Type: "yes-no"}, in: "yes", want: "yes"},
		{spec: extract.Spec{Type: "number"}, in: "x 9", want: "9"},
		{spec: extract.Spec{Type: "first-line"}, in: "a\nb", want: "a"},
		{spec: extract.Spec{Type: "choise"}, err: `unknown extractor type "choise"`},
		{spec: extract.Spec{Type: "regex"}, err: "extractor regex: value is required"},
		{spec: extract.Spec{Type: "regex", Value: "("}, err: "extractor regex: missing closing )"},
		{spec: extract.Spec{Type: "choice", Value: "x"}, err: "extractor choice: value is not used"},
	} {
		t.Run(fmt.Sprint(tc.spec), func(t *testing.T) {
			t.Parallel()
			e, err := extract.New(tc.spec)
			if tc.err != "" {
				require.ErrorContains(t, err, tc.err)
				return
			}
			require.NoError(t, err)
			got, ok := e.Extract(tc.in)
			require.True(t, ok)
			require.Equal(t, tc.want, got)
		})
	}
	require.Len(t, extract.Types(), 7)
}

func ExampleChoice() {
	e := extract.Choice()
	for _, out := range []string{"(B) Paris", "I think the answer is (C).", "Answer: d"} {
		a, ok := e.Extract(out)
		fmt.Println(a, ok)
	}
	// Output:
	// B true
	// C true
	// D true
}

func ExampleBoxed() {
	a, _ := extract.Boxed().Extract(`So the total is \boxed{1,000.0}.`)
	fmt.Println(a)
	// Output: 1000
}
