package app

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"sort"
	"strings"
	"sync"
	"time"

	"github.com/driftwatch/driftwatch/config"
	"github.com/driftwatch/driftwatch/drift"
	"github.com/driftwatch/driftwatch/eval"
	"github.com/driftwatch/driftwatch/report"
	"github.com/driftwatch/driftwatch/run"
	"github.com/driftwatch/driftwatch/storage"
)

// RunParams select what `driftwatch run` runs.
type RunParams struct {
	Suites  []string // names; empty: all
	Targets []string // names; empty: all
	// Samples overrides k for every suite; 0 keeps the suite's or config's.
	Samples int
	// Case is a -run style pattern selecting cases.
	Case string
	// Resume finishes the unfinished samples of this run id.
	Resume int64
	// Trigger and Schedule are stored with the run.
	Trigger  string
	Schedule string
	// Confirm overrides the config's drift.confirm.
	Confirm *bool
	// NewProgress, if set, shows the progress of one (suite, target) run.
	NewProgress func(label string, total int) run.Progress
	// confirmOf is the run a confirmation run confirms.
	confirmOf int64
}

// pair is one (suite, target) to run.
type pair struct {
	suite  eval.Suite
	target *targetRef
}

// Run executes the selected suites on the selected targets, stores every
// sample, compares each run with its baseline and returns one report per
// (suite, target). Configuration and infrastructure problems are returned as
// *ExitError with code 3 before anything is sent to a model.
func (a *App) Run(ctx context.Context, p RunParams) ([]*report.Report, error) {
	pairs, err := a.plan(ctx, p)
	if err != nil {
		return nil, err
	}
	if _, err := a.Store(ctx); err != nil {
		return nil, err
	}
	a.warnUnpricedUnderCap(pairs)
	// Targets run at the same time (each has its own concurrency and rate
	// limits); a target's suites run one after another. A target whose run
	// fails stops there; the others go on.
	groups := byTarget(pairs)
	reports := make([]*report.Report, len(pairs))
	errs := make([]error, len(pairs))
	var wg sync.WaitGroup
	for _, g := range groups {
		wg.Go(func() {
			for _, i := range g {
				if ctx.Err() != nil {
					return
				}
				// runPair owns the pair: a large suite's rendered cases
				// can be collected before the analysis.
				pr := pairs[i]
				pairs[i] = pair{}
				if reports[i], errs[i] = a.runPair(ctx, pr, p); errs[i] != nil {
					return
				}
			}
		})
	}
	wg.Wait()
	return slices.DeleteFunc(reports, func(r *report.Report) bool { return r == nil }), cmp.Or(errs...)
}

// byTarget groups the indices of pairs by target, in order of first use.
func byTarget(pairs []pair) [][]int {
	var groups [][]int
	at := map[string]int{}
	for i, pr := range pairs {
		name := pr.target.cfg.Name
		g, ok := at[name]
		if !ok {
			g = len(groups)
			at[name] = g
			groups = append(groups, nil)
		}
		groups[g] = append(groups[g], i)
	}
	return groups
}

// plan resolves suites and targets, so every config and suite problem is
// found before a database or a model is touched.
func (a *App) plan(ctx context.Context, p RunParams) ([]pair, error) {
	suites, err := a.SuitesContext(ctx, p.Suites...)
	if err != nil {
		return nil, configError(err)
	}
	if p.Resume != 0 {
		return a.planResume(ctx, p, suites)
	}
	sel, err := a.pickSuites(suites, p.Suites)
	if len(p.Suites) == 0 {
		sel, err = a.defaultSuites(suites)
	}
	if err != nil {
		return nil, configError(err)
	}
	if p.Case != "" {
		if sel, err = withCases(sel, p.Case); err != nil {
			return nil, configError(err)
		}
	}
	targets, err := a.targets(p.Targets)
	if err != nil {
		return nil, configError(err)
	}
	var pairs []pair
	for _, s := range sel {
		for _, t := range targets {
			pairs = append(pairs, pair{suite: s, target: t})
		}
	}
	return pairs, nil
}

