package gosuite

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"
)

// writePackage writes files into a new folder and returns the listed
// package go list would report for it.
func writePackage(t *testing.T, files map[string]string) *listedPackage {
	t.Helper()
	dir := t.TempDir()
	p := &listedPackage{ImportPath: "example.com/m/evals", Name: "evals", Dir: dir, Match: []string{"./..."}}
	for name, src := range files {
		require.NoError(t, os.WriteFile(filepath.Join(dir, name), []byte(src), 0o644))
		p.GoFiles = append(p.GoFiles, name)
	}
	return p
}

func TestFuncKindReadsNamesAsGoTestReadsTestXxx(t *testing.T) {
	t.Parallel()
	for name, want := range map[string]string{
		"EvalRefusals": "Eval", "Eval_x": "Eval", "Eval2": "Eval", "SuiteSupport": "Suite",
		"Evaluate": "", "Suites": "", "Eval": "", "Suite": "", "EvalOpts": "", "eval": "", "MySuite": "",
	} {
		require.Equal(t, want, funcKind(name), name)
	}
}

func TestParsePackageFindsEvalAndSuiteFunctionsWhateverTheImportName(t *testing.T) {
	t.Parallel()
	p := writePackage(t, map[string]string{
		"a.go": `package evals

import "github.com/driftwatch/driftwatch/eval"

func EvalOne(t *eval.T) {}
func SuiteBig() eval.Suite { return nil }
func EvalOpts() eval.SuiteOpts { return eval.SuiteOpts{} }
func Evaluate(x int) {}       // not a case: lower case after Eval
func (s S) EvalMethod(t *eval.T) {} // methods are not cases
type S struct{}
`,
		"b.go": `package evals

import ev "github.com/driftwatch/driftwatch/eval"

func EvalTwo(t *ev.T) {}
`,
		"c.go": `package evals

import . "github.com/driftwatch/driftwatch/eval"

func SuiteDot() Suite { return nil }
`,
	})
	d, err := parsePackage(p)
	require.NoError(t, err)
	var evals, suites []string
	for _, f := range d.Evals {
		evals = append(evals, f.Name)
	}
	for _, f := range d.Suites {
		suites = append(suites, f.Name)
	}
	require.ElementsMatch(t, []string{"EvalOne", "EvalTwo"}, evals)
	require.ElementsMatch(t, []string{"SuiteBig", "SuiteDot"}, suites)
	require.True(t, d.Opts)
	require.Equal(t, "evals", d.Name)
	for _, f := range d.Evals {
		if f.Name == "EvalOne" {
			require.Equal(t, filepath.Join(p.Dir, "a.go"), f.File)
			require.Equal(t, 5, f.Line)
		}
	}
}

func TestParsePackageRejectsWrongSignaturesAtFileAndLine(t *testing.T) {
	t.Parallel()
	p := writePackage(t, map[string]string{"a.go": `package evals

import (
	"testing"

	"github.com/driftwatch/driftwatch/eval"
)

func EvalTesting(t *testing.T) {}
func EvalTwoArgs(t *eval.T, n int) {}
func SuiteValue() eval.T { return eval.T{} }
func EvalOpts() int { return 0 }
`})
	_, err := parsePackage(p)
	require.Error(t, err)
	file := filepath.Join(p.Dir, "a.go")
	for _, want := range []string{
		file + ":9:1: EvalTesting has the wrong signature: want func EvalTesting(t *eval.T)",
		file + ":10:1: EvalTwoArgs has the wrong signature: want func EvalTwoArgs(t *eval.T)",
		file + ":11:1: SuiteValue has the wrong signature: want func SuiteValue() eval.Suite",
		file + ":12:1: EvalOpts has the wrong signature: want func EvalOpts() eval.SuiteOpts",
	} {
		require.Contains(t, err.Error(), want)
	}
}

func TestParsePackageWithoutSuitesIsSkipped(t *testing.T) {
	t.Parallel()
	d, err := parsePackage(writePackage(t, map[string]string{"a.go": "package evals\n\nfunc Helper() {}\n"}))
	require.NoError(t, err)
	require.Nil(t, d)
}

// TestSourceHashesSeeEditsOfWhatACaseRuns: editing one Eval function
// changes its hash only; editing a helper changes the shared hash; editing
// a comment changes nothing.
func TestSourceHashesSeeEditsOfWhatACaseRuns(t *testing.T) {
	t.Parallel()
	const src = `package evals

import "github.com/driftwatch/driftwatch/eval"

// EvalA asks one thing.
func EvalA(t *eval.T) { t.Ask(prompt + "a") }

func EvalB(t *eval.T) { t.Ask(prompt + "b") }

const prompt = "say "
`
	hashes := func(src string) (a, b, helpers string) {
		d, err := parsePackage(writePackage(t, map[string]string{"a.go": src}))
		require.NoError(t, err)
		return d.Evals[0].Hash, d.Evals[1].Hash, d.HelperHash
	}
	a, b, h := hashes(src)

	a2, b2, h2 := hashes(strings.Replace(src, `"a")`, `"A")`, 1))
	require.NotEqual(t, a, a2)
	require.Equal(t, b, b2)
	require.Equal(t, h, h2)

	a3, b3, h3 := hashes(strings.Replace(src, `"say "`, `"tell "`, 1))
	require.Equal(t, a, a3)
	require.Equal(t, b, b3)
	require.NotEqual(t, h, h3)

	a4, b4, h4 := hashes(strings.Replace(src, "// EvalA asks one thing.", "// EvalA asks one thing, politely.", 1))
	require.Equal(t, []string{a, b, h}, []string{a4, b4, h4})
}

// TestDocsSuiteIsFound: the suite file of docs/go-suites.md is read as the
// page says: two cases and the suite's options.
func TestDocsSuiteIsFound(t *testing.T) {
	t.Parallel()
	b, err := os.ReadFile(filepath.Join("..", "docs", "go-suites.md"))
	require.NoError(t, err)
	_, rest, ok := strings.Cut(string(b), "```go\n// evals/refunds.go\n")
	require.True(t, ok, "docs/go-suites.md shows evals/refunds.go")
	src, _, _ := strings.Cut(rest, "```")
	d, err := parsePackage(writePackage(t, map[string]string{"refunds.go": src}))
	require.NoError(t, err)
	require.Equal(t, "evals", d.Name)
	require.Len(t, d.Evals, 2)
	require.Equal(t, "EvalRefundPolicy", d.Evals[0].Name)
	require.Equal(t, "EvalOrderJSON", d.Evals[1].Name)
	require.True(t, d.Opts)
}
