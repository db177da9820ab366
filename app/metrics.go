package app

import (
	"context"
	"net/http"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"
	"github.com/riverqueue/river"
	"github.com/riverqueue/river/rivertype"

	"github.com/driftwatch/driftwatch/eval"
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
}

func newMetrics(st *storage.Store) *metrics {
	m := &metrics{
		reg: prometheus.NewRegistry(),
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
	}
	m.reg.MustRegister(m.triggers, m.runsStarted, m.runsCompleted, m.samples, m.errors, m.retries, m.alerts, m.budgetStops,
		&queueCollector{st: st, desc: prometheus.NewDesc("driftwatch_queue_jobs",
			"Jobs in the job queue by queue and state (cluster-wide).", []string{"queue", "state"}, nil)},
		collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	return m
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

// HandleError counts failed job attempts (River's ErrorHandler).
func (m *metrics) HandleError(_ context.Context, job *rivertype.JobRow, _ error) *river.ErrorHandlerResult {
	m.errors.WithLabelValues("job:" + job.Kind).Inc()
	return nil
}

// HandlePanic counts panicking job attempts.
func (m *metrics) HandlePanic(_ context.Context, job *rivertype.JobRow, _ any, _ string) *river.ErrorHandlerResult {
	m.errors.WithLabelValues("job:" + job.Kind).Inc()
	return nil
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
