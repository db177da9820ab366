package eval_test

import (
	"math"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/driftwatch/driftwatch/eval"
)

func TestParamsProblems(t *testing.T) {
	t.Parallel()
	f := func(v float64) *float64 { return &v }
	require.Empty(t, eval.Params{}.Problems())
	require.Empty(t, eval.Params{Temperature: f(0), TopP: f(1), MaxTokens: 512}.Problems())
	require.Empty(t, eval.Params{Temperature: f(2), TopP: f(0)}.Problems())

	got := eval.Params{Temperature: f(-1), TopP: f(3), MaxTokens: -5}.Problems()
	require.Equal(t, []eval.ParamProblem{
		{"temperature", "must be between 0 and 2, got -1"},
		{"top_p", "must be between 0 and 1, got 3"},
		{"max_tokens", "must not be negative, got -5 (0 or absent means the provider's default)"},
	}, got)
	require.Len(t, eval.Params{Temperature: f(math.NaN())}.Problems(), 1, "NaN is out of range")
}
