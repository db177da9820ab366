package jobs_test

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"os"
	"regexp"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/driftwatch/driftwatch/alert"
	"github.com/driftwatch/driftwatch/app"
	"github.com/driftwatch/driftwatch/jobs"
	"github.com/driftwatch/driftwatch/report"
	"github.com/driftwatch/driftwatch/sim"
	"github.com/driftwatch/driftwatch/storage"
)

// useSim points e's target at a simulator of cfg on 127.0.0.1 (setup's has
// no silent updates), for the rest of the test.
func useSim(t *testing.T, e *testEnv, cfg sim.Config) {
	t.Helper()
	srv, err := sim.New(cfg)
	require.NoError(t, err)
	url, stop, err := srv.Start(t.Context(), "127.0.0.1:0")
	require.NoError(t, err)
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		_ = stop(ctx)
	})
	pointTargetAt(t, e, url)
	e.sim = srv
}

// pointTargetAt rewrites the base_url of e's one target to url's /v1.
func pointTargetAt(t *testing.T, e *testEnv, url string) {
	t.Helper()
	b, err := os.ReadFile(e.cfgPath)
	require.NoError(t, err)
	baseURL := regexp.MustCompile(`(?m)^(\s+base_url: ).*$`)
	require.Len(t, baseURL.FindAll(b, -1), 1, "one target in\n%s", b)
	b = baseURL.ReplaceAll(b, []byte("${1}"+url+"/v1"))
	require.NoError(t, os.WriteFile(e.cfgPath, b, 0o600))
}

// webhookEvents is a webhook receiver on 127.0.0.1: the alert events
// posted to it.
type webhookEvents struct {
	URL    string
	mu     sync.Mutex
	events []alert.Event
}

func newWebhookEvents(t *testing.T) *webhookEvents {
	t.Helper()
	w := &webhookEvents{}
	srv := httptest.NewServer(http.HandlerFunc(func(rw http.ResponseWriter, r *http.Request) {
		var ev alert.Event
		if err := json.NewDecoder(r.Body).Decode(&ev); err != nil {
			http.Error(rw, err.Error(), http.StatusBadRequest)
			return
		}
		w.mu.Lock()
		w.events = append(w.events, ev)
		w.mu.Unlock()
	}))
	t.Cleanup(srv.Close)
	w.URL = srv.URL
	return w
}

func (w *webhookEvents) all() []alert.Event {
	w.mu.Lock()
	defer w.mu.Unlock()
	return append([]alert.Event(nil), w.events...)
}

// confirmOutcome is what a nightly run with drift.confirm left behind.
type confirmOutcome struct {
	e               *testEnv
	hook            *webhookEvents
	parent, confirm storage.Run
	// report is the parent's stored summary.
	report report.Report
}

// confirmCases x confirmK samples is one run's requests to the simulator.
const confirmCases, confirmK = 120, 6

