package check

import (
	"context"
	"fmt"
	"slices"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/driftwatch/driftwatch/eval"
	"github.com/santhosh-tekuri/jsonschema/v6"
)

// Length bounds the output's length in characters (Unicode code points).
// A zero Max means no upper bound.
type Length struct {
	Min, Max int
}

// Check implements eval.Checker.
func (l Length) Check(_ context.Context, in eval.CheckInput) eval.CheckResult {
	n := utf8.RuneCountInString(in.Output)
	return boundsResult("length", "characters", n, l.Min, l.Max, "")
}

// Tokens bounds the output's length in tokens: the response's reported
// output tokens when there are any, else an estimate (see EstimateTokens).
// A zero Max means no upper bound.
type Tokens struct {
	Min, Max int
}

// Check implements eval.Checker.
func (t Tokens) Check(_ context.Context, in eval.CheckInput) eval.CheckResult {
	if in.Response != nil && in.Response.Usage.OutputTokens > 0 {
		return boundsResult("tokens", "tokens", in.Response.Usage.OutputTokens, t.Min, t.Max, " (reported)")
	}
	return boundsResult("tokens", "tokens", EstimateTokens(in.Output), t.Min, t.Max, " (estimated)")
}

// EstimateTokens estimates a BPE token count: the larger of runes/4 and
// words*4/3, rounded up. It is within about 30% for English prose.
func EstimateTokens(text string) int {
	r := utf8.RuneCountInString(text)
	w := len(strings.Fields(text))
	a := (r + 3) / 4
	b := (w*4 + 2) / 3
	return max(a, b)
}

func boundsResult(kind, unit string, n, lo, hi int, note string) eval.CheckResult {
	nm := fmt.Sprintf("%s [%d,%d]", kind, lo, hi)
	if hi <= 0 {
		nm = fmt.Sprintf("%s [%d,∞)", kind, lo)
	}
	r := eval.CheckResult{Name: nm, Pass: true, Score: 1}
	switch {
	case n < lo:
		r.Pass, r.Score = false, float64(n)/float64(lo)
		r.Reason = fmt.Sprintf("%d %s%s, below the minimum %d", n, unit, note, lo)
	case hi > 0 && n > hi:
		r.Pass, r.Score = false, float64(hi)/float64(n)
		r.Reason = fmt.Sprintf("%d %s%s, above the maximum %d", n, unit, note, hi)
	default:
		r.Reason = fmt.Sprintf("%d %s%s, within bounds", n, unit, note)
	}
	return r
}

// FinishReason passes when the response's finish reason is one of reasons
// (case-insensitive), e.g. FinishReason("stop") to catch truncation.
func FinishReason(reasons ...string) eval.Checker {
	return newChecker(name("finish-reason", strings.Join(reasons, "|")), func(_ context.Context, in eval.CheckInput) (bool, float64, string) {
		if in.Response == nil {
			return false, 0, "no response to read the finish reason from"
		}
		got := in.Response.FinishReason
		for _, r := range reasons {
			if strings.EqualFold(r, got) {
				return true, 1, fmt.Sprintf("finish reason %q", got)
			}
		}
		return false, 0, fmt.Sprintf("finish reason %q, want one of %s", got, quoteList(reasons))
	})
}

// Latency passes when the response's latency is at most maxLatency. The
// score is maxLatency/latency when over.
func Latency(maxLatency time.Duration) eval.Checker {
	return newChecker("latency <= "+maxLatency.String(), func(_ context.Context, in eval.CheckInput) (bool, float64, string) {
		if in.Response == nil {
			return false, 0, "no response to read the latency from"
		}
		l := in.Response.Latency
		if l <= maxLatency {
			return true, 1, fmt.Sprintf("latency %s within %s", l, maxLatency)
		}
		return false, float64(maxLatency) / float64(l), fmt.Sprintf("latency %s exceeds %s", l, maxLatency)
	})
}

