package app

import (
	"cmp"
	"context"
	"fmt"
	"io"
	"slices"
	"strings"
	"text/tabwriter"

	"github.com/driftwatch/driftwatch/drift"
	"github.com/driftwatch/driftwatch/eval"
	"github.com/driftwatch/driftwatch/provider"
	"github.com/driftwatch/driftwatch/provider/targets"
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
	filter, err := eval.ParseFilter(p.Case) // plan has checked it
	if err != nil {
		return err
	}
	prices := targets.Prices(a.cfg)
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, "SUITE\tTARGET\tCASES\tSAMPLES/CASE\tCALLS\tINPUT TOKENS\tOUTPUT TOKENS (max)\tCOST (max)")
	var totalCalls, totalIn, totalOut int
	var totalCost float64
	var noPrice []string                    // models without a price, for the note under the table
	noPriceTargets := map[string][]string{} // their targets
	priced := 0                             // rows with a known cost
	var nights []string                     // staged nights' expected calls, under the table
	pool := a.cfg.Baseline.Pool()
	staged := a.cfg.Sampling.WithDefaults(pool).Mode == drift.ModeStaged
	for _, pr := range pairs {
		k := a.samplesFor(pr.suite, p)
		rq, _ := pr.suite.(requester)
		var cases, in, out int
		for _, c := range pr.suite.Cases() {
			if !filter.Match(c.ID) {
				continue
			}
			cases++
			maxOut := cmp.Or(pr.target.Config.Params.MaxTokens, 512)
			if rq != nil {
				if req := rq.Request(c.ID); req != nil {
					in += provider.EstimateRequestTokens(req)
					maxOut = cmp.Or(req.Params.MaxTokens, maxOut)
				}
			}
			out += maxOut
		}
		if staged && a.explicitK(pr.suite, p) == 0 {
			st, fixed := drift.CallsByMode(a.cfg.Sampling, pool, cases)
			nights = append(nights, fmt.Sprintf("%s@%s: a staged night sends about %.0f calls when quiet (%.2f per case), "+
				"up to %d when it goes on to K; fixed nights send %d. The first %d nights run at K until the baseline pool is complete.",
				pr.suite.Name(), pr.target.Config.Name, st.QuietNight, st.Quiet, st.MaxNight, fixed.MaxNight, pool.Runs))
		}
		in, out = in*k, out*k
		// A model the price table does not know is not free: its cost is
		// unknown, not $0.
		costText := "unknown"
		if _, ok := prices.Lookup(pr.target.Model); ok {
			cost := prices.Cost(pr.target.Model, eval.Usage{InputTokens: in, OutputTokens: out})
			costText = fmt.Sprintf("$%.4f", cost)
			totalCost += cost
			priced++
		} else if m, ts := pr.target.Model, noPriceTargets[pr.target.Model]; !slices.Contains(ts, pr.target.Config.Name) {
			if ts == nil {
				noPrice = append(noPrice, m)
			}
			noPriceTargets[m] = append(ts, pr.target.Config.Name)
		}
		fmt.Fprintf(tw, "%s\t%s\t%d\t%d\t%d\t%d\t%d\t%s\n", pr.suite.Name(), pr.target.Config.Name, cases, k, cases*k, in, out, costText)
		totalCalls, totalIn, totalOut = totalCalls+cases*k, totalIn+in, totalOut+out
	}
	total := fmt.Sprintf("$%.4f", totalCost)
	switch {
	case len(noPrice) > 0 && priced == 0:
		total = "unknown"
	case len(noPrice) > 0:
		total += " + unknown"
	}
	fmt.Fprintf(tw, "TOTAL\t\t\t\t%d\t%d\t%d\t%s\n", totalCalls, totalIn, totalOut, total)
	if a.cfg.MaxCostUSD > 0 {
		fmt.Fprintf(tw, "budget cap (max_cost_usd): $%.2f per run\n", a.cfg.MaxCostUSD)
	}
	if err := tw.Flush(); err != nil {
		return err
	}
	for _, n := range nights {
		fmt.Fprintln(w, n)
	}
	for _, m := range noPrice {
		ts := noPriceTargets[m]
		fmt.Fprintf(w, "cost unknown: no price for model %q (%s %s); set prices: in the config "+
			"(%s: {input: USD, output: USD}, per million tokens; 0 for a free local model)\n",
			m, map[bool]string{false: "target", true: "targets"}[len(ts) > 1], strings.Join(ts, ", "), m)
	}
	return nil
}