// runConfirmed runs, on the simulator's model stages after (each update
// applied once a further run's requests have been served):
//
//  1. a manual run, the first: it becomes the baseline;
//  2. a scheduled nightly run (serve's scheduler, `drift: {confirm: true}`),
//     which drifts, on the first update;
//  3. its confirmation run, enqueued by the analysis, on the second update
//     when there is one (else still on the first).
//
// It waits for the parent's alert job (inserted by applyConfirmation), and
// checks that the confirmation run, the parent and the parent's stored
// report have the verdict want, the report naming its confirmation run.
func runConfirmed(t *testing.T, want string, after ...sim.Profile) confirmOutcome {
	t.Helper()
	var updates []sim.Update
	for i := range after {
		updates = append(updates, sim.Update{Name: fmt.Sprintf("stage-%d", i+1),
			AfterRequests: int64((i + 1) * confirmCases * confirmK), Profile: &after[i]})
	}
	hook := newWebhookEvents(t)
	e := setup(t, envOpts{cases: confirmCases, k: confirmK, schedules: `  - {name: nightly, cron: "0 2 * * *"}`,
		extra: fmt.Sprintf("drift: {confirm: true}\nalerts: {webhook: {url: %q}}", hook.URL)})
	useSim(t, e, sim.Config{Seed: 3, Models: []sim.Model{{Name: "sim-gpt", Profile: baseProfile(), Updates: updates}}})
	o := confirmOutcome{e: e, hook: hook}

	// A worker runs the baseline; then serve's scheduler fires the nightly
	// run once (both processes work its jobs).
	e.serve(t, app.ServeOptions{BatchSize: 30})
	insertRun(t, e, "manual@base/arith/gpt")
	baseline := awaitRunDone(t, e, "manual@base/arith/gpt", 60*time.Second)
	require.Equal(t, "BASELINE", baseline.Verdict, baseline.VerdictReason)
	require.Equal(t, int64(confirmCases*confirmK), e.sim.Stats().Requests, "the baseline saw the base profile only")
	e.serve(t, app.ServeOptions{Scheduler: true, BatchSize: 30, Clock: newStepClock(time.Date(2025, 1, 1, 0, 0, 0, 0, time.UTC))})

	// Two runs of 720 samples one after the other, under the race detector
	// on a loaded machine: the bound is generous.
	await(t, 120*time.Second, "the nightly run, its confirmation and the alert jobs", func() bool {
		return completedJobs(t, e, jobs.KindAlert) >= 2 // the baseline's and the nightly run's
	})
	nightly := keyedRuns(t, e.st, "nightly@")
	require.Len(t, nightly, 1)
	ctx := context.Background()
	var err error
	o.parent, err = e.st.GetRun(ctx, nightly[0].ID)
	require.NoError(t, err)
	o.confirm = runNow(t, e.st, fmt.Sprintf("confirm-of-run-%d", o.parent.ID))
	require.Equal(t, storage.RunCompleted, o.parent.Status)
	require.Equal(t, storage.RunCompleted, o.confirm.Status)
	require.Equal(t, storage.TriggerConfirm, o.confirm.Trigger)
	require.Equal(t, int64(3*confirmCases*confirmK), e.sim.Stats().Requests, "baseline, nightly and confirmation runs, nothing more")
	require.Len(t, keyedRuns(t, e.st, ""), 3)
	await(t, 30*time.Second, "the other jobs to end", func() bool {
		return jobsLeft(t, e, jobs.QueueControl) == 0 && jobsLeft(t, e, jobs.QueueBatch) == 0
	})
	requireNoLostJobs(t, e)
	require.Equal(t, 2, completedJobs(t, e, jobs.KindAlert), "no alert job for the confirmation run itself")

	require.Equal(t, want, o.confirm.Verdict, o.confirm.VerdictReason)
	require.Equal(t, want, o.parent.Verdict, o.parent.VerdictReason)
	o.report = storedReport(t, o.parent)
	require.Equal(t, want, o.report.Verdict)
	require.Equal(t, o.confirm.ID, o.report.ConfirmRunID)
	return o
}

// baseProfile is the model before any silent update (setup's mixture).
func baseProfile() sim.Profile {
	return sim.Profile{Seed: 1, Mixture: []sim.Component{{Weight: 0.7, P: 0.95}, {Weight: 0.3, P: 0.1}}}
}

// degraded is the base profile after a silent update: the same cases, a
// tenth of them collapsing, all a little worse.
func degraded() sim.Profile {
	p := baseProfile()
	p.CollapseFraction, p.CollapseBy, p.Drop = 0.1, 0.7, 0.05
	return p
}

