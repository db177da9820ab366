package app

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"os"
	"slices"
	"strings"

	"github.com/driftwatch/driftwatch/drift"
	"github.com/driftwatch/driftwatch/eval"
	"github.com/driftwatch/driftwatch/eval/check"
	"github.com/driftwatch/driftwatch/eval/suiteload"
	"github.com/driftwatch/driftwatch/report"
	"github.com/driftwatch/driftwatch/storage"
)

// Suites loads the config's YAML suites and adds every registered Go suite.
// A name used by both is an error. Entries of the config's suites: list that
// are not files or folders name Go suites (see defaultSuites). With names,
// only the YAML suites of those names are loaded.
func (a *App) Suites(only ...string) ([]eval.Suite, error) {
	opts, err := a.checkOptions()
	if err != nil {
		return nil, err
	}
	var out []eval.Suite
	paths, _, err := a.suiteEntries()
	if err != nil {
		return nil, err
	}
	if len(paths) > 0 {
		ys, err := suiteload.LoadPaths(paths, suiteload.Options{Check: opts, Only: only})
		if err != nil {
			return nil, explainCheckErrors(err, a.cfg.File)
		}
		out = append(out, ys.Suites...)
	}
	for _, s := range a.registry.Suites() {
		for _, y := range out {
			if y.Name() == s.Name() {
				return nil, fmt.Errorf("suite %q is defined both in YAML and in Go", s.Name())
			}
		}
		out = append(out, s)
	}
	return out, nil
}

// suiteEntries splits the config's suites: entries into YAML paths and Go
// suite names. An entry that is neither an existing path nor a registered
// Go suite is an error.
func (a *App) suiteEntries() (paths, goNames []string, err error) {
	for i, p := range a.cfg.SuitePaths() {
		if _, statErr := os.Stat(p); statErr == nil {
			paths = append(paths, p)
			continue
		}
		name := a.cfg.Suites[i]
		if _, ok := a.registry.Get(name); ok {
			goNames = append(goNames, name)
			continue
		}
		msg := fmt.Sprintf("%q is neither a suite file or folder nor a registered Go suite (known Go suites: %s)",
			name, strings.Join(a.registry.Names(), ", "))
		if a.cfg.doc != nil {
			return nil, nil, a.cfg.doc.Errorf([]any{"suites", i}, "%s", msg)
		}
		return nil, nil, fmt.Errorf("%s: suites: %s", a.cfg.File, msg)
	}
	return paths, goNames, nil
}

// defaultSuites is what run runs without --suite: the config's YAML suites
// and the Go suites its suites: list names. Go suites compiled into the
// binary but not named are available to --suite only, so an example suite
// never runs (and costs) by surprise.
func (a *App) defaultSuites(all []eval.Suite) ([]eval.Suite, error) {
	_, goNames, err := a.suiteEntries()
	if err != nil {
		return nil, err
	}
	var out []eval.Suite
	for _, s := range all {
		if _, isGo := a.registry.Get(s.Name()); !isGo || slices.Contains(goNames, s.Name()) {
			out = append(out, s)
		}
	}
	if len(out) == 0 {
		return nil, errors.New("no suites: list YAML suite files or folders (or registered Go suite names) under suites: in the config, or pass --suite")
	}
	return out, nil
}

// checkOptions gives checks their judge and embedder targets.
func (a *App) checkOptions() (check.Options, error) {
	var opts check.Options
	if a.cfg.Judge != "" {
		refs, err := a.targets([]string{a.cfg.Judge})
		if err != nil {
			return opts, err
		}
		opts.Judge = refs[0].target
	}
	if a.cfg.Embedder != "" {
		refs, err := a.targets([]string{a.cfg.Embedder})
		if err != nil {
			return opts, err
		}
		e, ok := refs[0].client.(check.Embedder)
		if !ok {
			return opts, fmt.Errorf("%s: embedder: target %q (provider %s) has no embeddings API; use an OpenAI-compatible provider", a.cfg.File, a.cfg.Embedder, refs[0].provider)
		}
		opts.Embedder = e
	}
	return opts, nil
}

