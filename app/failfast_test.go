package app_test

import (
	"context"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"strconv"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/driftwatch/driftwatch/sim"
)

// TestUnusableTargetFailsFast: a suite of 300 cases against an unreachable
// target (default retries) or one that refuses the key stops sending after
// the first two rounds of its concurrency: exit 3, failed, and a bounded
// number of requests instead of one (with retries) per sample.
func TestUnusableTargetFailsFast(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name    string
		targets string
		edit    func(e *testEnv, cfg string) string
	}{
		{"unauthorised", "    retries: 2\n", func(e *testEnv, cfg string) string {
			return strings.Replace(cfg, "${DW_TEST_KEY:-sk-test-planted-secret-0123456789}", "sk-wrong-0000000000000000", 1)
		}},
		{"unreachable", "    retries: 1\n", func(e *testEnv, cfg string) string {
			return strings.Replace(cfg, e.simURL, "http://127.0.0.1:1", 1)
		}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			e := setup(t, envOpts{cases: 300, targets: tc.targets, sim: sim.Config{Seed: 1, APIKey: "sk-test-planted-secret-0123456789",
				Models: []sim.Model{{Name: "sim-gpt", Profile: sim.Profile{Seed: 1, Accuracy: 0.9}}}}})
			e.editConfig(t, func(c string) string { return tc.edit(e, c) })
			jsonPath := filepath.Join(e.dir, "r.json")
			code, _, stderr := e.run(t, context.Background(), "run", "--samples", "1", "--no-progress", "--json", jsonPath)
			require.Equal(t, 3, code, stderr)
			r := readReports(t, jsonPath)[0]
			require.Equal(t, "failed", r.Status)
			require.Equal(t, "INCONCLUSIVE", r.Verdict)
			require.Contains(t, r.Reason, "the run stopped sending after the first")
			// Two rounds of concurrency 8, plus what was in flight.
			require.GreaterOrEqual(t, r.Metrics.Samples, 16)
			require.LessOrEqual(t, r.Metrics.Samples, 16+8)
			require.Equal(t, r.Metrics.Samples, r.Metrics.ErrorCount)
		})
	}
}

// TestFailFastThenWorkingIsStopped: when the first samples fail as if the
// target could not be used (401) and one in flight then works, the run is
// stopped, not failed and not compared half-done; --resume finishes it.
func TestFailFastThenWorkingIsStopped(t *testing.T) {
	t.Parallel()
	e := setup(t, envOpts{cases: 100, targets: "    retries: 0\n", sim: sim.Config{Seed: 1,
		Models: []sim.Model{{Name: "sim-gpt", Profile: sim.Profile{Seed: 1, Accuracy: 0.9}}}}})
	var requests atomic.Int64
	proxy := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		n := requests.Add(1)
		switch {
		case n <= 10: // the first ten: refused at once
			if n == 10 {
				// The tenth refusal trips the run's fail-fast: it answers once
				// the next request is in flight, so one call is under way then.
				for i := 0; i < 1000 && requests.Load() <= 10 && r.Context().Err() == nil; i++ {
					time.Sleep(10 * time.Millisecond) // polling, bounded at 10 s
				}
			}
			w.Header().Set("Content-Type", "application/json")
			w.WriteHeader(http.StatusUnauthorized)
			_, _ = w.Write([]byte(`{"error":{"message":"invalid api key","type":"invalid_request_error"}}`))
		case n <= 30: // the next ones work, after the ten refusals are seen
			select {
			case <-time.After(500 * time.Millisecond):
			case <-r.Context().Done():
				return
			}
			e.sim.ServeHTTP(w, r)
		default:
			e.sim.ServeHTTP(w, r)
		}
	}))
	t.Cleanup(proxy.Close)
	e.editConfig(t, func(c string) string {
		return strings.Replace(strings.Replace(c, e.simURL, proxy.URL, 1), "concurrency: 8", "concurrency: 4", 1)
	})

	jsonPath := filepath.Join(e.dir, "r.json")
	code, _, stderr := e.run(t, context.Background(), "run", "--samples", "1", "--no-progress", "--json", jsonPath)
	require.Equal(t, 3, code, stderr)
	r := readReports(t, jsonPath)[0]
	require.Equal(t, "stopped", r.Status, r.Reason)
	require.Contains(t, r.Reason, "stopped after the first 10 samples failed")
	require.Contains(t, r.Reason, "--resume")
	require.Less(t, requests.Load(), int64(30), "the run stopped sending")

	code, _, stderr = e.run(t, context.Background(), "run", "--resume", strconv.FormatInt(r.RunID, 10), "--no-progress", "--json", jsonPath)
	require.Equal(t, 0, code, stderr)
	r = readReports(t, jsonPath)[0]
	require.Equal(t, "completed", r.Status, r.Reason)
	require.Equal(t, 100, r.Metrics.Samples)
}
