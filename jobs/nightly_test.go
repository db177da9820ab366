package jobs_test

import (
	"bufio"
	"context"
	"encoding/json"
	"io"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/riverqueue/river"
	"github.com/riverqueue/river/rivertype"
	"github.com/stretchr/testify/require"

	"github.com/driftwatch/driftwatch/app"
	"github.com/driftwatch/driftwatch/config"
	"github.com/driftwatch/driftwatch/jobs"
	"github.com/driftwatch/driftwatch/report"
	"github.com/driftwatch/driftwatch/sim"
	"github.com/driftwatch/driftwatch/storage"
	"github.com/driftwatch/driftwatch/storage/pglocal"
	"github.com/driftwatch/driftwatch/storage/storagetest"
)

// startServe runs an in-process serve/worker and returns a stop function
// that cancels it (as SIGTERM does) and waits for it to return.
func (e *testEnv) startServe(t *testing.T, o app.ServeOptions) (stop func() error) {
	t.Helper()
	cfg, err := config.Load(e.cfgPath)
	require.NoError(t, err)
	a := app.New(cfg, app.Options{Stderr: io.Discard})
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- a.Serve(ctx, o) }()
	var once sync.Once
	var serveErr error
	stop = func() error {
		once.Do(func() {
			cancel()
			select {
			case serveErr = <-done:
			case <-time.After(30 * time.Second):
				serveErr = context.DeadlineExceeded
			}
			serveErr = errorsJoin(serveErr, a.Close())
		})
		return serveErr
	}
	t.Cleanup(func() { require.NoError(t, stop()) })
	return stop
}

func errorsJoin(a, b error) error {
	if a != nil {
		return a
	}
	return b
}

func runNow(t testing.TB, st *storage.Store, key string) storage.Run {
	t.Helper()
	run, err := st.RunByKey(context.Background(), key)
	require.NoError(t, err)
	return run
}

func awaitRunDone(t testing.TB, e *testEnv, key string, timeout time.Duration) storage.Run {
	t.Helper()
	var run storage.Run
	await(t, timeout, "run "+key+" to finish", func() bool {
		runs := keyedRuns(t, e.st, key)
		if len(runs) == 0 || runs[0].Status == storage.RunRunning {
			return false
		}
		run = runNow(t, e.st, runs[0].Key)
		return true
	})
	return run
}

// PostgreSQL restarted in the middle of a run (pg_ctl stop -m fast, then
// start): the run resumes when it is back and completes with every (case,
// sample) stored once; only samples in flight at the outage may be
// requested twice.
func TestRunSurvivesPostgresRestart(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	dataDir := storagetest.ClusterDir(t)
	cluster, err := pglocal.Start(ctx, pglocal.Config{DataDir: dataDir})
	if err != nil {
		t.Skipf("no local PostgreSQL binaries to run a private cluster: %v", err)
	}
	t.Cleanup(func() { _ = cluster.Stop(context.Background()) })
	const cases, k = 200, 2
	e := setup(t, envOpts{cases: cases, k: k, latency: 100 * time.Millisecond, dbURL: cluster.URL()})
	require.NoError(t, e.st.Migrate(ctx))
	insertRun(t, e, "manual@restart/arith/gpt")
	// Batches of 100 samples keep calling the model while the database is
	// down; their samples wait in the sample writer.
	e.serve(t, app.ServeOptions{BatchSize: 50, BatchTimeout: 30 * time.Second, RescueAfter: 40 * time.Second})

	runID := awaitSamples(t, e, "manual@restart", cases*k/4)
	storedAtStop := countSamples(t, e.st, runID)
	inFlight := e.sim.Stats().InFlight
	stopping := time.Now()
	require.NoError(t, cluster.Stop(ctx))
	down := time.Now()
	atStop := e.sim.Stats()
	t.Logf("pg_ctl stop took %v", down.Sub(stopping).Round(time.Millisecond))
	require.Less(t, atStop.Served, int64(cases*k), "the database went down in the middle of the run")
	time.Sleep(3 * time.Second) // the outage itself: requests go on while the database is down
	cluster, err = pglocal.Start(ctx, pglocal.Config{DataDir: dataDir})
	require.NoError(t, err)
	t.Logf("PostgreSQL down for %v; at the stop %d samples stored, %d in flight; %d served when it was down, %d at restart",
		time.Since(down).Round(time.Millisecond), storedAtStop, inFlight, atStop.Served, e.sim.Stats().Served)

	run := awaitRunDone(t, e, "manual@restart/arith/gpt", 90*time.Second)
	require.Equal(t, storage.RunCompleted, run.Status, run.VerdictReason)
	require.Equal(t, cases*k, countSamples(t, e.st, runID))
	st := e.sim.Stats()
	excess := st.Repeated(k)
	t.Logf("served %d for %d samples; requested twice: %d", st.Served, cases*k, excess)
	require.LessOrEqual(t, excess, inFlight, "only samples in flight at the outage may be requested again")
	require.Equal(t, int64(cases*k)+excess, st.Served)
}

