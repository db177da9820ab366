package suites_test

import (
	"strings"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/driftwatch/driftwatch/eval"
	"github.com/driftwatch/driftwatch/eval/evaltest"
	"github.com/driftwatch/driftwatch/suites"
)

func TestToolUse(t *testing.T) {
	t.Parallel()
	evaltest.Run(t, suites.ToolUse(), simTarget(t, perfect), evaltest.Parallel())
}

func TestToolUseCalls(t *testing.T) {
	t.Parallel()
	rs, stats := results(t, suites.ToolUse(), simTarget(t, perfect))
	require.Equal(t, 20, stats.Total)
	require.Equal(t, stats.Total, stats.Passed)
	for _, r := range rs {
		switch {
		case strings.HasPrefix(r.Case, "order-"):
			require.Equal(t, "lookup_order", r.Answer, r.Case)
			require.Equal(t, 2, r.Calls, r.Case)
		case strings.HasPrefix(r.Case, "weather-"):
			require.Equal(t, "get_weather", r.Answer, r.Case)
			require.Equal(t, 2, r.Calls, r.Case)
			// The second call sent the tool result back after the call.
			msgs := r.Request.Messages
			require.Equal(t, eval.RoleTool, msgs[len(msgs)-1].Role)
			require.NotEmpty(t, msgs[len(msgs)-1].ToolCallID)
		default:
			require.Equal(t, "none", r.Answer, r.Case)
			require.Equal(t, 1, r.Calls, r.Case)
		}
	}
}

func TestToolUseWrongArguments(t *testing.T) {
	t.Parallel()
	// A model that gets every value wrong: order numbers no longer match the
	// tool's schema, cities are wrong; small talk still passes.
	rs, _ := results(t, suites.ToolUse(), simTarget(t, wrong))
	for _, r := range rs {
		switch {
		case strings.HasPrefix(r.Case, "order-"), r.Case == "weather-lisbon", r.Case == "weather-oslo":
			require.Equal(t, eval.Failed, r.Outcome, r.Case)
			require.Equal(t, 1, r.Calls, "%s: no second turn after a bad call", r.Case)
		case r.Case == "weather-days":
			// The day count comes from the prompt; the answer after the
			// tool result is wrong.
			require.Equal(t, eval.Failed, r.Outcome, r.Case)
			require.Equal(t, 2, r.Calls, r.Case)
		default:
			require.Equal(t, eval.Passed, r.Outcome, r.Case)
		}
	}
	fails := failedChecks(rs)
	require.Equal(t, 10, fails["tool-call lookup_order"], "failed checks: %v", fails)
}

func TestToolUseRecorded(t *testing.T) {
	t.Parallel()
	evaltest.Run(t, suites.ToolUse(), recordedTarget(t, "tool-use"), evaltest.Parallel())
}
