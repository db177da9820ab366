package app

import (
	"cmp"
	"context"
	"fmt"
	"io"
	"text/tabwriter"

	"github.com/driftwatch/driftwatch/eval"
	"github.com/driftwatch/driftwatch/provider"
)

// requester is what YAML suites offer: the request each case sends.
type requester interface {
	Request(caseID string) *eval.Request
}

// DryRun prints, per (suite, target), the calls, estimated tokens and cost a
// run would make, and sends nothing. Go suites may make several calls per
// case; they are counted as one call of unknown size.
func (a *App) DryRun(ctx context.Context, p RunParams, w io.Writer) error {
	pairs, err := a.plan(ctx, p)
	if err != nil {
		return err
	}
	filter, err := eval.ParseFilter(p.Case)
	if err != nil {
		return configError(fmt.Errorf("--case %q: %w", p.Case, err))
	}
	prices := a.prices()
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, "SUITE\tTARGET\tCASES\tSAMPLES/CASE\tCALLS\tINPUT TOKENS\tOUTPUT TOKENS (max)\tCOST (max)")
	var totalCalls, totalIn, totalOut int
	var totalCost float64
	for _, pr := range pairs {
		k := a.samplesFor(pr.suite, p)
		rq, _ := pr.suite.(requester)
		var cases, in, out int
		for _, c := range pr.suite.Cases() {
			if !filter.Match(c.ID) {
				continue
			}
			cases++
			maxOut := cmp.Or(pr.target.cfg.Params.MaxTokens, 512)
			if rq != nil {
				if req := rq.Request(c.ID); req != nil {
					in += provider.EstimateRequestTokens(req)
					maxOut = cmp.Or(req.Params.MaxTokens, maxOut)
				}
			}
			out += maxOut
		}
		in, out = in*k, out*k
		cost := prices.Cost(pr.target.model, eval.Usage{InputTokens: in, OutputTokens: out})
		fmt.Fprintf(tw, "%s\t%s\t%d\t%d\t%d\t%d\t%d\t$%.4f\n", pr.suite.Name(), pr.target.cfg.Name, cases, k, cases*k, in, out, cost)
		totalCalls, totalIn, totalOut, totalCost = totalCalls+cases*k, totalIn+in, totalOut+out, totalCost+cost
	}
	fmt.Fprintf(tw, "TOTAL\t\t\t\t%d\t%d\t%d\t$%.4f\n", totalCalls, totalIn, totalOut, totalCost)
	if a.cfg.MaxCostUSD > 0 {
		fmt.Fprintf(tw, "budget cap (max_cost_usd): $%.2f per run\n", a.cfg.MaxCostUSD)
	}
	return tw.Flush()
}