// SIGTERM (ctx cancelled) in the middle of a run: in-flight samples finish
// and are stored, and the next process picks up the remaining batches
// without requesting any sample twice.
func TestGracefulShutdownHandsOverTheRun(t *testing.T) {
	t.Parallel()
	const cases, k = 150, 2
	// 60 ms a call: with 8 in flight the 300 samples take at least 2.2 s,
	// so the stop at a quarter of them lands in the middle of the run even
	// when a loaded machine is slow to act on the count.
	e := setup(t, envOpts{cases: cases, k: k, latency: 60 * time.Millisecond})
	insertRun(t, e, "manual@stop/arith/gpt")
	stop := e.startServe(t, app.ServeOptions{BatchSize: 10, SoftStopTimeout: 10 * time.Second})
	runID := awaitSamples(t, e, "manual@stop", cases*k/4)
	require.NoError(t, stop())
	require.Equal(t, int64(0), e.sim.Stats().InFlight, "serve returned with requests in flight")
	storedAtStop, servedAtStop := countSamples(t, e.st, runID), e.sim.Stats().Served
	require.Equal(t, int64(storedAtStop), servedAtStop, "every sample served before the stop is stored")
	require.Less(t, storedAtStop, cases*k)
	require.Equal(t, storage.RunRunning, runNow(t, e.st, "manual@stop/arith/gpt").Status)

	e.serve(t, app.ServeOptions{BatchSize: 10})
	run := awaitRunDone(t, e, "manual@stop/arith/gpt", 60*time.Second)
	require.Equal(t, storage.RunCompleted, run.Status)
	require.Equal(t, cases*k, countSamples(t, e.st, runID))
	st := e.sim.Stats()
	require.Equal(t, int64(cases*k), st.Served, "no sample requested twice")
	require.Equal(t, int64(k), st.MaxPerPrompt)
}

// max_cost_usd applies to a scheduled run across its batches: the run stops
// INCONCLUSIVE with the reason once the cap is reached, having spent no
// more than the cap, and no batch sends anything after.
func TestBudgetCapStopsJobRun(t *testing.T) {
	t.Parallel()
	const cases, k, maxUSD = 60, 2, 1.0
	// $1000 per million tokens: about $0.03 a call (estimate $0.09).
	e := setup(t, envOpts{cases: cases, k: k, latency: 5 * time.Millisecond,
		extra: "max_cost_usd: 1.0\nprices:\n  sim-gpt: {input: 1000, output: 1000}"})
	insertRun(t, e, "manual@budget/arith/gpt")
	var addr string
	var mu sync.Mutex
	e.serve(t, app.ServeOptions{BatchSize: 10, BatchWorkers: 3, Addr: "127.0.0.1:0",
		OnListen: func(a string) { mu.Lock(); addr = a; mu.Unlock() }})
	e.serve(t, app.ServeOptions{BatchSize: 10, BatchWorkers: 3})

	run := awaitRunDone(t, e, "manual@budget/arith/gpt", 30*time.Second)
	require.Equal(t, storage.RunStopped, run.Status)
	require.Equal(t, "INCONCLUSIVE", run.Verdict)
	require.Contains(t, run.VerdictReason, "budget cap of $1.00 reached")
	// The batches end; those in flight at the stop store what they were
	// paid for (and add it to the run's cost), and none sends anything
	// after. (The batch that stops the run may have stored nothing: the
	// calls that spent the budget can be other batches' in flight.)
	await(t, 20*time.Second, "the batch jobs to end", func() bool {
		return jobsLeft(t, e, "driftwatch_batch") == 0
	})
	stored := countSamples(t, e.st, run.ID)
	require.Less(t, stored, cases*k)
	require.Positive(t, stored)
	served := e.sim.Stats().Served
	require.Equal(t, int64(stored), served, "every paid call is stored")
	spent, err := e.st.RunCost(context.Background(), run.ID)
	require.NoError(t, err)
	require.LessOrEqual(t, spent, maxUSD)
	require.Greater(t, spent, maxUSD/2)
	final, err := e.st.GetRun(context.Background(), run.ID)
	require.NoError(t, err)
	require.InDelta(t, spent, final.CostUSD, 1e-9, "the run's cost counts every stored sample")

	mu.Lock()
	body := get(t, "http://"+addr+"/metrics")
	mu.Unlock()
	t.Logf("stored %d of %d samples, spent $%.4f of $%.2f", stored, cases*k, spent, maxUSD)
	require.Contains(t, body, "driftwatch_runs_budget_stopped_total")
	// The stopped run is alerted on, as `driftwatch run` does.
	await(t, 20*time.Second, "the alert job", func() bool { return completedJobs(t, e, jobs.KindAlert) == 1 })
}

