package anthropic

import (
	"context"
	"fmt"
	"net/http"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/driftwatch/driftwatch/eval"
	"github.com/driftwatch/driftwatch/provider"
)

// A negative cache count cannot make an Anthropic response cheaper than
// free: the input tokens are estimated instead (flagged), and the budget
// stops the calls after about as many as it buys.
func TestLyingUsageCannotBypassTheBudget(t *testing.T) {
	t.Parallel()
	b, c := setup(t, func(w http.ResponseWriter, _ *http.Request, _ int) {
		w.Header().Set("Content-Type", "application/json")
		fmt.Fprint(w, `{"id":"msg_1","type":"message","role":"assistant","model":"claude-3-5-sonnet-20241022",
			"content":[{"type":"text","text":"[Yes]"}],"stop_reason":"end_turn","stop_sequence":null,
			"usage":{"input_tokens":12,"cache_read_input_tokens":-5000000,"output_tokens":-3}}`)
	})
	const maxUSD = 0.01
	c.budget = provider.NewBudget(maxUSD)
	req := userReq()
	req.Params.MaxTokens = 8
	perCall := provider.DefaultPrices().Cost("claude-3-5-sonnet", eval.Usage{InputTokens: provider.EstimateRequestTokens(req)})
	var err error
	for i := 0; i < 2000 && err == nil; i++ {
		var resp *eval.Response
		resp, err = c.Complete(context.Background(), req)
		if err == nil {
			require.True(t, resp.Usage.Estimated)
			require.Positive(t, resp.CostUSD)
		}
	}
	require.Equal(t, eval.ErrBudget, eval.KindOf(err))
	require.LessOrEqual(t, float64(b.calls.Load()), maxUSD/perCall+1)
}
