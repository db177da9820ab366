package app

import (
	"context"
	"errors"
	"fmt"
	"os"
	"slices"
	"strings"

	"github.com/driftwatch/driftwatch/config"
	"github.com/driftwatch/driftwatch/eval"
	"github.com/driftwatch/driftwatch/eval/check"
	"github.com/driftwatch/driftwatch/eval/suiteload"
)

// Suites loads the config's YAML suites and adds every registered Go suite.
// A name used by both is an error. Entries of the config's suites: list that
// are not files or folders name Go suites (see defaultSuites). With names,
// only the YAML suites of those names are loaded.
func (a *App) Suites(only ...string) ([]eval.Suite, error) {
	return a.SuitesContext(context.Background(), only...)
}

// SuitesContext is Suites, stopped when ctx ends (reading a large dataset
// takes seconds): it then returns ctx's error.
func (a *App) SuitesContext(ctx context.Context, only ...string) ([]eval.Suite, error) {
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
		ys, err := suiteload.LoadPaths(ctx, paths, suiteload.Options{Check: opts, Only: only})
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
// suite names (see goEntry for Go package patterns and names that are also
// paths). An entry that is neither an existing path nor a registered Go
// suite is an error.
func (a *App) suiteEntries() (paths, goNames []string, err error) {
	for i, p := range a.cfg.SuitePaths() {
		name := a.cfg.Suites[i]
		if names, ok, err := a.goEntry(i, name, p); err != nil {
			return nil, nil, err
		} else if ok {
			goNames = append(goNames, names...)
			continue
		}
		if _, statErr := os.Stat(p); statErr == nil {
			paths = append(paths, p)
			continue
		}
		msg := fmt.Sprintf("%q is neither a suite file or folder nor a registered Go suite (known Go suites: %s)",
			name, strings.Join(a.registry.Names(), ", "))
		return nil, nil, a.cfg.Errorf([]any{"suites", i}, "%s", msg)
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

// CheckSchedules loads every suite and reports schedules whose suites: name
// unknown suites, with file:line. serve calls it at start, so a typo fails
// at once rather than at the first fire (or never, silently).
func (a *App) CheckSchedules() error {
	if !slices.ContainsFunc(a.cfg.Schedules, func(s config.Schedule) bool { return len(s.Suites) > 0 }) {
		return nil
	}
	all, err := a.Suites()
	if err != nil {
		return configError(err)
	}
	names := make([]string, len(all))
	for i, s := range all {
		names[i] = s.Name()
	}
	return configError(a.cfg.CheckScheduleSuites(names))
}
