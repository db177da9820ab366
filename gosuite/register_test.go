package gosuite_test

import (
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/driftwatch/driftwatch/eval"
	"github.com/driftwatch/driftwatch/gosuite"
)

func nop(*eval.T) {}

// pkg is a package with Eval cases A and B and a SuiteXxx returning s.
func pkg(helper string, s func() eval.Suite, opts func() eval.SuiteOpts) gosuite.Package {
	p := gosuite.Package{ImportPath: "example.com/m/evals", Name: "evals", HelperHash: helper, Opts: opts,
		Evals: []gosuite.Eval{{Name: "EvalA", Func: nop, File: "/m/evals/a.go", Line: 3, Hash: "ha"}, {Name: "EvalB", Func: nop, Hash: "hb"}}}
	if s != nil {
		p.Suites = []gosuite.SuiteFunc{{Name: "SuiteBig", Func: s, File: "/m/evals/a.go", Line: 9, Hash: "hs"}}
	}
	return p
}

// hashes registers p and returns every case hash by suite/case.
func hashes(t *testing.T, p gosuite.Package) map[string]string {
	t.Helper()
	reg := eval.NewRegistry()
	require.NoError(t, gosuite.Register(reg, p))
	out := map[string]string{}
	for _, s := range reg.Suites() {
		for _, c := range s.Cases() {
			require.NotEmpty(t, c.Hash, "%s/%s", s.Name(), c.ID)
			out[s.Name()+"/"+c.ID] = c.Hash
		}
	}
	return out
}

func big() eval.Suite {
	return eval.NewSuite("big", eval.SuiteOpts{Samples: 3},
		eval.CaseFunc("x", nop), eval.Case{ID: "own", Hash: "kept", Func: nop})
}

func TestRegisterMakesEvalFunctionsOneSuiteNamedAfterThePackage(t *testing.T) {
	t.Parallel()
	reg := eval.NewRegistry()
	opts := func() eval.SuiteOpts { return eval.SuiteOpts{Samples: 4, System: "be brief"} }
	require.NoError(t, gosuite.Register(reg, pkg("h", big, opts)))
	require.Equal(t, []string{"big", "evals"}, reg.Names())
	s, _ := reg.Get("evals")
	cases := s.Cases()
	require.Equal(t, "A", cases[0].ID)
	require.Equal(t, "/m/evals/a.go", cases[0].File)
	require.Equal(t, 3, cases[0].Line)
	require.Equal(t, 4, s.(eval.SuiteInfo).Samples())
	require.Equal(t, "be brief", s.(eval.SuiteOptions).SuiteOpts().System)
	b, _ := reg.Get("big")
	require.Equal(t, 3, b.(eval.SuiteInfo).Samples(), "the SuiteXxx suite's options are kept")
	require.Equal(t, "example.com/m/evals", b.(gosuite.Sourced).GoOrigin().ImportPath)
}

// TestRegisterHashesCasesByTheSourceTheyRun: an Eval case's hash moves
// with its own function and the package's helpers, not with another case;
// a SuiteXxx case without a Hash moves with its function and the helpers;
// a case's own Hash is kept; SuiteOpts.Version is mixed in.
func TestRegisterHashesCasesByTheSourceTheyRun(t *testing.T) {
	t.Parallel()
	base := hashes(t, pkg("h", big, nil))
	require.Equal(t, "kept", base["big/own"])
	require.NotEqual(t, base["evals/A"], base["evals/B"])

	editedA := pkg("h", big, nil)
	editedA.Evals[0].Hash = "ha2"
	h := hashes(t, editedA)
	require.NotEqual(t, base["evals/A"], h["evals/A"])
	require.Equal(t, base["evals/B"], h["evals/B"])

	editedSuite := pkg("h", big, nil)
	editedSuite.Suites[0].Hash = "hs2"
	h = hashes(t, editedSuite)
	require.NotEqual(t, base["big/x"], h["big/x"])
	require.Equal(t, base["evals/A"], h["evals/A"])

	h = hashes(t, pkg("h2", big, nil))
	for _, k := range []string{"evals/A", "evals/B", "big/x"} {
		require.NotEqual(t, base[k], h[k], k)
	}

	h = hashes(t, pkg("h", big, func() eval.SuiteOpts { return eval.SuiteOpts{Version: "2"} }))
	require.NotEqual(t, base["evals/A"], h["evals/A"])
	require.Equal(t, base, hashes(t, pkg("h", big, nil)), "the same source hashes the same")
}

func TestRegisterErrorsNameTheSource(t *testing.T) {
	t.Parallel()
	err := gosuite.Register(eval.NewRegistry(), pkg("h", func() eval.Suite { return nil }, nil))
	require.EqualError(t, err, "/m/evals/a.go:9: SuiteBig returned a nil suite")

	named := func() eval.Suite { return eval.SuiteFunc("evals", eval.CaseFunc("x", nop)) }
	err = gosuite.Register(eval.NewRegistry(), pkg("h", named, nil))
	require.ErrorContains(t, err, `/m/evals/a.go:9: register the suite SuiteBig returns: eval: suite "evals" registered twice`)
}
