package app

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"io/fs"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"time"

	"github.com/spf13/cobra"

	"github.com/driftwatch/driftwatch/report"
	"github.com/driftwatch/driftwatch/sim"
	"github.com/driftwatch/driftwatch/suites"
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
				return configError(err)
			}
			srv, err := sim.New(cfg, sim.WithLogger(c.logger()))
			if err != nil {
				return configError(err)
			}
			url, stop, err := srv.Start(cmd.Context(), addr)
			if err != nil {
				return configError(err)
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
		Short: "Two simulated nights with a silent vendor update in between, on the embedded PostgreSQL",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			code, err := runDemo(cmd.Context(), c.stdout, c.stderr, c.dataDir)
			c.code = code
			return err
		},
	}
}

// demoLlamaDigest is the pinned open model's (simulated) Ollama digest.
const demoLlamaDigest = "8d1a4f3c2b5e6a7d9c0b1a2f3e4d5c6b7a8f9e0d1c2b3a4f5e6d7c8b9a0f1e2d"

// demoSimConfig is the demo's world: a closed-API-like model that will be
// silently updated, and a pinned open model served like Ollama that stays put.
func demoSimConfig() sim.Config {
	mixture := []sim.Component{{Weight: 0.6, P: 0.97}, {Weight: 0.2, P: 0.08}, {Weight: 0.2, Min: 0.3, Max: 0.8}}
	worse := sim.Profile{Seed: 1, Mixture: mixture, CollapseFraction: 0.1, CollapseBy: 0.7, Drop: 0.04, Verbosity: 1.5, Refusal: 0.01}
	return sim.Config{
		Seed: 42,
		Models: []sim.Model{
			{
				Name:     "sim-gpt",
				Identity: sim.Identity{ResolvedModel: "sim-gpt-2026-06-01", SystemFingerprint: "fp_sim_a1"},
				Profile:  sim.Profile{Seed: 1, Mixture: mixture, Verbosity: 0.3, Refusal: 0.01},
				Updates: []sim.Update{{Name: "silent vendor update", Profile: &worse,
					Identity: &sim.Identity{ResolvedModel: "sim-gpt-2026-11-27", SystemFingerprint: "fp_sim_b7"}}},
			},
			{
				Name:     "sim-llama",
				Identity: sim.Identity{ResolvedModel: "sim-llama:8b", Digest: demoLlamaDigest, Quantization: "Q4_K_M", ParameterSize: "8.0B"},
				Profile:  sim.Profile{Seed: 7, Mixture: mixture, Verbosity: 0.5},
			},
		},
	}
}

const demoConfig = `# Written by driftwatch demo: two simulated targets on a local simulator.
targets:
  - name: sim-gpt
    provider: openai
    base_url: %[1]s/v1
    model: sim-gpt
    api_key: demo-key-not-secret
    concurrency: 16
    params: {temperature: 0.7, max_tokens: 256}
  - name: sim-llama
    provider: ollama
    base_url: %[1]s/v1
    model: sim-llama
    concurrency: 16
    pin: {digest: ` + demoLlamaDigest + `}
    params: {temperature: 0.7, max_tokens: 256}
suites:
  - suites/
alerts:
  slack: {webhook_url: "%[2]s"}
`

