package cli

import (
	"context"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"time"

	"github.com/driftwatch/driftwatch/sim/demo"

	"github.com/spf13/cobra"

	"github.com/driftwatch/driftwatch/app"
	"github.com/driftwatch/driftwatch/config"
	"github.com/driftwatch/driftwatch/report"
	"github.com/driftwatch/driftwatch/sim"
)

func (c *cli) simCmd() *cobra.Command {
	var addr, scenario string
	cmd := &cobra.Command{
		Use:   "sim",
		Short: "Serve the LLM simulator (OpenAI, Anthropic, Ollama, vLLM, llama.cpp and TGI surfaces)",
		Long: `Serve the Driftwatch simulator: simulated models with known behaviour profiles and silent
updates, for tests, demos and benchmarks. --scenario takes a built-in name or a YAML/JSON file.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			cfg, err := simScenario(scenario)
			if err != nil {
				return err
			}
			srv, err := sim.New(cfg, sim.WithLogger(c.logger()))
			if err != nil {
				return err
			}
			url, stop, err := srv.Start(cmd.Context(), addr)
			if err != nil {
				return err
			}
			fmt.Fprintf(c.stdout, "simulator listening on %s (OpenAI-compatible base URL %s/v1); Ctrl-C stops it\n", url, url)
			<-cmd.Context().Done()
			ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
			defer cancel()
			return stop(ctx)
		},
	}
	cmd.Flags().StringVar(&addr, "addr", "127.0.0.1:8089", "listen address")
	cmd.Flags().StringVar(&scenario, "scenario", "default", "built-in scenario name or scenario file")
	return cmd
}

func simScenario(name string) (sim.Config, error) {
	if _, err := os.Stat(name); err == nil {
		return sim.LoadConfig(name)
	}
	return sim.Scenario(name)
}

func (c *cli) demoCmd() *cobra.Command {
	return &cobra.Command{
		Use:   "demo",
		Short: "Two weeks of simulated nights with one silent vendor update, on the embedded PostgreSQL",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			code, err := runDemo(cmd.Context(), c.stdout, c.stderr, c.dataDir)
			c.code = code
			return err
		},
	}
}

// runDemo plays two weeks of nights against the simulator on the embedded
// default PostgreSQL, with one silent update, and prints what Driftwatch
// saw.
func runDemo(ctx context.Context, stdout, stderr io.Writer, dataDir string) (int, error) {
	start := time.Now()
	work, err := os.MkdirTemp("", "driftwatch-demo-")
	if err != nil {
		return ExitConfig, err
	}
	defer os.RemoveAll(work)
	// Readable by the unprivileged user PostgreSQL runs as when we are root,
	// so the cluster lives (and is removed) inside the demo's folder.
	if err := os.Chmod(work, 0o755); err != nil {
		return ExitConfig, err
	}
	keep := dataDir != ""
	if !keep {
		dataDir = filepath.Join(work, "data")
		if err := os.Mkdir(dataDir, 0o700); err != nil { // private; as root, pglocal hands it to postgres
			return ExitConfig, err
		}
	}
	srv, err := sim.New(demo.SimConfig())
	if err != nil {
		return ExitConfig, err
	}
	url, stop, err := srv.Start(ctx, "127.0.0.1:0")
	if err != nil {
		return ExitConfig, err
	}
	defer func() {
		sctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		_ = stop(sctx)
	}()
	if err := demo.CopySuites(filepath.Join(work, "suites")); err != nil {
		return ExitConfig, err
	}
	slackURL, received, stopSlack, err := demo.StartSlackReceiver(ctx)
	if err != nil {
		return ExitConfig, err
	}
	defer stopSlack()
	cfgPath := filepath.Join(work, "driftwatch.yaml")
	if err := os.WriteFile(cfgPath, []byte(fmt.Sprintf(demo.Config, url, slackURL)+demo.NightsConfig), 0o600); err != nil {
		return ExitConfig, err
	}
	cfg, err := config.Load(cfgPath)
	if err != nil {
		return ExitConfig, err
	}
	a := app.New(cfg, app.Options{Stderr: stderr, DataDir: dataDir})
	defer a.Close()
	fmt.Fprintf(stdout, "Driftwatch demo: simulator at %s, embedded PostgreSQL in %s\n\n", url, dataDir)

	night, err := a.DemoNight(ctx)
	if err != nil {
		return ExitConfig, err
	}
	nights, err := demo.Play(ctx, srv, night, stdout, func(reps []*report.Report) { printSummary(stderr, reps) })
	if err != nil {
		return ExitConfig, err
	}
	night2 := nights[len(nights)-1]
	fmt.Fprintln(stdout)
	for _, msg := range received() {
		fmt.Fprintf(stdout, "Slack message delivered to the local receiver (%d bytes of Block Kit):\n%s\n\n", len(msg), demo.SlackText(msg))
	}
	// The dashboard's run pages as files, to open after the demo (its
	// database is temporary unless --data-dir is given), in a folder of
	// their own.
	pagesDir, err := os.MkdirTemp("", "driftwatch-demo-pages-")
	if err != nil {
		return ExitConfig, err
	}
	var pages []string
	for _, r := range night2 {
		if r.Verdict == "DRIFT" {
			if err := report.WriteMarkdown(stdout, []*report.Report{r}); err != nil {
				return ExitConfig, err
			}
			path := filepath.Join(pagesDir, fmt.Sprintf("run-%d.html", r.RunID))
			if err := writeRunPage(ctx, a, path, r.RunID); err != nil {
				return ExitConfig, err
			}
			pages = append(pages, path)
		}
	}
	fmt.Fprintf(stdout, "Demo finished in %.1fs. Every number above was read back from PostgreSQL.\n", time.Since(start).Seconds())
	for _, p := range pages {
		fmt.Fprintf(stdout, "Where to look next: the drifted run's dashboard page is in %s\n", p)
	}
	if keep {
		fmt.Fprintf(stdout, "Data kept in %s: `driftwatch serve --data-dir %s` shows the dashboard; `driftwatch report %d --data-dir %s` the report\n",
			dataDir, dataDir, night2[0].RunID, dataDir)
	}
	verdicts := map[string]string{}
	for _, r := range night2 {
		verdicts[r.Target] = r.Verdict
	}
	if verdicts["sim-gpt"] != "DRIFT" || verdicts["sim-llama"] != "STABLE" {
		return ExitConfig, fmt.Errorf("demo: expected DRIFT on sim-gpt and STABLE on sim-llama, got %v", verdicts)
	}
	return ExitOK, nil
}

// writeRunPage writes a run's dashboard page as a self-contained HTML file.
func writeRunPage(ctx context.Context, a *app.App, path string, runID int64) error {
	f, err := os.Create(path)
	if err != nil {
		return fmt.Errorf("write the run page: %w", err)
	}
	if err := a.WriteRunHTML(ctx, f, runID); err != nil {
		f.Close()
		return fmt.Errorf("write the run page: %w", err)
	}
	return f.Close()
}
