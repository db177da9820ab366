package app

import (
	"cmp"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"net"
	"net/http"
	"slices"
	"sync"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/riverqueue/river"
	"github.com/riverqueue/river/riverdriver/riverpgxv5"
	"github.com/riverqueue/river/rivertype"

	"github.com/driftwatch/driftwatch/alert"
	"github.com/driftwatch/driftwatch/config"
	"github.com/driftwatch/driftwatch/drift"
	"github.com/driftwatch/driftwatch/eval"
	"github.com/driftwatch/driftwatch/jobs"
	"github.com/driftwatch/driftwatch/provider/targets"
	"github.com/driftwatch/driftwatch/report"
	"github.com/driftwatch/driftwatch/run"
	"github.com/driftwatch/driftwatch/schedule"
	"github.com/driftwatch/driftwatch/storage"
	"github.com/driftwatch/driftwatch/web"
)

// Serve defaults (ServeOptions).
const (
	BatchSizeDefault       = 100
	BatchWorkersDefault    = 2
	BatchTimeoutDefault    = 30 * time.Minute
	ServeSoftStopDefault   = 30 * time.Second
	RescueAfterDefault     = time.Hour
	ControlWorkersDefault  = 4
	ConfigSnoozeDefault    = 30 * time.Second
	serveShutdownHardLimit = 30 * time.Second
)

// ServeOptions configure Serve. Zero means the default.
type ServeOptions struct {
	// Addr is the HTTP listen address (dashboard, /healthz, /metrics).
	// Empty: no HTTP server (worker).
	Addr string
	// Scheduler fires the config's schedules (serve); false runs only
	// workers (worker).
	Scheduler bool
	// BatchSize is the number of cases per batch job. Default 100.
	BatchSize int
	// BatchWorkers is how many batch jobs this process runs at once. Each
	// runs up to the target's concurrency samples, and all batches of a
	// target in this process share that bound. Default 2.
	BatchWorkers int
	// BatchTimeout bounds one attempt of a batch job. Default 30m.
	BatchTimeout time.Duration
	// RescueAfter is when a job left running by a dead process is retried;
	// it must exceed BatchTimeout. Default 1h (River's).
	RescueAfter time.Duration
	// SoftStopTimeout is how long in-flight samples may finish on shutdown
	// before they are cancelled (and re-run later by the retried batch).
	// Default 30s.
	SoftStopTimeout time.Duration
	// ConfigSnooze is how long a job that this process's config cannot
	// run (its schedule, suite or target is missing or fails to load) is
	// put back before any process tries it again; it grows with every
	// snooze, up to ten times, plus a random part. Default 30s.
	ConfigSnooze time.Duration
	// Clock drives the scheduler. Default the wall clock.
	Clock schedule.Clock
	// OnListen, if set, receives the HTTP server's bound address.
	OnListen func(addr string)
}

func (o ServeOptions) withDefaults() ServeOptions {
	o.BatchSize = cmp.Or(o.BatchSize, BatchSizeDefault)
	o.BatchWorkers = cmp.Or(o.BatchWorkers, BatchWorkersDefault)
	o.BatchTimeout = cmp.Or(o.BatchTimeout, BatchTimeoutDefault)
	o.RescueAfter = cmp.Or(o.RescueAfter, max(RescueAfterDefault, o.BatchTimeout+time.Minute))
	o.SoftStopTimeout = cmp.Or(o.SoftStopTimeout, ServeSoftStopDefault)
	o.ConfigSnooze = cmp.Or(o.ConfigSnooze, ConfigSnoozeDefault)
	return o
}

// node is one serve or worker process: a River client with Driftwatch's
// workers, optionally the scheduler and the HTTP server.
type node struct {
	a       *App
	project string
	queues  jobs.ProjectQueues
	st      *storage.Store
	opts    ServeOptions
	client  *river.Client[pgx.Tx]
	metrics *metrics

	softStop     chan struct{}
	softStopOnce sync.Once

	mu      sync.Mutex
	targets map[string]*nodeTarget

	suites suiteCache
	loadMu sync.Mutex // serialises suite loads (see runSuite)

	// The parts Serve starts and stops besides the client: the scheduler
	// (serve only), the alert dispatcher, and the HTTP server and its
	// listener (with an address only).
	sched      *schedule.Scheduler
	dispatcher *alert.Dispatcher
	srv        *http.Server
	ln         net.Listener
	srvWG      sync.WaitGroup // the HTTP server's goroutine
	srvErr     chan error     // the HTTP server's failure, which ends serving
}

// nodeTarget is a target as this process calls it: one concurrency bound
// shared by all its batches, and the cluster-wide rate limit.
type nodeTarget struct {
	ref *targets.Target
	run *run.Target
}

