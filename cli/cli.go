package cli

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"regexp/syntax"
	"strconv"
	"strings"
	"sync"
	"text/tabwriter"

	"github.com/spf13/cobra"

	"github.com/driftwatch/driftwatch/app"
	"github.com/driftwatch/driftwatch/config"
	"github.com/driftwatch/driftwatch/drift"
	"github.com/driftwatch/driftwatch/eval"
	"github.com/driftwatch/driftwatch/eval/suiteload"
	"github.com/driftwatch/driftwatch/internal/textsafe"
	"github.com/driftwatch/driftwatch/internal/yamldoc"
	"github.com/driftwatch/driftwatch/report"
	"github.com/driftwatch/driftwatch/web"
)

// Main runs the driftwatch command line with args (without the program
// name) and returns the exit code. Users with their own Go suites build their
// own binary:
//
//	func main() {
//		reg := eval.NewRegistry()
//		mysuites.Register(reg)
//		ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
//		defer stop()
//		os.Exit(cli.Main(ctx, os.Args[1:], reg, os.Stdout, os.Stderr))
//	}
func Main(ctx context.Context, args []string, reg *eval.Registry, stdout, stderr io.Writer) int {
	stderr = &syncWriter{w: stderr} // logs and progress share it
	c := &cli{reg: reg, stdout: stdout, stderr: stderr, args: args}
	root := c.root()
	root.SetArgs(args)
	root.SetOut(stdout)
	root.SetErr(stderr)
	err := root.ExecuteContext(ctx)
	if err == nil {
		return c.code
	}
	var located yamldoc.Errors
	if errors.As(err, &located) {
		fmt.Fprintln(stderr, "driftwatch:", textsafe.Terminal(err.Error()))
	} else {
		// One line: drivers' multi-line errors are folded.
		fmt.Fprintln(stderr, "driftwatch:", textsafe.Line(err.Error()))
	}
	return ExitConfig
}

type cli struct {
	reg            *eval.Registry
	args           []string // as given to Main, for a binary built with Go suites
	stdout, stderr io.Writer
	code           int
	configPath     string
	dataDir        string
	verbose        bool
}

func (c *cli) root() *cobra.Command {
	root := &cobra.Command{
		Use:           "driftwatch",
		Short:         "Catch silent behaviour changes in LLMs",
		SilenceUsage:  true,
		SilenceErrors: true,
		Version:       ReadBuildInfo().String(),
	}
	root.SetVersionTemplate("driftwatch {{.Version}}\n")
	root.PersistentFlags().StringVar(&c.configPath, "config", config.FileDefault, "config file")
	root.PersistentFlags().StringVar(&c.dataDir, "data-dir", "", "data directory of the embedded PostgreSQL (default $XDG_DATA_HOME/driftwatch)")
	root.PersistentFlags().BoolVarP(&c.verbose, "verbose", "v", false, "log debug information to stderr")
	root.AddCommand(c.runCmd(), c.suitesCmd(), c.migrateCmd(), c.baselineCmd(), c.diffCmd(), c.reportCmd(),
		c.powerCmd(), c.simCmd(), c.demoCmd(), c.serveCmd(), c.workerCmd(),
		c.versionCmd(), c.healthcheckCmd(), c.initCmd(), c.buildCmd())
	return root
}

func (c *cli) logger() *slog.Logger {
	level := slog.LevelWarn
	if c.verbose {
		level = slog.LevelDebug
	}
	return slog.New(slog.NewTextHandler(c.stderr, &slog.HandlerOptions{Level: level}))
}

// open loads the config and builds an App. Without --config and without a
// driftwatch.yaml in the working folder, commands that only read the
// database (report, diff, baseline) work on the defaults.
func (c *cli) open() (*app.App, error) { return c.openConfig(false) }

