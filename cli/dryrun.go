package cli

import (
	"cmp"
	"context"
	"fmt"
	"io"
	"slices"
	"strings"
	"text/tabwriter"

	"github.com/driftwatch/driftwatch/app"
	"github.com/driftwatch/driftwatch/drift"
	"github.com/driftwatch/driftwatch/eval"
	"github.com/driftwatch/driftwatch/provider"
	"github.com/driftwatch/driftwatch/provider/targets"
)

// requester is what YAML suites offer: the request each case sends.
type requester interface {
	Request(caseID string) *eval.Request
}

// estimate is one (suite, target) row of a dry run: the cases and calls
// it would make and the tokens it would send and receive at most.
type estimate struct {
	suite, target, model string
	cases, k             int
	in, out              int
}

// estimatePair counts what pr would send: every selected case's request
// tokens (Go suites' cases count as one call of unknown size) and its
// max_tokens, times the samples per case k.
func estimatePair(pr app.Pair, filter eval.Filter, k int) estimate {
	e := estimate{suite: pr.Suite.Name(), target: pr.Target.Config.Name, model: pr.Target.Model, k: k}
	rq, _ := pr.Suite.(requester)
	for _, c := range pr.Suite.Cases() {
		if !filter.Match(c.ID) {
			continue
		}
		e.cases++
		maxOut := cmp.Or(pr.Target.Config.Params.MaxTokens, 512)
		if rq != nil {
			if req := rq.Request(c.ID); req != nil {
				e.in += provider.EstimateRequestTokens(req)
				maxOut = cmp.Or(req.Params.MaxTokens, maxOut)
			}
		}
		e.out += maxOut
	}
	e.in, e.out = e.in*k, e.out*k
	return e
}

// printDryRun prints, per (suite, target), the calls, estimated tokens and cost
// a run would make, and sends nothing.
func printDryRun(ctx context.Context, a *app.App, p app.RunParams, w io.Writer) error {
	pairs, err := a.Plan(ctx, p)
	if err != nil {
		return err
	}
	filter, err := eval.ParseFilter(p.Case) // Plan has checked it
	if err != nil {
		return err
	}
	cfg := a.Config()
	pool := cfg.Baseline.Pool()
	staged := cfg.Sampling.WithDefaults(pool).Mode == drift.ModeStaged
	var rows []estimate
	var nights []string // staged nights' expected calls, under the table
	for _, pr := range pairs {
		e := estimatePair(pr, filter, a.SamplesFor(pr.Suite, p))
		rows = append(rows, e)
		if staged && a.ExplicitK(pr.Suite, p) == 0 {
			st, fixed := drift.CallsByMode(cfg.Sampling, pool, e.cases)
			nights = append(nights, fmt.Sprintf("%s@%s: a staged night sends about %.0f calls when quiet (%.2f per case), "+
				"up to %d when it goes on to K; fixed nights send %d. The first %d nights run at K until the baseline pool is complete.",
				e.suite, e.target, st.QuietNight, st.Quiet, st.MaxNight, fixed.MaxNight, pool.Runs))
		}
	}
	if err := printEstimates(w, rows, targets.Prices(cfg), cfg.MaxCostUSD); err != nil {
		return err
	}
	for _, n := range nights {
		fmt.Fprintln(w, n)
	}
	return nil
}

// printEstimates prints the dry run's table and its total. A model the
// price table does not know is not free: its cost is unknown, not $0, and
// a note under the table says how to price it.
func printEstimates(w io.Writer, rows []estimate, prices provider.Prices, maxCostUSD float64) error {
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, "SUITE\tTARGET\tCASES\tSAMPLES/CASE\tCALLS\tINPUT TOKENS\tOUTPUT TOKENS (max)\tCOST (max)")
	var totalCalls, totalIn, totalOut, priced int
	var totalCost float64
	var noPrice []string                    // models without a price
	noPriceTargets := map[string][]string{} // their targets
	for _, e := range rows {
		costText := "unknown"
		if _, ok := prices.Lookup(e.model); ok {
			cost := prices.Cost(e.model, eval.Usage{InputTokens: e.in, OutputTokens: e.out})
			costText = fmt.Sprintf("$%.4f", cost)
			totalCost += cost
			priced++
		} else if ts := noPriceTargets[e.model]; !slices.Contains(ts, e.target) {
			if ts == nil {
				noPrice = append(noPrice, e.model)
			}
			noPriceTargets[e.model] = append(ts, e.target)
		}
		fmt.Fprintf(tw, "%s\t%s\t%d\t%d\t%d\t%d\t%d\t%s\n", e.suite, e.target, e.cases, e.k, e.cases*e.k, e.in, e.out, costText)
		totalCalls, totalIn, totalOut = totalCalls+e.cases*e.k, totalIn+e.in, totalOut+e.out
	}
	total := fmt.Sprintf("$%.4f", totalCost)
	switch {
	case len(noPrice) > 0 && priced == 0:
		total = "unknown"
	case len(noPrice) > 0:
		total += " + unknown"
	}
	fmt.Fprintf(tw, "TOTAL\t\t\t\t%d\t%d\t%d\t%s\n", totalCalls, totalIn, totalOut, total)
	if maxCostUSD > 0 {
		fmt.Fprintf(tw, "budget cap (max_cost_usd): $%.2f per run\n", maxCostUSD)
	}
	if err := tw.Flush(); err != nil {
		return err
	}
	for _, m := range noPrice {
		ts := noPriceTargets[m]
		fmt.Fprintf(w, "cost unknown: no price for model %q (%s %s); set prices: in the config "+
			"(%s: {input: USD, output: USD}, per million tokens; 0 for a free local model)\n",
			m, map[bool]string{false: "target", true: "targets"}[len(ts) > 1], strings.Join(ts, ", "), m)
	}
	return nil
}