// migrateRiver applies River's migrations under an advisory lock, so
// replicas starting together do not race.
func migrateRiver(ctx context.Context, st *storage.Store) error {
	return st.WithAdvisoryLock(ctx, "driftwatch.river.migrate", func(ctx context.Context) error {
		return jobs.Migrate(ctx, st.Pool())
	})
}

// Serve runs a serve (opts.Scheduler) or worker process until ctx is done,
// then shuts down in two stages: stop fetching jobs and scheduling samples,
// let in-flight samples finish up to SoftStopTimeout, then cancel them.
func (a *App) Serve(ctx context.Context, opts ServeOptions) error {
	opts = opts.withDefaults()
	n, err := a.newServeNode(ctx, opts)
	if err != nil {
		return err
	}
	// Start River with a context that our shutdown, not ctx, cancels.
	runCtx, cancelRun := context.WithCancel(context.WithoutCancel(ctx))
	defer cancelRun()
	if err := n.start(runCtx); err != nil {
		return err
	}
	a.logger.Info("serving", "scheduler", opts.Scheduler, "addr", opts.Addr)

	var serveErr error
	select {
	case <-ctx.Done():
	case serveErr = <-n.srvErr:
	}
	return n.shutdown(serveErr)
}

// newServeNode checks the config and builds, without starting them, the
// parts of a serve or worker process: River's client, the scheduler
// (serve) and, given an address, the HTTP server with its listener bound.
func (a *App) newServeNode(ctx context.Context, opts ServeOptions) (*node, error) {
	if opts.Scheduler {
		// A schedule naming an unknown suite fails now, not at 2 a.m.
		if err := a.CheckSchedules(); err != nil {
			return nil, err
		}
	}
	if opts.RescueAfter <= opts.BatchTimeout {
		return nil, fmt.Errorf("--rescue-after (%s) must exceed --batch-timeout (%s): a batch still running would be started again",
			opts.RescueAfter, opts.BatchTimeout)
	}
	st, err := a.Store(ctx)
	if err != nil {
		return nil, err
	}
	if err := migrateRiver(ctx, st); err != nil {
		return nil, err
	}
	n := &node{a: a, project: a.cfg.ProjectName(), queues: jobs.Queues(a.cfg.ProjectName()), st: st, opts: opts, softStop: make(chan struct{}), targets: map[string]*nodeTarget{},
		srvErr: make(chan error, 1)}
	n.metrics = newMetrics(st, a.logger)
	if err := n.newClient(); err != nil {
		return nil, err
	}
	if opts.Scheduler {
		if n.sched, err = n.newScheduler(); err != nil {
			return nil, err
		}
	}
	if opts.Addr != "" {
		if err := n.listen(ctx); err != nil {
			return nil, err
		}
	}
	return n, nil
}

// listen builds the HTTP server (dashboard, /healthz, /metrics) and binds
// its address; start serves it.
func (n *node) listen(ctx context.Context) error {
	h, err := n.handler(ctx)
	if err != nil {
		return err
	}
	ln, err := net.Listen("tcp", n.opts.Addr)
	if err != nil {
		return fmt.Errorf("listen on %s: %w", n.opts.Addr, err)
	}
	n.ln = ln
	n.srv = &http.Server{Handler: h, ReadHeaderTimeout: 10 * time.Second}
	web.WarnIfExposed(ctx, n.a.logger, n.opts.Addr)
	return nil
}

// start starts, under runCtx, River's client, the scheduler, the alert
// dispatcher (serve) and the HTTP server. Only a client that fails to
// start is an error: the scheduler and the dispatcher log their failures
// and the process runs without them, and an HTTP server that fails sends
// its error to n.srvErr, which ends serving.
func (n *node) start(runCtx context.Context) error {
	logger := n.a.logger
	if err := n.client.Start(runCtx); err != nil {
		if n.ln != nil {
			n.ln.Close()
		}
		return fmt.Errorf("start job client: %w", err)
	}
	if n.sched != nil {
		if err := n.sched.Start(runCtx); err != nil {
			logger.Error("start scheduler: no schedule fires in this process", "err", err)
		}
	}
	// The alert dispatcher retries undelivered alerts (also those left by
	// earlier processes) in the background.
	notifiers, nerr := n.a.alertNotifiers()
	if nerr != nil {
		logger.Warn("alert notifiers", "err", nerr)
	}
	n.dispatcher = n.a.newAlertDispatcher(n.st, notifiers)
	if n.opts.Scheduler {
		if err := n.dispatcher.Start(runCtx); err != nil {
			logger.Warn("start alert dispatcher", "err", err)
		}
	}
	if n.srv != nil {
		n.srvWG.Go(func() {
			if err := n.srv.Serve(n.ln); err != nil && !errors.Is(err, http.ErrServerClosed) {
				n.srvErr <- err
			}
		})
		if n.opts.OnListen != nil {
			n.opts.OnListen(n.ln.Addr().String())
		}
	}
	return nil
}

