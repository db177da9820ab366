package suiteload

import (
	"context"
	"errors"
	"fmt"
	"os"
	"strings"

	"github.com/driftwatch/driftwatch/config"
	"github.com/driftwatch/driftwatch/eval"
	"github.com/driftwatch/driftwatch/eval/check"
	"github.com/driftwatch/driftwatch/eval/yamlsuite"
	"github.com/driftwatch/driftwatch/internal/yamldoc"
)

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

// Problems are the problems of the suites Lint read, each at its
// file:line. Lint's other errors are about the config or the paths.
type Problems struct{ Err error }

func (p *Problems) Error() string { return p.Err.Error() }
func (p *Problems) Unwrap() error { return p.Err }

// Lint validates suites (YAML suites and promptfoo configs) without
// sending anything: the suites at paths, or (no paths) the suites of c's
// config, whose schedules must then name existing suites. c may be nil
// (paths without a config): checks that need a judge or an embedder are
// validated in shape only. A config whose ${VAR}s are not all set (a CI job
// without the API keys) lints with stand-ins for its judge and embedder.
func Lint(ctx context.Context, c *Catalog, paths []string) (Loaded, error) {
	fromConfig := len(paths) == 0
	opts := lintCheckOptions()
	switch {
	case c != nil && len(c.Config.Unset) == 0 && c.Check != nil:
		var err error
		if opts, err = c.Check(); err != nil {
			return Loaded{}, err
		}
	case c != nil:
		// The config names its judge and embedder (validated when it
		// loaded); stand-ins take their place.
		if c.Config.Judge == "" {
			opts.Judge = nil
		}
		if c.Config.Embedder == "" {
			opts.Embedder = nil
		}
	}
	var goNames []string
	if fromConfig {
		var err error
		if paths, goNames, err = c.Entries(); err != nil {
			return Loaded{}, err
		}
	}
	loaded, err := LoadPaths(ctx, paths, Options{Check: opts})
	suites := loaded.Suites
	if err != nil {
		file := config.FileDefault
		if c != nil {
			file = c.Config.File
		}
		return loaded, &Problems{Err: ExplainCheckErrors(err, file)}
	}
	if len(suites) == 0 && len(paths) > 0 {
		return loaded, fmt.Errorf("no suite files (*.yaml, *.yml) in %s", strings.Join(paths, ", "))
	}
	// A YAML suite may not take the name of a Go suite of this binary: a
	// run could not tell them apart.
	if c != nil {
		var clash yamldoc.Errors
		for _, ys := range suites {
			y, ok := ys.(*yamlsuite.Suite)
			if _, isGo := c.Registry.Get(ys.Name()); ok && isGo {
				clash = append(clash, &yamldoc.Error{File: y.File, Line: nameLine(y.File), Field: "name",
					Msg: fmt.Sprintf("suite %q is also a Go suite of this binary: rename one of them", ys.Name())})
			}
		}
		if len(clash) > 0 {
			return loaded, &Problems{Err: clash}
		}
	}
	// The config's Go suites are linted as built: they count too.
	for _, n := range goNames {
		if s, ok := c.Registry.Get(n); ok {
			loaded.Suites = append(loaded.Suites, s)
		}
	}
	if fromConfig {
		names := c.Registry.Names()
		for _, s := range suites {
			names = append(names, s.Name())
		}
		if err := c.Config.CheckScheduleSuites(names); err != nil {
			return loaded, err
		}
	}
	return loaded, nil
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
