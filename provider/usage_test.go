package provider_test

import (
	"math"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/driftwatch/driftwatch/eval"
	"github.com/driftwatch/driftwatch/provider"
)

func TestSanitizeUsage(t *testing.T) {
	t.Parallel()
	req := &eval.Request{Messages: []eval.Message{{Role: eval.RoleUser, Content: "What is 17 + 25? Answer with the number."}}}
	in, out := provider.EstimateRequestTokens(req), provider.EstimateTokens("The answer is 42.")
	tests := []struct {
		name string
		u    eval.Usage
		want eval.Usage
	}{
		{"Plausible", eval.Usage{InputTokens: 30, OutputTokens: 5}, eval.Usage{InputTokens: 30, OutputTokens: 5}},
		{"NotReported", eval.Usage{}, eval.Usage{}},
		{"NegativeInput", eval.Usage{InputTokens: -1, OutputTokens: 5}, eval.Usage{InputTokens: in, OutputTokens: 5, Estimated: true}},
		{"NegativeOutput", eval.Usage{InputTokens: 30, OutputTokens: -300}, eval.Usage{InputTokens: 30, OutputTokens: out, Estimated: true}},
		{"Absurd", eval.Usage{InputTokens: 1e18, OutputTokens: math.MaxInt}, eval.Usage{InputTokens: in, OutputTokens: out, Estimated: true}},
		{"AtTheBound", eval.Usage{InputTokens: provider.MaxCallTokens}, eval.Usage{InputTokens: provider.MaxCallTokens}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			require.Equal(t, tt.want, provider.SanitizeUsage(tt.u, req, "The answer is 42.", nil))
		})
	}
}

// No usage and no price can make a cost negative or NaN.
func TestCostIsNeverNegative(t *testing.T) {
	t.Parallel()
	p := provider.Prices{"m": {Input: 1, Output: 2}, "neg": {Input: -5, Output: -5}, "nan": {Input: math.NaN(), Output: 1}}
	require.Zero(t, p.Cost("m", eval.Usage{InputTokens: -1_000_000, OutputTokens: -1_000_000}))
	require.InDelta(t, 2.0, p.Cost("m", eval.Usage{InputTokens: -1_000_000, OutputTokens: 1_000_000}), 1e-9)
	require.Zero(t, p.Cost("neg", eval.Usage{InputTokens: 1000, OutputTokens: 1000}))
	require.Zero(t, p.Cost("nan", eval.Usage{InputTokens: 1000}))
}