// openConfig is open; with required, a missing config file is an error.
func (c *cli) openConfig(required bool) (*app.App, error) {
	cfg, err := config.Load(c.configPath)
	if errors.Is(err, os.ErrNotExist) && c.configPath == config.FileDefault && !required {
		cfg, err = &config.Config{File: config.FileDefault}, nil
	}
	if err != nil {
		if errors.Is(err, os.ErrNotExist) {
			return nil, fmt.Errorf("config file %s not found (use --config)", c.configPath)
		}
		return nil, err
	}
	c.warnUnset(cfg)
	return app.New(cfg, app.Options{Registry: c.reg, Logger: c.logger(), Stderr: c.stderr, DataDir: c.dataDir}), nil
}

// warnUnset prints a warning for each ${VAR} of the config whose variable is
// not set (read as empty).
func (c *cli) warnUnset(cfg *config.Config) {
	for _, e := range cfg.Unset {
		fmt.Fprintf(c.stderr, "driftwatch: warning: %v\n", e)
	}
}

func (c *cli) runCmd() *cobra.Command {
	var (
		p                        app.RunParams
		jsonOut, junit, markdown string
		dryRun, noProgress       bool
		confirm                  bool
	)
	cmd := &cobra.Command{
		Use:   "run [PATTERN]...",
		Short: "Run suites on targets, compare with the baseline, report",
		Long: `Run every selected suite on every selected target, store each sample, compare the run
with its baseline and print a verdict. Go package patterns (./evals/...) run the Go suites of
those packages, built into a cached binary first (see driftwatch build). Exit codes: 0 stable
or baseline, 1 drift (or a pinned identity changed), 2 inconclusive, 3 configuration, usage or
infrastructure error.`,
		Args: cobra.ArbitraryArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			if err := parseCase(p.Case); err != nil {
				return err
			}
			if p.Samples < 0 {
				return fmt.Errorf("--samples %d: want a whole number of samples per case, at least 1 (leave it out for the suite's or config's)", p.Samples)
			}
			if handled, err := c.execGoSuites(cmd, args); handled || err != nil {
				return err
			}
			a, err := c.openConfig(true)
			if err != nil {
				return err
			}
			defer a.Close()
			if cmd.Flags().Changed("confirm") {
				p.Confirm = &confirm
			}
			if dryRun {
				return printDryRun(cmd.Context(), a, p, c.stdout)
			}
			var finish func()
			p.NewProgress, finish = c.progress(!noProgress)
			reports, err := a.Run(cmd.Context(), p)
			finish()
			if len(reports) > 0 {
				printSummary(c.stderr, reports)
				// Alerts never change the exit code: undelivered ones stay
				// queued and are retried by the next run or by serve.
				if aerr := a.AlertReports(context.WithoutCancel(cmd.Context()), reports); aerr != nil {
					c.logger().Warn("alerts", "err", aerr)
				}
				if werr := writeReports(reports, jsonOut, junit, markdown, c.stdout); werr != nil {
					return werr
				}
			}
			if err != nil {
				return err
			}
			c.code = report.ExitCode(reports)
			if cmd.Context().Err() != nil {
				c.code = ExitConfig
			}
			return nil
		},
	}
	f := cmd.Flags()
	f.StringArrayVar(&p.Suites, "suite", nil, "suite to run (repeatable; default: the config's suites)")
	f.StringArrayVar(&p.Targets, "target", nil, "target to run on (repeatable; default: every target of the config)")
	f.IntVar(&p.Samples, "samples", 0, "samples per case (k), overriding suites and config")
	f.StringVar(&p.Case, "case", "", "run only cases matching this -run style pattern")
	f.StringVar(&jsonOut, "json", "", "write the JSON report to this file (- for stdout)")
	f.StringVar(&junit, "junit", "", "write a JUnit XML report to this file")
	f.StringVar(&markdown, "markdown", "", "write a Markdown report to this file")
	f.Int64Var(&p.Resume, "resume", 0, "finish the unfinished samples of this run")
	f.BoolVar(&dryRun, "dry-run", false, "print the expected calls, tokens and cost, and send nothing")
	f.BoolVar(&noProgress, "no-progress", false, "do not print progress")
	f.BoolVar(&confirm, "confirm", false, "re-run once to confirm a DRIFT verdict (default from config drift.confirm)")
	return cmd
}

