package app

import (
	"cmp"
	"context"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/driftwatch/driftwatch/config"
	"github.com/driftwatch/driftwatch/drift"
	"github.com/driftwatch/driftwatch/eval"
	"github.com/driftwatch/driftwatch/eval/suiteload"
	"github.com/driftwatch/driftwatch/provider/targets"
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

// Pair is one (suite, target) to run.
type Pair struct {
	Suite  eval.Suite
	Target *targets.Target
}

// Run executes the selected suites on the selected targets, stores every
// sample, compares each run with its baseline and returns one report per
// (suite, target). Configuration and suite problems are returned before
// anything is stored or sent to a model.
func (a *App) Run(ctx context.Context, p RunParams) ([]*report.Report, error) {
	pairs, err := a.Plan(ctx, p)
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
				// runPair owns the Pair: a large suite's rendered cases
				// can be collected before the analysis.
				pr := pairs[i]
				pairs[i] = Pair{}
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
func byTarget(pairs []Pair) [][]int {
	var groups [][]int
	at := map[string]int{}
	for i, pr := range pairs {
		name := pr.Target.Config.Name
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

// Plan resolves suites and targets, so every config and suite problem is
// found before a database or a model is touched.
func (a *App) Plan(ctx context.Context, p RunParams) ([]Pair, error) {
	if p.Resume != 0 {
		return a.planResume(ctx, p)
	}
	cat := a.Catalog()
	suites, err := cat.Load(ctx, p.Suites...)
	if err != nil {
		return nil, err
	}
	sel, err := cat.Pick(suites, p.Suites)
	if len(p.Suites) == 0 {
		sel, err = cat.Defaults(suites)
	}
	if err != nil {
		return nil, err
	}
	if p.Case != "" {
		if sel, err = suiteload.WithCases(sel, p.Case); err != nil {
			return nil, err
		}
	}
	ts, err := a.targets(p.Targets)
	if err != nil {
		return nil, err
	}
	var pairs []Pair
	for _, s := range sel {
		for _, t := range ts {
			pairs = append(pairs, Pair{Suite: s, Target: t})
		}
	}
	return pairs, nil
}

func (a *App) planResume(ctx context.Context, p RunParams) ([]Pair, error) {
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
		return nil, fmt.Errorf("resume: %w", err)
	}
	if row.Status == storage.RunCompleted {
		return nil, fmt.Errorf("run %d is already completed; nothing to resume", p.Resume)
	}
	s, err := a.Catalog().One(ctx, snap.Suite)
	if err != nil {
		return nil, fmt.Errorf("resume run %d: %w", p.Resume, err)
	}
	ts, err := a.targets([]string{snap.Target})
	if err != nil {
		return nil, fmt.Errorf("resume run %d: %w", p.Resume, err)
	}
	return []Pair{{Suite: s, Target: ts[0]}}, nil
}

// SamplesFor is the samples per case of suite s: the explicit k (ExplicitK),
// or the sampling plan's K.
func (a *App) SamplesFor(s eval.Suite, p RunParams) int {
	return cmp.Or(a.ExplicitK(s, p), a.cfg.Sampling.WithDefaults(a.cfg.Baseline.Pool()).K)
}

// ExplicitK is the k set for suite s on the command line (or a schedule),
// by the suite, or by the config's samples:, in that order; 0 when none is
// set. An explicit k makes the night fixed at it; otherwise sampling:
// plans the night (run.Spec.K).
func (a *App) ExplicitK(s eval.Suite, p RunParams) int {
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
func (a *App) runPair(ctx context.Context, pr Pair, p RunParams) (*report.Report, error) {
	lc, t := a.lifecycle(), pr.Target.Run(pr.Target.Call)
	var (
		r   *run.Run
		err error
	)
	if p.Resume != 0 {
		r, err = lc.Resume(ctx, p.Resume)
	} else {
		r, err = lc.Start(ctx, run.Spec{Suite: pr.Suite, Target: t, K: a.ExplicitK(pr.Suite, p), Case: p.Case,
			Trigger: p.Trigger, Schedule: p.Schedule, Seed: a.cfg.Drift.Seed, ConfirmOf: p.confirmOf})
	}
	if err != nil {
		return nil, err
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

// completeRun takes a started run to its end in this process
// (run.Lifecycle.Complete), then confirms a DRIFT when asked.
func (a *App) completeRun(ctx context.Context, r *run.Run, pr Pair, p RunParams, t *run.Target) (*report.Report, error) {
	rep, err := a.lifecycle().Complete(ctx, r, t, run.Local{Suite: pr.Suite, NewProgress: p.NewProgress})
	if rep == nil || err != nil {
		return rep, err
	}
	// The suite's rendered cases are not needed by the confirmation; drop
	// the last reference (a confirmation run loads the suite again) so a
	// 100,000-case suite and two runs' samples are never in memory at once.
	pr.Suite = nil
	rep, err = a.confirm(ctx, pr, p, rep, r.Filter)
	if err != nil {
		return nil, err
	}
	rep.FinishedAt = time.Now()
	rep.WallSeconds = rep.FinishedAt.Sub(r.Start).Seconds()
	return rep, nil
}

// confirm re-runs a drifted suite once (fresh samples) before the verdict
// is final, when the config or --confirm asks (run.Lifecycle.Confirm).
func (a *App) confirm(ctx context.Context, pr Pair, p RunParams, rep *report.Report, filter string) (*report.Report, error) {
	confirm := a.cfg.Drift.Confirm
	if p.Confirm != nil {
		confirm = *p.Confirm
	}
	if !confirm || rep.Verdict != string(drift.Drift) || p.Trigger == storage.TriggerConfirm || p.confirmOf != 0 {
		return rep, nil
	}
	s, err := a.Catalog().One(ctx, rep.Suite)
	if err != nil {
		return nil, err
	}
	cp := p
	cp.Resume, cp.Confirm, cp.Case, cp.confirmOf = 0, nil, filter, rep.RunID
	pr.Suite = s
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
	return settled, err
}

// warnUnpricedUnderCap warns, once per target, that max_cost_usd cannot
// limit a target whose model has no price: its calls count as free.
func (a *App) warnUnpricedUnderCap(pairs []Pair) {
	if a.cfg.MaxCostUSD <= 0 {
		return
	}
	var warned []string
	for _, pr := range pairs {
		t := pr.Target
		if t.Priced() || slices.Contains(warned, t.Config.Name) {
			continue
		}
		warned = append(warned, t.Config.Name)
		fmt.Fprintf(a.stderr, "driftwatch: warning: max_cost_usd cannot limit target %s: no price for model %q (its calls count as free); set prices: in the config (%s: {input: USD, output: USD}, per million tokens)\n",
			t.Config.Name, t.Model, t.Model)
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