// completedJobs counts the completed jobs of a kind.
func completedJobs(t testing.TB, e *testEnv, kind string) int {
	t.Helper()
	res, err := inserter(t, e).JobList(context.Background(),
		river.NewJobListParams().Kinds(kind).States(rivertype.JobStateCompleted).First(100))
	require.NoError(t, err)
	return len(res.Jobs)
}

// jobsLeft counts jobs of a queue that are not finalised.
func jobsLeft(t testing.TB, e *testEnv, queue string) int64 {
	t.Helper()
	counts, err := e.st.QueueCounts(context.Background())
	require.NoError(t, err)
	var n int64
	for _, c := range counts {
		if c.Queue == queue && c.State != "completed" && c.State != "cancelled" && c.State != "discarded" {
			n += c.N
		}
	}
	return n
}

func storedReport(t testing.TB, run storage.Run) report.Report {
	t.Helper()
	var rep report.Report
	require.NoError(t, json.Unmarshal(run.Summary, &rep))
	return rep
}

// pin: warn in the job path: the run completes and the identity change is a
// finding of the stored report; a strict pin stops the run.
func TestPinInJobPath(t *testing.T) {
	t.Parallel()
	t.Run("Warn", func(t *testing.T) {
		t.Parallel()
		e := setup(t, envOpts{cases: 30, k: 2, latency: time.Millisecond,
			target: "    pin: {model: sim-gpt-2025-01-01, mode: warn}"})
		insertRun(t, e, "manual@warn/arith/gpt")
		e.serve(t, app.ServeOptions{BatchSize: 10})
		run := awaitRunDone(t, e, "manual@warn/arith/gpt", 30*time.Second)
		require.Equal(t, storage.RunCompleted, run.Status)
		require.Equal(t, 60, countSamples(t, e.st, run.ID))
		rep := storedReport(t, run)
		require.True(t, rep.IdentityChanged)
		var found bool
		for _, f := range rep.Findings {
			if f.Metric == "identity" && strings.Contains(f.Reason, "pin (warn)") && strings.Contains(f.Reason, "sim-gpt-2025-01-01") {
				found = true
			}
		}
		require.True(t, found, "identity finding in %+v", rep.Findings)
	})
	t.Run("Strict", func(t *testing.T) {
		t.Parallel()
		const cases, k = 100, 2
		e := setup(t, envOpts{cases: cases, k: k, latency: 5 * time.Millisecond,
			target: "    pin: {model: sim-gpt-2025-01-01}"})
		insertRun(t, e, "manual@strict/arith/gpt")
		e.serve(t, app.ServeOptions{BatchSize: 10})
		run := awaitRunDone(t, e, "manual@strict/arith/gpt", 30*time.Second)
		require.Equal(t, storage.RunFailed, run.Status)
		require.Equal(t, "IDENTITY_CHANGED", run.Verdict)
		rep := storedReport(t, run)
		require.True(t, rep.IdentityChanged)
		require.True(t, rep.PinViolated)
		await(t, 20*time.Second, "the remaining batch jobs to end", func() bool {
			return jobsLeft(t, e, "driftwatch_batch") == 0
		})
		require.Less(t, e.sim.Stats().Served, int64(cases*k), "the run stopped early")
	})
}

