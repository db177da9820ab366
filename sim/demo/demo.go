// Package demo is the world of driftwatch demo: a simulated closed-API
// model that a vendor will silently update and a pinned open model that
// stays put, the config that points two targets at them, the example
// suites, and a local stand-in for a Slack incoming webhook.
package demo

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

	"github.com/driftwatch/driftwatch/report"
	"github.com/driftwatch/driftwatch/sim"
	"github.com/driftwatch/driftwatch/suites"
)

// llamaDigest is the pinned open model's (simulated) Ollama digest.
const llamaDigest = "8d1a4f3c2b5e6a7d9c0b1a2f3e4d5c6b7a8f9e0d1c2b3a4f5e6d7c8b9a0f1e2d"

// SimConfig is the demo's world: a closed-API-like model that will be
// silently updated, and a pinned open model served like Ollama that stays put.
func SimConfig() sim.Config {
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
				Identity: sim.Identity{ResolvedModel: "sim-llama:8b", Digest: llamaDigest, Quantization: "Q4_K_M", ParameterSize: "8.0B"},
				Profile:  sim.Profile{Seed: 7, Mixture: mixture, Verbosity: 0.5},
			},
		},
	}
}

// Config is the demo's config: %[1]s is the simulator's URL, %[2]s the
// Slack receiver's.
const Config = `# Written by driftwatch demo: two simulated targets on a local simulator.
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
    pin: {digest: ` + llamaDigest + `}
    params: {temperature: 0.7, max_tokens: 256}
suites:
  - suites/
alerts:
  slack: {webhook_url: "%[2]s"}
`

// StartSlackReceiver serves a local stand-in for a Slack incoming webhook
// and returns its URL and the bodies it received.
func StartSlackReceiver(ctx context.Context) (string, func() [][]byte, func(), error) {
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

// SlackText renders the text of a Block Kit message for the terminal.
func SlackText(msg []byte) string {
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

// CopySuites writes the example suites under dst.
func CopySuites(dst string) error {
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

// The demo replays two weeks of nights; the vendor's silent update lands
// before night UpdateNight. Each night's runs are backdated to that
// night, so the dashboard draws them on a real time axis.
const (
	Nights      = 14
	UpdateNight = 10
)

// NightsConfig pools the first three nights into each baseline: over
// two weeks, a single-run baseline's own sampling error is shared by every
// later comparison and can push the CUSUM of a model that did not change
// over its threshold.
const NightsConfig = "baseline: {runs: 3}\n"

// Night is what the demo does each night: run its suite on every target,
// alert on the reports, and date the night's runs back by an age.
type Night struct {
	Run      func(ctx context.Context) ([]*report.Report, error)
	Alert    func(ctx context.Context, reports []*report.Report) error
	Backdate func(ctx context.Context, runIDs []int64, by time.Duration) error
}

// Play runs the demo's nights against srv, whose sim-gpt the vendor
// silently updates before night UpdateNight; it tells the story on stdout,
// summarizes the first, the update's and the last night, alerts on every
// night after the first, and returns every night's reports, oldest first.
func Play(ctx context.Context, srv *sim.Server, night Night, stdout io.Writer, summarize func([]*report.Report)) ([][]*report.Report, error) {
	var nights [][]*report.Report
	for n := 1; n <= Nights; n++ {
		if n == UpdateNight {
			id, err := srv.Update("sim-gpt")
			if err != nil {
				return nil, err
			}
			fmt.Fprintf(stdout, "\n(The vendor silently updates sim-gpt before night %d: it now answers as %s.)\n\n", n, id.ResolvedModel)
		}
		switch n {
		case 1:
			fmt.Fprintf(stdout, "Night 1 of %d: first runs become the baselines.\n", Nights)
		case UpdateNight:
			fmt.Fprintf(stdout, "Night %d: the same suites, compared with the baselines.\n", n)
		}
		reps, err := night.Run(ctx)
		if err != nil {
			return nil, err
		}
		ids := make([]int64, len(reps))
		for i, r := range reps {
			ids[i] = r.RunID
		}
		if err := night.Backdate(ctx, ids, time.Duration(Nights-n)*24*time.Hour); err != nil {
			return nil, err
		}
		switch n {
		case 1, UpdateNight, Nights:
			summarize(reps)
		default:
			var parts []string
			for _, r := range reps {
				parts = append(parts, fmt.Sprintf("%s %s", r.Target, r.Verdict))
			}
			fmt.Fprintf(stdout, "Night %d: %s\n", n, strings.Join(parts, ", "))
		}
		if n > 1 {
			if err := night.Alert(ctx, reps); err != nil {
				return nil, err
			}
		}
		nights = append(nights, reps)
	}
	return nights, nil
}
