package jobs_test

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/riverqueue/river"
	"github.com/riverqueue/river/riverdriver/riverpgxv5"
	"github.com/stretchr/testify/require"
	"go.uber.org/goleak"

	"github.com/driftwatch/driftwatch/app"
	"github.com/driftwatch/driftwatch/cli"
	"github.com/driftwatch/driftwatch/config"
	"github.com/driftwatch/driftwatch/jobs"
	"github.com/driftwatch/driftwatch/sim"
	"github.com/driftwatch/driftwatch/storage"
	"github.com/driftwatch/driftwatch/storage/storagetest"
)

// envWorkerConfig makes the test binary a `driftwatch worker` (the fault
// test re-executes itself so it can SIGKILL a worker process).
const envWorkerConfig = "DRIFTWATCH_TEST_WORKER_CONFIG"

// envWorkerArgs adds (space-separated) flags to the worker's, which
// override its defaults below.
const envWorkerArgs = "DRIFTWATCH_TEST_WORKER_ARGS"

// envMainArgs makes the test binary run `driftwatch` with these
// (space-separated) arguments, in the directory the test chose.
const envMainArgs = "DRIFTWATCH_TEST_MAIN_ARGS"

func TestMain(m *testing.M) {
	if args := os.Getenv(envMainArgs); args != "" {
		os.Exit(cli.Main(context.Background(), strings.Fields(args), nil, os.Stdout, os.Stderr))
	}
	if cfg := os.Getenv(envWorkerConfig); cfg != "" {
		args := []string{"worker", "--config", cfg, "--batch-size", "10",
			"--batch-timeout", "2s", "--rescue-after", "3s", "--soft-stop-timeout", "1s"}
		args = append(args, strings.Fields(os.Getenv(envWorkerArgs))...)
		os.Exit(cli.Main(context.Background(), args, nil, os.Stdout, os.Stderr))
	}
	goleak.VerifyTestMain(m,
		goleak.IgnoreTopFunction("github.com/jackc/pgx/v5/pgxpool.(*Pool).backgroundHealthCheck"),
		goleak.IgnoreTopFunction("net/http.(*persistConn).readLoop"),
		goleak.IgnoreTopFunction("net/http.(*persistConn).writeLoop"),
		goleak.IgnoreTopFunction("internal/poll.runtime_pollWait"))
}

const suiteYAML = `name: arith
samples: %d
params: {temperature: 0.7, max_tokens: 64}
prompt: "What is {{.a}} + {{.b}}?"
dataset: arith.jsonl
checks:
  - type: regex
    value: '(^|[^0-9-]){{.answer}}([^0-9]|$)'
`

type testEnv struct {
	dir, cfgPath, dbURL string
	sim                 *sim.Server
	st                  *storage.Store
	cases, k            int
}

type envOpts struct {
	cases, k  int
	latency   time.Duration
	schedules string
	target    string
	// extra is top-level config (max_cost_usd, prices, ...).
	extra string
	// dbURL is the database; default a fresh test database.
	dbURL string
	// errors are the simulator's injected failures.
	errors sim.Errors
	// updates are the simulated model's silent updates.
	updates []sim.Update
	// deterministic gives every sample of a case the same output.
	deterministic bool
}

