package eval_test

import (
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/driftwatch/driftwatch/eval"
)

func TestRegistry(t *testing.T) {
	t.Parallel()
	reg := eval.NewRegistry()
	b := eval.SuiteFunc("b")
	reg.Register(b)
	reg.Register(eval.SuiteFunc("a"))

	got, ok := reg.Get("b")
	require.True(t, ok)
	require.Equal(t, b, got)
	_, ok = reg.Get("missing")
	require.False(t, ok)
	require.Equal(t, []string{"a", "b"}, reg.Names())
	suites := reg.Suites()
	require.Len(t, suites, 2)
	require.Equal(t, "a", suites[0].Name())

	require.ErrorContains(t, reg.RegisterSafely(eval.SuiteFunc("a")), `suite "a" registered twice`)
	require.ErrorContains(t, reg.RegisterSafely(eval.SuiteFunc("")), "empty name")
	require.ErrorContains(t, reg.RegisterSafely(nil), "nil suite")
	require.PanicsWithError(t, `eval: suite "b" registered twice`, func() { reg.Register(eval.SuiteFunc("b")) })
}

// customSuite shows a suite type with SuiteDefaults embedded.
type customSuite struct {
	eval.SuiteDefaults
}

func (customSuite) Name() string       { return "custom" }
func (customSuite) Cases() []eval.Case { return nil }
func (customSuite) Samples() int       { return 5 }

func TestSuiteDefaultsAndOpts(t *testing.T) {
	t.Parallel()
	var s eval.Suite = customSuite{}
	require.Equal(t, 5, s.(eval.SuiteInfo).Samples())
	require.Equal(t, eval.SuiteOpts{}, s.(eval.SuiteOptions).SuiteOpts())

	opts := eval.SuiteOpts{Samples: 3, Description: "d", Version: "v1", System: "sys"}
	ns := eval.NewSuite("n", opts, eval.CaseFunc("x", func(*eval.T) {}))
	require.Equal(t, opts, ns.(eval.SuiteOptions).SuiteOpts())
	require.Equal(t, 3, ns.(eval.SuiteInfo).Samples())

	c := ns.Cases()[0]
	require.Equal(t, "x", c.ID)
	require.Contains(t, c.File, "registry_test.go")
	require.Positive(t, c.Line)
}
