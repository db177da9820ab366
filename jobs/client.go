package jobs

import (
	"cmp"
	"context"
	"fmt"
	"log/slog"
	"net/http"
	"sync"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/riverqueue/river"
	"github.com/riverqueue/river/riverdriver/riverpgxv5"
	"github.com/riverqueue/river/rivertype"

	"github.com/driftwatch/driftwatch/config"
	"github.com/driftwatch/driftwatch/eval"
	"github.com/driftwatch/driftwatch/provider/targets"
	"github.com/driftwatch/driftwatch/report"
	"github.com/driftwatch/driftwatch/run"
	"github.com/driftwatch/driftwatch/storage"
	"github.com/driftwatch/driftwatch/web"
)

// Process is what the workers need from the serve or worker process that
// runs them: its config's suites and targets, and its alerting. A job whose
// schedule, suite or target the process cannot provide is snoozed for
// another process (or this one once its config is fixed).
type Process interface {
	// LoadSuite loads the named suite, parsing only that suite's files.
	LoadSuite(ctx context.Context, name string) (eval.Suite, error)
	// HasSuite reports whether the config has the named suite, without
	// loading any.
	HasSuite(name string) (bool, error)
	// Target builds the named target. The client builds each target once
	// and wraps its calls with this process's concurrency bound and the
	// cluster's rate limit.
	Target(name string) (*targets.Target, error)
	// Plan resolves a schedule's suite and target names (empty: all) into
	// the (suite, target) pairs it runs, loading the suites and building
	// the targets, so that a broken one fails here.
	Plan(ctx context.Context, suiteNames, targetNames []string) ([]Pair, error)
	// Samples is the samples per case set for suite s by samples (> 0),
	// the suite or the config, in that order; 0 when none is set, and the
	// sampling plan decides.
	Samples(s eval.Suite, samples int) int
	// AlertReports alerts on finished runs' reports.
	AlertReports(ctx context.Context, reports []*report.Report) error
}

// Pair is one (suite, target) run of a schedule.
type Pair struct {
	Suite, Target string
}

// Config configures a Client. Zero sizes and durations are not defaulted.
type Config struct {
	// Store holds the jobs (River's tables), the runs and the cluster's
	// token buckets.
	Store *storage.Store
	// Lifecycle runs the runs on Store.
	Lifecycle *run.Lifecycle
	// Logger receives the workers' and River's logs.
	Logger *slog.Logger
	// Project is the config's project: its queues and run keys.
	Project string
	// ConfigFile names the config in log lines.
	ConfigFile string
	// Schedules are the config's schedules, which trigger jobs name.
	Schedules []config.Schedule
	// Confirm is the config's drift.confirm, for every run.
	Confirm bool
	// Seed is the config's drift.seed, stored with every run.
	Seed uint64
	// MaxCostUSD caps one run's spend across all its batches; 0: no cap.
	MaxCostUSD float64
	// BatchSize is the number of cases per batch job.
	BatchSize int
	// BatchWorkers is how many batch jobs this process runs at once.
	BatchWorkers int
	// BatchTimeout bounds one attempt of a batch job.
	BatchTimeout time.Duration
	// RescueAfter is when a job left running by a dead process is retried;
	// it must exceed BatchTimeout.
	RescueAfter time.Duration
	// ConfigSnooze is how long a job that this process's config cannot run
	// is first put back (see unavailable).
	ConfigSnooze time.Duration
}

// controlWorkers is how many control jobs (trigger, run, analyze, alert) a
// process works at once.
const controlWorkers = 4

// controlJobTimeout bounds one attempt of a trigger, run, analysis or
// alert job. It does not follow BatchTimeout: an analysis reads the whole
// run and its history, however small the batches. A control job left
// running by a dead process is retried after the longer of this and
// RescueAfter.
const controlJobTimeout = 10 * time.Minute

// fetchPollInterval is how often a process looks for jobs that became
// available without an insert notification (retries, snoozes).
const fetchPollInterval = 500 * time.Millisecond

// cancelWait bounds the wait for workers to return once Stop cancels them.
const cancelWait = 30 * time.Second