// pickSuites is selectSuites whose unknown-suite error lists every known
// suite: Suites with names loads only the YAML suites of those names, so
// the others are read from their files here, without rendering them.
func (a *App) pickSuites(all []eval.Suite, names []string) ([]eval.Suite, error) {
	sel, err := selectSuites(all, names)
	var unknown *unknownSuiteError
	if !errors.As(err, &unknown) {
		return sel, err
	}
	if paths, _, perr := a.suiteEntries(); perr == nil {
		if yaml, nerr := suiteload.Names(paths); nerr == nil {
			unknown.known = append(unknown.known, yaml...)
			slices.Sort(unknown.known)
			unknown.known = slices.Compact(unknown.known)
		}
	}
	return nil, err
}

// confirm re-runs a drifted suite once (fresh samples) before the verdict is
// final. The DRIFT verdict stands only when the confirmation run drifts too;
// otherwise the first run's verdict becomes STABLE with the reason noted
// (overturn). Either way the first run's stored report says so.
func (a *App) confirm(ctx context.Context, pr pair, p RunParams, rep *report.Report) error {
	cp := p
	cp.Trigger, cp.Resume, cp.Confirm = storage.TriggerConfirm, 0, nil
	fmt.Fprintf(a.stderr, "%s@%s: DRIFT; confirming with a fresh run...\n", pr.suite.Name(), pr.target.cfg.Name)
	crep, err := a.runPair(ctx, pr, cp)
	if crep == nil {
		return err
	}
	if err != nil {
		// The confirmation run failed (an unusable target, say) but was
		// stored: it cannot overturn the drift, which stands.
		fmt.Fprintf(a.stderr, "%s@%s: confirmation run %d: %v\n", pr.suite.Name(), pr.target.cfg.Name, crep.RunID, err)
	}
	if settleConfirmation(rep, crep) {
		// The stored findings are the report's: no DRIFT finding is left
		// for the dashboard or the alerts.
		if err := a.store.DeleteFindings(ctx, rep.RunID); err != nil {
			return configError(err)
		}
		if _, err := a.store.InsertFindings(ctx, rep.RunID, storageFindings(rep.Findings, rep.BaselineRunIDs)); err != nil {
			return configError(err)
		}
	}
	return configErrorIf(a.store.FinishRun(ctx, rep.RunID, storage.FinishRun{Status: storage.RunCompleted, Verdict: rep.Verdict,
		Reason: rep.Reason, Summary: encodeJSON(rep), BaselineRunIDs: rep.BaselineRunIDs, CostUSD: rep.Metrics.CostUSD}))
}

// settleConfirmation applies the confirmation run crep to the drifted report
// rep. DRIFT again confirms it and STABLE overturns it (overturn). Any other
// outcome (INCONCLUSIVE, a run stopped by its budget or a pin) says nothing
// about the drift, so the DRIFT stands: an outage during the confirmation
// never hides a drift. It reports whether rep's findings changed.
func settleConfirmation(rep, crep *report.Report) bool {
	rep.ConfirmRunID = crep.RunID
	switch crep.Verdict {
	case string(drift.Drift):
		rep.Reason += fmt.Sprintf(" Confirmed by run %d.", crep.RunID)
	case string(drift.Stable):
		overturn(rep, crep)
		return true
	default:
		rep.Reason += fmt.Sprintf(" Not confirmed: confirmation run %d was %s (%s), so the DRIFT stands.",
			crep.RunID, cmp.Or(crep.Verdict, crep.Status), crep.Reason)
	}
	return false
}

// overturn makes a drifted report STABLE because its confirmation run crep
// did not drift: no case stays drifted (JUnit fails none), and the DRIFT
// findings become WARN (dashboard only), as the drift engine does for an
// INCONCLUSIVE run.
func overturn(rep *report.Report, crep *report.Report) {
	note := fmt.Sprintf("not confirmed by run %d", crep.RunID)
	rep.Verdict = string(drift.Stable)
	rep.Reason = fmt.Sprintf("not confirmed: confirmation run %d was %s (first run said: %s)", crep.RunID, crep.Verdict, rep.Reason)
	rep.DriftedCases = nil
	for i := range rep.Cases {
		rep.Cases[i].Drifted = false
	}
	for i := range rep.Findings {
		if f := &rep.Findings[i]; f.Verdict == drift.Drift {
			f.Verdict = drift.Warn
			f.Reason += "; " + note
		}
	}
}
