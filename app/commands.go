package app

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"regexp/syntax"
	"strings"

	"github.com/driftwatch/driftwatch/config"
	"github.com/driftwatch/driftwatch/eval"
	"github.com/driftwatch/driftwatch/eval/check"
	"github.com/driftwatch/driftwatch/eval/suiteload"
	"github.com/driftwatch/driftwatch/eval/yamlsuite"
	"github.com/driftwatch/driftwatch/internal/yamldoc"
	"github.com/driftwatch/driftwatch/report"
	"github.com/driftwatch/driftwatch/storage"
)

// runError is the usage error for a run that cannot be read: "run 7 not
// found" rather than the storage layer's "run 7: get run 7: not found".
func runError(id int64, err error) error {
	if errors.Is(err, storage.ErrNotFound) {
		return configError(fmt.Errorf("run %d not found", id))
	}
	return configError(fmt.Errorf("run %d: %w", id, err))
}

// AcceptBaseline makes run id the active baseline of its suite and target.
func (a *App) AcceptBaseline(ctx context.Context, id int64, by, note string) error {
	st, err := a.Store(ctx)
	if err != nil {
		return err
	}
	run, err := st.GetRun(ctx, id)
	if err != nil {
		return runError(id, err)
	}
	if run.Status != storage.RunCompleted {
		return configError(fmt.Errorf("run %d has status %s: only a completed run can be a baseline", id, run.Status))
	}
	return configError(a.lifecycle().AcceptBaseline(ctx, id, by, note))
}

// Diff compares run b with run a as if a were b's baseline.
func (a *App) Diff(ctx context.Context, ra, rb int64) (*report.Report, error) {
	st, err := a.Store(ctx)
	if err != nil {
		return nil, err
	}
	runA, err := st.GetRun(ctx, ra)
	if err != nil {
		return nil, runError(ra, err)
	}
	runB, err := st.GetRun(ctx, rb)
	if err != nil {
		return nil, runError(rb, err)
	}
	rep, err := a.lifecycle().Diff(ctx, runA, runB)
	return rep, configError(err)
}

// StoredReport reads back the report stored with a finished run.
func (a *App) StoredReport(ctx context.Context, id int64) (*report.Report, error) {
	st, err := a.Store(ctx)
	if err != nil {
		return nil, err
	}
	run, err := st.GetRun(ctx, id)
	if err != nil {
		return nil, runError(id, err)
	}
	var rep report.Report
	if len(run.Summary) == 0 || json.Unmarshal(run.Summary, &rep) != nil || rep.RunID == 0 {
		return nil, configError(fmt.Errorf("run %d has no stored report (status %s)", id, run.Status))
	}
	rep.Verdict, rep.Reason = run.Verdict, run.VerdictReason
	return &rep, nil
}

// ParseCase compiles the --case pattern. A pattern that is not a regular
// expression is a usage error said in one line: `--case "[": not a valid
// regular expression: missing closing ]`.
func ParseCase(pattern string) (eval.Filter, error) {
	f, err := eval.ParseFilter(pattern)
	if err == nil {
		return f, nil
	}
	var se *syntax.Error
	if !errors.As(err, &se) {
		return f, configError(fmt.Errorf("--case %q: %w", pattern, err))
	}
	msg := fmt.Sprintf("--case %q: not a valid regular expression: %s", pattern, se.Code)
	if se.Expr != "" && se.Expr != pattern {
		msg += fmt.Sprintf(" (at %q)", se.Expr)
	}
	return f, configError(errors.New(msg))
}

// errLintOnly is what the stand-in judge and embedder of a config-less lint
// answer; lint never calls them.
var errLintOnly = errors.New("suites lint: no model is called")

// lintCheckOptions stands in for the judge and the embedder when suites are
// linted without a config: checks that need them are built, so their shape
// (rubric, reference, threshold) is validated, and never run.
func lintCheckOptions() check.Options {
	return check.Options{
		Judge: eval.TargetFunc(func(context.Context, *eval.Request) (*eval.Response, error) { return nil, errLintOnly }),
		Embedder: check.EmbedderFunc(func(context.Context, []string) ([][]float64, error) {
			return nil, errLintOnly
		}),
	}
}