// metricValues parses a Prometheus text exposition into "name{labels}" →
// value.
func metricValues(body string) map[string]float64 {
	out := map[string]float64{}
	sc := bufio.NewScanner(strings.NewReader(body))
	for sc.Scan() {
		line := sc.Text()
		if line == "" || strings.HasPrefix(line, "#") {
			continue
		}
		i := strings.LastIndexByte(line, ' ')
		v, err := strconv.ParseFloat(line[i+1:], 64)
		if err == nil {
			out[line[:i]] = v
		}
	}
	return out
}

// metricsAfterAlert polls the /metrics of the process at base until it has
// worked an alert job, and returns them.
func metricsAfterAlert(t *testing.T, base string) map[string]float64 {
	t.Helper()
	var m map[string]float64
	await(t, 20*time.Second, "the alert job", func() bool {
		m = metricValues(get(t, base+"/metrics"))
		return sumMetric(m, "driftwatch_alert_jobs_total") >= 1
	})
	return m
}

// sumMetric sums a metric's series.
func sumMetric(m map[string]float64, name string) float64 {
	var s float64
	for k, v := range m {
		if k == name || strings.HasPrefix(k, name+"{") {
			s += v
		}
	}
	return s
}

// /metrics after a scheduled run counts runs by verdict, samples by
// outcome, errors by kind, alerts and the queue depth.
func TestMetricsAfterScheduledRun(t *testing.T) {
	t.Parallel()
	const cases, k = 40, 2
	e := setup(t, envOpts{cases: cases, k: k, latency: time.Millisecond, schedules: `  - {name: nightly, cron: "@every 1h"}`,
		errors: sim.Errors{Server: 0.1}})
	var addr string
	var mu sync.Mutex
	clock := newStepClock(time.Date(2025, 1, 1, 0, 0, 0, 0, time.UTC))
	e.serve(t, app.ServeOptions{Scheduler: true, Addr: "127.0.0.1:0", BatchSize: 10, Clock: clock,
		OnListen: func(a string) { mu.Lock(); addr = a; mu.Unlock() }})
	run := awaitRunDone(t, e, "nightly@", 30*time.Second)
	require.Equal(t, storage.RunCompleted, run.Status)
	mu.Lock()
	base := "http://" + addr
	mu.Unlock()
	m := metricsAfterAlert(t, base)
	require.Equal(t, 1.0, m["driftwatch_schedule_triggers_total"])
	require.Equal(t, 1.0, m["driftwatch_runs_started_total"])
	require.Equal(t, 1.0, m[`driftwatch_runs_completed_total{verdict="`+run.Verdict+`"}`])
	require.Equal(t, float64(cases*k), sumMetric(m, "driftwatch_samples_total"))
	errored := m[`driftwatch_samples_total{outcome="errored"}`]
	require.Positive(t, errored)
	require.Equal(t, errored, sumMetric(m, "driftwatch_errors_total"))
	require.Equal(t, 1.0, m[`driftwatch_alert_jobs_total{result="sent"}`])
	// River records a job's completion asynchronously (its completer
	// batches them), so the last batch jobs can still read "running" when
	// the run and its alert are done: poll until all four are completed.
	const completed = `driftwatch_queue_jobs{queue="driftwatch_batch",state="completed"}`
	await(t, 20*time.Second, "four completed batch jobs", func() bool {
		m = metricValues(get(t, base+"/metrics"))
		return m[completed] == float64(cases/10)
	})
	require.Equal(t, float64(cases/10), m[completed])
}

// onceClock is a schedule clock whose first timer fires at once (moving
// Now to the timer's end) and whose later timers never fire: exactly one
// firing, without waiting for the schedule.
type onceClock struct {
	mu    sync.Mutex
	now   time.Time
	fired bool
}

func newStepClock(t0 time.Time) *onceClock { return &onceClock{now: t0} }

func (c *onceClock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.now
}

func (c *onceClock) After(d time.Duration) <-chan time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.fired {
		return nil
	}
	c.fired = true
	c.now = c.now.Add(d)
	ch := make(chan time.Time, 1)
	ch <- c.now
	return ch
}
