package suites

import (
	"fmt"
	"go/parser"
	"go/token"
	"regexp"
	"strings"

	"github.com/driftwatch/driftwatch/eval"
	"github.com/driftwatch/driftwatch/eval/check"
)

// codeTask is one case of Codegen: a Go function to write, and a reference
// solution the simulator answers with (its answer hint).
type codeTask struct {
	id, name, task, reference string
}

var codeTasks = []codeTask{
	{"add", "Add", "returns the sum of two ints a and b",
		"func Add(a, b int) int {\n\treturn a + b\n}"},
	{"max", "Max", "returns the larger of two ints a and b",
		"func Max(a, b int) int {\n\tif a > b {\n\t\treturn a\n\t}\n\treturn b\n}"},
	{"reverse", "Reverse", "returns the string s with its runes in reverse order",
		"func Reverse(s string) string {\n\tr := []rune(s)\n\tfor i, j := 0, len(r)-1; i < j; i, j = i+1, j-1 {\n\t\tr[i], r[j] = r[j], r[i]\n\t}\n\treturn string(r)\n}"},
	{"is-even", "IsEven", "reports whether the int n is even",
		"func IsEven(n int) bool {\n\treturn n%2 == 0\n}"},
	{"sum-slice", "Sum", "returns the sum of the ints in the slice xs",
		"func Sum(xs []int) int {\n\ttotal := 0\n\tfor _, x := range xs {\n\t\ttotal += x\n\t}\n\treturn total\n}"},
	{"count-vowels", "CountVowels", "returns how many ASCII vowels (a, e, i, o, u, either case) the string s contains",
		"func CountVowels(s string) int {\n\tn := 0\n\tfor _, c := range s {\n\t\tswitch c {\n\t\tcase 'a', 'e', 'i', 'o', 'u', 'A', 'E', 'I', 'O', 'U':\n\t\t\tn++\n\t\t}\n\t}\n\treturn n\n}"},
	{"clamp", "Clamp", "returns the int v limited to the range lo to hi inclusive",
		"func Clamp(v, lo, hi int) int {\n\tif v < lo {\n\t\treturn lo\n\t}\n\tif v > hi {\n\t\treturn hi\n\t}\n\treturn v\n}"},
	{"contains", "Contains", "reports whether the string slice xs contains the string s",
		"func Contains(xs []string, s string) bool {\n\tfor _, x := range xs {\n\t\tif x == s {\n\t\t\treturn true\n\t\t}\n\t}\n\treturn false\n}"},
	{"factorial", "Factorial", "returns n factorial for an int n of at least 0",
		"func Factorial(n int) int {\n\tf := 1\n\tfor i := 2; i <= n; i++ {\n\t\tf *= i\n\t}\n\treturn f\n}"},
	{"abs", "Abs", "returns the absolute value of the int n",
		"func Abs(n int) int {\n\tif n < 0 {\n\t\treturn -n\n\t}\n\treturn n\n}"},
}

// Codegen asks for small Go functions and checks that the answer is the
// code alone: it starts with the func keyword, has no Markdown fence and no
// prose around it, declares the requested function, and parses as Go. Code
// that is pasted into files or fed to tools breaks when a model update starts
// wrapping it in "Here is the function:" or ``` fences, which is exactly the
// kind of silent change this suite catches.
func Codegen() eval.Suite {
	opts := eval.SuiteOpts{
		Samples:     2,
		Description: "Go functions returned as bare code: no prose, no Markdown fences, valid syntax.",
		Version:     "1",
		System:      "You are a code generator. Your output is written to a .go file as is.",
		Params:      eval.Params{Temperature: ptr(0.2), MaxTokens: 300},
	}
	cases := make([]eval.Case, 0, len(codeTasks))
	for _, ct := range codeTasks {
		cases = append(cases, eval.CaseFunc(ct.id, ct.run))
	}
	return eval.NewSuite("codegen", opts, cases...)
}

func (ct codeTask) run(t *eval.T) {
	prompt := fmt.Sprintf("Write a Go function named %s that %s. Reply with only the answer: "+
		"the function's code, with no explanation and no Markdown code fence.\n[[sim:expect=%s]]",
		ct.name, ct.task, ct.reference)
	out := t.Ask(prompt)
	t.Check(out,
		check.StartsWith("func "),
		check.NotContains("```"),
		check.Not(check.IContainsAny("here is", "here's", "this function", "explanation:")),
		check.MustRegex(`^func `+regexp.QuoteMeta(ct.name)+`\(`),
		parsesAsGo(),
	)
	t.SetAnswer(codeShape(out))
}

// codeShape classifies an answer's form, the answer category the drift
// engine compares: "bare-code", "fenced" or "prose".
func codeShape(out string) string {
	switch {
	case check.HasCodeFence(out):
		return "fenced"
	case strings.HasPrefix(strings.TrimSpace(out), "func "):
		return "bare-code"
	}
	return "prose"
}

// parsesAsGo passes when the output is syntactically valid Go declarations.
func parsesAsGo() eval.Checker {
	return check.Func("parses as Go", func(in eval.CheckInput) (bool, float64, string) {
		src := "package p\n\n" + in.Output
		if _, err := parser.ParseFile(token.NewFileSet(), "answer.go", src, parser.SkipObjectResolution); err != nil {
			return false, 0, "not valid Go: " + err.Error()
		}
		return true, 1, "valid Go"
	})
}