// writeReports writes the requested report files.
func writeReports(reports []*report.Report, jsonOut, junit, markdown string, stdout io.Writer) error {
	write := func(path string, fn func(io.Writer, []*report.Report) error) error {
		return writeReportFile(path, stdout, func(w io.Writer) error { return fn(w, reports) })
	}
	return errors.Join(write(jsonOut, report.WriteJSON), write(junit, report.WriteJUnit), write(markdown, report.WriteMarkdown))
}

// writeReportFile writes one report with write: to stdout for "-", else to
// path through a temporary file renamed into place, so a reader never sees
// half a report. On failure the temporary file is removed and path is left
// as it was; the error names path. A path that exists and is not a regular
// file (/dev/null, /dev/stdout, a named pipe) is written in place: renaming
// over it would replace the device or pipe with a file.
func writeReportFile(path string, stdout io.Writer, write func(io.Writer) error) (err error) {
	switch path {
	case "":
		return nil
	case "-":
		return write(stdout)
	}
	if st, serr := os.Stat(path); serr == nil && !st.Mode().IsRegular() && !st.IsDir() {
		return writeInPlace(path, write)
	}
	if dir := filepath.Dir(path); dir != "." {
		if err := os.MkdirAll(dir, 0o755); err != nil {
			return fmt.Errorf("write report %s: create its folder: %w", path, err)
		}
	}
	tmp := path + ".tmp"
	f, err := os.Create(tmp)
	if err != nil {
		return fmt.Errorf("write report %s: %w", path, err)
	}
	defer func() {
		if err != nil {
			f.Close()
			os.Remove(tmp)
			err = fmt.Errorf("write report %s: %w", path, err)
		}
	}()
	if err := write(f); err != nil {
		return err
	}
	if err := f.Close(); err != nil {
		return err
	}
	return os.Rename(tmp, path)
}

// writeInPlace writes a report into the existing special file path.
func writeInPlace(path string, write func(io.Writer) error) error {
	f, err := os.OpenFile(path, os.O_WRONLY, 0)
	if err != nil {
		return fmt.Errorf("write report %s: %w", path, err)
	}
	if err := write(f); err != nil {
		f.Close()
		return fmt.Errorf("write report %s: %w", path, err)
	}
	if err := f.Close(); err != nil {
		return fmt.Errorf("write report %s: %w", path, err)
	}
	return nil
}

// printSummary prints one line per (suite, target) to stderr.
//
// Every model-controlled string (suite and target names are the user's,
// but reasons, identities and case keys carry model names, endpoint errors
// and dataset text) is stripped of terminal escapes and control characters
// (textsafe.Line) before it reaches the terminal.
func printSummary(w io.Writer, reports []*report.Report) {
	safe := textsafe.Line
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, "SUITE\tTARGET\tRUN\tVERDICT\tPASS RATE\tCHANGE (95% CI)\tERRORS\tSAMPLES\tTOKENS\tCOST\tWALL")
	for _, r := range reports {
		m := r.Metrics
		pass, change := "–", "–"
		if m.PassRate != nil {
			pass = fmt.Sprintf("%.1f%%", 100*m.PassRate.Value)
			if m.PassRate.Delta != nil {
				change = fmt.Sprintf("%+.1f pts", 100*(*m.PassRate.Delta))
				if ci := m.PassRate.CI; ci != nil {
					change += fmt.Sprintf(" [%+.1f, %+.1f]", 100*ci.Low, 100*ci.High)
				}
			}
		}
		fmt.Fprintf(tw, "%s\t%s\t%d\t%s\t%s\t%s\t%d\t%d\t%d\t$%.4f\t%.1fs\n", safe(r.Suite), safe(r.Target), r.RunID, r.Verdict, pass, change,
			m.ErrorCount, m.Samples, m.InputTokens+m.OutputTokens, m.CostUSD, r.WallSeconds)
	}
	tw.Flush()
	for _, r := range reports {
		fmt.Fprintf(w, "%s@%s: %s\n", safe(r.Suite), safe(r.Target), safe(report.Explain(r)))
		for _, f := range r.Findings {
			switch {
			case f.Metric == drift.MetricIdentity:
				fmt.Fprintf(w, "  %s %s: %s\n", f.Verdict, f.Metric, safe(identityChange(r, f)))
			case f.Verdict == drift.Drift || f.Verdict == drift.IdentityChanged:
				fmt.Fprintf(w, "  %s %s (%s): %.3f -> %.3f, p=%.2g, q=%.2g\n", f.Verdict, f.Metric, f.Scope, f.Baseline, f.Current, f.P, f.Q)
			case f.Verdict == drift.Warn:
				fmt.Fprintf(w, "  WARN %s\n", safe(report.FindingText(f)))
			}
		}
		if n := len(r.DriftedCases); n > 0 {
			show := r.DriftedCases[:min(n, 10)]
			fmt.Fprintf(w, "  drifted cases (%d): %s\n", n, safe(strings.Join(show, ", ")))
		}
	}
}

