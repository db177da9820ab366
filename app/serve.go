package app

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"sync"
	"time"

	"github.com/driftwatch/driftwatch/alert"
	"github.com/driftwatch/driftwatch/alert/notify"
	"github.com/driftwatch/driftwatch/eval"
	"github.com/driftwatch/driftwatch/jobs"
	"github.com/driftwatch/driftwatch/provider/targets"
	"github.com/driftwatch/driftwatch/report"
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

// node is one serve or worker process: the job client (jobs.Client),
// optionally the scheduler and the HTTP server.
type node struct {
	a    *App
	st   *storage.Store
	opts ServeOptions
	jobs *jobs.Client

	// The parts Serve starts and stops besides the jobs: the scheduler
	// (serve only), the alert dispatcher, and the HTTP server and its
	// listener (with an address only).
	sched      *schedule.Scheduler
	dispatcher *alert.Dispatcher
	srv        *http.Server
	ln         net.Listener
	srvWG      sync.WaitGroup // the HTTP server's goroutine
	srvErr     chan error     // the HTTP server's failure, which ends serving
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
	// Start the parts with a context that our shutdown, not ctx, cancels.
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
// parts of a serve or worker process: the job client, the scheduler
// (serve) and, given an address, the HTTP server with its listener bound.
func (a *App) newServeNode(ctx context.Context, opts ServeOptions) (*node, error) {
	if opts.Scheduler {
		// A schedule naming an unknown suite fails now, not at 2 a.m.
		if err := a.CheckSchedules(ctx); err != nil {
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
	n := &node{a: a, st: st, opts: opts, srvErr: make(chan error, 1)}
	cfg := a.cfg
	n.jobs, err = jobs.NewClient(jobsProcess{a}, jobs.Config{Store: st, Lifecycle: a.lifecycle(), Logger: a.logger,
		Project: cfg.ProjectName(), ConfigFile: cfg.File, Schedules: cfg.Schedules, Confirm: cfg.Drift.Confirm,
		Seed: cfg.Drift.Seed, MaxCostUSD: cfg.MaxCostUSD, BatchSize: opts.BatchSize, BatchWorkers: opts.BatchWorkers,
		BatchTimeout: opts.BatchTimeout, RescueAfter: opts.RescueAfter, ConfigSnooze: opts.ConfigSnooze})
	if err != nil {
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

// start starts, under runCtx, the job client, the scheduler, the alert
// dispatcher (serve) and the HTTP server. Only a job client that fails to
// start is an error: the scheduler and the dispatcher log their failures
// and the process runs without them, and an HTTP server that fails sends
// its error to n.srvErr, which ends serving.
func (n *node) start(runCtx context.Context) error {
	logger := n.a.logger
	if err := n.jobs.Start(runCtx); err != nil {
		if n.ln != nil {
			n.ln.Close()
		}
		return err
	}
	if n.sched != nil {
		if err := n.sched.Start(runCtx); err != nil {
			logger.Error("start scheduler: no schedule fires in this process", "err", err)
		}
	}
	// The alert dispatcher retries undelivered alerts (also those left by
	// earlier processes) in the background.
	notifiers, nerr := notify.Notifiers(n.a.cfg.Alerts, n.a.logger)
	if nerr != nil {
		logger.Warn("alert notifiers", "err", nerr)
	}
	n.dispatcher = notify.NewDispatcher(n.st, notifiers, n.a.logger)
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

// shutdown stops what start started and returns the errors of the parts
// that did not stop cleanly, each named, joined with serveErr (the HTTP
// server's failure, if that ended serving) last. The scheduler and the
// job client stop first, within SoftStopTimeout: no new firings, jobs or
// samples, and the samples in flight may finish; the job client then
// cancels what is still in flight (the batches are retried). The alert
// dispatcher and the HTTP server stop after them under their own bound, so
// the dispatcher is always waited for before the caller closes the store
// under it.
func (n *node) shutdown(serveErr error) error {
	var errs []error
	stop := func(ctx context.Context, part string, fn func(context.Context) error) {
		if err := fn(ctx); err != nil {
			errs = append(errs, fmt.Errorf("stop %s: %w", part, err))
		}
	}
	softCtx, cancelSoft := context.WithTimeout(context.Background(), n.opts.SoftStopTimeout)
	defer cancelSoft()
	if n.sched != nil {
		stop(softCtx, "scheduler", n.sched.Stop)
	}
	stop(softCtx, "job client", n.jobs.Stop)
	hardCtx, cancelHard := context.WithTimeout(context.Background(), serveShutdownHardLimit)
	defer cancelHard()
	stop(hardCtx, "alert dispatcher", n.dispatcher.Stop)
	if n.srv != nil {
		stop(hardCtx, "HTTP server", n.stopHTTP)
	}
	return errors.Join(append(errs, serveErr)...)
}

// stopHTTP shuts the HTTP server down, waiting up to 5s (within ctx) for
// its requests, and waits for its goroutine.
func (n *node) stopHTTP(ctx context.Context) error {
	ctx, cancel := context.WithTimeout(ctx, 5*time.Second)
	defer cancel()
	err := n.srv.Shutdown(ctx)
	n.srvWG.Wait()
	return err
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
		Fire:    n.jobs.Fire,
	})
}

// handler serves /healthz, /metrics and the dashboard at "/", whose "run
// now" enqueues a run job (jobs.Client.RunNow).
func (n *node) handler(ctx context.Context) (http.Handler, error) {
	dash, err := n.a.newWeb(ctx, n.jobs.RunNow)
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
	mux.Handle("GET /metrics", n.jobs.Metrics())
	mux.Handle("/", dash)
	return mux, nil
}

// jobsProcess is the jobs.Process of a serve or worker process: its
// config's suites and targets, and its alerting.
type jobsProcess struct{ a *App }

func (p jobsProcess) LoadSuite(ctx context.Context, name string) (eval.Suite, error) {
	return p.a.Catalog().One(ctx, name)
}

func (p jobsProcess) HasSuite(name string) (bool, error) { return p.a.Catalog().Has(name) }

func (p jobsProcess) Target(name string) (*targets.Target, error) {
	ts, err := p.a.targets([]string{name})
	if err != nil {
		return nil, err
	}
	return ts[0], nil
}

func (p jobsProcess) Plan(ctx context.Context, suiteNames, targetNames []string) ([]jobs.Pair, error) {
	pairs, err := p.a.Plan(ctx, RunParams{Suites: suiteNames, Targets: targetNames})
	if err != nil {
		return nil, err
	}
	out := make([]jobs.Pair, len(pairs))
	for i, pr := range pairs {
		out[i] = jobs.Pair{Suite: pr.Suite.Name(), Target: pr.Target.Config.Name}
	}
	return out, nil
}

func (p jobsProcess) Samples(s eval.Suite, samples int) int {
	return p.a.ExplicitK(s, RunParams{Samples: samples})
}

func (p jobsProcess) AlertReports(ctx context.Context, reports []*report.Report) error {
	return p.a.AlertReports(ctx, reports)
}
