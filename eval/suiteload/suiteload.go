// Package suiteload loads the suite files a config lists: Driftwatch YAML
// suites (eval/yamlsuite) and promptfoo configs (eval/promptfoo), told
// apart by their content. A YAML file with top-level prompts: and tests:
// (or scenarios:) is a promptfoo config; the files a promptfoo config
// references (its prompts, tests, vars) are parts of it, not suites.
package suiteload

import (
	"context"
	"errors"
	"fmt"
	"path/filepath"
	"slices"

	"github.com/driftwatch/driftwatch/eval"
	"github.com/driftwatch/driftwatch/eval/check"
	"github.com/driftwatch/driftwatch/eval/promptfoo"
	"github.com/driftwatch/driftwatch/eval/yamlsuite"
	"github.com/driftwatch/driftwatch/internal/yamldoc"
)

// Options are what the suites' checks need, and which suites to load.
type Options struct {
	Check check.Options
	// Only, when set, loads just the suites with these names.
	Only []string
	// Promptfoo configures promptfoo configs' scripts (Python
	// interpreter, limits); its Check and Only are taken from above.
	Promptfoo promptfoo.Options
}

// Loaded is what LoadPaths found.
type Loaded struct {
	Suites []eval.Suite
	// Warnings are the promptfoo features the configs use that Driftwatch
	// ignores or skips, each at its file:line (suites lint prints them).
	Warnings yamldoc.Errors
}

// split sorts the suite files under paths into promptfoo configs and
// Driftwatch suites, leaving out the configs' parts.
func split(paths []string) (configs, suites []string, err error) {
	files, err := yamlsuite.SuiteFiles(paths)
	if err != nil {
		return nil, nil, err
	}
	parts := map[string]bool{}
	for _, f := range files {
		if promptfoo.IsConfig(f) {
			configs = append(configs, f)
			for _, p := range promptfoo.References(f) {
				parts[p] = true
			}
		}
	}
	for _, f := range files {
		if !slices.Contains(configs, f) && !parts[filepath.Clean(f)] {
			suites = append(suites, f)
		}
	}
	return configs, suites, nil
}

// LoadPaths loads every suite in paths (files, or folders searched as
// yamlsuite.SuiteFiles does). Suite names must be unique across both
// kinds. All problems of all files are reported together, each at its
// file:line. When ctx ends, reading the suites' datasets stops, and
// LoadPaths returns ctx's error alone.
func LoadPaths(ctx context.Context, paths []string, opts Options) (Loaded, error) {
	var out Loaded
	configs, suites, err := split(paths)
	if err != nil {
		return out, err
	}
	var errs yamldoc.Errors
	byName := map[string]string{}
	if len(suites) > 0 {
		ys, err := yamlsuite.LoadPathsContext(ctx, suites, yamlsuite.Options{Check: opts.Check, Only: opts.Only})
		if ctx.Err() != nil {
			return out, err
		}
		if err != nil {
			errs = append(errs, located(err, "")...)
		}
		for _, s := range ys {
			byName[s.Name()] = s.File
			out.Suites = append(out.Suites, s)
		}
	}
	pfo := opts.Promptfoo
	pfo.Check = opts.Check
	for _, f := range configs {
		name := promptfoo.SuiteName(f)
		if len(opts.Only) > 0 && !slices.Contains(opts.Only, name) {
			continue
		}
		s, err := promptfoo.Load(f, pfo)
		if err != nil {
			errs = append(errs, located(err, f)...)
			continue
		}
		if prev, dup := byName[name]; dup {
			errs = append(errs, &yamldoc.Error{File: f, Line: 1, Msg: fmt.Sprintf("duplicate suite name %q (also in %s); promptfoo configs are named after their file, or their folder for promptfooconfig.yaml", name, prev)})
			continue
		}
		byName[name] = f
		out.Suites = append(out.Suites, s)
		out.Warnings = append(out.Warnings, s.Warnings()...)
	}
	return out, errs.Err()
}

// located turns a load error into located errors.
func located(err error, file string) yamldoc.Errors {
	var es yamldoc.Errors
	var e *yamldoc.Error
	switch {
	case errors.As(err, &es):
		return es
	case errors.As(err, &e):
		return yamldoc.Errors{e}
	}
	return yamldoc.Errors{{File: file, Msg: err.Error()}}
}

// Names returns the names of the suites in paths, sorted, without
// rendering any case.
func Names(paths []string) ([]string, error) {
	configs, suites, err := split(paths)
	if err != nil {
		return nil, err
	}
	var names []string
	if len(suites) > 0 {
		if names, err = yamlsuite.Names(suites); err != nil {
			return nil, err
		}
	}
	for _, f := range configs {
		names = append(names, promptfoo.SuiteName(f))
	}
	slices.Sort(names)
	return slices.Compact(names), nil
}