// Client works one process's jobs: a River client with Driftwatch's
// workers on the project's queues, the process's targets and loaded suites,
// and its Prometheus metrics.
type Client struct {
	p       Process
	cfg     Config
	st      *storage.Store
	logger  *slog.Logger
	queues  ProjectQueues
	river   *river.Client[pgx.Tx]
	metrics *metrics

	softStop     chan struct{}
	softStopOnce sync.Once

	mu      sync.Mutex
	targets map[string]*processTarget

	suites suiteCache
	loadMu sync.Mutex // serialises suite loads (see runSuite)
}

// NewClient returns a client for p's jobs; Start starts working them.
// River's migrations must be applied (Migrate).
func NewClient(p Process, cfg Config) (*Client, error) {
	c := &Client{p: p, cfg: cfg, st: cfg.Store, logger: cfg.Logger, queues: Queues(cfg.Project),
		softStop: make(chan struct{}), targets: map[string]*processTarget{}}
	c.metrics = newMetrics(c.st, c.logger)
	workers := river.NewWorkers()
	retried, cancelled := c.metrics.retried, c.metrics.cancelled
	control := controlJobTimeout
	river.AddWorker(workers, &Worker[TriggerArgs]{Fn: c.workTrigger, JobTimeout: control, OnRetry: retried, OnCancel: cancelled})
	river.AddWorker(workers, &Worker[RunArgs]{Fn: c.workRun, JobTimeout: control, OnRetry: retried, OnCancel: cancelled})
	river.AddWorker(workers, &Worker[BatchArgs]{Fn: c.workBatch, JobTimeout: cfg.BatchTimeout, OnRetry: retried,
		OnCancel: cancelled})
	river.AddWorker(workers, &Worker[AnalyzeArgs]{Fn: c.workAnalyze, JobTimeout: control, OnRetry: retried, OnCancel: cancelled})
	river.AddWorker(workers, &Worker[AlertArgs]{Fn: c.workAlert, JobTimeout: control, OnRetry: retried, OnCancel: cancelled})
	rc, err := river.NewClient(riverpgxv5.New(c.st.Pool()), &river.Config{
		Queues: map[string]river.QueueConfig{
			c.queues.Control: {MaxWorkers: controlWorkers},
			c.queues.Batch:   {MaxWorkers: cfg.BatchWorkers},
		},
		Workers:              workers,
		Logger:               c.logger.With("component", "river"),
		JobTimeout:           cfg.BatchTimeout, // every kind sets its own; River checks this one against RescueStuckJobsAfter
		RescueStuckJobsAfter: cfg.RescueAfter,
		FetchPollInterval:    fetchPollInterval,
		ErrorHandler:         c.metrics,
	})
	if err != nil {
		return nil, fmt.Errorf("job client: %w", err)
	}
	c.river = rc
	return c, nil
}

// Start starts fetching and working jobs until Stop; ctx must outlive
// the client (its cancellation is a hard stop).
func (c *Client) Start(ctx context.Context) error {
	if err := c.river.Start(ctx); err != nil {
		return fmt.Errorf("start job client: %w", err)
	}
	return nil
}

// Stop stops fetching jobs and starting samples, and lets the samples in
// flight finish until ctx is done. Then it cancels what is still in flight
// (the batches are retried, by this process or another) and waits a
// bounded time for the workers to return.
func (c *Client) Stop(ctx context.Context) error {
	c.softStopOnce.Do(func() { close(c.softStop) })
	if err := c.river.Stop(ctx); err != nil {
		hardCtx, cancel := context.WithTimeout(context.Background(), cancelWait)
		defer cancel()
		return c.river.StopAndCancel(hardCtx)
	}
	return nil
}

// Metrics serves this process's Prometheus metrics.
func (c *Client) Metrics() http.Handler { return c.metrics.handler() }

// Fire enqueues the firing of schedule at (schedule.Config.Fire). Every
// replica fires the same schedules; one job is kept per firing.
func (c *Client) Fire(ctx context.Context, schedule string, at time.Time) error {
	res, err := c.insert(ctx, TriggerArgs{Project: c.cfg.Project, Schedule: schedule, FireTime: at})
	if err == nil && !res.UniqueSkippedAsDuplicate {
		c.metrics.triggers.Inc()
	}
	return err
}

// dashboardSchedule is the schedule part of the key of a run started from
// the dashboard.
const dashboardSchedule = "dashboard"