func (a *App) planResume(ctx context.Context, p RunParams, suites []eval.Suite) ([]pair, error) {
	st, err := a.Store(ctx)
	if err != nil {
		return nil, err
	}
	row, err := st.GetRun(ctx, p.Resume)
	if err != nil {
		return nil, runError(p.Resume, err)
	}
	snap, err := run.ReadSnapshot(row)
	if err != nil {
		return nil, configError(fmt.Errorf("resume: %w", err))
	}
	if row.Status == storage.RunCompleted {
		return nil, configError(fmt.Errorf("run %d is already completed; nothing to resume", p.Resume))
	}
	sel, err := a.pickSuites(suites, []string{snap.Suite})
	if err != nil {
		return nil, configError(fmt.Errorf("resume run %d: %w", p.Resume, err))
	}
	targets, err := a.targets([]string{snap.Target})
	if err != nil {
		return nil, configError(fmt.Errorf("resume run %d: %w", p.Resume, err))
	}
	return []pair{{suite: sel[0], target: targets[0]}}, nil
}

func selectSuites(all []eval.Suite, names []string) ([]eval.Suite, error) {
	if len(names) == 0 {
		if len(all) == 0 {
			return nil, errors.New("no suites: list suite files or folders under suites: in the config, or register Go suites")
		}
		return all, nil
	}
	var out []eval.Suite
	for _, n := range names {
		i := slices.IndexFunc(all, func(s eval.Suite) bool { return s.Name() == n })
		if i < 0 {
			known := make([]string, len(all))
			for j, s := range all {
				known[j] = s.Name()
			}
			sort.Strings(known)
			return nil, &unknownSuiteError{name: n, known: known}
		}
		out = append(out, all[i])
	}
	return out, nil
}

// unknownSuiteError names a suite that is not among the known ones.
type unknownSuiteError struct {
	name  string
	known []string // sorted
}

func (e *unknownSuiteError) Error() string {
	return fmt.Sprintf("unknown suite %q (known: %s)", e.name, strings.Join(e.known, ", "))
}

// withCases keeps the suites that have a case the --case pattern selects.
// A pattern that does not compile, or that selects no case of any suite, is
// a usage error found before anything is stored or sent.
func withCases(suites []eval.Suite, pattern string) ([]eval.Suite, error) {
	f, err := eval.ParseFilter(pattern)
	if err != nil {
		return nil, fmt.Errorf("--case: %w", err)
	}
	var out []eval.Suite
	for _, s := range suites {
		if slices.ContainsFunc(s.Cases(), func(c eval.Case) bool { return f.Match(c.ID) }) {
			out = append(out, s)
		}
	}
	if len(out) == 0 {
		names := make([]string, len(suites))
		for i, s := range suites {
			names[i] = s.Name()
		}
		return nil, fmt.Errorf("--case %q matches no case of suite %s", pattern, strings.Join(names, ", "))
	}
	return out, nil
}

// samplesFor is the samples per case of suite s: the explicit k (explicitK),
// or the sampling plan's K.
func (a *App) samplesFor(s eval.Suite, p RunParams) int {
	return cmp.Or(a.explicitK(s, p), a.cfg.Sampling.WithDefaults(a.cfg.Baseline.Pool()).K)
}

// explicitK is the k set for suite s on the command line (or a schedule),
// by the suite, or by the config's samples:, in that order; 0 when none is
// set. An explicit k makes the night fixed at it; otherwise sampling:
// plans the night (run.Spec.K).
func (a *App) explicitK(s eval.Suite, p RunParams) int {
	if p.Samples > 0 {
		return p.Samples
	}
	if si, ok := s.(eval.SuiteInfo); ok && si.Samples() > 0 {
		return si.Samples()
	}
	return a.cfg.Samples
}

