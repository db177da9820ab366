package bench

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/driftwatch/driftwatch/cli"
	"github.com/driftwatch/driftwatch/eval"
	"github.com/driftwatch/driftwatch/sim"
	"github.com/driftwatch/driftwatch/storage/storagetest"
)

// BenchmarkRateLimit runs `driftwatch run` in-process on BENCH_CASES cases
// (default 3,000) at concurrency 32 against a simulator that answers in
// 200 ms and enforces a rate limit with 429s and OpenAI's headers: 100
// requests/s, or 444,000 tokens/min (about 100 requests/s of the suite's
// 74 charged tokens: prompt plus max_tokens 64). Each scenario runs with the
// limit unknown to the config, then with rpm or tpm set. It reports the
// throughput as a fraction of the limit (end to end: cases or charged
// tokens over the run's wall time, start-up included), the percentage of
// requests refused and the samples lost (not stored without error).
//
//	TEST_DATABASE_URL=... go test ./bench/ -run '^$' -bench RateLimit -benchtime 1x -count 3
func BenchmarkRateLimit(b *testing.B) {
	if testing.Short() {
		b.Skip("needs PostgreSQL")
	}
	n := benchCases(b, 3000)
	const rps, tpm = 100.0, 444_000
	scenarios := []struct {
		name   string
		limit  sim.RateLimit
		config string
	}{
		{"Requests/Unknown", sim.RateLimit{RequestsPerSecond: rps}, ""},
		{"Requests/RPMSet", sim.RateLimit{RequestsPerSecond: rps}, "rpm: 6000"},
		{"Tokens/Unknown", sim.RateLimit{TokensPerMinute: tpm}, ""},
		{"Tokens/TPMSet", sim.RateLimit{TokensPerMinute: tpm}, fmt.Sprintf("tpm: %d", tpm)},
	}
	for _, sc := range scenarios {
		b.Run(sc.name, func(b *testing.B) {
			dir := b.TempDir()
			if err := WriteSuite(dir, "bench", n); err != nil {
				b.Fatal(err)
			}
			cfgPath := filepath.Join(dir, "driftwatch.yaml")
			if err := WriteConfig(cfgPath, 32, "bench.yaml"); err != nil {
				b.Fatal(err)
			}
			if sc.config != "" {
				cfg, err := os.ReadFile(cfgPath)
				if err != nil {
					b.Fatal(err)
				}
				cfg = bytes.Replace(cfg, []byte("concurrency: 32\n"), []byte("concurrency: 32\n    "+sc.config+"\n"), 1)
				if err := os.WriteFile(cfgPath, cfg, 0o644); err != nil {
					b.Fatal(err)
				}
			}
			args := []string{"--config", cfgPath, "run", "--suite", "bench", "--no-progress"}
			for b.Loop() {
				b.StopTimer()
				srv, err := sim.New(sim.Config{
					Seed: 7, MaxTrackedPrompts: -1,
					Latency:   sim.Latency{Fixed: sim.Duration(200 * time.Millisecond)},
					Models:    []sim.Model{{Name: "bench-gpt", Profile: sim.Profile{Accuracy: 1, Deterministic: true}}},
					RateLimit: sc.limit,
				})
				if err != nil {
					b.Fatal(err)
				}
				url, stop, err := srv.Start(context.Background(), "127.0.0.1:0")
				if err != nil {
					b.Fatal(err)
				}
				dbURL := storagetest.NewDatabaseURL(b)
				b.Setenv("SIM_URL", url+"/v1")
				b.Setenv("DATABASE_URL", dbURL)
				var out bytes.Buffer
				b.StartTimer()
				start := time.Now()
				code := cli.Main(context.Background(), args, eval.NewRegistry(), &out, &out)
				elapsed := time.Since(start)
				b.StopTimer()
				_ = stop(context.Background())
				if code > 2 {
					b.Fatalf("driftwatch run: exit %d: %s", code, out.String())
				}
				st := srv.Stats()
				stored := storedOK(b, dbURL)
				fraction := float64(n) / elapsed.Seconds() / rps
				if sc.limit.TokensPerMinute > 0 {
					fraction = float64(st.TokensCharged) / elapsed.Seconds() / (tpm / 60)
				}
				b.ReportMetric(fraction, "of_limit")
				b.ReportMetric(100*float64(st.RateLimited)/float64(st.Requests+st.RateLimited), "%refused")
				b.ReportMetric(float64(n-stored), "lost")
				b.ReportMetric(elapsed.Seconds(), "s/run")
				b.StartTimer()
			}
		})
	}
}

// storedOK counts the samples stored without error in the database.
func storedOK(tb testing.TB, dbURL string) int {
	tb.Helper()
	ctx := context.Background()
	conn, err := pgx.Connect(ctx, dbURL)
	if err != nil {
		tb.Fatal(err)
	}
	defer conn.Close(ctx)
	var n int
	if err := conn.QueryRow(ctx, `SELECT count(*) FROM samples WHERE error IS NULL`).Scan(&n); err != nil {
		tb.Fatal(err)
	}
	return n
}
