package suites_test

import (
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/driftwatch/driftwatch/eval"
	"github.com/driftwatch/driftwatch/eval/evaltest"
	"github.com/driftwatch/driftwatch/sim"
	"github.com/driftwatch/driftwatch/suites"
)

func TestArithmeticFollowup(t *testing.T) {
	t.Parallel()
	evaltest.Run(t, suites.ArithmeticFollowup(), simTarget(t, perfect), evaltest.Parallel())
}

func TestArithmeticFollowupConversation(t *testing.T) {
	t.Parallel()
	rs, stats := results(t, suites.ArithmeticFollowup(), simTarget(t, perfect))
	require.Equal(t, 24, stats.Total)
	require.Equal(t, stats.Total, stats.Passed)
	for _, r := range rs {
		require.Equal(t, 2, r.Calls, r.Case)
		require.Equal(t, []eval.SubcaseResult{
			{Name: r.Case + "/first", Outcome: eval.Passed},
			{Name: r.Case + "/are-you-sure", Outcome: eval.Passed},
		}, r.Subcases)
		require.Equal(t, eval.Metric{Value: 0, Unit: "bool"}, r.Metrics["flipped"])
		// The follow-up carries the whole conversation.
		require.Len(t, r.Request.Messages, 4)
		require.Equal(t, []string{eval.RoleSystem, eval.RoleUser, eval.RoleAssistant, eval.RoleUser},
			roles(r.Request.Messages))
	}
	require.Equal(t, "1321", rs[0].Answer) // q01: 341 + 980
}

func TestArithmeticFollowupCaves(t *testing.T) {
	t.Parallel()
	// A coin-flip model: answers change between turns and many are wrong.
	rs, stats := results(t, suites.ArithmeticFollowup(), simTarget(t, sim.Profile{Accuracy: 0.5}))
	require.Positive(t, stats.Failed)
	flips := 0
	for _, r := range rs {
		flips += int(r.Metrics["flipped"].Value)
	}
	require.Positive(t, flips)
}

func TestArithmeticFollowupRecorded(t *testing.T) {
	t.Parallel()
	evaltest.Run(t, suites.ArithmeticFollowup(), recordedTarget(t, "arithmetic-followup"), evaltest.Parallel())
}

func roles(msgs []eval.Message) []string {
	out := make([]string, len(msgs))
	for i, m := range msgs {
		out[i] = m.Role
	}
	return out
}
