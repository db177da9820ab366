package bench

import (
	"bytes"
	"context"
	"path/filepath"
	"runtime"
	"sync/atomic"
	"testing"

	"github.com/driftwatch/driftwatch/cli"
	"github.com/driftwatch/driftwatch/eval"
	"github.com/driftwatch/driftwatch/eval/yamlsuite"
	"github.com/driftwatch/driftwatch/provider/openai"
	"github.com/driftwatch/driftwatch/sim"
	"github.com/driftwatch/driftwatch/storage/storagetest"
)

// Allocation baselines per sample, recorded on go1.26 (see BENCHMARKS.md).
// The guards fail only when a figure more than doubles: they catch a
// per-sample buffer, template compilation or check compilation creeping
// into the hot path, not timing noise. Lower a baseline when an
// optimisation lands; raise it only with a reason in the commit.
const (
	allocsRunnerBaseline   = 20  // eval.Run + YAML case + contains check, fake target
	allocsClientBaseline   = 140 // openai.Client.Complete + the in-process simulator's handler
	allocsEndToEndBaseline = 300 // driftwatch run: runner, client, simulator, sink, writer, analysis
	allocsGuardFactor      = 2
	allocsGuardCases       = 500
)

func startSim(tb testing.TB) string {
	tb.Helper()
	cfg, err := sim.LoadConfig("scenario-0ms.yaml")
	if err != nil {
		tb.Fatal(err)
	}
	s, err := sim.New(cfg)
	if err != nil {
		tb.Fatal(err)
	}
	url, stop, err := s.Start(context.Background(), "127.0.0.1:0")
	if err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(func() { _ = stop(context.Background()) })
	return url
}

func loadSuite(tb testing.TB, n int) *yamlsuite.Suite {
	tb.Helper()
	dir := tb.TempDir()
	if err := WriteSuite(dir, "bench", n); err != nil {
		tb.Fatal(err)
	}
	s, err := yamlsuite.Load(filepath.Join(dir, "bench.yaml"), yamlsuite.Options{})
	if err != nil {
		tb.Fatal(err)
	}
	return s
}

func guard(t *testing.T, what string, perSample, baseline float64) {
	t.Helper()
	if raceEnabled {
		// The race detector's instrumentation allocates; the guard's
		// baselines are for normal builds.
		t.Logf("%s: %.1f allocs per sample under -race (not compared)", what, perSample)
		return
	}
	t.Logf("%s: %.1f allocs per sample (baseline %.0f)", what, perSample, baseline)
	if perSample > allocsGuardFactor*baseline {
		t.Fatalf("%s: %.1f allocs per sample, more than %dx the baseline of %.0f", what, perSample, allocsGuardFactor, baseline)
	}
}

func TestAllocsPerSampleRunner(t *testing.T) {
	s := loadSuite(t, allocsGuardCases)
	target := eval.TargetFunc(func(context.Context, *eval.Request) (*eval.Response, error) {
		return &eval.Response{Text: "After checking, I get 1321.", FinishReason: "stop",
			Usage: eval.Usage{InputTokens: 8, OutputTokens: 7}}, nil
	})
	var sink atomic.Int64
	allocs := testing.AllocsPerRun(3, func() {
		_, err := eval.Run(context.Background(), eval.RunParams{Suite: s, Target: target, Concurrency: 8,
			Sink: func(eval.SampleResult) error { sink.Add(1); return nil }})
		if err != nil {
			t.Fatal(err)
		}
	})
	guard(t, "runner", allocs/allocsGuardCases, allocsRunnerBaseline)
}

func TestAllocsPerSampleClient(t *testing.T) {
	url := startSim(t)
	c, err := openai.New(openai.Config{BaseURL: url + "/v1", Model: "bench-gpt", APIKey: "bench"}, nil)
	if err != nil {
		t.Fatal(err)
	}
	req := &eval.Request{Messages: []eval.Message{{Role: "user", Content: "What is 341 + 980?"}}, Params: eval.Params{MaxTokens: 64}}
	ctx := context.Background()
	if _, err := c.Complete(ctx, req); err != nil { // warm the connection pool
		t.Fatal(err)
	}
	allocs := testing.AllocsPerRun(200, func() {
		if _, err := c.Complete(ctx, req); err != nil {
			t.Fatal(err)
		}
	})
	guard(t, "openai client + simulator", allocs, allocsClientBaseline)
}

func TestAllocsPerSampleEndToEnd(t *testing.T) {
	if testing.Short() {
		t.Skip("needs PostgreSQL")
	}
	dir := t.TempDir()
	if err := WriteSuite(dir, "bench", allocsGuardCases); err != nil {
		t.Fatal(err)
	}
	if err := WriteConfig(filepath.Join(dir, "driftwatch.yaml"), 32, "bench.yaml"); err != nil {
		t.Fatal(err)
	}
	t.Setenv("SIM_URL", startSim(t)+"/v1")
	t.Setenv("DATABASE_URL", storagetest.NewDatabaseURL(t))
	args := []string{"--config", filepath.Join(dir, "driftwatch.yaml"), "run", "--no-progress"}
	var out bytes.Buffer
	run := func() {
		out.Reset()
		if code := cli.Main(context.Background(), args, eval.NewRegistry(), &out, &out); code > 2 {
			t.Fatalf("driftwatch run: exit %d: %s", code, out.String())
		}
	}
	run() // the baseline run; the measured one also compares with it
	var before, after runtime.MemStats
	runtime.ReadMemStats(&before)
	run()
	runtime.ReadMemStats(&after)
	guard(t, "driftwatch run end to end", float64(after.Mallocs-before.Mallocs)/allocsGuardCases, allocsEndToEndBaseline)
}