func setup(t testing.TB, o envOpts) *testEnv {
	t.Helper()
	e := &testEnv{dir: t.TempDir(), dbURL: o.dbURL, cases: o.cases, k: o.k}
	if e.dbURL == "" {
		e.dbURL = storagetest.NewDatabaseURL(t)
	}
	mixture := []sim.Component{{Weight: 0.7, P: 0.95}, {Weight: 0.3, P: 0.1}}
	srv, err := sim.New(sim.Config{Seed: 5, Models: []sim.Model{{Name: "sim-gpt",
		Profile: sim.Profile{Seed: 1, Mixture: mixture, Latency: sim.Latency{Fixed: sim.Duration(o.latency)}, Errors: o.errors,
			Deterministic: o.deterministic},
		Updates: o.updates}}})
	require.NoError(t, err)
	ctx, cancel := context.WithCancel(context.Background())
	url, stop, err := srv.Start(ctx, "127.0.0.1:0")
	require.NoError(t, err)
	t.Cleanup(func() {
		cancel()
		sctx, c2 := context.WithTimeout(context.Background(), 5*time.Second)
		defer c2()
		_ = stop(sctx)
	})
	e.sim = srv
	suites := filepath.Join(e.dir, "suites")
	require.NoError(t, os.MkdirAll(suites, 0o755))
	require.NoError(t, os.WriteFile(filepath.Join(suites, "arith.yaml"), []byte(fmt.Sprintf(suiteYAML, o.k)), 0o644))
	var b bytes.Buffer
	for i := 0; i < o.cases; i++ {
		a, c := 100+7*i, 13+3*i
		fmt.Fprintf(&b, `{"id":"c%04d","a":%d,"b":%d,"answer":"%d"}`+"\n", i, a, c, a+c)
	}
	require.NoError(t, os.WriteFile(filepath.Join(suites, "arith.jsonl"), b.Bytes(), 0o644))
	cfg := fmt.Sprintf(`project: default
database_url: %q
targets:
  - name: gpt
    provider: openai
    base_url: %s/v1
    model: sim-gpt
    api_key: sk-test
    concurrency: 8
    retries: 0
%s
%s
suites: [suites/]
schedules:
%s
`, e.dbURL, url, o.target, o.extra, o.schedules)
	e.cfgPath = filepath.Join(e.dir, "driftwatch.yaml")
	require.NoError(t, os.WriteFile(e.cfgPath, []byte(cfg), 0o600))
	e.st, err = storage.Open(context.Background(), e.dbURL, storage.WithMaxConns(4))
	require.NoError(t, err)
	t.Cleanup(e.st.Close)
	return e
}

// serve runs an in-process serve/worker until the test ends.
func (e *testEnv) serve(t *testing.T, o app.ServeOptions) {
	t.Helper()
	serveConfig(t, e.cfgPath, nil, o)
}

// serveConfig runs an in-process serve/worker on the config at path until
// the test ends, logging to logs if it is not nil.
func serveConfig(t *testing.T, path string, logs *logBuffer, o app.ServeOptions) {
	t.Helper()
	cfg, err := config.Load(path)
	require.NoError(t, err)
	opts := app.Options{Stderr: io.Discard}
	if logs != nil {
		opts.Logger = logs.logger()
	}
	a := app.New(cfg, opts)
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- a.Serve(ctx, o) }()
	t.Cleanup(func() {
		cancel()
		select {
		case err := <-done:
			require.NoError(t, err)
		case <-time.After(30 * time.Second):
			t.Error("serve did not stop")
		}
		require.NoError(t, a.Close())
		if t.Failed() && logs != nil {
			t.Logf("log of the process on %s:\n%s", path, logs.String())
		}
	})
}

// await polls cond until it holds or the timeout passes.
func await(t testing.TB, timeout time.Duration, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(timeout)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out after %v waiting for %s", timeout, what)
		}
		time.Sleep(50 * time.Millisecond) // polling interval, not synchronisation
	}
}

func keyedRuns(t testing.TB, st *storage.Store, prefix string) []storage.KeyedRun {
	t.Helper()
	runs, err := st.ListKeyedRuns(context.Background(), prefix)
	require.NoError(t, err)
	return runs
}

// awaitSamples waits until the run whose key starts with prefix has at
// least n samples stored, and returns its id.
func awaitSamples(t testing.TB, e *testEnv, prefix string, n int) int64 {
	t.Helper()
	var runID int64
	await(t, 30*time.Second, "some samples stored", func() bool {
		runs := keyedRuns(t, e.st, prefix)
		if len(runs) == 0 {
			return false
		}
		runID = runs[0].ID
		return countSamples(t, e.st, runID) >= n
	})
	return runID
}

func countSamples(t testing.TB, st *storage.Store, runID int64) int {
	t.Helper()
	done, err := st.DoneSamples(context.Background(), runID)
	require.NoError(t, err)
	return len(done)
}