// shutdown stops what start started and returns every stage's error
// joined, serveErr (the HTTP server's failure, if that ended serving)
// last. Stage 1 stops firing schedules, fetching jobs and scheduling
// samples, and lets in-flight samples finish up to SoftStopTimeout; stage
// 2 cancels what is still in flight (the batches are retried). Then the
// alert dispatcher and the HTTP server stop, under their own bound.
func (n *node) shutdown(serveErr error) error {
	// Stage 1: no new firings, no new jobs, no new samples.
	stopCtx, cancelStop := context.WithTimeout(context.Background(), n.opts.SoftStopTimeout)
	defer cancelStop()
	var errs []error
	if n.sched != nil {
		errs = append(errs, n.sched.Stop(stopCtx))
	}
	n.softStopOnce.Do(func() { close(n.softStop) })
	if err := n.client.Stop(stopCtx); err != nil {
		// Stage 2: cancel what is still in flight; the batches are retried.
		hardCtx, cancelHard := context.WithTimeout(context.Background(), serveShutdownHardLimit)
		errs = append(errs, n.client.StopAndCancel(hardCtx))
		cancelHard()
	}
	// The stages above may have used up stopCtx; what follows gets its own
	// bound, so the dispatcher is always waited for before the caller
	// closes the store under it.
	hardCtx, cancelHard := context.WithTimeout(context.Background(), serveShutdownHardLimit)
	defer cancelHard()
	errs = append(errs, n.dispatcher.Stop(hardCtx))
	if n.srv != nil {
		shutCtx, cancelShut := context.WithTimeout(hardCtx, 5*time.Second)
		errs = append(errs, n.srv.Shutdown(shutCtx))
		cancelShut()
	}
	n.srvWG.Wait()
	errs = append(errs, serveErr)
	return errors.Join(errs...)
}

// controlJobTimeout bounds one attempt of a trigger, run, analysis or
// alert job. It does not follow BatchTimeout: an analysis reads the whole
// run and its history, however small the batches. A control job left
// running by a dead process is retried after the longer of this and
// RescueAfter.
const controlJobTimeout = 10 * time.Minute

// fetchPollInterval is how often a process looks for jobs that became
// available without an insert notification (retries, snoozes).
const fetchPollInterval = 500 * time.Millisecond

func (n *node) newClient() error {
	workers := river.NewWorkers()
	retried, cancelled := n.metrics.retried, n.metrics.cancelled
	control := controlJobTimeout
	river.AddWorker(workers, &jobs.Worker[jobs.TriggerArgs]{Fn: n.workTrigger, JobTimeout: control, OnRetry: retried, OnCancel: cancelled})
	river.AddWorker(workers, &jobs.Worker[jobs.RunArgs]{Fn: n.workRun, JobTimeout: control, OnRetry: retried, OnCancel: cancelled})
	river.AddWorker(workers, &jobs.Worker[jobs.BatchArgs]{Fn: n.workBatch, JobTimeout: n.opts.BatchTimeout, OnRetry: retried,
		OnCancel: cancelled})
	river.AddWorker(workers, &jobs.Worker[jobs.AnalyzeArgs]{Fn: n.workAnalyze, JobTimeout: control, OnRetry: retried, OnCancel: cancelled})
	river.AddWorker(workers, &jobs.Worker[jobs.AlertArgs]{Fn: n.workAlert, JobTimeout: control, OnRetry: retried, OnCancel: cancelled})
	client, err := river.NewClient(riverpgxv5.New(n.st.Pool()), &river.Config{
		Queues: map[string]river.QueueConfig{
			n.queues.Control: {MaxWorkers: ControlWorkersDefault},
			n.queues.Batch:   {MaxWorkers: n.opts.BatchWorkers},
		},
		Workers:              workers,
		Logger:               n.a.logger.With("component", "river"),
		JobTimeout:           n.opts.BatchTimeout, // every kind sets its own; River checks this one against RescueStuckJobsAfter
		RescueStuckJobsAfter: n.opts.RescueAfter,
		FetchPollInterval:    fetchPollInterval,
		ErrorHandler:         n.metrics,
	})
	if err != nil {
		return fmt.Errorf("job client: %w", err)
	}
	n.client = client
	return nil
}

// insert enqueues a job on this project's queues.
func (n *node) insert(ctx context.Context, args river.JobArgs) (*rivertype.JobInsertResult, error) {
	return n.client.Insert(ctx, args, n.insertOpts(args))
}

// insertMany enqueues jobs on this project's queues.
func (n *node) insertMany(ctx context.Context, args []river.JobArgs) error {
	params := make([]river.InsertManyParams, len(args))
	for i, a := range args {
		params[i] = river.InsertManyParams{Args: a, InsertOpts: n.insertOpts(a)}
	}
	_, err := n.client.InsertMany(ctx, params)
	return err
}