// Cost passes when the response's cost is at most maxUSD dollars. The score
// is maxUSD/cost when over.
func Cost(maxUSD float64) eval.Checker {
	return newChecker(fmt.Sprintf("cost <= $%g", maxUSD), func(_ context.Context, in eval.CheckInput) (bool, float64, string) {
		if in.Response == nil {
			return false, 0, "no response to read the cost from"
		}
		c := in.Response.CostUSD
		if c <= maxUSD {
			return true, 1, fmt.Sprintf("cost $%.6f within $%g", c, maxUSD)
		}
		return false, maxUSD / c, fmt.Sprintf("cost $%.6f exceeds $%g", c, maxUSD)
	})
}

// ToolCall checks the response's tool calls. With a name, the response must
// call that tool; with name "", it must make at least one call. Every
// selected call must name a tool the request declared (when the request
// declared any), carry JSON-object arguments, and validate against
// argsSchema, or when argsSchema is "" against the declared tool's
// Parameters. The score is the fraction of valid calls.
func ToolCall(name, argsSchema string) (eval.Checker, error) {
	var fixed *jsonschema.Schema
	if argsSchema != "" {
		s, err := compileSchema([]byte(argsSchema))
		if err != nil {
			return nil, fmt.Errorf("tool-call %q: arguments %w", name, err)
		}
		fixed = s
	}
	nm := "tool-call"
	if name != "" {
		nm += " " + name
	}
	return newChecker(nm, func(_ context.Context, in eval.CheckInput) (bool, float64, string) {
		if in.Response == nil {
			return false, 0, "no response to read tool calls from"
		}
		var calls []eval.ToolCall
		for _, c := range in.Response.ToolCalls {
			if name == "" || c.Name == name {
				calls = append(calls, c)
			}
		}
		if len(calls) == 0 {
			names := make([]string, 0, len(in.Response.ToolCalls))
			for _, c := range in.Response.ToolCalls {
				names = append(names, c.Name)
			}
			if name == "" {
				return false, 0, "response made no tool call"
			}
			return false, 0, fmt.Sprintf("response did not call %q (called: %s)", name, quoteList(names))
		}
		var tools []eval.Tool
		if in.Request != nil {
			tools = in.Request.Tools
		}
		valid := 0
		var problems []string
		for _, c := range calls {
			if err := validateCall(c, tools, fixed); err != nil {
				problems = append(problems, fmt.Sprintf("%s: %v", c.Name, err))
				continue
			}
			valid++
		}
		score := float64(valid) / float64(len(calls))
		if len(problems) > 0 {
			return false, score, fmt.Sprintf("%d of %d tool calls invalid: %s", len(problems), len(calls), strings.Join(problems, "; "))
		}
		return true, 1, fmt.Sprintf("%d valid tool call(s)", len(calls))
	}), nil
}

func validateCall(c eval.ToolCall, tools []eval.Tool, fixed *jsonschema.Schema) error {
	var declared *eval.Tool
	if len(tools) > 0 {
		i := slices.IndexFunc(tools, func(t eval.Tool) bool { return t.Name == c.Name })
		if i < 0 {
			return fmt.Errorf("tool %q was not declared in the request", c.Name)
		}
		declared = &tools[i]
	}
	args, err := parseJSON(c.Arguments)
	if err != nil {
		return fmt.Errorf("arguments are not valid JSON: %v", err)
	}
	if _, ok := args.(map[string]any); !ok {
		return fmt.Errorf("arguments %q are not a JSON object", clip(strings.TrimSpace(c.Arguments), 40))
	}
	s := fixed
	if s == nil && declared != nil && len(declared.Parameters) > 0 && string(declared.Parameters) != "null" {
		if s, err = compileSchema(declared.Parameters); err != nil {
			return fmt.Errorf("declared parameters: %v", err)
		}
	}
	if s == nil {
		return nil
	}
	return validate(s, args)
}