// lifecycle returns the run lifecycle on the open store (call Store
// first); it is made once, for every goroutine.
func (a *App) lifecycle() *run.Lifecycle {
	a.lifeOnce.Do(func() {
		d := a.cfg.Drift
		a.life = run.New(a.store, run.Policy{
			Project: a.cfg.ProjectName(),
			Drift: drift.Settings{Seed: d.Seed, AlphaFamily: d.Alpha, QCase: d.QCase, MinPassDelta: d.MinPassDelta,
				MaxErrorRate: d.MaxErrorRate, MinSamples: d.MinSamples},
			BaselineRuns:   a.cfg.Baseline.Pool().Runs,
			Sampling:       a.cfg.Sampling,
			MaxCostUSD:     a.cfg.MaxCostUSD,
			HarnessVersion: Version,
			ResumeCommand:  a.resumeCommand,
			Journal:        journalDir(),
		}, a.logger, a.stderr)
	})
	return a.life
}

// journalDir is the folder of the sample journals (run.Policy.Journal):
// driftwatch/journal in the user's cache folder; "" (no journal) when there
// is none.
func journalDir() string {
	dir, err := os.UserCacheDir()
	if err != nil {
		return ""
	}
	return filepath.Join(dir, "driftwatch", "journal")
}

// runPair runs one (suite, target) in this process: it starts the run (or
// resumes one), checks the pin before any call, executes the cases and
// finishes the run with its verdict. Once the run exists, no error leaves it
// "running": it is marked failed with the error.
func (a *App) runPair(ctx context.Context, pr pair, p RunParams) (*report.Report, error) {
	lc, t := a.lifecycle(), pr.target.runTarget(a, pr.target.target)
	var (
		r   *run.Run
		err error
	)
	if p.Resume != 0 {
		r, err = lc.Resume(ctx, p.Resume)
	} else {
		r, err = lc.Start(ctx, run.Spec{Suite: pr.suite, Target: t, K: a.explicitK(pr.suite, p), Case: p.Case,
			Trigger: p.Trigger, Schedule: p.Schedule, Seed: a.cfg.Drift.Seed, ConfirmOf: p.confirmOf})
	}
	if err != nil {
		return nil, configError(err)
	}
	rep, err := a.completeRun(ctx, r, pr, p, t)
	if err != nil {
		// A no-op when the run was finished before the error (a failed
		// confirmation run, a pin stop that could not store its report).
		if ferr := a.store.FailRun(context.WithoutCancel(ctx), r.Row.ID, run.FailMessage(err.Error())); ferr != nil {
			a.logger.Warn("mark run failed", "run", r.Row.ID, "err", ferr)
		}
	}
	return rep, err
}

// completeRun takes a started run to its end: pin check, execution of
// each stage of its night and the decision after it (run.Lifecycle.Advance:
// a look, or the verdict), confirmation.
func (a *App) completeRun(ctx context.Context, r *run.Run, pr pair, p RunParams, t *run.Target) (*report.Report, error) {
	lc := a.lifecycle()
	if rep, err := lc.Preflight(ctx, r, t); rep != nil || err != nil {
		return rep, configError(err)
	}
	var rep *report.Report
	for {
		if rep, err := a.executeStage(ctx, r, pr, p, t); rep != nil || err != nil {
			return rep, err
		}
		var next int
		var err error
		if rep, next, err = lc.Advance(ctx, r.Row, t, r.Stage); err != nil {
			return nil, configError(err)
		}
		if rep != nil {
			break
		}
		if err := lc.ToStage(ctx, r, next); err != nil {
			return nil, configError(err)
		}
	}
	// The suite's rendered cases are not needed by the confirmation; drop
	// the last reference (a confirmation run loads the suite again) so a
	// 100,000-case suite and two runs' samples are never in memory at once.
	pr.suite = nil
	rep, err := a.confirm(ctx, pr, p, rep, r.Filter)
	if err != nil {
		return nil, err
	}
	rep.FinishedAt = time.Now()
	rep.WallSeconds = rep.FinishedAt.Sub(r.Start).Seconds()
	return rep, nil
}