// identityChange says what an identity finding found: the identity before
// and after when the report has both (the finding's own reason names
// identities by digest), else the reason (a pin's says what was pinned).
func identityChange(r *report.Report, f drift.Finding) string {
	if f.Statistic == "pin" || r.BaselineIdentity == nil || r.Identity == nil {
		return f.Reason
	}
	before, after := report.IdentityName(r.BaselineIdentity), report.IdentityName(r.Identity)
	if before == after { // a minority of samples changed identity
		return f.Reason
	}
	return before + " -> " + after
}

func (c *cli) suitesCmd() *cobra.Command {
	cmd := &cobra.Command{Use: "suites", Short: "Work with suites"}
	cmd.AddCommand(&cobra.Command{
		Use:   "lint [PATH]...",
		Short: "Validate suites and print each problem with file:line",
		Long: `Validate YAML suites and print each problem with file:line. Without PATH, lint the
suites of the config (--config, default driftwatch.yaml) and check that its schedules name
existing suites. With a config, llm-rubric and embedding-similar checks need its judge: and
embedder: targets, as for run; without one (PATHs and no driftwatch.yaml), their shape is checked.`,
		RunE: func(cmd *cobra.Command, paths []string) error {
			var cat *suiteload.Catalog
			if len(paths) == 0 || cmd.Flags().Changed("config") || fileExists(c.configPath) {
				cfg, err := config.Load(c.configPath)
				if err != nil {
					return err
				}
				c.warnUnset(cfg)
				cat = app.New(cfg, app.Options{Registry: c.reg, Logger: c.logger()}).Catalog()
			}
			loaded, err := suiteload.Lint(cmd.Context(), cat, paths)
			for _, w := range loaded.Warnings {
				fmt.Fprintln(c.stderr, "warning:", w)
			}
			suites := loaded.Suites
			var problems *suiteload.Problems
			if errors.As(err, &problems) {
				fmt.Fprintln(c.stderr, problems.Err)
				return errors.New("suites have problems")
			}
			if err != nil {
				return err
			}
			n := 0
			for _, s := range suites {
				n += len(s.Cases())
			}
			fmt.Fprintf(c.stdout, "ok: %s, %s\n", plural(len(suites), "suite"), plural(n, "case"))
			return nil
		},
	})
	return cmd
}

// plural formats n and noun ("1 suite", "3 suites").
func plural(n int, noun string) string {
	if n == 1 {
		return "1 " + noun
	}
	return strconv.Itoa(n) + " " + noun + "s"
}

// fileExists reports whether path names an existing file.
func fileExists(path string) bool {
	st, err := os.Stat(path)
	return err == nil && !st.IsDir()
}

