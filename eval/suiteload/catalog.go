package suiteload

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"sort"
	"strings"

	"github.com/driftwatch/driftwatch/config"
	"github.com/driftwatch/driftwatch/eval"
	"github.com/driftwatch/driftwatch/eval/check"
	"github.com/driftwatch/driftwatch/gosuite"
	"github.com/driftwatch/driftwatch/internal/yamldoc"
)

// Catalog is the suites a config offers: the entries of its suites: list
// (YAML suite files and folders, promptfoo configs, Go package patterns,
// names of registered Go suites) and the Go suites registered in the
// binary.
type Catalog struct {
	Config   *config.Config
	Registry *eval.Registry
	// Check gives the suites' checks their judge and embedder; it is
	// called on every load (nil: none).
	Check func() (check.Options, error)
}

// Load loads the config's YAML suites and adds every registered Go suite.
// A name used by both is an error. With names, only the YAML suites of
// those names are loaded (the others are not rendered). Reading stops
// when ctx ends.
func (c *Catalog) Load(ctx context.Context, only ...string) ([]eval.Suite, error) {
	var opts check.Options
	if c.Check != nil {
		var err error
		if opts, err = c.Check(); err != nil {
			return nil, err
		}
	}
	paths, _, err := c.Entries()
	if err != nil {
		return nil, err
	}
	var out []eval.Suite
	if len(paths) > 0 {
		ys, err := LoadPaths(ctx, paths, Options{Check: opts, Only: only})
		if err != nil {
			return nil, ExplainCheckErrors(err, c.Config.File)
		}
		out = append(out, ys.Suites...)
	}
	for _, s := range c.Registry.Suites() {
		if slices.ContainsFunc(out, func(y eval.Suite) bool { return y.Name() == s.Name() }) {
			return nil, fmt.Errorf("suite %q is defined both in YAML and in Go", s.Name())
		}
		out = append(out, s)
	}
	return out, nil
}

// One loads the suite called name, rendering no other.
func (c *Catalog) One(ctx context.Context, name string) (eval.Suite, error) {
	all, err := c.Load(ctx, name)
	if err != nil {
		return nil, err
	}
	sel, err := c.Pick(all, []string{name})
	if err != nil {
		return nil, err
	}
	return sel[0], nil
}

// Has reports whether the config offers a suite called name, without
// loading any.
func (c *Catalog) Has(name string) (bool, error) {
	if _, ok := c.Registry.Get(name); ok {
		return true, nil
	}
	paths, _, err := c.Entries()
	if err != nil {
		return false, err
	}
	names, err := Names(paths)
	if err != nil {
		return false, err
	}
	return slices.Contains(names, name), nil
}

// Entries splits the config's suites: entries into YAML paths and Go
// suite names. An entry that is neither an existing path nor a Go suite is
// an error at its line.
func (c *Catalog) Entries() (paths, goNames []string, err error) {
	for i, p := range c.Config.SuitePaths() {
		name := c.Config.Suites[i]
		if names, ok, err := c.goEntry(i, name, p); err != nil {
			return nil, nil, err
		} else if ok {
			goNames = append(goNames, names...)
			continue
		}
		if _, statErr := os.Stat(p); statErr == nil {
			paths = append(paths, p)
			continue
		}
		return nil, nil, c.Config.Errorf([]any{"suites", i}, "%q is neither a suite file or folder nor a registered Go suite (known Go suites: %s)",
			name, strings.Join(c.Registry.Names(), ", "))
	}
	return paths, goNames, nil
}

// goEntry reads the config's suites: entry i, name, whose path is path,
// when it names Go suites: a Go package pattern (the suites this binary
// built from it; an error when it was not built from it) or a registered
// Go suite. A name that is both a registered Go suite and a YAML suite file
// or folder is an error that says how to write either. ok is false for a
// YAML path.
func (c *Catalog) goEntry(i int, name, path string) (goNames []string, ok bool, err error) {
	located := func(format string, args ...any) error {
		return c.Config.Errorf([]any{"suites", i}, format, args...)
	}
	dir := filepath.Dir(c.Config.File)
	if gosuite.IsPattern(dir, name) {
		names := gosuite.SuitesOf(c.Registry, dir, name)
		if len(names) == 0 {
			return nil, true, located("%q is a Go package pattern, but this binary was not built with it: driftwatch run builds it, or build a binary with driftwatch build %s -o bin/driftwatch", name, name)
		}
		return names, true, nil
	}
	if _, isGo := c.Registry.Get(name); !isGo {
		return nil, false, nil
	}
	if hasYAMLSuites(path) {
		return nil, true, located("%q is both a registered Go suite and a YAML suite path: write ./%s for the path, or rename the Go suite", name, name)
	}
	return []string{name}, true, nil
}