// runDemo plays two nights against the simulator on the embedded default
// PostgreSQL and prints what Driftwatch saw.
func runDemo(ctx context.Context, stdout, stderr io.Writer, dataDir string) (int, error) {
	start := time.Now()
	work, err := os.MkdirTemp("", "driftwatch-demo-")
	if err != nil {
		return ExitConfig, configError(err)
	}
	defer os.RemoveAll(work)
	// Readable by the unprivileged user PostgreSQL runs as when we are root,
	// so the cluster lives (and is removed) inside the demo's folder.
	if err := os.Chmod(work, 0o755); err != nil {
		return ExitConfig, configError(err)
	}
	keep := dataDir != ""
	if !keep {
		dataDir = filepath.Join(work, "data")
		if err := os.Mkdir(dataDir, 0o700); err != nil { // private; as root, pglocal hands it to postgres
			return ExitConfig, configError(err)
		}
	}
	srv, err := sim.New(demoSimConfig())
	if err != nil {
		return ExitConfig, configError(err)
	}
	url, stop, err := srv.Start(ctx, "127.0.0.1:0")
	if err != nil {
		return ExitConfig, configError(err)
	}
	defer func() {
		sctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		_ = stop(sctx)
	}()
	if err := copyDemoSuites(filepath.Join(work, "suites")); err != nil {
		return ExitConfig, configError(err)
	}
	slackURL, received, stopSlack, err := startSlackReceiver(ctx)
	if err != nil {
		return ExitConfig, configError(err)
	}
	defer stopSlack()
	cfgPath := filepath.Join(work, "driftwatch.yaml")
	if err := os.WriteFile(cfgPath, []byte(fmt.Sprintf(demoConfig, url, slackURL)), 0o600); err != nil {
		return ExitConfig, configError(err)
	}
	cfg, err := LoadConfig(cfgPath)
	if err != nil {
		return ExitConfig, configError(err)
	}
	a := New(cfg, Options{Stderr: stderr, DataDir: dataDir})
	defer a.Close()
	fmt.Fprintf(stdout, "Driftwatch demo: simulator at %s, embedded PostgreSQL in %s\n\n", url, dataDir)

	fmt.Fprintln(stdout, "Night 1: first runs become the baselines.")
	night1, err := a.Run(ctx, RunParams{Suites: []string{"arithmetic"}, Progress: true})
	if err != nil {
		return ExitConfig, err
	}
	a.printSummary(night1)

	id, err := srv.Update("sim-gpt")
	if err != nil {
		return ExitConfig, configError(err)
	}
	fmt.Fprintf(stdout, "\n(The vendor silently updates sim-gpt overnight: it now answers as %s.)\n\n", id.ResolvedModel)

	fmt.Fprintln(stdout, "Night 2: the same suites, compared with the baselines.")
	night2, err := a.Run(ctx, RunParams{Suites: []string{"arithmetic"}, Progress: true})
	if err != nil {
		return ExitConfig, err
	}
	a.printSummary(night2)
	if err := a.alertReports(ctx, night2); err != nil {
		return ExitConfig, err
	}
	fmt.Fprintln(stdout)
	for _, msg := range received() {
		fmt.Fprintf(stdout, "Slack message delivered to the local receiver (%d bytes of Block Kit):\n%s\n\n", len(msg), slackText(msg))
	}
	var pages []string
	for _, r := range night2 {
		if r.Verdict == "DRIFT" {
			if err := report.WriteMarkdown(stdout, []*report.Report{r}); err != nil {
				return ExitConfig, err
			}
			// The dashboard's run page as one file, to open after the demo
			// (its database is temporary unless --data-dir is given).
			path := filepath.Join(os.TempDir(), fmt.Sprintf("driftwatch-demo-run-%d.html", r.RunID))
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
		return ExitDrift, fmt.Errorf("demo: expected DRIFT on sim-gpt and STABLE on sim-llama, got %v", verdicts)
	}
	return ExitOK, nil
}

// startSlackReceiver serves a local stand-in for a Slack incoming webhook
// and returns its URL and the bodies it received.
func startSlackReceiver(ctx context.Context) (string, func() [][]byte, func(), error) {
	var (
		mu   sync.Mutex
		msgs [][]byte
	)
	mux := http.NewServeMux()
	mux.HandleFunc("POST /services/demo", func(w http.ResponseWriter, r *http.Request) {
		b, err := io.ReadAll(io.LimitReader(r.Body, 1<<20))
		if err != nil {
			http.Error(w, "read", http.StatusBadRequest)
			return
		}
		mu.Lock()
		msgs = append(msgs, b)
		mu.Unlock()
		_, _ = io.WriteString(w, "ok")
	})
	ln, err := (&net.ListenConfig{}).Listen(ctx, "tcp", "127.0.0.1:0")
	if err != nil {
		return "", nil, nil, fmt.Errorf("start the demo Slack receiver: %w", err)
	}
	srv := &http.Server{Handler: mux, ReadHeaderTimeout: 5 * time.Second}
	go func() { _ = srv.Serve(ln) }()
	received := func() [][]byte {
		mu.Lock()
		defer mu.Unlock()
		return append([][]byte(nil), msgs...)
	}
	stop := func() {
		sctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
		defer cancel()
		_ = srv.Shutdown(sctx)
	}
	return "http://" + ln.Addr().String() + "/services/demo", received, stop, nil
}

// slackText renders the text of a Block Kit message for the terminal.
func slackText(msg []byte) string {
	var m struct {
		Text   string `json:"text"`
		Blocks []struct {
			Type string `json:"type"`
			Text *struct {
				Text string `json:"text"`
			} `json:"text"`
			Fields []struct {
				Text string `json:"text"`
			} `json:"fields"`
		} `json:"blocks"`
	}
	if json.Unmarshal(msg, &m) != nil {
		return string(msg)
	}
	var b strings.Builder
	for _, bl := range m.Blocks {
		if bl.Text != nil {
			b.WriteString("  | " + strings.ReplaceAll(bl.Text.Text, "\n", "\n  | ") + "\n")
		}
		for _, f := range bl.Fields {
			b.WriteString("  | " + strings.ReplaceAll(f.Text, "\n", "\n  | ") + "\n")
		}
	}
	if b.Len() == 0 {
		return m.Text
	}
	return b.String()
}

// writeRunPage writes a run's dashboard page as a self-contained HTML file.
func writeRunPage(ctx context.Context, a *App, path string, runID int64) error {
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

func copyDemoSuites(dst string) error {
	return fs.WalkDir(suites.FS, ".", func(path string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		target := filepath.Join(dst, path)
		if d.IsDir() {
			return os.MkdirAll(target, 0o755)
		}
		b, err := fs.ReadFile(suites.FS, path)
		if err != nil {
			return fmt.Errorf("read embedded suite %s: %w", path, err)
		}
		return os.WriteFile(target, b, 0o644)
	})
}