// RunNow starts a run of suite on target from the dashboard (web.Actions).
// It inserts the run job a schedule's trigger inserts, so the run takes the
// same path: batches over the cluster's workers, within the target's
// cluster-wide rpm and tpm and the run's budget, with run metrics,
// confirmation and alerts. The run key has the second the action came in,
// so a double submit is one run; while a dashboard run of the pair is
// going, another is refused.
func (c *Client) RunNow(ctx context.Context, suite, target string) error {
	if _, err := c.target(target); err != nil {
		return fmt.Errorf("%w: %v", web.ErrInvalid, err)
	}
	// A suite this config lacks is an answer, not a snoozed job. The names
	// are read without rendering any case; the run job loads the suite.
	switch ok, err := c.p.HasSuite(suite); {
	case err != nil:
		return fmt.Errorf("%w: %v", web.ErrInvalid, err)
	case !ok:
		return fmt.Errorf("%w: suite %q is not in %s", web.ErrInvalid, suite, c.cfg.ConfigFile)
	}
	running, err := c.st.CountRunningKeyed(ctx, dashboardSchedule+"@", "/"+suite+"/"+target+KeySuffix(c.cfg.Project))
	if err != nil {
		return err
	}
	if running > 0 {
		return fmt.Errorf("%w: a run of %s on %s started from the dashboard is still going", web.ErrBusy, suite, target)
	}
	now := time.Now().UTC().Truncate(time.Second)
	res, err := c.insert(ctx, RunArgs{Key: RunKey(c.cfg.Project, dashboardSchedule, now, suite, target), FireTime: now,
		Suite: suite, Target: target, Trigger: storage.TriggerAPI, Confirm: c.cfg.Confirm})
	if err != nil {
		return fmt.Errorf("enqueue run of %s on %s: %w", suite, target, err)
	}
	if res.UniqueSkippedAsDuplicate {
		return fmt.Errorf("%w: a run of %s on %s was just started", web.ErrBusy, suite, target)
	}
	c.logger.Info("run enqueued from the dashboard", "suite", suite, "target", target, "job_id", res.Job.ID)
	return nil
}

// insert enqueues a job on this project's queues.
func (c *Client) insert(ctx context.Context, args river.JobArgs) (*rivertype.JobInsertResult, error) {
	return c.river.Insert(ctx, args, c.insertOpts(args))
}

// insertMany enqueues jobs on this project's queues.
func (c *Client) insertMany(ctx context.Context, args []river.JobArgs) error {
	params := make([]river.InsertManyParams, len(args))
	for i, a := range args {
		params[i] = river.InsertManyParams{Args: a, InsertOpts: c.insertOpts(a)}
	}
	_, err := c.river.InsertMany(ctx, params)
	return err
}

func (c *Client) insertOpts(args river.JobArgs) *river.InsertOpts {
	if args.Kind() == KindBatch {
		return &river.InsertOpts{Queue: c.queues.Batch}
	}
	return &river.InsertOpts{Queue: c.queues.Control}
}

// processTarget is a target as this process calls it: one concurrency
// bound shared by all its batches, and the cluster-wide rate limit.
type processTarget struct {
	ref *targets.Target
	run *run.Target
}

// target returns the named target as this process calls it.
func (c *Client) target(name string) (*processTarget, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if t := c.targets[name]; t != nil {
		return t, nil
	}
	ref, err := c.p.Target(name)
	if err != nil {
		return nil, err
	}
	call := bounded(ref.Call, cmp.Or(ref.Config.Concurrency, config.ConcurrencyDefault))
	// The cluster's buckets hold every process to the configured rpm/tpm
	// and to any lower limit one process learned from the provider.
	ctl := ref.Control
	call = ClusterLimit(call, c.st, LimitConfig{Key: "target:" + c.cfg.Project + "/" + name, RPM: ref.Config.RPM, TPM: ref.Config.TPM,
		Learned: func() (float64, float64) { s := ctl.Pacer.Stats(); return s.RPM, s.TPM }})
	c.metrics.watchTarget(name, ctl)
	t := &processTarget{ref: ref, run: ref.Run(call)}
	c.targets[name] = t
	return t, nil
}

// bounded limits in-flight calls of t to limit across all batches of this
// process.
func bounded(t eval.Target, limit int) eval.Target {
	sem := make(chan struct{}, limit)
	return eval.TargetFunc(func(ctx context.Context, req *eval.Request) (*eval.Response, error) {
		select {
		case sem <- struct{}{}:
		case <-ctx.Done():
			return nil, ctx.Err()
		}
		defer func() { <-sem }()
		return t.Complete(ctx, req)
	})
}