// executeStage sends the samples of r's stage (run.Run.Upto) and settles
// an execution that cannot go on (a report or an error).
func (a *App) executeStage(ctx context.Context, r *run.Run, pr pair, p RunParams, t *run.Target) (*report.Report, error) {
	lc := a.lifecycle()
	ffAfter := 0
	if len(r.Done) == 0 {
		// Only while nothing of the run has worked: a resumed run with
		// stored samples is known to have a usable target.
		ffAfter = run.FailFastAfter(t.Concurrency)
	}
	label := fmt.Sprintf("%s@%s", pr.suite.Name(), t.Name)
	if r.Stage > 0 {
		label += fmt.Sprintf(" stage %d", r.Stage+1)
	}
	var prog run.Progress
	if p.NewProgress != nil {
		prog = p.NewProgress(label, max(0, len(pr.suite.Cases())*r.Upto-len(r.Done)))
	}
	ex := lc.Execute(ctx, r, run.Exec{Suite: pr.suite, Target: t, Upto: r.Upto, LocalBudget: true, FailFastAfter: ffAfter, Progress: prog})
	rep, err := lc.Settle(ctx, r, t, ex)
	return rep, configError(err)
}

// confirm re-runs a drifted suite once (fresh samples) before the verdict
// is final, when the config or --confirm asks (run.Lifecycle.Confirm).
func (a *App) confirm(ctx context.Context, pr pair, p RunParams, rep *report.Report, filter string) (*report.Report, error) {
	confirm := a.cfg.Drift.Confirm
	if p.Confirm != nil {
		confirm = *p.Confirm
	}
	if !confirm || rep.Verdict != string(drift.Drift) || p.Trigger == storage.TriggerConfirm || p.confirmOf != 0 {
		return rep, nil
	}
	all, err := a.SuitesContext(ctx, rep.Suite)
	if err != nil {
		return nil, configError(err)
	}
	sel, err := a.pickSuites(all, []string{rep.Suite})
	if err != nil {
		return nil, configError(err)
	}
	cp := p
	cp.Resume, cp.Confirm, cp.Case, cp.confirmOf = 0, nil, filter, rep.RunID
	pr.suite = sel[0]
	fmt.Fprintf(a.stderr, "%s@%s: DRIFT; confirming with a fresh run...\n", rep.Suite, rep.Target)
	crep, err := a.runPair(ctx, pr, cp)
	if crep == nil {
		return nil, err
	}
	if err != nil {
		// The confirmation run failed (an unusable target, say) but was
		// stored: it cannot overturn the drift, which stands.
		fmt.Fprintf(a.stderr, "%s@%s: confirmation run %d: %v\n", rep.Suite, rep.Target, crep.RunID, err)
	}
	settled, err := a.lifecycle().Confirm(ctx, rep.RunID, crep)
	return settled, configError(err)
}

// warnUnpricedUnderCap warns, once per target, that max_cost_usd cannot
// limit a target whose model has no price: its calls count as free.
func (a *App) warnUnpricedUnderCap(pairs []pair) {
	if a.cfg.MaxCostUSD <= 0 {
		return
	}
	prices := a.prices()
	var warned []string
	for _, pr := range pairs {
		t := pr.target
		if _, ok := prices.Lookup(t.model); ok || slices.Contains(warned, t.cfg.Name) {
			continue
		}
		warned = append(warned, t.cfg.Name)
		fmt.Fprintf(a.stderr, "driftwatch: warning: max_cost_usd cannot limit target %s: no price for model %q (its calls count as free); set prices: in the config (%s: {input: USD, output: USD}, per million tokens)\n",
			t.cfg.Name, t.model, t.model)
	}
}

// resumeCommand is the command that finishes run id, ready to paste: with
// --config when the config is not the default file.
func (a *App) resumeCommand(id int64) string {
	cmd := "driftwatch run"
	if f := a.cfg.File; f != "" && f != config.FileDefault {
		cmd += " --config " + shellQuote(f)
	}
	return fmt.Sprintf("%s --resume %d", cmd, id)
}

// shellQuote quotes s for a POSIX shell when it has characters the shell
// would interpret.
func shellQuote(s string) string {
	safe := func(r rune) bool {
		return r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' || strings.ContainsRune("_-./:@%+=,", r)
	}
	if s != "" && !strings.ContainsFunc(s, func(r rune) bool { return !safe(r) }) {
		return s
	}
	return "'" + strings.ReplaceAll(s, "'", `'\''`) + "'"
}