func (c *cli) migrateCmd() *cobra.Command {
	return &cobra.Command{
		Use:   "migrate",
		Short: "Apply database migrations",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			// Without a config file, only DATABASE_URL says which database
			// to migrate: never the embedded default by accident.
			a, err := c.openConfig(os.Getenv("DATABASE_URL") == "")
			if err != nil {
				return err
			}
			defer a.Close()
			if err := a.Migrate(cmd.Context()); err != nil {
				return err
			}
			fmt.Fprintln(c.stdout, "migrations applied")
			return nil
		},
	}
}

func (c *cli) baselineCmd() *cobra.Command {
	cmd := &cobra.Command{Use: "baseline", Short: "Manage baselines"}
	var note, by string
	accept := &cobra.Command{
		Use:   "accept RUN_ID",
		Short: "Make a completed run the baseline of its suite and target",
		Args:  cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			id, err := strconv.ParseInt(args[0], 10, 64)
			if err != nil {
				return fmt.Errorf("run id %q: not a number", args[0])
			}
			a, err := c.open()
			if err != nil {
				return err
			}
			defer a.Close()
			if by == "" {
				by = os.Getenv("USER")
			}
			if err := a.AcceptBaseline(cmd.Context(), id, by, note); err != nil {
				return err
			}
			fmt.Fprintf(c.stdout, "run %d is now the baseline\n", id)
			return nil
		},
	}
	accept.Flags().StringVar(&note, "note", "", "why the baseline changes (stored)")
	accept.Flags().StringVar(&by, "by", "", "who accepts it (default $USER)")
	cmd.AddCommand(accept)
	return cmd
}

func parseIDs(args []string) ([]int64, error) {
	ids := make([]int64, len(args))
	for i, s := range args {
		id, err := strconv.ParseInt(s, 10, 64)
		if err != nil {
			return nil, fmt.Errorf("run id %q: not a number", s)
		}
		ids[i] = id
	}
	return ids, nil
}

func (c *cli) diffCmd() *cobra.Command {
	var jsonOut, markdown string
	cmd := &cobra.Command{
		Use:   "diff RUN_A RUN_B",
		Short: "Compare two stored runs (A as the baseline, B as the current run)",
		Args:  cobra.ExactArgs(2),
		RunE: func(cmd *cobra.Command, args []string) error {
			ids, err := parseIDs(args)
			if err != nil {
				return err
			}
			if ids[0] == ids[1] {
				// Always STABLE, and never what was meant.
				return fmt.Errorf("diff: run %d is compared with itself: give two different runs (RUN_A the baseline, RUN_B the current run)", ids[0])
			}
			a, err := c.open()
			if err != nil {
				return err
			}
			defer a.Close()
			rep, err := a.Diff(cmd.Context(), ids[0], ids[1])
			if err != nil {
				return err
			}
			reports := []*report.Report{rep}
			if jsonOut == "" && markdown == "" {
				markdown = "-"
			}
			if err := writeReports(reports, jsonOut, "", markdown, c.stdout); err != nil {
				return err
			}
			c.code = report.ExitCode(reports)
			return nil
		},
	}
	cmd.Flags().StringVar(&jsonOut, "json", "", "write the JSON report to this file (- for stdout)")
	cmd.Flags().StringVar(&markdown, "markdown", "", "write the Markdown report to this file (default stdout)")
	return cmd
}