func (n *node) insertOpts(args river.JobArgs) *river.InsertOpts {
	if args.Kind() == jobs.KindBatch {
		return &river.InsertOpts{Queue: n.queues.Batch}
	}
	return &river.InsertOpts{Queue: n.queues.Control}
}

func (n *node) newScheduler() (*schedule.Scheduler, error) {
	var entries []schedule.Entry
	for _, sc := range n.a.cfg.Schedules {
		s, err := schedule.Parse(sc.Cron, sc.Timezone)
		if err != nil {
			return nil, fmt.Errorf("schedule %q: %w", sc.Name, err)
		}
		entries = append(entries, schedule.Entry{Name: sc.Name, Schedule: s})
	}
	return schedule.New(schedule.Config{
		Entries: entries,
		Clock:   n.opts.Clock,
		Logger:  n.a.logger,
		Fire: func(ctx context.Context, name string, at time.Time) error {
			res, err := n.insert(ctx, jobs.TriggerArgs{Project: n.project, Schedule: name, FireTime: at})
			if err == nil && !res.UniqueSkippedAsDuplicate {
				n.metrics.triggers.Inc()
			}
			return err
		},
	})
}

// target returns the named target as this process calls it.
func (n *node) target(name string) (*nodeTarget, error) {
	n.mu.Lock()
	defer n.mu.Unlock()
	if t := n.targets[name]; t != nil {
		return t, nil
	}
	refs, err := n.a.targets([]string{name})
	if err != nil {
		return nil, err
	}
	ref := refs[0]
	call := bounded(ref.Call, cmp.Or(ref.Config.Concurrency, config.ConcurrencyDefault))
	// The cluster's buckets hold every process to the configured rpm/tpm
	// and to any lower limit one process learned from the provider.
	ctl := ref.Control
	call = jobs.ClusterLimit(call, n.st, jobs.LimitConfig{Key: "target:" + n.project + "/" + name, RPM: ref.Config.RPM, TPM: ref.Config.TPM,
		Learned: func() (float64, float64) { s := ctl.Pacer.Stats(); return s.RPM, s.TPM }})
	n.metrics.watchTarget(name, ctl)
	t := &nodeTarget{ref: ref, run: ref.Run(call)}
	n.targets[name] = t
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

// loadSuite loads the named suite from this process's config, parsing only
// that suite's files, and caches it by content.
func (n *node) loadSuite(name string) (*loadedSuite, error) {
	n.metrics.suiteLoads.Inc()
	s, err := n.a.Catalog().One(name)
	if err != nil {
		return nil, err
	}
	ls := &loadedSuite{suite: s, hash: suiteHash(s)}
	n.suites.put(suiteKey(name, ls.hash), ls)
	return ls, nil
}

// runSuite returns the suite run runID started with: the content its
// snapshot's hash names, from the cache (a run's batches and analysis parse
// nothing, and an edit of the suite's files mid-run does not reach them),
// else the suite as this process's config has it now. Loads are serialised,
// so batches missing the cache together load it once.
func (n *node) runSuite(runID int64, snap run.Snapshot) (eval.Suite, error) {
	key := suiteKey(snap.Suite, snap.SuiteHash)
	if snap.SuiteHash == "" {
		key = fmt.Sprintf("%s@run:%d", snap.Suite, runID) // a run from before suite hashes
	}
	if ls := n.suites.get(key); ls != nil {
		return ls.suite, nil
	}
	n.loadMu.Lock()
	defer n.loadMu.Unlock()
	if ls := n.suites.get(key); ls != nil {
		return ls.suite, nil
	}
	ls, err := n.loadSuite(snap.Suite)
	if err != nil {
		return nil, err
	}
	if snap.SuiteHash != "" && ls.hash != snap.SuiteHash {
		// Another process started the run, or this one no longer holds the
		// content: the rest of the run uses the suite as it is now. Cases
		// whose content changed carry their new hash and are compared as
		// changed.
		n.a.logger.Warn("suite changed since the run started; its remaining batches run the suite as it is now",
			"suite", snap.Suite, "run_id", runID)
	}
	n.suites.put(key, ls) // the run's later batches use the same content
	return ls.suite, nil
}

// suiteCacheSize bounds the suites a process keeps loaded: a 100,000-case
// suite holds its rendered requests. Runs of one suite on several targets
// share an entry.
const suiteCacheSize = 8

// loadedSuite is a suite and the hash of its content.
type loadedSuite struct {
	suite eval.Suite
	hash  string
}

func suiteKey(name, hash string) string { return name + "@" + hash }

// suiteHash identifies a suite's content: its name and every case's id
// and content hash, in order.
func suiteHash(s eval.Suite) string {
	h := sha256.New()
	io.WriteString(h, s.Name())
	for _, c := range s.Cases() {
		fmt.Fprintf(h, "\x00%s\x00%s", c.ID, c.Hash)
	}
	return hex.EncodeToString(h.Sum(nil)[:16])
}

// suiteCache is a small LRU of loaded suites, safe for concurrent use.
type suiteCache struct {
	mu      sync.Mutex
	keys    []string // least recently used first
	entries map[string]*loadedSuite
}

func (c *suiteCache) get(key string) *loadedSuite {
	c.mu.Lock()
	defer c.mu.Unlock()
	ls := c.entries[key]
	if ls != nil {
		c.touch(key)
	}
	return ls
}

func (c *suiteCache) put(key string, ls *loadedSuite) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.entries == nil {
		c.entries = map[string]*loadedSuite{}
	}
	if _, ok := c.entries[key]; !ok && len(c.keys) >= suiteCacheSize {
		delete(c.entries, c.keys[0])
		c.keys = c.keys[1:]
	}
	c.entries[key] = ls
	c.touch(key)
}