// checkNeeds maps what the check catalog says when a check lacks its model
// to what a user does about it.
var checkNeeds = []struct{ lib, user string }{
	{"no judge configured (Options.Judge)", "llm-rubric needs a judge model: set `judge:` in %s to the name of one of its targets (pin it)"},
	{"no embedder configured (Options.Embedder)", "embedding-similar needs an embedding model: set `embedder:` in %s to the name of an OpenAI-compatible target"},
}

// explainCheckErrors rewords the suite errors about a missing judge or
// embedder for users of the config file configFile.
func explainCheckErrors(err error, configFile string) error {
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

// LintProblems are the problems of the suites Lint read, each at its
// file:line.
type LintProblems struct{ Err error }

func (p *LintProblems) Error() string { return p.Err.Error() }
func (p *LintProblems) Unwrap() error { return p.Err }

// Lint validates suites (YAML suites and promptfoo configs) without
// sending anything: the suites at paths, or
// (no paths) the suites of a's config, whose schedules must then name
// existing suites. a may be nil (paths without a config): checks that need
// a judge or an embedder are validated in shape only. A config whose
// ${VAR}s are not all set (a CI job without the API keys) lints with
// stand-ins for its judge and embedder.
func Lint(a *App, paths []string) (suiteload.Loaded, error) {
	fromConfig := len(paths) == 0
	opts := lintCheckOptions()
	switch {
	case a != nil && len(a.cfg.Unset) == 0:
		var err error
		if opts, err = a.checkOptions(); err != nil {
			return suiteload.Loaded{}, configError(err)
		}
	case a != nil:
		// The config names its judge and embedder (validated when it
		// loaded); stand-ins take their place.
		if a.cfg.Judge == "" {
			opts.Judge = nil
		}
		if a.cfg.Embedder == "" {
			opts.Embedder = nil
		}
	}
	var goNames []string
	if fromConfig {
		var err error
		if paths, goNames, err = a.suiteEntries(); err != nil {
			return suiteload.Loaded{}, configError(err)
		}
	}
	loaded, err := suiteload.LoadPaths(context.Background(), paths, suiteload.Options{Check: opts})
	suites := loaded.Suites
	if err != nil {
		file := config.FileDefault
		if a != nil {
			file = a.cfg.File
		}
		return loaded, &LintProblems{Err: explainCheckErrors(err, file)}
	}
	if len(suites) == 0 && len(paths) > 0 {
		return loaded, configError(fmt.Errorf("no suite files (*.yaml, *.yml) in %s", strings.Join(paths, ", ")))
	}
	// A YAML suite may not take the name of a Go suite of this binary: a
	// run could not tell them apart.
	if a != nil {
		var clash yamldoc.Errors
		for _, ys := range suites {
			y, ok := ys.(*yamlsuite.Suite)
			if _, isGo := a.registry.Get(ys.Name()); ok && isGo {
				clash = append(clash, &yamldoc.Error{File: y.File, Line: nameLine(y.File), Field: "name",
					Msg: fmt.Sprintf("suite %q is also a Go suite of this binary: rename one of them", ys.Name())})
			}
		}
		if len(clash) > 0 {
			return loaded, &LintProblems{Err: clash}
		}
	}
	// The config's Go suites are linted as built: they count too.
	for _, n := range goNames {
		if s, ok := a.registry.Get(n); ok {
			loaded.Suites = append(loaded.Suites, s)
		}
	}
	if fromConfig {
		names := a.registry.Names()
		for _, s := range suites {
			names = append(names, s.Name())
		}
		if err := a.cfg.CheckScheduleSuites(names); err != nil {
			return loaded, configError(err)
		}
	}
	return loaded, nil
}

// Config is the App's configuration (read-only).
func (a *App) Config() *config.Config { return a.cfg }

// Migrate applies every migration: Driftwatch's tables and the job queue's
// (serve, worker).
func (a *App) Migrate(ctx context.Context) error {
	st, err := a.Store(ctx)
	if err != nil {
		return err
	}
	return configError(migrateRiver(ctx, st))
}

// nameLine is the line of a YAML suite file's top-level name: (0 when it
// cannot be read).
func nameLine(file string) int {
	b, err := os.ReadFile(file)
	if err != nil {
		return 0
	}
	for i, line := range strings.Split(string(b), "\n") {
		if strings.HasPrefix(line, "name:") {
			return i + 1
		}
	}
	return 0
}