// hasYAMLSuites reports whether path is a YAML file or a folder that holds
// one.
func hasYAMLSuites(path string) bool {
	isYAML := func(n string) bool { return strings.HasSuffix(n, ".yaml") || strings.HasSuffix(n, ".yml") }
	st, err := os.Stat(path)
	if err != nil {
		return false
	}
	if !st.IsDir() {
		return isYAML(path)
	}
	entries, err := os.ReadDir(path)
	if err != nil {
		return false
	}
	return slices.ContainsFunc(entries, func(e os.DirEntry) bool { return !e.IsDir() && isYAML(e.Name()) })
}

// Defaults is what a run without --suite runs, of all: the config's YAML
// suites and the Go suites its suites: list names. Go suites compiled into
// the binary but not named are available to --suite only, so an example
// suite never runs (and costs) by surprise.
func (c *Catalog) Defaults(all []eval.Suite) ([]eval.Suite, error) {
	_, goNames, err := c.Entries()
	if err != nil {
		return nil, err
	}
	var out []eval.Suite
	for _, s := range all {
		if _, isGo := c.Registry.Get(s.Name()); !isGo || slices.Contains(goNames, s.Name()) {
			out = append(out, s)
		}
	}
	if len(out) == 0 {
		return nil, errors.New("no suites: list YAML suite files or folders (or registered Go suite names) under suites: in the config, or pass --suite")
	}
	return out, nil
}

// Pick selects the named suites of all (all when names is empty). The
// error for an unknown name lists every suite the config offers, also
// those all lacks because they were not loaded (Load with names).
func (c *Catalog) Pick(all []eval.Suite, names []string) ([]eval.Suite, error) {
	if len(names) == 0 {
		if len(all) == 0 {
			return nil, errors.New("no suites: list suite files or folders under suites: in the config, or register Go suites")
		}
		return all, nil
	}
	var out []eval.Suite
	for _, n := range names {
		i := slices.IndexFunc(all, func(s eval.Suite) bool { return s.Name() == n })
		if i >= 0 {
			out = append(out, all[i])
			continue
		}
		known := make([]string, len(all))
		for j, s := range all {
			known[j] = s.Name()
		}
		if paths, _, err := c.Entries(); err == nil {
			if yaml, err := Names(paths); err == nil {
				known = append(known, yaml...)
			}
		}
		sort.Strings(known)
		return nil, fmt.Errorf("unknown suite %q (known: %s)", n, strings.Join(slices.Compact(known), ", "))
	}
	return out, nil
}

// CheckSchedules loads every suite and reports schedules whose suites: name
// unknown suites, with file:line.
func (c *Catalog) CheckSchedules(ctx context.Context) error {
	if !slices.ContainsFunc(c.Config.Schedules, func(s config.Schedule) bool { return len(s.Suites) > 0 }) {
		return nil
	}
	all, err := c.Load(ctx)
	if err != nil {
		return err
	}
	names := make([]string, len(all))
	for i, s := range all {
		names[i] = s.Name()
	}
	return c.Config.CheckScheduleSuites(names)
}

// WithCases keeps the suites that have a case the --case pattern selects.
// A pattern that does not compile, or that selects no case of any suite, is
// a usage error found before anything is stored or sent.
func WithCases(suites []eval.Suite, pattern string) ([]eval.Suite, error) {
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

// checkNeeds maps what the check catalog says when a check lacks its model
// to what a user does about it.
var checkNeeds = []struct{ lib, user string }{
	{"no judge configured (Options.Judge)", "llm-rubric needs a judge model: set `judge:` in %s to the name of one of its targets (pin it)"},
	{"no embedder configured (Options.Embedder)", "embedding-similar needs an embedding model: set `embedder:` in %s to the name of an OpenAI-compatible target"},
}

// ExplainCheckErrors rewords the suite errors about a missing judge or
// embedder for users of the config file configFile.
func ExplainCheckErrors(err error, configFile string) error {
	var es yamldoc.Errors
	if !errors.As(err, &es) {
		return err
	}
	for _, e := range es {
		for _, n := range checkNeeds {
			if strings.Contains(e.Msg, n.lib) {
				e.Msg = strings.ReplaceAll(e.Msg, n.lib, fmt.Sprintf(n.user, configFile))
			}
		}
	}
	return es
}