func (c *cli) reportCmd() *cobra.Command {
	var jsonOut, junit, markdown, html string
	cmd := &cobra.Command{
		Use:   "report RUN_ID",
		Short: "Write the reports of a stored run",
		Long: `Write the reports of a stored run: Markdown (the default, on stdout), JSON, JUnit XML, or
--html: the dashboard's run page as one self-contained HTML file (CSS inline, no scripts, no
external references) to attach to a ticket or mail.`,
		Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			ids, err := parseIDs(args)
			if err != nil {
				return err
			}
			a, err := c.open()
			if err != nil {
				return err
			}
			defer a.Close()
			rep, err := a.StoredReport(cmd.Context(), ids[0])
			if err != nil {
				return err
			}
			if html != "" {
				if err := writeRunHTML(cmd.Context(), a, ids[0], html, c.stdout); err != nil {
					return err
				}
			}
			if jsonOut == "" && junit == "" && markdown == "" && html == "" {
				markdown = "-"
			}
			return writeReports([]*report.Report{rep}, jsonOut, junit, markdown, c.stdout)
		},
	}
	cmd.Flags().StringVar(&jsonOut, "json", "", "write the JSON report to this file (- for stdout)")
	cmd.Flags().StringVar(&junit, "junit", "", "write a JUnit XML report to this file")
	cmd.Flags().StringVar(&markdown, "markdown", "", "write the Markdown report to this file (default stdout)")
	cmd.Flags().StringVar(&html, "html", "", "write the run page as a self-contained HTML file (- for stdout)")
	return cmd
}

func (c *cli) powerCmd() *cobra.Command {
	var (
		p0, p1, alpha float64
		cases         int
	)
	cmd := &cobra.Command{
		Use:   "power",
		Short: "Recommend samples per case to detect a pass-rate drop with 80% power",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if err := checkPowerFlags(p0, p1, alpha, cases); err != nil {
				return err
			}
			fmt.Fprintf(c.stdout, "to detect a drop from %.3f to %.3f over %d cases at one-sided alpha %.3g with 80%% power:\n", p0, p1, cases, alpha)
			k, ok := powerSamples(p0, p1, cases, alpha)
			if ok {
				fmt.Fprintf(c.stdout, "samples per case (k): %d\n", k)
				// What a night then sends, staged (the default) and fixed,
				// with a pooled baseline of the default size; a night of
				// fewer than 3 samples per case has no looks to stop at.
				if k >= 3 {
					staged, fixed := drift.CallsByMode(drift.Plan{K: k}, drift.Pool{}.WithDefaults(), cases)
					fmt.Fprintf(c.stdout, "calls per night at k=%d: staged (sampling: {k: %d}) about %.0f when quiet (%.2f per case), up to %d; fixed %d\n",
						k, k, staged.QuietNight, staged.Quiet, staged.MaxNight, fixed.MaxNight)
				}
				return nil
			}
			fmt.Fprintf(c.stdout, "not reachable with %d cases (it would take more than %d samples per case); add cases", cases, powerSamplesMax)
			if n, ok := powerCases(p0, p1, alpha, config.SamplesDefault); ok {
				fmt.Fprintf(c.stdout, ": about %d cases at k=%d", n, config.SamplesDefault)
			}
			fmt.Fprintln(c.stdout)
			return nil
		},
	}
	cmd.Flags().Float64Var(&p0, "p0", 0, "baseline pass rate (required)")
	cmd.Flags().Float64Var(&p1, "p1", 0, "pass rate to detect, below --p0 (required)")
	cmd.Flags().IntVar(&cases, "cases", 200, "cases in the suite")
	cmd.Flags().Float64Var(&alpha, "alpha", 0.01, "one-sided significance level")
	// Without --p1 the drop would silently be to 0 (k=1 for any p0).
	_ = cmd.MarkFlagRequired("p0")
	_ = cmd.MarkFlagRequired("p1")
	return cmd
}

// Limits of driftwatch power. A drop that needs more than powerSamplesMax
// samples per case is not reachable with that many cases; a drop below
// powerDropMin is not reachable with any practical suite; below
// powerAlphaMin the normal quantile of 1-alpha is not computable in float64.
const (
	powerSamplesMax = 1000
	powerDropMin    = 1e-6
	powerAlphaMin   = 1e-9
)

