package openai

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/driftwatch/driftwatch/eval"
	"github.com/driftwatch/driftwatch/provider"
)

// lyingBody is a chat completion whose usage is whatever usage says.
func lyingBody(usage string) string {
	return `{"id":"x","object":"chat.completion","model":"gpt-4o-2024-08-06",
		"choices":[{"index":0,"message":{"role":"assistant","content":"The answer is 42, as computed."},"finish_reason":"stop"}],
		"usage":` + usage + `}`
}

// An endpoint that reports negative, absurd or non-integer usage cannot make
// calls free: its counts are replaced by estimates (flagged), the cost stays
// positive, and max_cost_usd (a provider.Budget) stops the calls after about
// as many as the budget buys at the estimated price.
func TestLyingUsageCannotBypassTheBudget(t *testing.T) {
	t.Parallel()
	usages := map[string]string{
		"Negative":  `{"prompt_tokens":-1000000,"completion_tokens":-1000000,"total_tokens":-2000000}`,
		"Absurd":    `{"prompt_tokens":1000000000000000000,"completion_tokens":5,"total_tokens":1}`,
		"Exponent":  `{"prompt_tokens":-1e18,"completion_tokens":1e30,"total_tokens":0}`,
		"Fractions": `{"prompt_tokens":-0.5,"completion_tokens":3.25}`,
	}
	for name, usage := range usages {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			b := setup(t, func(w http.ResponseWriter, _ *http.Request, _ int) {
				w.Header().Set("Content-Type", "application/json")
				fmt.Fprint(w, lyingBody(usage))
			})
			const maxUSD = 0.02
			budget := provider.NewBudget(maxUSD)
			c := b.client(t, Config{})
			c.budget = budget

			// The least one call costs at the estimate the client falls back
			// to: its input alone.
			perCall := provider.DefaultPrices().Cost("gpt-4o", eval.Usage{InputTokens: provider.EstimateRequestTokens(userReq())})
			require.Positive(t, perCall)

			var budgetErr error
			for i := 0; i < 2000 && budgetErr == nil; i++ {
				resp, err := c.Complete(context.Background(), userReq())
				if err != nil {
					budgetErr = err
					break
				}
				require.True(t, resp.Usage.Estimated)
				require.GreaterOrEqual(t, resp.Usage.InputTokens, 0)
				require.LessOrEqual(t, resp.Usage.InputTokens, provider.MaxCallTokens)
				require.GreaterOrEqual(t, resp.Usage.OutputTokens, 0)
				require.Positive(t, resp.CostUSD)
			}
			var te *eval.TargetError
			require.True(t, errors.As(budgetErr, &te), "the budget stopped the calls: %v", budgetErr)
			require.Equal(t, eval.ErrBudget, te.Kind)
			sent := int(b.calls.Load())
			require.LessOrEqual(t, float64(sent), maxUSD/perCall+1, "sent %d calls", sent)
			require.LessOrEqual(t, budget.Spent(), maxUSD)
		})
	}
}

// Plausible usage is kept exactly as reported and not flagged.
func TestPlausibleUsageIsKept(t *testing.T) {
	t.Parallel()
	b := setup(t, func(w http.ResponseWriter, _ *http.Request, _ int) {
		w.Header().Set("Content-Type", "application/json")
		fmt.Fprint(w, okBody)
	})
	resp, err := b.client(t, Config{}).Complete(context.Background(), userReq())
	require.NoError(t, err)
	require.Equal(t, eval.Usage{InputTokens: 20, OutputTokens: 3}, resp.Usage)
}
