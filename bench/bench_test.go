package bench

import (
	"bytes"
	"context"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"

	"github.com/driftwatch/driftwatch/cli"
	"github.com/driftwatch/driftwatch/eval"
	"github.com/driftwatch/driftwatch/sim"
	"github.com/driftwatch/driftwatch/storage/storagetest"
)

// benchEnv prepares an end-to-end `driftwatch run` in-process: a suite of
// BENCH_CASES cases (default 2000) in a temporary folder, the simulator
// (BENCH_SIM_URL, e.g. a `driftwatch sim` process so its CPU stays out of
// the profile, else an in-process one in fast mode) and a fresh migrated
// database from TEST_DATABASE_URL. It returns the args for app.Main and the
// number of cases.
func benchEnv(tb testing.TB) ([]string, int) {
	tb.Helper()
	if testing.Short() {
		tb.Skip("needs PostgreSQL")
	}
	n := benchCases(tb, 2000)
	dir := tb.TempDir()
	if err := WriteSuite(dir, "bench", n); err != nil {
		tb.Fatal(err)
	}
	if err := WriteConfig(filepath.Join(dir, "driftwatch.yaml"), 32, "bench.yaml"); err != nil {
		tb.Fatal(err)
	}
	simURL := os.Getenv("BENCH_SIM_URL")
	if simURL == "" {
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
		simURL = url
	}
	tb.Setenv("SIM_URL", simURL+"/v1")
	tb.Setenv("DATABASE_URL", storagetest.NewDatabaseURL(tb))
	return []string{"--config", dir + "/driftwatch.yaml", "run", "--suite", "bench", "--no-progress"}, n
}

// benchCases is BENCH_CASES, or def when it is not set.
func benchCases(tb testing.TB, def int) int {
	tb.Helper()
	v := os.Getenv("BENCH_CASES")
	if v == "" {
		return def
	}
	n, err := strconv.Atoi(v)
	if err != nil {
		tb.Fatalf("BENCH_CASES: %v", err)
	}
	return n
}

// BenchmarkRunEndToEnd runs `driftwatch run` in-process on the benchmark
// suite: requests, checks and storage of every sample. Profile it with
//
//	go test ./bench/ -run '^$' -bench RunEndToEnd -cpuprofile cpu.out
func BenchmarkRunEndToEnd(b *testing.B) {
	args, n := benchEnv(b)
	var out bytes.Buffer
	b.ReportAllocs()
	for b.Loop() {
		out.Reset()
		if code := cli.Main(context.Background(), args, eval.NewRegistry(), &out, &out); code > 2 {
			b.Fatalf("driftwatch run: exit %d: %s", code, out.String())
		}
	}
	b.ReportMetric(float64(n*b.N)/b.Elapsed().Seconds(), "cases/s")
}

// BenchmarkDiff runs `driftwatch diff BASE CUR` in-process on two stored
// runs, named by BENCH_DIFF="CONFIG BASE_RUN CUR_RUN" (with DATABASE_URL
// and SIM_URL set as for bench/run.sh's big suite). Profile it with
//
//	BENCH_DIFF="c32-bench_big.yaml 1 2" go test ./bench/ -run '^$' -bench Diff -cpuprofile cpu.out
func BenchmarkDiff(b *testing.B) {
	spec := strings.Fields(os.Getenv("BENCH_DIFF"))
	if len(spec) != 3 {
		b.Skip(`BENCH_DIFF="CONFIG BASE_RUN CUR_RUN" not set`)
	}
	args := []string{"--config", spec[0], "diff", spec[1], spec[2]}
	var out bytes.Buffer
	b.ReportAllocs()
	for b.Loop() {
		out.Reset()
		if code := cli.Main(context.Background(), args, eval.NewRegistry(), &out, &out); code > 2 {
			b.Fatalf("driftwatch diff: exit %d: %s", code, out.String())
		}
	}
}
