package promptfoo

import (
	"context"
	"encoding/json"
	"fmt"
	"strings"
	"unicode"

	"github.com/driftwatch/driftwatch/eval"
)

// Grade is a case's verdict on one output, computed as promptfoo computes
// it.
type Grade struct {
	// Pass: with a test threshold, the weighted score reaches it;
	// without, every assertion passed (an assertion of weight 0 only
	// reports: it always passes).
	Pass bool
	// Score is the weighted mean of the assertions' scores.
	Score   float64
	Reason  string
	Results []AssertResult
	// NamedScores holds, per metric: name, the weighted mean score of the
	// assertions that carry it.
	NamedScores map[string]float64
}

// AssertResult is one assertion's outcome.
type AssertResult struct {
	Type   string
	Metric string
	Weight float64
	Pass   bool
	Score  float64
	Reason string
}

// Grade runs the case's transform and assertions on resp, the target's
// response to the case's request.
func (c *Case) Grade(ctx context.Context, resp *eval.Response) Grade {
	in := &gradeInput{output: responseOutput(resp), resp: resp, req: c.Request, vars: c.Vars, prompt: promptText(c.Request)}
	if c.transform != nil {
		out, err := c.env.transform(ctx, c.transform, in)
		if err != nil {
			return Grade{Reason: "options.transform: " + err.Error(), Results: []AssertResult{{Type: "transform", Reason: err.Error()}}}
		}
		in.output = out
	}
	g := Grade{Pass: true, NamedScores: map[string]float64{}}
	var total, weights float64
	named, namedW := map[string]float64{}, map[string]float64{}
	var failed string
	for _, a := range c.asserts {
		ain := in
		if a.transform != nil {
			out, err := c.env.transform(ctx, a.transform, in)
			if err != nil {
				g.Results = append(g.Results, AssertResult{Type: a.typ, Metric: a.metric, Weight: a.weight, Reason: "transform: " + err.Error()})
				failed = "transform: " + err.Error()
				continue
			}
			cp := *in
			cp.output = out
			ain = &cp
		}
		r := a.grade(ctx, ain)
		if a.weight == 0 {
			// promptfoo's weight 0 only reports: the assertion never
			// fails the test and its score does not count.
			r.pass = true
		}
		g.Results = append(g.Results, AssertResult{Type: a.typ, Metric: a.metric, Weight: a.weight, Pass: r.pass, Score: r.score, Reason: r.reason})
		total += r.score * a.weight
		weights += a.weight
		if a.metric != "" {
			named[a.metric] += r.score * a.weight
			namedW[a.metric] += a.weight
		}
		if !r.pass {
			failed = r.reason
		}
	}
	if weights > 0 {
		g.Score = total / weights
	}
	if len(c.asserts) == 0 {
		g.Score = 1
	}
	for k, v := range named {
		if namedW[k] > 0 {
			g.NamedScores[k] = v / namedW[k]
		} else {
			g.NamedScores[k] = 0
		}
	}
	g.Pass, g.Reason = failed == "", failed
	if g.Pass {
		g.Reason = "all assertions passed"
	}
	if c.Threshold != 0 {
		// A test threshold overrides the assertions' own verdicts.
		g.Pass = g.Score >= c.Threshold
		op := "<"
		if g.Pass {
			op = ">="
		}
		g.Reason = fmt.Sprintf("aggregate score %.2f %s %g threshold", g.Score, op, c.Threshold)
	}
	return g
}

// responseOutput is the output promptfoo's OpenAI provider gives
// assertions: the text, or the tool calls when the model only called
// tools.
func responseOutput(resp *eval.Response) any {
	if resp.Text != "" || len(resp.ToolCalls) == 0 {
		return resp.Text
	}
	calls := make([]any, len(resp.ToolCalls))
	for i, tc := range resp.ToolCalls {
		calls[i] = map[string]any{"id": tc.ID, "type": "function", "function": map[string]any{"name": tc.Name, "arguments": tc.Arguments}}
	}
	return calls
}

func promptText(req *eval.Request) string {
	if len(req.Messages) == 1 {
		return req.Messages[0].Content
	}
	b, _ := json.Marshal(req.Messages)
	return string(b)
}

// record puts a grade into the sample: without a threshold one check
// result per assertion (any failure fails the case); with one, a single
// result for the threshold, naming every assertion's score. Named scores
// become the sample's metrics (unit "score").
func record(t *eval.T, output string, threshold bool, g Grade) {
	for name, v := range g.NamedScores {
		t.Metric(metricName(name), v, "score")
	}
	if len(g.Results) == 0 {
		return
	}
	var rs []eval.CheckResult
	if threshold {
		parts := make([]string, len(g.Results))
		for i, r := range g.Results {
			parts[i] = fmt.Sprintf("%s=%.2f", r.Type, r.Score)
		}
		rs = []eval.CheckResult{{Name: "threshold", Pass: g.Pass, Score: g.Score, Reason: g.Reason + ": " + strings.Join(parts, ", ")}}
	} else {
		for i, r := range g.Results {
			w := r.Weight
			if w == 0 {
				// promptfoo's weight 0 only reports; eval reads a weight
				// of 0 as 1, so the score gets a negligible one.
				w = 1e-9
			}
			rs = append(rs, eval.CheckResult{Name: fmt.Sprintf("%d:%s", i+1, r.Type), Pass: r.Pass, Score: r.Score, Reason: r.Reason, Weight: w})
		}
	}
	checks := make([]eval.Checker, len(rs))
	for i := range rs {
		r := rs[i]
		checks[i] = eval.CheckFunc(func(context.Context, eval.CheckInput) eval.CheckResult { return r })
	}
	t.Check(output, checks...)
}

// metricName makes a promptfoo metric name a Driftwatch metric name (no
// whitespace).
func metricName(s string) string {
	return strings.Map(func(r rune) rune {
		if unicode.IsSpace(r) {
			return '_'
		}
		return r
	}, strings.TrimSpace(s))
}
