package app

import (
	"cmp"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"maps"
	"slices"
	"sort"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/driftwatch/driftwatch/drift"
	"github.com/driftwatch/driftwatch/eval"
	"github.com/driftwatch/driftwatch/eval/check"
	"github.com/driftwatch/driftwatch/provider"
	"github.com/driftwatch/driftwatch/report"
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
	// Progress prints a progress bar or lines to stderr.
	Progress bool
	// board draws the progress of targets that run at the same time.
	board *progressBoard
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
	if len(groups) > 1 && p.Progress && isTerminal(a.stderr) {
		p.board = newProgressBoard(a.stderr)
	}
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
	p.board.finish()
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
	suites, err := a.Suites(p.Suites...)
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
	run, err := st.GetRun(ctx, p.Resume)
	if err != nil {
		return nil, runError(p.Resume, err)
	}
	var snap runSnapshot
	if err := json.Unmarshal(run.Config, &snap); err != nil || snap.Suite == "" {
		return nil, configError(fmt.Errorf("resume run %d: the run has no usable config snapshot", p.Resume))
	}
	if run.Status == storage.RunCompleted {
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

// runSnapshot is the redacted config stored with a run: what it ran and how.
type runSnapshot struct {
	Suite    string      `json:"suite"`
	Target   string      `json:"target"`
	Provider string      `json:"provider"`
	Model    string      `json:"model"`
	BaseURL  string      `json:"base_url,omitempty"`
	Samples  int         `json:"samples"`
	Case     string      `json:"case,omitempty"`
	Params   eval.Params `json:"params"`
	// Deterministic is the target's promise that a request always gets
	// the same output (TargetConfig.Deterministic).
	Deterministic bool   `json:"deterministic,omitempty"`
	Seed          uint64 `json:"seed"`
	// Confirm and ConfirmOf are set on runs made by serve's jobs: re-run
	// once before a DRIFT verdict is final; the run this one confirms.
	Confirm   bool  `json:"confirm,omitempty"`
	ConfirmOf int64 `json:"confirm_of,omitempty"`
}

func (a *App) samplesFor(s eval.Suite, p RunParams) int {
	if p.Samples > 0 {
		return p.Samples
	}
	if si, ok := s.(eval.SuiteInfo); ok && si.Samples() > 0 {
		return si.Samples()
	}
	return cmp.Or(a.cfg.Samples, SamplesDefault)
}

// runState collects what the sink sees while a run executes.
type runState struct {
	mu         sync.Mutex
	identities map[string]eval.Identity
	idCount    map[string]int
	pinErr     error
	errors     atomic.Int64
	done       atomic.Int64
	ids        identityCache
}

// runPair runs one (suite, target): it starts the run (or resumes one),
// checks the pin before any call, executes the cases and finishes the run
// with its verdict. Once the run exists, no error leaves it "running": it is
// marked failed with the error.
func (a *App) runPair(ctx context.Context, pr pair, p RunParams) (*report.Report, error) {
	r, err := a.startRun(ctx, pr, p)
	if err != nil {
		return nil, err
	}
	rep, err := a.completeRun(ctx, r, pr, p)
	if err != nil {
		// A no-op when the run was finished before the error (a failed
		// confirmation run, a pin stop that could not store its report).
		if ferr := a.store.FailRun(context.WithoutCancel(ctx), r.run.ID, failMessage(err.Error())); ferr != nil {
			a.logger.Warn("mark run failed", "run", r.run.ID, "err", ferr)
		}
	}
	return rep, err
}

// startedRun is a run that exists in storage, with what the steps after
// startRun share. It never holds the suite (see completeRun).
type startedRun struct {
	run               storage.Run
	suiteID, targetID int64
	start             time.Time
	// k and filter are the run's samples per case and --case pattern (a
	// resumed run's own, whatever the command line says).
	k      int
	filter string
	// done holds the samples stored without error: a resume skips them.
	done map[storage.SampleKey]struct{}
	// spent is what the stored samples cost: a resumed run's budget starts
	// there.
	spent float64
}

// startRun records the suite, target and cases and creates the run, or
// loads the run to resume with what it already did.
func (a *App) startRun(ctx context.Context, pr pair, p RunParams) (*startedRun, error) {
	st, s, t := a.store, pr.suite, pr.target
	suiteID, err := st.EnsureSuite(ctx, s.Name())
	if err != nil {
		return nil, configError(err)
	}
	targetID, err := st.EnsureTarget(ctx, t.cfg.Name, t.provider, t.model)
	if err != nil {
		return nil, configError(err)
	}
	r := &startedRun{suiteID: suiteID, targetID: targetID, start: time.Now(), k: a.samplesFor(s, p), filter: p.Case}
	if p.Resume != 0 {
		if r.run, err = st.GetRun(ctx, p.Resume); err != nil {
			return nil, configError(err)
		}
		var snap runSnapshot
		if err := json.Unmarshal(r.run.Config, &snap); err != nil {
			return nil, configError(fmt.Errorf("run %d: read its stored configuration: %w", r.run.ID, err))
		}
		r.k, r.filter = r.run.SamplesPerCase, snap.Case
		if r.done, err = st.DoneSamples(ctx, r.run.ID); err != nil {
			return nil, configError(err)
		}
		tot, err := st.RunTotals(ctx, r.run.ID)
		if err != nil {
			return nil, configError(err)
		}
		r.spent = tot.CostUSD
		return r, nil
	}
	if err := st.UpsertCases(ctx, suiteID, caseRows(s.Cases())); err != nil {
		return nil, configError(err)
	}
	snap, err := json.Marshal(runSnapshot{Suite: s.Name(), Target: t.cfg.Name, Provider: t.provider, Model: t.model,
		BaseURL: t.baseURL, Samples: r.k, Case: p.Case, Params: t.cfg.Params, Deterministic: t.cfg.Deterministic, Seed: a.cfg.Drift.Seed})
	if err != nil {
		return nil, configError(fmt.Errorf("encode the run's configuration: %w", err))
	}
	r.run, err = st.CreateRun(ctx, storage.NewRun{SuiteID: suiteID, TargetID: targetID, Trigger: cmp.Or(p.Trigger, storage.TriggerCLI),
		Schedule: p.Schedule, SamplesPerCase: r.k, Config: snap, HarnessVersion: Version})
	if err != nil {
		return nil, configError(err)
	}
	return r, nil
}

// completeRun takes a started run to its end: pin check, execution,
// verdict, confirmation.
func (a *App) completeRun(ctx context.Context, r *startedRun, pr pair, p RunParams) (*report.Report, error) {
	t := pr.target
	rep := &report.Report{Suite: pr.suite.Name(), Target: t.cfg.Name, RunID: r.run.ID, StartedAt: r.start}
	baseline, baseIdentity, err := a.baselineOf(ctx, r.suiteID, r.targetID)
	if err != nil {
		return nil, configError(err)
	}
	if baseIdentity != nil {
		rep.BaselineIdentity = toReportIdentity(*baseIdentity)
	}
	if id, pinErr := a.preflightPin(ctx, t, baseIdentity); pinErr != nil {
		return a.finishPinned(ctx, rep, r.run, r.targetID, *id, pinErr, t)
	}
	res, interrupted := a.executeRun(ctx, r, pr, p, baseIdentity)
	// The suite's rendered cases are not needed by the analysis; drop the
	// last reference (pr lives on for a confirmation run, which loads the
	// suite again) so a 100,000-case suite and two runs' samples are never
	// in memory at once.
	pr.suite = nil
	return a.finishExecuted(ctx, r, pr, p, rep, res, baseline, interrupted)
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

// preflightPin probes the target's identity, for targets that can be
// probed, and checks it against the pin before any case is sent. It
// returns the identity and the mismatch when the run must stop; with a
// warn-mode pin the run goes on and the responses' identities carry the
// mismatch into the findings.
func (a *App) preflightPin(ctx context.Context, t *targetRef, baseIdentity *eval.Identity) (*eval.Identity, error) {
	id, err := t.probeIdentity(ctx)
	if err != nil {
		a.logger.Warn("identity probe failed", "target", t.cfg.Name, "err", err)
		return nil, nil
	}
	if id == nil || t.cfg.Pin.Warn() {
		return nil, nil
	}
	if err := t.checkPin(*id, baseIdentity); err != nil {
		return id, err
	}
	return nil, nil
}

// executeRun runs the run's remaining samples. Ctrl-C (ctx done) stops
// scheduling new samples but lets the ones in flight finish and be stored,
// so a resumed run makes no extra calls; in-flight calls are cancelled only
// after SoftStopTimeout. It reports whether ctx was done.
func (a *App) executeRun(ctx context.Context, r *startedRun, pr pair, p RunParams, baseIdentity *eval.Identity) (executed, bool) {
	s, t := pr.suite, pr.target
	runCtx, cancelRun := context.WithCancelCause(context.WithoutCancel(ctx))
	defer cancelRun(nil)
	softStop := make(chan struct{})
	var hardStop atomic.Pointer[time.Timer]
	stopWatch := context.AfterFunc(ctx, func() {
		close(softStop)
		hardStop.Store(time.AfterFunc(SoftStopTimeout, func() { cancelRun(context.Cause(ctx)) }))
	})
	defer func() {
		stopWatch()
		if t := hardStop.Load(); t != nil {
			t.Stop()
		}
	}()
	total := len(s.Cases()) * r.k
	ffAfter := 0
	if len(r.done) == 0 {
		// Only while nothing of the run has worked: a resumed run with
		// stored samples is known to have a usable target.
		ffAfter = failFastAfter(cmp.Or(t.cfg.Concurrency, ConcurrencyDefault))
	}
	prog := p.board.add(newProgress(a.stderr, p.Progress, fmt.Sprintf("%s@%s", s.Name(), t.cfg.Name), total-len(r.done)))
	res := a.execute(runCtx, cancelRun, execution{run: r.run, suite: s, target: t, targetID: r.targetID, k: r.k, filter: r.filter,
		baseIdentity: baseIdentity, prog: prog, budget: true, spent: r.spent, softStop: softStop, failFastAfter: ffAfter,
		skip: func(key string, idx int) bool {
			_, ok := r.done[storage.SampleKey{CaseKey: key, SampleIdx: idx}]
			return ok
		}})
	res.cause = context.Cause(runCtx)
	return res, ctx.Err() != nil
}

// finishExecuted finishes an executed run: stopped (pin, budget,
// interrupt), failed (the runner or the target could not work), or
// compared with its baseline and, when it drifted and --confirm asks,
// confirmed by a fresh run.
func (a *App) finishExecuted(ctx context.Context, r *startedRun, pr pair, p RunParams, rep *report.Report, res executed,
	baseline *storage.Baseline, interrupted bool) (*report.Report, error) {
	t, run, state := pr.target, r.run, res.state
	// What a stopped run did is stored even after Ctrl-C.
	bg := context.WithoutCancel(ctx)
	if id := state.dominant(); id != nil {
		rep.Identity = toReportIdentity(*id)
	}
	if res.werr != nil {
		return nil, configError(fmt.Errorf("store samples of run %d: %w", run.ID, res.werr))
	}
	// The stored samples, not this execution's, make the run's totals: a
	// resumed run reports (and has spent) all of it.
	tot, err := a.store.RunTotals(bg, run.ID)
	if err != nil {
		return nil, configError(err)
	}
	rep.Metrics.InputTokens, rep.Metrics.OutputTokens, rep.Metrics.CostUSD = tot.InputTokens, tot.OutputTokens, tot.CostUSD
	switch {
	case state.pinErr != nil && !t.cfg.Pin.Warn():
		return a.finishPinned(bg, rep, run, r.targetID, *state.firstIdentity(), state.pinErr, t)
	case res.budgetHit:
		return a.finishStopped(bg, rep, run, fmt.Sprintf("budget cap of $%.2f reached (spent $%.4f); raise max_cost_usd, then finish it with: %s",
			a.cfg.MaxCostUSD, tot.CostUSD, a.resumeCommand(run.ID)))
	case interrupted:
		return a.finishStopped(bg, rep, run, "interrupted; finish it with: "+a.resumeCommand(run.ID))
	case res.runErr != nil && res.cause == nil && !errors.Is(res.runErr, eval.ErrStopped):
		return nil, configError(fmt.Errorf("run %d: %w", run.ID, res.runErr))
	case unusable(tot):
		return a.finishUnusable(bg, rep, r, t, tot, res.failedFast)
	case res.failedFast:
		// The first samples failed as if the target could not be used,
		// then one in flight worked: the run is incomplete (stopped,
		// resumable), not failed, and the target's trouble is an
		// infrastructure error (exit 3).
		n := res.failedAfter
		first := failMessage(tot.FirstError)
		rep, err := a.finishStopped(bg, rep, run, fmt.Sprintf("stopped after the first %d samples failed (target %s cannot be used: %s), though a later one did not fail that way; finish it with: %s",
			n, t.cfg.Name, first, a.resumeCommand(run.ID)))
		if err == nil {
			err = configError(fmt.Errorf("run %d: target %s failed its first %d samples (%s)", run.ID, t.cfg.Name, n, first))
		}
		return rep, err
	}
	if err := a.analyzeAndFinish(ctx, rep, run, r.suiteID, r.targetID, baseline, r.k, state.pinErr); err != nil {
		return nil, err
	}
	confirm := a.cfg.Drift.Confirm
	if p.Confirm != nil {
		confirm = *p.Confirm
	}
	if confirm && rep.Verdict == string(drift.Drift) && p.Trigger != storage.TriggerConfirm {
		all, err := a.Suites(rep.Suite)
		if err != nil {
			return nil, configError(err)
		}
		sel, err := a.pickSuites(all, []string{rep.Suite})
		if err != nil {
			return nil, configError(err)
		}
		pr.suite, p.Case = sel[0], r.filter
		if err := a.confirm(ctx, pr, p, rep); err != nil {
			return nil, err
		}
	}
	rep.FinishedAt = time.Now()
	rep.WallSeconds = rep.FinishedAt.Sub(r.start).Seconds()
	return rep, nil
}

// unusableKinds are the errors that say the target cannot be used at all
// (unreachable, not authorised, rejecting the requests) rather than that it
// is having a bad time.
var unusableKinds = []eval.ErrorKind{eval.ErrTransport, eval.ErrAuth, eval.ErrBadRequest}

// unusable reports whether every stored sample errored with one of the
// unusableKinds: an infrastructure problem, not a result.
func unusable(tot storage.RunTotals) bool {
	if tot.Samples == 0 || tot.Errored != tot.Samples {
		return false
	}
	var n int64
	for _, k := range unusableKinds {
		n += tot.ErrorKinds[string(k)]
	}
	return n == tot.Samples
}

// finishUnusable finishes a run whose every sample failed because the
// target cannot be used: the run is failed and INCONCLUSIVE, its report
// says why, and the error it returns makes the exit code 3 (an
// infrastructure error, DESIGN.md section 10). The errored samples are run
// again by a resume once the target works.
func (a *App) finishUnusable(ctx context.Context, rep *report.Report, r *startedRun, t *targetRef, tot storage.RunTotals, failedFast bool) (*report.Report, error) {
	cur, err := a.loadSamples(ctx, []int64{r.run.ID})
	if err != nil {
		return nil, configError(err)
	}
	first := failMessage(tot.FirstError)
	every := "every sample failed"
	if failedFast {
		every = fmt.Sprintf("every sample failed (the run stopped sending after the first %d)", tot.Samples)
	}
	reason := fmt.Sprintf("%s: target %s cannot be used (%s); fix it, then finish the run with: %s",
		every, t.cfg.Name, first, a.resumeCommand(r.run.ID))
	fillReport(rep, drift.Result{Verdict: drift.Inconclusive, Reason: reason}, cur, r.k)
	rep.Status, rep.Error = storage.RunFailed, first
	rep.FinishedAt = time.Now()
	rep.WallSeconds = rep.FinishedAt.Sub(r.start).Seconds()
	if err := a.store.FinishRun(ctx, r.run.ID, storage.FinishRun{Status: storage.RunFailed, Verdict: rep.Verdict, Reason: reason,
		Summary: encodeJSON(rep), Error: first, CostUSD: rep.Metrics.CostUSD}); err != nil {
		return nil, configError(err)
	}
	return rep, configError(fmt.Errorf("run %d: target %s cannot be used: every sample failed (%s)", r.run.ID, t.cfg.Name, first))
}

// failMessage is an error message as a failed run stores it: one line,
// bounded. Provider errors carry no secrets or prompts
// (provider.SafeMessage); the bound keeps a long wrapped error from flooding
// the dashboard.
func failMessage(msg string) string {
	const maxRunes = 500
	r := []rune(strings.Join(strings.Fields(msg), " "))
	if len(r) > maxRunes {
		return string(r[:maxRunes]) + "…"
	}
	return string(r)
}

// resumeCommand is the command that finishes run id, ready to paste: with
// --config when the config is not the default file.
func (a *App) resumeCommand(id int64) string {
	cmd := "driftwatch run"
	if f := a.cfg.File; f != "" && f != ConfigFileDefault {
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

// execution is one pass of the runner over a run's cases (all of them for
// `driftwatch run`, one batch under serve): every executed sample goes to
// storage, identities are checked against the pin as they arrive.
type execution struct {
	run          storage.Run
	suite        eval.Suite
	target       *targetRef
	targetID     int64
	k            int
	filter       string
	skip         func(key string, idx int) bool
	baseIdentity *eval.Identity
	prog         *progress // nil: none
	// call, if set, replaces target.target (serve wraps it in the
	// process-wide concurrency bound and the cluster-wide rate limit).
	call eval.Target
	// budget applies max_cost_usd to this execution; spent is what the
	// run spent before it (a resumed run's stored samples).
	budget bool
	spent  float64
	// softStop stops scheduling samples; in-flight ones finish and are
	// stored.
	softStop <-chan struct{}
	// onSample observes every stored sample (metrics).
	onSample func(eval.SampleResult)
	// writerOpts configure the sample writer (serve retries flushes
	// longer, to ride out a database restart).
	writerOpts storage.SampleWriterOpts
	// failFastAfter, when positive, stops scheduling once that many samples
	// in a row from the start failed because the target cannot be used
	// (see failFast).
	failFastAfter int
}

// executed is what an execution saw.
type executed struct {
	state     *runState
	budgetHit bool
	runErr    error
	werr      error
	// cause is why runCtx was cancelled (nil: it was not).
	cause error
	// failedFast says failFast stopped the execution after its first
	// failedAfter samples all failed because the target cannot be used.
	failedFast  bool
	failedAfter int
}

// failFast stops an execution whose first samples all fail because the
// target cannot be used (unusableKinds: unreachable, unauthorised, rejecting
// the requests): a wrong URL or key would otherwise be retried, with
// backoff, for every sample of the suite (minutes for a few hundred cases).
// Any other outcome first (a success, a server error, a timeout) disarms it
// for the execution.
type failFast struct {
	after int // trip after this many such failures; 0: off
	mu    sync.Mutex
	n     int
	done  bool // tripped or disarmed
}

// observe counts r and reports whether it trips the breaker (once).
func (f *failFast) observe(r eval.SampleResult) bool {
	if f.after <= 0 {
		return false
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.done {
		return false
	}
	if r.Outcome != eval.Errored || !slices.Contains(unusableKinds, r.ErrorKind) {
		f.done = true
		return false
	}
	f.n++
	f.done = f.n >= f.after
	return f.done
}

// failFastAfter is how many samples in a row from the start may fail
// because the target cannot be used before a run stops sending: two rounds
// of the target's concurrency, and at least 10.
func failFastAfter(concurrency int) int { return max(10, 2*concurrency) }

// execute runs x under runCtx and stores its samples; a pin mismatch or the
// budget cancels runCtx with cancelRun. Samples cancelled by runCtx are not
// stored: a later execution with the same skip runs them again.
func (a *App) execute(runCtx context.Context, cancelRun context.CancelCauseFunc, x execution) executed {
	st, t, run := a.store, x.target, x.run
	state := &runState{identities: map[string]eval.Identity{}, idCount: map[string]int{}}
	writer := st.NewSampleWriter(context.WithoutCancel(runCtx), run.ID, x.writerOpts)
	prog := x.prog
	if prog == nil {
		prog = newProgress(a.stderr, false, "", 0)
	}
	// Reaching the budget stops scheduling like Ctrl-C: the calls in flight
	// are paid for, so they finish and are stored.
	// So does failFast, when the first samples show the target unusable.
	// Both stop from the sink, before its worker takes another sample.
	var budgetHit, failedFast atomic.Bool
	ff := &failFast{after: x.failFastAfter}
	softStop, finished := make(chan struct{}), make(chan struct{})
	stop := sync.OnceFunc(func() { close(softStop) })
	defer close(finished)
	go func() {
		select {
		case <-x.softStop:
		case <-runCtx.Done():
		case <-finished:
		}
		stop()
	}()
	sink := func(r eval.SampleResult) error {
		if ff.observe(r) {
			failedFast.Store(true)
			stop()
		}
		row, idHash, id := sampleRow(run.ID, r, &state.ids)
		if id != nil {
			state.mu.Lock()
			if _, seen := state.identities[idHash]; !seen {
				state.identities[idHash] = *id
				if state.pinErr == nil {
					if err := t.checkPin(*id, x.baseIdentity); err != nil {
						state.pinErr = err
						if !t.cfg.Pin.Warn() {
							cancelRun(err)
						}
					}
				}
			}
			state.idCount[idHash]++
			state.mu.Unlock()
		}
		if r.Outcome == eval.Errored {
			state.errors.Add(1)
			if r.ErrorKind == eval.ErrBudget {
				budgetHit.Store(true)
				stop()
				return nil // never sent: run again on resume
			}
		}
		n := state.done.Add(1)
		prog.update(int(n), int(state.errors.Load()))
		if r.ErrorKind == eval.ErrCanceled && runCtx.Err() != nil {
			return nil // not stored: it will be run again on resume
		}
		if x.onSample != nil {
			x.onSample(r)
		}
		return writer.Write(row)
	}
	target := t.target
	if x.call != nil {
		target = x.call
	}
	if x.budget && a.cfg.MaxCostUSD > 0 {
		maxOut := cmp.Or(t.cfg.Params.MaxTokens, 512)
		target = provider.Guard(target, provider.NewBudgetSpent(a.cfg.MaxCostUSD, x.spent), a.prices().Estimator(t.model, maxOut))
	}
	_, runErr := eval.Run(runCtx, eval.RunParams{
		Suite:       x.suite,
		Target:      target,
		Samples:     x.k,
		Concurrency: cmp.Or(t.cfg.Concurrency, ConcurrencyDefault),
		Filter:      x.filter,
		Skip:        x.skip,
		Sink:        sink,
		SoftStop:    softStop,
		Seed:        uint64(run.ID),
		Logger:      a.logger,
	})
	prog.finish()
	werr := writer.Close(context.WithoutCancel(runCtx))
	if err := a.recordIdentities(context.WithoutCancel(runCtx), x.targetID, run.ID, state); err != nil {
		a.logger.Warn("record identities", "err", err)
	}
	return executed{state: state, budgetHit: budgetHit.Load(), runErr: runErr, werr: werr, failedFast: failedFast.Load(), failedAfter: x.failFastAfter}
}

// SoftStopTimeout is how long in-flight samples may finish after Ctrl-C
// before they are cancelled (and re-run on resume).
const SoftStopTimeout = 30 * time.Second

func caseRows(cases []eval.Case) []storage.Case {
	rows := make([]storage.Case, len(cases))
	for i, c := range cases {
		rows[i] = storage.Case{Key: c.ID, ContentHash: c.Hash}
	}
	return rows
}

// sampleRow converts a runner result into a storage row, with the behaviour
// flags the drift engine compares.
func sampleRow(runID int64, r eval.SampleResult, ids *identityCache) (storage.Sample, string, *eval.Identity) {
	row := storage.Sample{
		RunID:     runID,
		CaseKey:   r.Case,
		CaseHash:  r.CaseHash,
		SampleIdx: r.Index,
		Output:    r.Output,
		Error:     r.Err,
		ErrorKind: string(r.ErrorKind),
		Outcome:   string(r.Outcome),
		Passed:    r.Outcome == eval.Passed,
		CostUSD:   r.CostUSD,
	}
	if r.Outcome == eval.Skipped {
		row.Error = ""
	}
	if r.Outcome != eval.Errored {
		score := r.Score
		row.Score = &score
		row.Refused = check.IsRefusal(r.Output)
		row.JSONValid = check.JSONValid(r.Output)
		row.CodeFence = check.HasCodeFence(r.Output)
	}
	if len(r.Checks) > 0 {
		row.Checks = encodeJSON(r.Checks)
	}
	if r.HasAnswer {
		ans := r.Answer
		row.Answer = &ans
	}
	if r.Request != nil {
		row.Request = encodeJSON(r.Request)
	}
	row.InputTokens, row.OutputTokens = r.Usage.InputTokens, r.Usage.OutputTokens
	var (
		idHash string
		id     *eval.Identity
	)
	if resp := r.Response; resp != nil {
		row.LatencyMS = float64(resp.Latency) / float64(time.Millisecond)
		row.FinishReason = resp.FinishReason
		if len(resp.Raw) > 0 && json.Valid(resp.Raw) {
			row.Raw = resp.Raw
		}
		if row.OutputTokens == 0 {
			row.OutputTokens = provider.EstimateTokens(r.Output)
		}
		id = &resp.Identity
		idHash, row.Identity = ids.encode(resp.Identity)
		row.IdentityHash = idHash
	}
	return row, idHash, id
}

// encodeJSON encodes v for a jsonb column. A value that cannot be encoded (a
// NaN in user-supplied parameters, say) is stored as a JSON string that says
// why, so that the row and the rest of it are never lost.
func encodeJSON(v any) json.RawMessage {
	b, err := json.Marshal(v)
	if err != nil {
		msg, _ := json.Marshal("not encodable as JSON: " + err.Error()) // a string always encodes
		return msg
	}
	return b
}

// identityCache remembers the last identity's hash and JSON: a run almost
// always sees one identity, so most samples skip both encodings.
type identityCache struct {
	mu   sync.Mutex
	last eval.Identity
	hash string
	js   json.RawMessage
}

func (c *identityCache) encode(id eval.Identity) (string, json.RawMessage) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.js != nil && sameIdentity(c.last, id) {
		return c.hash, c.js
	}
	c.last, c.hash, c.js = id, identityHash(id), encodeJSON(id)
	return c.hash, c.js
}

func sameIdentity(a, b eval.Identity) bool {
	return a.Provider == b.Provider && a.RequestedModel == b.RequestedModel && a.ResolvedModel == b.ResolvedModel &&
		a.Fingerprint == b.Fingerprint && a.Digest == b.Digest && maps.Equal(a.Extra, b.Extra)
}

// identityHash digests the parts of an identity that say which model
// answered.
func identityHash(id eval.Identity) string {
	h := sha256.New()
	fmt.Fprintf(h, "%s\x00%s\x00%s\x00%s\x00%s", id.Provider, id.RequestedModel, id.ResolvedModel, id.Fingerprint, id.Digest)
	return hex.EncodeToString(h.Sum(nil))[:16]
}

func (s *runState) dominant() *eval.Identity {
	s.mu.Lock()
	defer s.mu.Unlock()
	best, n := "", -1
	for h, c := range s.idCount {
		if c > n || (c == n && h < best) {
			best, n = h, c
		}
	}
	if n < 0 {
		return nil
	}
	id := s.identities[best]
	return &id
}

func (s *runState) firstIdentity() *eval.Identity {
	if id := s.dominant(); id != nil {
		return id
	}
	return &eval.Identity{}
}

func (a *App) recordIdentities(ctx context.Context, targetID, runID int64, s *runState) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	var errs []error
	for h, id := range s.identities {
		errs = append(errs, a.store.RecordIdentity(ctx, targetID, runID, h, encodeJSON(id)))
	}
	return errors.Join(errs...)
}

func toReportIdentity(id eval.Identity) *report.Identity {
	return &report.Identity{Provider: id.Provider, RequestedModel: id.RequestedModel, ResolvedModel: id.ResolvedModel,
		Fingerprint: id.Fingerprint, Digest: id.Digest, Extra: id.Extra}
}

// baselineOf returns the active baseline and the identity most often seen in
// its samples (nil when there is no baseline).
func (a *App) baselineOf(ctx context.Context, suiteID, targetID int64) (*storage.Baseline, *eval.Identity, error) {
	bl, err := a.store.ActiveBaseline(ctx, suiteID, targetID)
	if errors.Is(err, storage.ErrNotFound) {
		return nil, nil, nil
	}
	if err != nil {
		return nil, nil, err
	}
	id, err := a.runIdentity(ctx, targetID, bl.RunIDs)
	return &bl, id, err
}

// runIdentity finds the identity that answered most samples of the given
// runs (any of them: a baseline accepted from the middle of an identity's
// range too). Runs without an answered sample (stopped by the pin before
// any call) fall back to the identity recorded last with them.
func (a *App) runIdentity(ctx context.Context, targetID int64, runIDs []int64) (*eval.Identity, error) {
	rec, err := a.store.DominantIdentity(ctx, targetID, runIDs)
	if errors.Is(err, storage.ErrNotFound) {
		return a.recordedIdentity(ctx, targetID, runIDs)
	}
	if err != nil {
		return nil, err
	}
	return decodeIdentity(rec)
}

// recordedIdentity finds the identity recorded last as the first or last
// sighting in one of the runs.
func (a *App) recordedIdentity(ctx context.Context, targetID int64, runIDs []int64) (*eval.Identity, error) {
	hist, err := a.store.IdentityHistory(ctx, targetID)
	if err != nil {
		return nil, err
	}
	var best *storage.Identity
	for i := range hist {
		h := &hist[i]
		if h.LastRunID != nil && slices.Contains(runIDs, *h.LastRunID) || h.FirstRunID != nil && slices.Contains(runIDs, *h.FirstRunID) {
			if best == nil || h.LastSeen.After(best.LastSeen) {
				best = h
			}
		}
	}
	if best == nil {
		return nil, nil
	}
	return decodeIdentity(*best)
}

func decodeIdentity(rec storage.Identity) (*eval.Identity, error) {
	var id eval.Identity
	if err := json.Unmarshal(rec.Identity, &id); err != nil {
		return nil, fmt.Errorf("decode identity %s: %w", rec.IdentityHash, err)
	}
	return &id, nil
}

// finishStopped stops a run (interrupted, or at its budget) so that it can
// be resumed: INCONCLUSIVE with the reason, and a report of what its stored
// samples did so far.
func (a *App) finishStopped(ctx context.Context, rep *report.Report, run storage.Run, reason string) (*report.Report, error) {
	rep.Status, rep.Verdict, rep.Reason = storage.RunStopped, string(drift.Inconclusive), reason
	tot, err := a.store.RunTotals(ctx, run.ID)
	if err != nil {
		return rep, configError(err)
	}
	m := &rep.Metrics
	m.Samples, m.ErrorCount, m.SamplesPerCase = int(tot.Samples), int(tot.Errored), run.SamplesPerCase
	if tot.Samples > 0 {
		m.ErrorRate = float64(tot.Errored) / float64(tot.Samples)
	}
	m.InputTokens, m.OutputTokens, m.CostUSD = tot.InputTokens, tot.OutputTokens, tot.CostUSD
	rep.FinishedAt = time.Now()
	rep.WallSeconds = rep.FinishedAt.Sub(rep.StartedAt).Seconds()
	err = a.store.FinishRun(ctx, run.ID, storage.FinishRun{Status: storage.RunStopped, Verdict: rep.Verdict, Reason: reason,
		Summary: encodeJSON(rep), CostUSD: m.CostUSD})
	fmt.Fprintf(a.stderr, "run %d stopped: %s\n", run.ID, reason)
	return rep, configErrorIf(err)
}

func configErrorIf(err error) error {
	if err == nil {
		return nil
	}
	return configError(err)
}

func (a *App) finishPinned(ctx context.Context, rep *report.Report, run storage.Run, targetID int64, id eval.Identity, pinErr error, t *targetRef) (*report.Report, error) {
	h := identityHash(id)
	if err := a.store.RecordIdentity(ctx, targetID, run.ID, h, encodeJSON(id)); err != nil {
		a.logger.Warn("record identity", "err", err)
	}
	rep.Identity = toReportIdentity(id)
	rep.IdentityChanged, rep.PinViolated = true, true
	rep.Status, rep.Verdict = storage.RunFailed, string(drift.Inconclusive)
	rep.Reason = "pinned identity mismatch: " + pinErr.Error() + "; the run was stopped before comparing"
	rep.Findings = []drift.Finding{{Metric: drift.MetricIdentity, Scope: drift.ScopeSuite, Statistic: "pin",
		Verdict: drift.IdentityChanged, Reason: pinErr.Error(), P: 1, Q: 1}}
	if _, err := a.store.InsertFindings(ctx, run.ID, storageFindings(rep.Findings, nil)); err != nil {
		return nil, configError(err)
	}
	err := a.store.FinishRun(ctx, run.ID, storage.FinishRun{Status: storage.RunFailed, Verdict: string(drift.IdentityChanged),
		Reason: rep.Reason, Summary: encodeJSON(rep), Error: pinErr.Error()})
	fmt.Fprintf(a.stderr, "run %d stopped: %s\n", run.ID, rep.Reason)
	rep.FinishedAt = time.Now()
	return rep, configErrorIf(err)
}

func storageFindings(fs []drift.Finding, baselineRunIDs []int64) []storage.Finding {
	out := make([]storage.Finding, len(fs))
	for i, f := range fs {
		ex := encodeJSON(f.Examples)
		sf := storage.Finding{BaselineRunIDs: baselineRunIDs, Scope: f.Scope, Metric: f.Metric, Statistic: f.Statistic,
			P: f.P, Q: f.Q, Effect: f.Effect, BaselineValue: f.Baseline, CurrentValue: f.Current,
			Verdict: string(f.Verdict), Reason: f.Reason, Examples: ex}
		sf.CILow, sf.CIHigh = nan, nan
		if f.CI != nil {
			sf.CILow, sf.CIHigh = f.CI.Low, f.CI.High
		}
		out[i] = sf
	}
	return out
}