// serve's confirmation path, overturned: the nightly run drifts (a
// transient incident) and its confirmation run, back on the base profile,
// does not. The nightly run ends STABLE everywhere: its stored report (no
// drifted case, no DRIFT finding: they are WARN), its stored findings (as
// the dashboard and the alerts read them) and the alerts (none sent).
func TestServeConfirmationOverturnsDrift(t *testing.T) {
	t.Parallel()
	o := runConfirmed(t, "STABLE", degraded(), baseProfile())
	ctx := context.Background()
	rep := o.report
	require.Contains(t, o.parent.VerdictReason, fmt.Sprintf("not confirmed: confirmation run %d was STABLE", o.confirm.ID))
	require.Empty(t, rep.DriftedCases)
	for _, c := range rep.Cases {
		require.False(t, c.Drifted, "case %s", c.Key)
	}
	var warned int
	notConfirmed := regexp.MustCompile(`; not confirmed by run \d+$`)
	for _, f := range rep.Findings {
		require.NotEqual(t, "DRIFT", string(f.Verdict), "%s %s: %s", f.Metric, f.Scope, f.Reason)
		if f.Verdict == "WARN" && notConfirmed.MatchString(f.Reason) {
			warned++
		}
	}
	require.Positive(t, warned, "the nightly run drifted before its confirmation: its DRIFT findings are kept as WARN")

	// The findings table is the report's: no DRIFT row is left behind.
	fs, err := o.e.st.ListFindings(ctx, o.parent.ID)
	require.NoError(t, err)
	require.NotEmpty(t, fs)
	var storedWarned int
	for _, f := range fs {
		require.NotEqual(t, "DRIFT", f.Verdict, "stored finding %s %s: %s", f.Metric, f.Scope, f.Reason)
		if f.Verdict == "WARN" {
			storedWarned++
		}
	}
	require.Equal(t, warned, storedWarned, "the stored WARN findings are the report's")

	// No alert: the outbox has none for the nightly run, and nothing
	// reached the webhook.
	as, err := o.e.st.ListRunAlerts(ctx, o.parent.ID)
	require.NoError(t, err)
	require.Empty(t, as)
	require.Empty(t, o.hook.all())
}

// serve's confirmation path, confirmed: the nightly run and its
// confirmation run both drift. The nightly run stays DRIFT, says which run
// confirmed it, and is alerted on once.
func TestServeConfirmationConfirmsDrift(t *testing.T) {
	t.Parallel()
	o := runConfirmed(t, "DRIFT", degraded())
	ctx := context.Background()
	rep := o.report
	require.Contains(t, o.parent.VerdictReason, fmt.Sprintf("Confirmed by run %d.", o.confirm.ID))
	require.Contains(t, rep.Reason, fmt.Sprintf("Confirmed by run %d.", o.confirm.ID))
	require.NotEmpty(t, rep.DriftedCases)
	fs, err := o.e.st.ListFindings(ctx, o.parent.ID)
	require.NoError(t, err)
	var drifted int
	for _, f := range fs {
		if f.Verdict == "DRIFT" {
			drifted++
		}
	}
	require.Positive(t, drifted, "the confirmed run keeps its DRIFT findings")

	// One drift alert, about the nightly run (not its confirmation).
	events := o.hook.all()
	require.Len(t, events, 1, "%+v", events)
	require.Equal(t, alert.KindDrift, events[0].Kind)
	require.Equal(t, o.parent.ID, events[0].RunID)
	require.Equal(t, "DRIFT", events[0].Verdict)
	require.Contains(t, events[0].Reason, fmt.Sprintf("Confirmed by run %d.", o.confirm.ID))
	as, err := o.e.st.ListRunAlerts(ctx, o.parent.ID)
	require.NoError(t, err)
	var webhook []storage.Alert
	for _, a := range as {
		require.Equal(t, events[0].DedupKey, a.DedupKey, "channel %s", a.Channel)
		if a.Channel == "webhook" {
			webhook = append(webhook, a)
		}
	}
	require.Len(t, webhook, 1, "%+v", as)
	require.Equal(t, "sent", webhook[0].Status)
	confirmAlerts, err := o.e.st.ListRunAlerts(ctx, o.confirm.ID)
	require.NoError(t, err)
	require.Empty(t, confirmAlerts, "the confirmation run is not alerted on by itself")
}
