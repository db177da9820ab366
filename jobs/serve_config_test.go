package jobs_test

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/driftwatch/driftwatch/cli"

	"github.com/jackc/pgx/v5"
	"github.com/riverqueue/river"
	"github.com/riverqueue/river/riverdriver/riverpgxv5"
	"github.com/stretchr/testify/require"

	"github.com/driftwatch/driftwatch/app"
	"github.com/driftwatch/driftwatch/jobs"
	"github.com/driftwatch/driftwatch/storage"
	"github.com/driftwatch/driftwatch/storage/storagetest"
)

// logBuffer collects a process's log lines (slog text) for assertions.
type logBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (l *logBuffer) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.Write(p)
}

func (l *logBuffer) logger() *slog.Logger {
	return slog.New(slog.NewTextHandler(l, &slog.HandlerOptions{Level: slog.LevelDebug}))
}

// errors returns the lines logged at Error that contain every one of subs.
func (l *logBuffer) errors(subs ...string) []string {
	l.mu.Lock()
	defer l.mu.Unlock()
	var out []string
	for line := range strings.Lines(l.b.String()) {
		if !strings.Contains(line, "level=ERROR") {
			continue
		}
		all := true
		for _, s := range subs {
			all = all && strings.Contains(line, s)
		}
		if all {
			out = append(out, line)
		}
	}
	return out
}

func (l *logBuffer) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.String()
}

// inserter is an insert-only River client on e's database.
func inserter(t testing.TB, e *testEnv) *river.Client[pgx.Tx] {
	t.Helper()
	require.NoError(t, e.st.WithAdvisoryLock(context.Background(), "driftwatch.river.migrate", func(ctx context.Context) error {
		return jobs.Migrate(ctx, e.st.Pool())
	}))
	client, err := river.NewClient(riverpgxv5.New(e.st.Pool()), &river.Config{})
	require.NoError(t, err)
	return client
}

// requireNoLostJobs fails if any job was cancelled or discarded.
func requireNoLostJobs(t testing.TB, e *testEnv) {
	t.Helper()
	counts, err := e.st.QueueCounts(context.Background())
	require.NoError(t, err)
	for _, c := range counts {
		require.NotContains(t, []string{"cancelled", "discarded"}, c.State, "%d %s jobs %s", c.N, c.Queue, c.State)
	}
}

// serve and worker refuse to start without their config file: with the
// default --config missing they used to take the cluster's jobs with an
// empty config (and cancel them all).
func TestServeAndWorkerRequireConfig(t *testing.T) {
	t.Parallel()
	for _, args := range []string{"worker", "serve --addr 127.0.0.1:0"} {
		t.Run(strings.Fields(args)[0], func(t *testing.T) {
			t.Parallel()
			ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
			defer cancel()
			cmd := exec.CommandContext(ctx, os.Args[0], "-test.run=^$")
			cmd.Dir = t.TempDir() // no driftwatch.yaml here
			cmd.Env = append(os.Environ(), envMainArgs+"="+args)
			out, err := cmd.CombinedOutput()
			var exit *exec.ExitError
			require.True(t, errors.As(err, &exit), "driftwatch %s: %v\n%s", args, err, out)
			require.Equal(t, cli.ExitConfig, exit.ExitCode(), string(out))
			require.Contains(t, string(out), "config file driftwatch.yaml not found")
			entries, err := os.ReadDir(cmd.Dir)
			require.NoError(t, err)
			require.Empty(t, entries, "nothing is created without a config")
		})
	}
}