// touch makes key the most recently used; c.mu is held.
func (c *suiteCache) touch(key string) {
	c.keys = slices.DeleteFunc(c.keys, func(k string) bool { return k == key })
	c.keys = append(c.keys, key)
}

// permanent marks a job that no process can ever work (its arguments or
// stored state are corrupt): River cancels it, and jobs.Worker's OnCancel
// logs it at Error. A job that only this process's config cannot run is
// not permanent: see unavailable.
func permanent(err error) error { return river.JobCancel(err) }

// unavailable hands back a job that this process cannot work because its
// config lacks (or cannot load) the job's schedule, suite or target. The job
// itself is fine: another replica, or this one once its config is fixed,
// can run it, so it is snoozed for ConfigSnooze (longer after every
// snooze, up to ten times), never cancelled. Snoozes do not use up
// attempts. The operator must fix the config, hence Error.
func (n *node) unavailable(job *rivertype.JobRow, err error) error {
	var meta struct {
		Snoozes int `json:"snoozes"`
	}
	_ = json.Unmarshal(job.Metadata, &meta) // no metadata: no snooze yet
	d := n.opts.ConfigSnooze * time.Duration(min(meta.Snoozes+1, 10))
	// Jitter of at least a fetch interval: a snooze that ends on this
	// process's next poll would hand the job back to it nearly every time,
	// and the processes that can run it would never see it.
	d += rand.N(max(d/2, fetchPollInterval))
	n.metrics.configSnoozes.WithLabelValues(job.Kind).Inc()
	n.a.logger.Error("job snoozed: this process's config cannot run it; another process may (fix or deploy the config)",
		"job_id", job.ID, "job_kind", job.Kind, "config", n.a.cfg.File, "snoozed_for", d, "snoozes", meta.Snoozes, "err", err)
	return river.JobSnooze(d)
}

func (n *node) workTrigger(ctx context.Context, job *river.Job[jobs.TriggerArgs]) error {
	args := job.Args
	i := slices.IndexFunc(n.a.cfg.Schedules, func(s config.Schedule) bool { return s.Name == args.Schedule })
	if i < 0 {
		return n.unavailable(job.JobRow, fmt.Errorf("schedule %q is not in the config", args.Schedule))
	}
	sc := n.a.cfg.Schedules[i]
	pairs, err := n.a.plan(ctx, RunParams{Suites: sc.Suites, Targets: sc.Targets})
	if err != nil {
		return n.unavailable(job.JobRow, fmt.Errorf("schedule %q: %w", sc.Name, err))
	}
	var runs []river.JobArgs
	for _, pr := range pairs {
		runs = append(runs, jobs.RunArgs{
			Key:      jobs.RunKey(n.project, sc.Name, args.FireTime, pr.suite.Name(), pr.target.Config.Name),
			Schedule: sc.Name, FireTime: args.FireTime, Suite: pr.suite.Name(), Target: pr.target.Config.Name,
			Samples: sc.Samples, Confirm: sc.Confirm || n.a.cfg.Drift.Confirm,
		})
	}
	if len(runs) == 0 {
		return nil
	}
	return n.insertMany(ctx, runs)
}

