package jobs

import (
	"context"
	"fmt"
	"log/slog"
	"net/http"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"
	"github.com/riverqueue/river"
	"github.com/riverqueue/river/rivertype"

	"github.com/driftwatch/driftwatch/eval"
	"github.com/driftwatch/driftwatch/provider"
	"github.com/driftwatch/driftwatch/storage"
)

// metrics are one serve/worker process's Prometheus metrics, on its own
// registry (never the global default).
type metrics struct {
	reg           *prometheus.Registry
	triggers      prometheus.Counter
	runsStarted   prometheus.Counter
	runsCompleted *prometheus.CounterVec
	samples       *prometheus.CounterVec
	errors        *prometheus.CounterVec
	retries       *prometheus.CounterVec
	alerts        *prometheus.CounterVec
	budgetStops   prometheus.Counter
	suiteLoads    prometheus.Counter
	configSnoozes *prometheus.CounterVec

	// logger reports jobs that end without success (discarded, cancelled).
	logger *slog.Logger
}

func newMetrics(st *storage.Store, logger *slog.Logger) *metrics {
	m := &metrics{
		reg:    prometheus.NewRegistry(),
		logger: logger,
		triggers: prometheus.NewCounter(prometheus.CounterOpts{Name: "driftwatch_schedule_triggers_total",
			Help: "Schedule firings inserted as jobs by this process (duplicates from other replicas excluded)."}),
		runsStarted: prometheus.NewCounter(prometheus.CounterOpts{Name: "driftwatch_runs_started_total",
			Help: "Runs created."}),
		runsCompleted: prometheus.NewCounterVec(prometheus.CounterOpts{Name: "driftwatch_runs_completed_total",
			Help: "Runs finalised, by verdict."}, []string{"verdict"}),
		samples: prometheus.NewCounterVec(prometheus.CounterOpts{Name: "driftwatch_samples_total",
			Help: "Samples executed and stored, by outcome."}, []string{"outcome"}),
		errors: prometheus.NewCounterVec(prometheus.CounterOpts{Name: "driftwatch_errors_total",
			Help: "Errors by kind: sample error kinds (rate_limit, timeout, ...) and job:<kind> for failed job attempts."}, []string{"kind"}),
		retries: prometheus.NewCounterVec(prometheus.CounterOpts{Name: "driftwatch_job_retries_total",
			Help: "Job attempts after the first, by job kind."}, []string{"kind"}),
		alerts: prometheus.NewCounterVec(prometheus.CounterOpts{Name: "driftwatch_alert_jobs_total",
			Help: "Alert jobs by result (sent or failed; failed ones are retried)."}, []string{"result"}),
		budgetStops: prometheus.NewCounter(prometheus.CounterOpts{Name: "driftwatch_runs_budget_stopped_total",
			Help: "Runs stopped INCONCLUSIVE because max_cost_usd was reached."}),
		suiteLoads: prometheus.NewCounter(prometheus.CounterOpts{Name: "driftwatch_suite_loads_total",
			Help: "Suites loaded (parsed) by this process for jobs: once per run, not per batch."}),
		configSnoozes: prometheus.NewCounterVec(prometheus.CounterOpts{Name: "driftwatch_job_config_snoozes_total",
			Help: "Jobs handed back because this process's config lacks their schedule, suite or target, by job kind."}, []string{"kind"}),
	}
	m.reg.MustRegister(m.triggers, m.runsStarted, m.runsCompleted, m.samples, m.errors, m.retries, m.alerts, m.budgetStops,
		m.suiteLoads, m.configSnoozes,
		&queueCollector{st: st, desc: prometheus.NewDesc("driftwatch_queue_jobs",
			"Jobs in the job queue by queue and state (cluster-wide).", []string{"queue", "state"}, nil)},
		collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	return m
}

// watchTarget exports a target's pacing and breaker counters: the time its
// calls waited for the provider's rate limits (learned or configured) and
// how often its circuit breaker stopped it.
func (m *metrics) watchTarget(name string, ctl *provider.Control) {
	labels := prometheus.Labels{"target": name}
	for _, c := range []prometheus.Collector{
		prometheus.NewCounterFunc(prometheus.CounterOpts{Name: "driftwatch_target_throttled_seconds_total", ConstLabels: labels,
			Help: "Seconds this process's calls to the target waited for its rate limits (configured or learned from the provider)."},
			func() float64 { return ctl.ThrottledTime().Seconds() }),
		prometheus.NewCounterFunc(prometheus.CounterOpts{Name: "driftwatch_target_breaker_trips_total", ConstLabels: labels,
			Help: "Times the target's circuit breaker stopped calls to it (every recent call failed, or none was answered)."},
			func() float64 { return float64(ctl.Breaker.Trips()) }),
	} {
		if err := m.reg.Register(c); err != nil {
			m.logger.Debug("target metrics", "target", name, "err", err)
		}
	}
}

func (m *metrics) handler() http.Handler {
	return promhttp.HandlerFor(m.reg, promhttp.HandlerOpts{Registry: m.reg})
}

func (m *metrics) observeSample(r eval.SampleResult) {
	m.samples.WithLabelValues(string(r.Outcome)).Inc()
	if r.Outcome == eval.Errored {
		m.errors.WithLabelValues(string(r.ErrorKind)).Inc()
	}
}

// retried counts a job attempt after the first.
func (m *metrics) retried(kind string) { m.retries.WithLabelValues(kind).Inc() }

// HandleError counts failed job attempts (River's ErrorHandler) and logs a
// job's last one at Error: River discards the job, and its work (a night's
// run, an alert) is lost unless an operator acts. River logs the attempts
// that are retried (Info).
func (m *metrics) HandleError(ctx context.Context, job *rivertype.JobRow, err error) *river.ErrorHandlerResult {
	m.errors.WithLabelValues("job:" + job.Kind).Inc()
	if job.Attempt >= job.MaxAttempts {
		m.logger.ErrorContext(ctx, "job discarded after its last attempt", "job_id", job.ID, "job_kind", job.Kind,
			"attempt", job.Attempt, "args", string(job.EncodedArgs), "err", err)
	}
	return nil
}

// HandlePanic counts panicking job attempts and logs them at Error (a
// panic is a bug).
func (m *metrics) HandlePanic(ctx context.Context, job *rivertype.JobRow, v any, trace string) *river.ErrorHandlerResult {
	m.errors.WithLabelValues("job:" + job.Kind).Inc()
	m.logger.ErrorContext(ctx, "job panicked", "job_id", job.ID, "job_kind", job.Kind, "attempt", job.Attempt,
		"max_attempts", job.MaxAttempts, "panic", fmt.Sprint(v), "trace", trace)
	return nil
}

// cancelled logs a job that its worker cancelled (River logs it at Debug
// only, and calls no ErrorHandler): it is never retried.
func (m *metrics) cancelled(job *rivertype.JobRow, err error) {
	m.errors.WithLabelValues("job:" + job.Kind).Inc()
	m.logger.Error("job cancelled: it cannot be worked", "job_id", job.ID, "job_kind", job.Kind,
		"args", string(job.EncodedArgs), "err", err)
}

// queueCollector reads the queue depth from the database at scrape time.
type queueCollector struct {
	st   *storage.Store
	desc *prometheus.Desc
}

func (c *queueCollector) Describe(ch chan<- *prometheus.Desc) { ch <- c.desc }

func (c *queueCollector) Collect(ch chan<- prometheus.Metric) {
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
	defer cancel()
	counts, err := c.st.QueueCounts(ctx)
	if err != nil {
		ch <- prometheus.NewInvalidMetric(c.desc, err)
		return
	}
	for _, q := range counts {
		ch <- prometheus.MustNewConstMetric(c.desc, prometheus.GaugeValue, float64(q.N), q.Queue, q.State)
	}
}
