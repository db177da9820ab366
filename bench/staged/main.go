// Command staged measures the staged sampling design against fixed mode on
// simulated nights with known ground truth (drift/drifttest: 200 cases, the
// sampling study's suite mixture and drift scenarios), every design on the
// same nights, and prints calls per case and per night, false alarms and
// power with their standard errors, and the paired power difference from
// today's fixed mode. The figures in BENCHMARKS.md come from it:
//
//	go run ./bench/staged -aa 2000 -nights 400
package main

import (
	"flag"
	"fmt"
	"io"
	"os"
	"runtime"
	"sync"
	"time"

	"github.com/driftwatch/driftwatch/drift"
	"github.com/driftwatch/driftwatch/drift/drifttest"
)

func main() {
	if err := run(os.Stdout, os.Args[1:]); err != nil {
		fmt.Fprintln(os.Stderr, "staged:", err)
		os.Exit(1)
	}
}

func run(w io.Writer, args []string) error {
	fs := flag.NewFlagSet("staged", flag.ContinueOnError)
	aa := fs.Int("aa", 1000, "A/A nights")
	nights := fs.Int("nights", 200, "nights per drift scenario")
	mc := fs.Int("mc", 2000, "Monte Carlo draws of the final test (production: 10000)")
	cases := fs.Int("cases", 200, "cases per suite")
	seed := fs.Uint64("seed", 1, "first seed (A/A nights; drift nights start at seed+1000000)")
	workers := fs.Int("workers", runtime.GOMAXPROCS(0), "nights simulated in parallel")
	nightSD := fs.Float64("night-sd", 0, "night effects: sd of a per-run logit offset of every case's pass probability")
	withDrift := fs.Bool("drift", true, "run the drift scenarios (false: A/A only)")
	if err := fs.Parse(args); err != nil {
		return err
	}
	s := drift.Settings{Permutations: 99, MonteCarlo: *mc, Bootstrap: 100}
	designs := drifttest.Designs()
	cfg := drifttest.Config{Cases: *cases, NightSD: *nightSD}
	start := time.Now()
	fmt.Fprintf(w, "staged vs fixed sampling: %d cases, %d A/A nights, %d nights per drift scenario, night effects sd %g, final Monte Carlo %d draws, %d workers, %s/%s\n\n",
		*cases, *aa, *nights, *nightSD, *mc, *workers, runtime.GOOS, runtime.GOARCH)
	scenarios := drifttest.Scenarios
	if !*withDrift {
		scenarios = scenarios[:1]
	}
	for i, sc := range scenarios {
		n, s0 := *nights, *seed+1000000
		if i == 0 {
			n, s0 = *aa, *seed
		}
		out, err := sweep(designs, cfg, sc, n, s0, s, *workers)
		if err != nil {
			return err
		}
		report(w, designs, sc, out, *cases, i == 0)
	}
	fmt.Fprintf(w, "expected calls per case on a quiet night (drift.ExpectedCalls):")
	for _, d := range designs {
		fmt.Fprintf(w, " %s %.2f;", d.Name, drift.ExpectedCalls(d.Plan, *cases).Quiet)
	}
	fmt.Fprintf(w, "\nelapsed %s\n", time.Since(start).Round(time.Second))
	return nil
}

// sweep runs drifttest.Sweep over workers goroutines, each on a contiguous
// block of seeds; the outcomes are those of one sequential sweep.
func sweep(designs []drifttest.Design, cfg drifttest.Config, sc drifttest.Scenario, nights int, seed0 uint64, s drift.Settings, workers int) ([][]drifttest.Outcome, error) {
	workers = max(1, min(workers, nights))
	parts := make([][][]drifttest.Outcome, workers)
	errs := make([]error, workers)
	per := (nights + workers - 1) / workers
	var wg sync.WaitGroup
	for wk := range workers {
		from, to := wk*per, min(nights, (wk+1)*per)
		if from >= to {
			continue
		}
		wg.Add(1)
		go func() {
			defer wg.Done()
			parts[wk], errs[wk] = drifttest.Sweep(designs, cfg, sc, to-from, seed0+uint64(from), s)
		}()
	}
	wg.Wait()
	out := make([][]drifttest.Outcome, len(designs))
	for wk, p := range parts {
		if errs[wk] != nil {
			return nil, errs[wk]
		}
		for d := range p {
			out[d] = append(out[d], p[d]...)
		}
	}
	return out, nil
}

func report(w io.Writer, designs []drifttest.Design, sc drifttest.Scenario, out [][]drifttest.Outcome, cases int, aa bool) {
	what := "power"
	if aa {
		what = "false alarms"
	}
	fmt.Fprintf(w, "%s (%d nights)\n", sc.Name, len(out[0]))
	fmt.Fprintf(w, "  %-32s %-16s %-18s %-14s %s\n", "design", what, "vs fixed today", "calls/case", "calls/night")
	for d, ds := range designs {
		r, se := drifttest.Rate(out[d])
		diff, dse := drifttest.PairedDiff(out[d], out[0])
		calls, cse := drifttest.MeanCalls(out[d])
		fmt.Fprintf(w, "  %-32s %5.1f ± %4.1f%%   %+5.1f ± %3.1f pts    %4.2f ± %4.2f   %6.0f\n",
			ds.Name, 100*r, 100*se, 100*diff, 100*dse, calls, cse, calls*float64(cases))
	}
	fmt.Fprintln(w)
}