// workRun creates the run row once (found by its key on retry), checks the
// pin, records the case batches and inserts one job per batch.
func (n *node) workRun(ctx context.Context, job *river.Job[jobs.RunArgs]) error {
	args := job.Args
	ls, err := n.loadSuite(args.Suite)
	if err != nil {
		return n.unavailable(job.JobRow, err)
	}
	nt, err := n.target(args.Target)
	if err != nil {
		return n.unavailable(job.JobRow, err)
	}
	lc, s := n.a.lifecycle(), ls.suite
	r, err := lc.Start(ctx, run.Spec{Suite: s, Target: nt.run, K: n.a.explicitK(s, RunParams{Samples: args.Samples}),
		Trigger: cmp.Or(args.Trigger, storage.TriggerSchedule), Schedule: args.Schedule, Key: args.Key, SuiteHash: ls.hash,
		Seed: n.a.cfg.Drift.Seed, Confirm: args.Confirm, ConfirmOf: args.ConfirmOf})
	if err != nil {
		return err
	}
	if r.Created {
		n.metrics.runsStarted.Inc()
	}
	if r.Row.Status != storage.RunRunning {
		return nil
	}
	rep, err := lc.Preflight(ctx, r, nt.run)
	if err != nil {
		return err
	}
	if rep != nil {
		n.metrics.runsCompleted.WithLabelValues(string(drift.IdentityChanged)).Inc()
		return n.alertStopped(ctx, r.Row, rep)
	}
	var batches [][]string
	for c := range slices.Chunk(s.Cases(), n.opts.BatchSize) {
		keys := make([]string, len(c))
		for i, cs := range c {
			keys[i] = cs.ID
		}
		batches = append(batches, keys)
	}
	if err := n.st.AddRunBatches(ctx, r.Row.ID, batches); err != nil {
		return err
	}
	if len(batches) == 0 {
		_, err := n.insert(ctx, jobs.AnalyzeArgs{RunID: r.Row.ID})
		return err
	}
	batchArgs := make([]river.JobArgs, len(batches))
	for i := range batches {
		batchArgs[i] = jobs.BatchArgs{RunID: r.Row.ID, Batch: i}
	}
	return n.insertMany(ctx, batchArgs)
}

// runParts loads what a batch or the analysis of a run needs (job is the
// batch or analysis job). For a run that is no longer running it returns
// the run only: there is nothing left to do, whatever the config.
func (n *node) runParts(ctx context.Context, job *rivertype.JobRow, runID int64) (storage.Run, run.Snapshot, eval.Suite, *nodeTarget, error) {
	row, err := n.st.GetRun(ctx, runID)
	if err != nil || row.Status != storage.RunRunning {
		return row, run.Snapshot{}, nil, nil, err
	}
	snap, err := run.ReadSnapshot(row)
	if err != nil {
		return row, snap, nil, nil, permanent(err)
	}
	s, err := n.runSuite(row.ID, snap)
	if err != nil {
		return row, snap, nil, nil, n.unavailable(job, fmt.Errorf("run %d: %w", runID, err))
	}
	t, err := n.target(snap.Target)
	if err != nil {
		return row, snap, nil, nil, n.unavailable(job, fmt.Errorf("run %d: %w", runID, err))
	}
	return row, snap, s, t, nil
}

// workBatch runs one batch's samples of its stage that are not stored yet.
// A retried batch (after a crash, a stop or a failed write) never
// re-requests a stored sample. The last batch of the stage to finish
// inserts the stage's analysis job.
func (n *node) workBatch(ctx context.Context, job *river.Job[jobs.BatchArgs]) error {
	args := job.Args
	row, _, s, nt, err := n.runParts(ctx, job.JobRow, args.RunID)
	if err != nil {
		return err
	}
	if row.Status != storage.RunRunning {
		return nil
	}
	keys, done, err := n.st.RunBatch(ctx, row.ID, args.Batch)
	if err != nil {
		return err
	}
	if !done {
		if err := n.executeBatch(ctx, row, s, nt, keys, args.Stage); err != nil {
			return err
		}
		// Another batch may have stopped the run (budget) while this one
		// stored its last samples.
		if err := n.refreshCostIfFinished(ctx, row.ID); err != nil {
			return err
		}
	}
	remaining, err := n.st.FinishRunBatch(ctx, row.ID, args.Batch)
	if err != nil {
		return err
	}
	if remaining == 0 {
		_, err = n.insert(ctx, jobs.AnalyzeArgs{RunID: row.ID, Stage: args.Stage})
	}
	return err
}

