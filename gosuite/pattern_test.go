package gosuite_test

import (
	"os"
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/driftwatch/driftwatch/eval"
	"github.com/driftwatch/driftwatch/gosuite"
)

func TestIsPatternTellsGoPackagesFromYAMLPathsAndSuiteNames(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	write := func(rel string) {
		p := filepath.Join(dir, rel)
		require.NoError(t, os.MkdirAll(filepath.Dir(p), 0o755))
		require.NoError(t, os.WriteFile(p, nil, 0o644))
	}
	write("shout/shout.go")
	write("yaml/s.yaml")
	write("mixed/m.go")
	write("mixed/m.yml")
	write("tests/only_test.go")
	for _, tc := range []struct {
		arg  string
		want bool
	}{
		{"./evals/...", true}, // a wildcard is always Go packages
		{"...", true},         //
		{"evals/...", true},   //
		{"./shout", true},     // a local path to a folder of Go files
		{filepath.Join(dir, "shout"), true},
		{"shout", false},     // a bare name: a suite name or YAML path, never a pattern
		{"./yaml", false},    // YAML suites
		{"./mixed", false},   // YAML suites win over Go files in one folder
		{"./tests", false},   // only tests: nothing to link
		{"./missing", false}, //
		{"./shout/shout.go", false},
	} {
		require.Equal(t, tc.want, gosuite.IsPattern(dir, tc.arg), tc.arg)
	}
}

// registryOf registers one package of two Eval cases, matched by pattern.
func registryOf(t *testing.T, pattern string) *eval.Registry {
	t.Helper()
	reg := eval.NewRegistry()
	require.NoError(t, gosuite.Register(reg, gosuite.Package{ImportPath: "example.com/m/evals", Name: "evals",
		Patterns: []string{pattern}, AbsPatterns: []string{"/src/m/evals/..."},
		Evals: []gosuite.Eval{{Name: "EvalA", Func: func(*eval.T) {}, Hash: "a"}}}))
	require.NoError(t, reg.RegisterSafely(eval.SuiteFunc("other", eval.CaseFunc("x", func(*eval.T) {}))))
	return reg
}

func TestArgsRunsExactlyTheSuitesOfTheBuiltPatterns(t *testing.T) {
	t.Parallel()
	reg := registryOf(t, "./evals/...")
	for _, tc := range []struct {
		name       string
		args, want []string
	}{
		{"pattern becomes --suite", []string{"run", "./evals/...", "--target", "gpt"}, []string{"run", "--target", "gpt", "--suite", "evals"}},
		{"same pattern written differently", []string{"--config", "c.yaml", "run", "evals/..."}, []string{"--config", "c.yaml", "run", "--suite", "evals"}},
		{"--suite given is kept", []string{"run", "./evals/...", "--suite", "other"}, []string{"run", "--suite", "other"}},
		{"no pattern: unchanged", []string{"run", "--samples", "3"}, []string{"run", "--samples", "3"}},
		{"another command: pattern dropped only", []string{"serve", "./evals/..."}, []string{"serve"}},
		{"unknown pattern kept for run to report", []string{"run", "./other/..."}, []string{"run", "./other/..."}},
	} {
		require.Equal(t, tc.want, gosuite.Args(tc.args, reg), tc.name)
	}
}

func TestCommandSkipsRootFlagsAndTheirValues(t *testing.T) {
	t.Parallel()
	require.Equal(t, "run", gosuite.Command([]string{"--config", "run.yaml", "-v", "run", "x"}))
	require.Equal(t, "build", gosuite.Command([]string{"--data-dir=/d", "build"}))
	require.Equal(t, "", gosuite.Command([]string{"--config", "x"}))
}

func TestSuitesOfMatchesPatternsAsGivenOrResolved(t *testing.T) {
	t.Parallel()
	reg := registryOf(t, "./evals/...")
	require.Equal(t, []string{"evals"}, gosuite.SuitesOf(reg, ".", "evals/..."))
	require.Equal(t, []string{"evals"}, gosuite.SuitesOf(reg, "/src/m", "./evals/..."), "resolved against the config's folder")
	require.Empty(t, gosuite.SuitesOf(reg, "/elsewhere", "./other/..."))
}