// Two serve replicas on one database, a schedule firing every 2 s: each
// firing produces exactly one run, and every run is executed once.
func TestTwoReplicasRunEachFiringOnce(t *testing.T) {
	t.Parallel()
	e := setup(t, envOpts{cases: 12, k: 2, latency: time.Millisecond, schedules: `  - {name: tick, cron: "@every 2s"}`})
	var addrs []string
	var mu sync.Mutex
	for range 2 {
		e.serve(t, app.ServeOptions{Scheduler: true, Addr: "127.0.0.1:0", BatchSize: 5,
			OnListen: func(a string) { mu.Lock(); addrs = append(addrs, "http://"+a); mu.Unlock() }})
	}

	completed := func() int {
		n := 0
		for _, r := range keyedRuns(t, e.st, "tick@") {
			if r.Status == storage.RunCompleted {
				n++
			}
		}
		return n
	}
	await(t, 40*time.Second, "three completed scheduled runs", func() bool { return completed() >= 3 })

	runs := keyedRuns(t, e.st, "tick@")
	perFire := map[string]int{}
	done := 0
	for _, r := range runs {
		fire := strings.SplitN(r.Key, "/", 2)[0]
		perFire[fire]++
		if r.Status == storage.RunCompleted {
			done++
			require.Equal(t, e.cases*e.k, countSamples(t, e.st, r.ID), "run %s", r.Key)
			require.NotEmpty(t, r.Verdict)
		}
	}
	for fire, n := range perFire {
		require.Equal(t, 1, n, "runs for firing %s", fire)
	}
	// No sample was requested twice: at most k requests per case per run.
	require.LessOrEqual(t, e.sim.Stats().MaxPerPrompt, int64(e.k*len(runs)))
	require.LessOrEqual(t, e.sim.Stats().Served, int64(e.cases*e.k*len(runs)))

	await(t, 20*time.Second, "both replicas to listen", func() bool {
		mu.Lock()
		defer mu.Unlock()
		return len(addrs) == 2
	})
	mu.Lock()
	defer mu.Unlock()
	// Either replica may have created, worked and finalised the runs (one
	// of them may have worked no batch at all): the counters are summed
	// over both.
	var started, samples float64
	watched := false // a replica that called the target exports its pacing counters
	for _, base := range addrs {
		require.Equal(t, "ok\n", get(t, base+"/healthz"))
		metrics := get(t, base+"/metrics")
		require.Contains(t, metrics, "driftwatch_runs_started_total")
		require.Contains(t, metrics, `driftwatch_queue_jobs{queue="driftwatch_control",state="completed"}`)
		m := metricValues(metrics)
		watched = watched || strings.Contains(metrics, `driftwatch_target_throttled_seconds_total{target="gpt"}`) &&
			strings.Contains(metrics, `driftwatch_target_breaker_trips_total{target="gpt"} 0`)
		started += m["driftwatch_runs_started_total"]
		samples += sumMetric(m, "driftwatch_samples_total")
	}
	require.GreaterOrEqual(t, started, float64(len(runs)))
	require.GreaterOrEqual(t, samples, float64(e.cases*e.k*done))
	require.True(t, watched, "the target's throttled time and breaker trips are exported")
}

func get(t *testing.T, url string) string {
	t.Helper()
	resp, err := http.Get(url)
	require.NoError(t, err)
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	require.NoError(t, err)
	require.Equal(t, http.StatusOK, resp.StatusCode, string(b))
	return string(b)
}

// startWorker starts `driftwatch worker` in a child process (this test
// binary, see TestMain), with flags added to the defaults there.
func startWorker(t testing.TB, cfgPath string, flags ...string) *exec.Cmd {
	t.Helper()
	cmd := exec.Command(os.Args[0], "-test.run=^$")
	cmd.Env = append(os.Environ(), envWorkerConfig+"="+cfgPath, envWorkerArgs+"="+strings.Join(flags, " "))
	var out bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &out
	require.NoError(t, cmd.Start())
	t.Cleanup(func() {
		if cmd.ProcessState == nil {
			_ = cmd.Process.Signal(syscall.SIGTERM)
			_ = cmd.Wait()
		}
		if t.Failed() {
			t.Logf("worker output:\n%s", out.String())
		}
	})
	return cmd
}