func (n *node) executeBatch(ctx context.Context, row storage.Run, s eval.Suite, nt *nodeTarget, keys []string, stage int) error {
	lc, t := n.a.lifecycle(), nt.run
	if nt.ref.NeedsProbe() {
		if _, err := nt.ref.ProbeIdentity(ctx); err != nil {
			n.a.logger.Warn("identity probe failed", "target", t.Name, "err", err)
		}
	}
	r, err := lc.Batch(ctx, row, keys, stage)
	if err != nil {
		return err
	}
	inBatch := make(map[string]bool, len(keys))
	for _, k := range keys {
		inBatch[k] = true
	}
	bt := *t
	if maxUSD := n.a.cfg.MaxCostUSD; maxUSD > 0 {
		// One budget per run for every batch in every process (a bucket in
		// the database), so batches together never pass the cap by more
		// than what the calls in flight cost beyond their estimates.
		bt.Call = jobs.ClusterBudget(t.Call, n.st, jobs.BudgetKey(row.ID), maxUSD, t.Estimate)
	}
	ex := lc.Execute(ctx, r, run.Exec{Suite: s, Target: &bt, Upto: r.Upto, Grace: -1, SoftStop: n.softStop, OnSample: n.metrics.observeSample,
		Skip: func(key string, _ int) bool { return !inBatch[key] }})
	bg := context.WithoutCancel(ctx)
	switch {
	case ex.WriteErr != nil:
		return fmt.Errorf("store samples of run %d: %w", row.ID, ex.WriteErr)
	case ex.CircuitOpen != "":
		// The target keeps failing: the batch is retried later (River's
		// backoff), sending nothing until then; its stored samples stay.
		return fmt.Errorf("run %d: target %s was stopped: %s", row.ID, t.Name, ex.CircuitOpen)
	case ex.PinErr != nil && !t.PinWarn:
		rep, err := lc.StopPinned(bg, row, *ex.Identity, ex.PinErr)
		if err != nil {
			return err
		}
		n.metrics.runsCompleted.WithLabelValues(string(drift.IdentityChanged)).Inc()
		return n.alertStopped(bg, row, rep)
	case ex.BudgetHit:
		rep, err := lc.StopBudget(bg, row)
		if err != nil || rep == nil {
			return err
		}
		n.metrics.runsCompleted.WithLabelValues(rep.Verdict).Inc()
		n.metrics.budgetStops.Inc()
		return n.alertStopped(bg, row, rep)
	case errors.Is(ex.RunErr, eval.ErrStopped):
		// Shutting down: hand the rest of the batch to another process
		// right away, without spending an attempt.
		return river.JobSnooze(0)
	case ctx.Err() != nil:
		return context.Cause(ctx)
	case ex.RunErr != nil:
		return fmt.Errorf("run %d: %w", row.ID, ex.RunErr)
	}
	return nil
}

// alertStopped alerts on a run that stopped before its analysis (a pin, the
// budget). A stopped confirmation run also settles its drifted parent, whose
// DRIFT then stands and is alerted on.
func (n *node) alertStopped(ctx context.Context, row storage.Run, rep *report.Report) error {
	if _, err := n.insert(ctx, jobs.AlertArgs{RunID: row.ID}); err != nil {
		return err
	}
	snap, err := run.ReadSnapshot(row)
	if err != nil || snap.ConfirmOf == 0 {
		return nil // not a confirmation run (an unreadable snapshot was caught earlier)
	}
	return n.applyConfirmation(ctx, snap.ConfirmOf, rep)
}

// refreshCostIfFinished sets the cost of a run that is no longer running
// to what its stored samples cost, which includes those a batch stored
// after the run was finished.
func (n *node) refreshCostIfFinished(ctx context.Context, runID int64) error {
	cur, err := n.st.GetRun(ctx, runID)
	if err != nil || cur.Status == storage.RunRunning {
		return err
	}
	return n.st.RefreshRunCost(ctx, runID)
}

// workAnalyze decides a stage of a run (run.Lifecycle.Advance, idempotent:
// a recorded look is not taken again): a night that goes on gets its next
// stage's batches and jobs; a finished one confirms a DRIFT or alerts.
func (n *node) workAnalyze(ctx context.Context, job *river.Job[jobs.AnalyzeArgs]) error {
	row, snap, _, nt, err := n.runParts(ctx, job.JobRow, job.Args.RunID)
	if err != nil {
		return err
	}
	if row.Status != storage.RunRunning {
		return nil
	}
	rep, next, err := n.a.lifecycle().Advance(ctx, row, nt.run, job.Args.Stage)
	if err != nil {
		return err
	}
	if rep == nil {
		return n.openStage(ctx, row.ID, next)
	}
	n.metrics.runsCompleted.WithLabelValues(rep.Verdict).Inc()
	if snap.ConfirmOf != 0 {
		return n.applyConfirmation(ctx, snap.ConfirmOf, rep)
	}
	if snap.Confirm && rep.Verdict == string(drift.Drift) {
		key := fmt.Sprintf("confirm-of-run-%d", row.ID) // run ids are unique across projects
		_, err := n.insert(ctx, jobs.RunArgs{Key: key, Schedule: row.Schedule, Suite: snap.Suite, Target: snap.Target,
			Samples: row.SamplesPerCase, ConfirmOf: row.ID})
		return err
	}
	_, err = n.insert(ctx, jobs.AlertArgs{RunID: row.ID})
	return err
}

