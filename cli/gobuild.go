package cli

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"

	"github.com/spf13/cobra"

	"github.com/driftwatch/driftwatch/config"
	"github.com/driftwatch/driftwatch/gosuite"
)

// buildCmd is `driftwatch build [PATTERN]... -o FILE`: the binary that
// driftwatch run would build for Go suites, written for a server or an
// image.
func (c *cli) buildCmd() *cobra.Command {
	var out string
	cmd := &cobra.Command{
		Use:   "build [PATTERN]...",
		Short: "Build a driftwatch binary that links the Go suites of your packages",
		Long: `Find func EvalXxx(t *eval.T) and func SuiteXxx() eval.Suite in the Go packages the patterns
match (./evals/..., relative to the working folder; default: the Go package patterns of the
config's suites: list), generate a main package that registers them, and build it with your go
command and go.mod. The binary is driftwatch with your suites: run, serve and worker work as
with the stock one. See docs/go-suites.md.`,
		RunE: func(cmd *cobra.Command, args []string) error {
			dir, patterns, err := c.goPatterns(args)
			if err != nil {
				return err
			}
			if len(patterns) == 0 {
				return errors.New("build: no Go package patterns: pass some (driftwatch build ./evals/...) or list them under suites: in the config")
			}
			res, err := gosuite.Build(cmd.Context(), dir, patterns, gosuite.Options{Out: out, Stderr: c.stderr})
			if err != nil {
				return err
			}
			fmt.Fprintf(c.stderr, "built %s with the Go suites of %s\n", res.Path, strings.Join(res.Packages, ", "))
			return nil
		},
	}
	cmd.Flags().StringVarP(&out, "output", "o", "driftwatch", "write the binary to this file")
	return cmd
}

// execGoSuites runs the command in a binary that links the Go suites of the
// Go package patterns in args (run's arguments) and in the config's
// suites: list, when this binary does not link them already: it builds that
// binary (cached while nothing changed) and execs it with this process's
// arguments, passing stdio through, and sets c.code to its exit code.
// handled is false when there is nothing to build, and the caller goes on
// in-process. An argument that is not a Go package pattern is a usage
// error.
func (c *cli) execGoSuites(cmd *cobra.Command, args []string) (handled bool, err error) {
	dir, patterns, err := c.goPatterns(args)
	if err != nil || len(patterns) == 0 {
		return false, err
	}
	missing := false
	for _, p := range patterns {
		if len(gosuite.SuitesOf(c.reg, dir, p)) == 0 {
			missing = true
		}
	}
	if !missing {
		return false, nil
	}
	if gosuite.Execed() {
		// Built for this very command line: building again would loop.
		return true, fmt.Errorf("this binary was built for %s but does not link all of their suites", strings.Join(patterns, " "))
	}
	res, err := gosuite.Build(cmd.Context(), dir, patterns, gosuite.Options{Stderr: c.stderr})
	if err != nil {
		return true, err
	}
	code, err := gosuite.Exec(cmd.Context(), res.Path, c.args, gosuite.Stdio{Stdin: os.Stdin, Stdout: c.stdout, Stderr: c.stderr})
	if err != nil {
		return true, err
	}
	c.code = code
	return true, nil
}

// goPatterns returns the Go package patterns of args (every one must be
// one) and of the config's suites: list, and the folder the go command
// runs in: the working folder (an absolute pattern's own folder) when args
// has patterns, else the config's folder. Config patterns are resolved
// against the config's folder. A config that cannot be read adds none: the
// command reports it.
func (c *cli) goPatterns(args []string) (dir string, patterns []string, err error) {
	dir = "."
	for _, a := range args {
		if !gosuite.IsPattern(".", a) {
			return "", nil, fmt.Errorf("%q is not a Go package pattern: write ./evals/... for the packages below evals, or ./evals for one package (YAML suites and Go suite names go to --suite or the config's suites:)", a)
		}
		patterns = append(patterns, a)
	}
	if len(args) > 0 && filepath.IsAbs(args[0]) {
		dir = strings.TrimSuffix(filepath.ToSlash(args[0]), "/...")
	}
	cfg, cerr := config.Load(c.configPath)
	if cerr != nil {
		return dir, patterns, nil
	}
	cfgDir := filepath.Dir(cfg.File)
	if len(args) == 0 {
		dir = cfgDir
	}
	for _, s := range cfg.Suites {
		if !gosuite.IsPattern(cfgDir, s) {
			continue
		}
		if len(args) > 0 && !filepath.IsAbs(s) {
			// The build runs in the working folder.
			if abs, aerr := filepath.Abs(filepath.Join(cfgDir, s)); aerr == nil {
				s = abs
			}
		}
		patterns = append(patterns, s)
	}
	return dir, patterns, nil
}