// insertRun enqueues a run job as a scheduler would, with an insert-only
// River client.
func insertRun(t testing.TB, e *testEnv, key string) {
	t.Helper()
	client, err := river.NewClient(riverpgxv5.New(e.st.Pool()), &river.Config{})
	require.NoError(t, err)
	require.NoError(t, e.st.WithAdvisoryLock(context.Background(), "driftwatch.river.migrate", func(ctx context.Context) error {
		return jobs.Migrate(ctx, e.st.Pool())
	}))
	_, err = client.Insert(context.Background(), jobs.RunArgs{Key: key, Suite: "arith", Target: "gpt", FireTime: time.Now().UTC()}, nil)
	require.NoError(t, err)
}

// busySessions counts the sessions on e's database, other than the
// caller's, that are running a statement or are in a transaction.
func busySessions(t testing.TB, e *testEnv) int {
	t.Helper()
	var n int
	require.NoError(t, e.st.Pool().QueryRow(context.Background(), `SELECT count(*) FROM pg_stat_activity
		WHERE datname = current_database() AND pid <> pg_backend_pid() AND backend_type = 'client backend'
		AND state IS DISTINCT FROM 'idle'`).Scan(&n))
	return n
}

// A worker SIGKILLed in the middle of a run: a restarted worker completes
// it, no stored sample is requested again, and the verdict is the one an
// uninterrupted run gets.
func TestKilledWorkerLosesNothing(t *testing.T) {
	t.Parallel()
	const cases, k = 200, 3
	e := setup(t, envOpts{cases: cases, k: k, latency: 5 * time.Millisecond})
	// Past half the run the model's answers wait until the kill is done:
	// the worker dies in the middle of the run however fast it goes.
	release := gateSimAfter(t, e, cases*k/2)
	defer release()
	insertRun(t, e, "manual@kill/arith/gpt")

	// The gated batches must not time out before the kill: each failed
	// attempt would push their retry after the restart further away.
	w1 := startWorker(t, e.cfgPath, "--batch-timeout", "10m", "--rescue-after", "11m")
	runID := awaitSamples(t, e, "manual@kill", cases*k/4)
	require.NoError(t, w1.Process.Signal(syscall.SIGKILL))
	_ = w1.Wait()
	await(t, 30*time.Second, "in-flight simulator requests to end", func() bool { return e.sim.Stats().InFlight == 0 })
	// A statement the killed worker sent just before the kill can still
	// commit: count once its sessions are done.
	await(t, 30*time.Second, "the killed worker's statements to end", func() bool { return busySessions(t, e) == 0 })
	storedAtKill := countSamples(t, e.st, runID)
	servedAtKill := e.sim.Stats().Served
	require.Less(t, storedAtKill, cases*k, "the worker was killed before the run finished")

	release()
	startWorker(t, e.cfgPath)
	// The killed worker's jobs are rescued by the new leader (elected once
	// the dead one's lease expires) on River's rescuer round, every 30 s:
	// the run can take over 30 s to complete before any load.
	await(t, 120*time.Second, "the run to complete", func() bool {
		return keyedRuns(t, e.st, "manual@kill")[0].Status == storage.RunCompleted
	})
	require.Equal(t, cases*k, countSamples(t, e.st, runID))
	st := e.sim.Stats()
	// After the restart only samples not stored at the kill were
	// requested: none of the stored ones again, nor those the killed
	// worker had received (its journal stored them).
	require.LessOrEqual(t, st.Served-servedAtKill, int64(cases*k-storedAtKill))
	// Lost at the kill: at most the in-flight and unflushed samples.
	require.LessOrEqual(t, st.Served, int64(cases*k+64))
	killed := keyedRuns(t, e.st, "manual@kill")[0]

	// The same suite, uninterrupted, on a fresh database and simulator.
	ref := setup(t, envOpts{cases: cases, k: k, latency: time.Millisecond})
	insertRun(t, ref, "manual@ref/arith/gpt")
	ref.serve(t, app.ServeOptions{BatchSize: 10})
	await(t, 60*time.Second, "the reference run to complete", func() bool {
		runs := keyedRuns(t, ref.st, "manual@ref")
		return len(runs) == 1 && runs[0].Status == storage.RunCompleted
	})
	require.Equal(t, keyedRuns(t, ref.st, "manual@ref")[0].Verdict, killed.Verdict)
	require.Equal(t, int64(k), ref.sim.Stats().MaxPerPrompt)
}