// openStage inserts the batch jobs of a run's next stage (the same case
// batches as the first stage's, storage.Store.OpenStage); a retried
// analysis inserts the same unique jobs again, which River drops.
func (n *node) openStage(ctx context.Context, runID int64, stage int) error {
	batches, err := n.st.OpenStage(ctx, runID, stage)
	if err != nil {
		return err
	}
	if len(batches) == 0 {
		_, err := n.insert(ctx, jobs.AnalyzeArgs{RunID: runID, Stage: stage})
		return err
	}
	args := make([]river.JobArgs, len(batches))
	for i, b := range batches {
		args[i] = jobs.BatchArgs{RunID: runID, Batch: b, Stage: stage}
	}
	return n.insertMany(ctx, args)
}

// applyConfirmation settles the confirmed run (run.Lifecycle.Confirm) and
// alerts on it.
func (n *node) applyConfirmation(ctx context.Context, parentID int64, crep *report.Report) error {
	if _, err := n.a.lifecycle().Confirm(ctx, parentID, crep); err != nil {
		return err
	}
	_, err := n.insert(ctx, jobs.AlertArgs{RunID: parentID})
	return err
}

// workAlert alerts on a finalised run through the alert pipeline (dedup
// makes a retried job harmless).
func (n *node) workAlert(ctx context.Context, job *river.Job[jobs.AlertArgs]) error {
	run, err := n.st.GetRun(ctx, job.Args.RunID)
	if err != nil {
		return err
	}
	if len(run.Summary) == 0 {
		return nil
	}
	var rep report.Report
	if err := json.Unmarshal(run.Summary, &rep); err != nil {
		return permanent(fmt.Errorf("run %d: decode summary: %w", run.ID, err))
	}
	if err := n.a.AlertReports(ctx, []*report.Report{&rep}); err != nil {
		n.metrics.alerts.WithLabelValues("failed").Inc()
		return err
	}
	n.metrics.alerts.WithLabelValues("sent").Inc()
	return nil
}

// handler serves /healthz, /metrics and the dashboard at "/", whose "run
// now" enqueues a run job (runNow).
func (n *node) handler(ctx context.Context) (http.Handler, error) {
	dash, err := n.a.newWeb(ctx, n.runNow)
	if err != nil {
		return nil, err
	}
	mux := http.NewServeMux()
	mux.HandleFunc("GET /healthz", func(w http.ResponseWriter, r *http.Request) {
		pctx, cancel := context.WithTimeout(r.Context(), 2*time.Second)
		defer cancel()
		if err := n.st.Ping(pctx); err != nil {
			http.Error(w, "database unreachable", http.StatusServiceUnavailable)
			return
		}
		_, _ = w.Write([]byte("ok\n"))
	})
	mux.Handle("GET /metrics", n.metrics.handler())
	mux.Handle("/", dash)
	return mux, nil
}

// dashboardSchedule is the schedule part of the key of a run started from
// the dashboard.
const dashboardSchedule = "dashboard"

// runNow starts a run of suite on target from the dashboard. It inserts the
// run job a schedule's trigger inserts, so the run takes the same path:
// batches over the cluster's workers, within the target's cluster-wide rpm
// and tpm and the run's budget, with run metrics, confirmation and alerts.
// The run key has the second the action came in, so a double submit is one
// run; while a dashboard run of the pair is going, another is refused.
func (n *node) runNow(ctx context.Context, suite, target string) error {
	if _, err := n.target(target); err != nil {
		return fmt.Errorf("%w: %v", web.ErrInvalid, err)
	}
	// A suite this config lacks is an answer, not a snoozed job. The names
	// are read without rendering any case; the run job loads the suite.
	switch ok, err := n.a.Catalog().Has(suite); {
	case err != nil:
		return fmt.Errorf("%w: %v", web.ErrInvalid, err)
	case !ok:
		return fmt.Errorf("%w: suite %q is not in %s", web.ErrInvalid, suite, n.a.cfg.File)
	}
	running, err := n.st.CountRunningKeyed(ctx, dashboardSchedule+"@", "/"+suite+"/"+target+jobs.KeySuffix(n.project))
	if err != nil {
		return err
	}
	if running > 0 {
		return fmt.Errorf("%w: a run of %s on %s started from the dashboard is still going", web.ErrBusy, suite, target)
	}
	now := time.Now().UTC().Truncate(time.Second)
	res, err := n.insert(ctx, jobs.RunArgs{Key: jobs.RunKey(n.project, dashboardSchedule, now, suite, target), FireTime: now,
		Suite: suite, Target: target, Trigger: storage.TriggerAPI, Confirm: n.a.cfg.Drift.Confirm})
	if err != nil {
		return fmt.Errorf("enqueue run of %s on %s: %w", suite, target, err)
	}
	if res.UniqueSkippedAsDuplicate {
		return fmt.Errorf("%w: a run of %s on %s was just started", web.ErrBusy, suite, target)
	}
	n.a.logger.Info("run enqueued from the dashboard", "suite", suite, "target", target, "job_id", res.Job.ID)
	return nil
}