// A worker whose config lacks the schedule, the suite and the target of the
// cluster's jobs (a stale deployment) hands them back instead of cancelling
// them, and says so at Error; a process with the right config then runs
// them to completion.
func TestStaleConfigWorkerSnoozesJobs(t *testing.T) {
	t.Parallel()
	e := setup(t, envOpts{cases: 20, k: 2, latency: time.Millisecond, schedules: `  - {name: nightly, cron: "0 2 * * *"}`})
	staleDir := t.TempDir()
	require.NoError(t, os.MkdirAll(filepath.Join(staleDir, "suites"), 0o755))
	stale := filepath.Join(staleDir, "driftwatch.yaml")
	require.NoError(t, os.WriteFile(stale, fmt.Appendf(nil, `project: default
database_url: %q
targets:
  - {name: other, provider: openai, base_url: "http://127.0.0.1:1/v1", model: sim-gpt, api_key: sk-test}
suites: [suites/]
`, e.dbURL), 0o600))
	var staleLogs logBuffer
	serveConfig(t, stale, &staleLogs, app.ServeOptions{BatchSize: 5, ConfigSnooze: 100 * time.Millisecond})

	client := inserter(t, e)
	fire := time.Date(2025, 3, 1, 2, 0, 0, 0, time.UTC)
	_, err := client.Insert(context.Background(), jobs.TriggerArgs{Schedule: "nightly", FireTime: fire}, nil)
	require.NoError(t, err)
	_, err = client.Insert(context.Background(), jobs.RunArgs{Key: "manual@stale/arith/gpt", Suite: "arith", Target: "gpt", FireTime: fire}, nil)
	require.NoError(t, err)

	await(t, 20*time.Second, "the stale worker to snooze both jobs at Error", func() bool {
		return len(staleLogs.errors("job snoozed", "job_kind="+jobs.KindTrigger, `schedule \"nightly\" is not in the config`)) > 0 &&
			len(staleLogs.errors("job snoozed", "job_kind="+jobs.KindRun, `unknown suite \"arith\"`)) > 0
	})
	requireNoLostJobs(t, e)
	require.Empty(t, keyedRuns(t, e.st, ""), "the stale worker created no run")

	// The right config (the stale worker keeps running beside it). The
	// stale worker keeps taking a share of the jobs (the trigger, the run,
	// every batch) and snoozing each, up to 10 x ConfigSnooze plus jitter,
	// and River's leader only reschedules snoozed jobs every few seconds:
	// under load the run takes many rounds of that, hence the long bound.
	e.serve(t, app.ServeOptions{BatchSize: 5})
	for _, key := range []string{"manual@stale/arith/gpt", jobs.RunKey("default", "nightly", fire, "arith", "gpt")} {
		run := awaitRunDone(t, e, key, 120*time.Second)
		require.Equal(t, storage.RunCompleted, run.Status, key)
		require.Equal(t, e.cases*e.k, countSamples(t, e.st, run.ID), key)
	}
	await(t, 60*time.Second, "the alert jobs", func() bool {
		return jobsLeft(t, e, jobs.QueueControl) == 0 && jobsLeft(t, e, jobs.QueueBatch) == 0
	})
	requireNoLostJobs(t, e)
}

// Jobs that end without success are logged at Error: a job its worker
// cancels (a run whose stored config snapshot is unusable) and a job River
// discards after its last attempt. River itself logs them at Debug and Info.
func TestUnworkableJobsLoggedAtError(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	e := setup(t, envOpts{cases: 2, k: 1})
	var logs logBuffer
	serveConfig(t, e.cfgPath, &logs, app.ServeOptions{})

	suiteID, err := e.st.EnsureSuite(ctx, storagetest.ProjectID(t, e.st), "arith")
	require.NoError(t, err)
	targetID, err := e.st.EnsureTarget(ctx, storagetest.ProjectID(t, e.st), "gpt", "openai", "sim-gpt")
	require.NoError(t, err)
	run, _, err := e.st.CreateRunKeyed(ctx, "manual@corrupt/arith/gpt", storage.NewRun{SuiteID: suiteID, TargetID: targetID,
		Trigger: storage.TriggerSchedule, SamplesPerCase: 1, Config: json.RawMessage(`{}`), HarnessVersion: "test"})
	require.NoError(t, err)

	client := inserter(t, e)
	_, err = client.Insert(ctx, jobs.BatchArgs{RunID: run.ID}, nil)
	require.NoError(t, err)
	_, err = client.Insert(ctx, jobs.AlertArgs{RunID: 987654321}, &river.InsertOpts{MaxAttempts: 1})
	require.NoError(t, err)

	await(t, 20*time.Second, "both jobs at Error", func() bool {
		return len(logs.errors("job cancelled", "job_kind="+jobs.KindBatch, "no usable config snapshot")) == 1 &&
			len(logs.errors("job discarded", "job_kind="+jobs.KindAlert, "987654321")) == 1
	})
}

// A worker whose jobs would be rescued while still running (--rescue-after
// not above --batch-timeout) refuses to start with a config error.
func TestWorkerRefusesRescueBeforeBatchTimeout(t *testing.T) {
	t.Parallel()
	e := setup(t, envOpts{cases: 2, k: 1})
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	cmd := exec.CommandContext(ctx, os.Args[0], "-test.run=^$")
	cmd.Env = append(os.Environ(), envWorkerConfig+"="+e.cfgPath, envWorkerArgs+"=--batch-timeout 10m --rescue-after 5m")
	out, err := cmd.CombinedOutput()
	var exit *exec.ExitError
	require.True(t, errors.As(err, &exit), "worker: %v\n%s", err, out)
	require.Equal(t, cli.ExitConfig, exit.ExitCode(), string(out))
	require.Contains(t, string(out), "--rescue-after (5m0s) must exceed --batch-timeout (10m0s)")
}
