package jobs_test

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/driftwatch/driftwatch/app"
	"github.com/driftwatch/driftwatch/jobs"
	"github.com/driftwatch/driftwatch/sim"
	"github.com/driftwatch/driftwatch/storage"
)

const dashboardToken = "dashboard-token-1234"

// postRunNow submits the dashboard's "run now" form and returns the status
// and body of the response (redirects are not followed).
func postRunNow(t *testing.T, base, suite, target string) (int, string) {
	t.Helper()
	const csrf = "0123456789abcdef0123456789abcdef"
	form := url.Values{"suite": {suite}, "target": {target}, "csrf": {csrf}, "token": {dashboardToken}}
	req, err := http.NewRequest(http.MethodPost, base+"/run-now", strings.NewReader(form.Encode()))
	require.NoError(t, err)
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	req.AddCookie(&http.Cookie{Name: "dw_csrf", Value: csrf})
	client := &http.Client{CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	resp, err := client.Do(req)
	require.NoError(t, err)
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	require.NoError(t, err)
	return resp.StatusCode, string(body)
}

// gateSim points e's target at a proxy of its simulator that holds every
// request until release is called (or the test ends).
func gateSim(t *testing.T, e *testEnv) (release func()) {
	t.Helper()
	return gateSimAfter(t, e, 0)
}

// gateSimAfter is gateSim letting the first n requests through: a run of
// more requests cannot finish before release, however fast it goes. A held
// request whose client gives up is dropped without reaching the simulator.
func gateSimAfter(t *testing.T, e *testEnv, n int64) (release func()) {
	t.Helper()
	gate := make(chan struct{})
	var once sync.Once
	release = func() { once.Do(func() { close(gate) }) }
	var requests atomic.Int64
	proxy := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if requests.Add(1) > n {
			select {
			case <-gate:
			case <-r.Context().Done():
				return
			}
		}
		e.sim.ServeHTTP(w, r)
	}))
	t.Cleanup(proxy.Close)
	t.Cleanup(release)
	pointTargetAt(t, e, proxy.URL)
	return release
}

// The dashboard's "run now" enqueues the run job a schedule would: the run
// is split into batch jobs worked by the cluster (two processes here),
// counted in the run metrics, and alerted on through the alert job (its
// INCONCLUSIVE verdict reaches the webhook). An unknown suite or target is
// refused at once, and a second click while the run is going is busy.
func TestDashboardRunNowEnqueuesJob(t *testing.T) {
	t.Parallel()
	const cases, k = 40, 2
	var hooks []string
	var hookMu sync.Mutex
	hook := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		b, _ := io.ReadAll(r.Body)
		hookMu.Lock()
		hooks = append(hooks, string(b))
		hookMu.Unlock()
	}))
	t.Cleanup(hook.Close)
	// Every call fails: the first run cannot be a baseline, so it is
	// INCONCLUSIVE, which alerts.
	e := setup(t, envOpts{cases: cases, k: k, latency: 20 * time.Millisecond, errors: sim.Errors{Server: 1},
		extra: fmt.Sprintf("web: {token: %q}\nalerts: {webhook: {url: %q}}", dashboardToken, hook.URL)})
	// The model's answers wait at a gate until the second click is done:
	// the run is still going then, however fast the machine runs it. (The
	// deferred release lets serve stop at once if the test fails before.)
	release := gateSim(t, e)
	defer release()
	var addrs []string
	var mu sync.Mutex
	onListen := func(a string) { mu.Lock(); addrs = append(addrs, "http://"+a); mu.Unlock() }
	for range 2 {
		e.serve(t, app.ServeOptions{Scheduler: true, Addr: "127.0.0.1:0", BatchSize: 10, BatchWorkers: 1, OnListen: onListen})
	}
	await(t, 20*time.Second, "both processes to listen", func() bool {
		mu.Lock()
		defer mu.Unlock()
		return len(addrs) == 2
	})
	base := addrs[0]

	code, body := postRunNow(t, base, "nope", "gpt")
	require.Equal(t, http.StatusBadRequest, code, body)
	code, body = postRunNow(t, base, "arith", "nope")
	require.Equal(t, http.StatusBadRequest, code, body)

	code, body = postRunNow(t, base, "arith", "gpt")
	require.Equal(t, http.StatusSeeOther, code, body)
	var runKey string
	await(t, 20*time.Second, "the run job to create the run", func() bool {
		runs := keyedRuns(t, e.st, "dashboard@")
		if len(runs) == 1 {
			runKey = runs[0].Key
		}
		return runKey != ""
	})
	require.True(t, strings.HasSuffix(runKey, "/arith/gpt"), runKey)
	require.Equal(t, storage.RunRunning, runNow(t, e.st, runKey).Status)
	code, body = postRunNow(t, base, "arith", "gpt")
	require.Equal(t, http.StatusConflict, code, "second click while the run is going: %s", body)
	release()

	run := awaitRunDone(t, e, runKey, 30*time.Second)
	require.Equal(t, storage.RunCompleted, run.Status, run.VerdictReason)
	require.Equal(t, "INCONCLUSIVE", run.Verdict)
	require.Equal(t, storage.TriggerAPI, run.Trigger)
	require.Len(t, keyedRuns(t, e.st, ""), 1, "one run for the clicks")
	counts, err := e.st.QueueCounts(context.Background())
	require.NoError(t, err)
	var batchJobs int64
	for _, c := range counts {
		if c.Queue == jobs.QueueBatch {
			batchJobs += c.N
		}
	}
	require.Equal(t, int64(cases/10), batchJobs, "the run was split into batch jobs")

	await(t, 20*time.Second, "the alert at the webhook", func() bool {
		hookMu.Lock()
		defer hookMu.Unlock()
		return len(hooks) > 0
	})
	hookMu.Lock()
	require.Contains(t, hooks[0], "INCONCLUSIVE")
	require.Contains(t, hooks[0], "arith")
	hookMu.Unlock()
	// Either process may have created and analysed the run.
	var started, completed float64
	for _, a := range addrs {
		m := metricValues(get(t, a+"/metrics"))
		started += m["driftwatch_runs_started_total"]
		completed += m[`driftwatch_runs_completed_total{verdict="INCONCLUSIVE"}`]
	}
	require.Equal(t, 1.0, started)
	require.Equal(t, 1.0, completed)
}