// checkPowerFlags says which power flag is out of range, and its range.
func checkPowerFlags(p0, p1, alpha float64, cases int) error {
	switch {
	case !(p0 > 0 && p0 <= 1):
		return fmt.Errorf("--p0 %v: want the baseline pass rate, in (0, 1]", p0)
	case !(p1 >= 0 && p1 < p0):
		return fmt.Errorf("--p1 %v: want the pass rate to detect, at least 0 and below --p0 (%v)", p1, p0)
	case !(alpha > 0 && alpha < 1):
		return fmt.Errorf("--alpha %v: want a significance level between 0 and 1 (exclusive), e.g. 0.01", alpha)
	case alpha < powerAlphaMin:
		return fmt.Errorf("--alpha %v: too small to compute with; use at least %g", alpha, powerAlphaMin)
	case cases < 1:
		return fmt.Errorf("--cases %d: want at least 1", cases)
	}
	return nil
}

// powerSamples is drift.Power with a cap: ok is false when the drop needs
// more than powerSamplesMax per case.
func powerSamples(p0, p1 float64, cases int, alpha float64) (k int, ok bool) {
	if p0-p1 < powerDropMin {
		return 0, false
	}
	k = drift.Power(p0, p1, cases, alpha)
	return k, k >= 1 && k <= powerSamplesMax
}

// powerCases is the fewest cases with which k samples per case detect the
// drop (the case count doubles, then is bisected; drift.Power falls as cases
// grow). ok is false when no suite of up to 2^40 cases does.
func powerCases(p0, p1, alpha float64, k int) (n int, ok bool) {
	if p0-p1 < powerDropMin {
		return 0, false
	}
	fits := func(n int) bool { kn, ok := powerSamples(p0, p1, n, alpha); return ok && kn <= k }
	hi := 1
	for ; !fits(hi); hi *= 2 {
		if hi >= 1<<40 {
			return 0, false
		}
	}
	lo := hi/2 + 1
	for lo < hi {
		mid := lo + (hi-lo)/2
		if fits(mid) {
			hi = mid
		} else {
			lo = mid + 1
		}
	}
	return hi, true
}

// syncWriter serialises writes from the logger and the progress bar.
type syncWriter struct {
	mu sync.Mutex
	w  io.Writer
}

func (s *syncWriter) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.w.Write(p)
}

// Fd exposes the underlying file's descriptor, for terminal detection.
func (s *syncWriter) Fd() uintptr {
	if f, ok := s.w.(interface{ Fd() uintptr }); ok {
		return f.Fd()
	}
	return ^uintptr(0)
}

// writeRunHTML writes run id's self-contained page to path ("-" is stdout),
// replacing the file only once the page rendered.
func writeRunHTML(ctx context.Context, a *app.App, id int64, path string, stdout io.Writer) error {
	var buf bytes.Buffer
	if err := a.WriteRunHTML(ctx, &buf, id); err != nil {
		if errors.Is(err, web.ErrNotFound) {
			return fmt.Errorf("run %d: %w", id, err)
		}
		return err
	}
	if path == "-" {
		if _, err := stdout.Write(buf.Bytes()); err != nil {
			return fmt.Errorf("write run %d page: %w", id, err)
		}
		return nil
	}
	if err := os.WriteFile(path, buf.Bytes(), 0o644); err != nil {
		return fmt.Errorf("write %s: %w", path, err)
	}
	return nil
}

// parseCase checks the --case pattern. A pattern that is not a regular
// expression is a usage error said in one line: `--case "[": not a valid
// regular expression: missing closing ]`.
func parseCase(pattern string) error {
	_, err := eval.ParseFilter(pattern)
	if err == nil {
		return nil
	}
	var se *syntax.Error
	if !errors.As(err, &se) {
		return fmt.Errorf("--case %q: %w", pattern, err)
	}
	msg := fmt.Sprintf("--case %q: not a valid regular expression: %s", pattern, se.Code)
	if se.Expr != "" && se.Expr != pattern {
		msg += fmt.Sprintf(" (at %q)", se.Expr)
	}
	return errors.New(msg)
}
