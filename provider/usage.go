package provider

import (
	"github.com/driftwatch/driftwatch/eval"
)

// MaxCallTokens is the largest token count one call can plausibly report for
// its input or its output: above the largest context windows served today.
// A count above it, or below zero, is a lie or a bug of the endpoint.
const MaxCallTokens = 50_000_000

// SanitizeUsage returns the usage to record for a response: u when both
// counts are plausible (0 through MaxCallTokens), otherwise u with each
// implausible count replaced by an estimate (input from req, output from
// the response's text and tool calls) and Estimated set. A count of 0 is
// kept: servers that report no usage are not lying. Every provider applies
// it where it parses usage, before pricing, so a lying endpoint can neither
// make a call free (negative counts, which would let it run past a cost
// budget) nor overflow totals.
func SanitizeUsage(u eval.Usage, req *eval.Request, text string, calls []eval.ToolCall) eval.Usage {
	if plausibleCount(u.InputTokens) && plausibleCount(u.OutputTokens) {
		return u
	}
	u.Estimated = true
	if !plausibleCount(u.InputTokens) {
		u.InputTokens = EstimateRequestTokens(req)
	}
	if !plausibleCount(u.OutputTokens) {
		n := EstimateTokens(text)
		for _, tc := range calls {
			n += EstimateTokens(tc.Name) + EstimateTokens(tc.Arguments)
		}
		u.OutputTokens = n
	}
	return u
}

func plausibleCount(n int) bool { return n >= 0 && n <= MaxCallTokens }
