package app_test

import (
	"context"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/driftwatch/driftwatch/sim"
)

// A target that fails every call, or accepts connections and never
// answers, is stopped by its circuit breaker within a minute: exit 3, one
// clear line, and the run stopped (resumable) with the command that
// finishes it, instead of hours of retries.
func TestFailingOrSilentTargetStopsWithinAMinute(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name    string
		handler http.HandlerFunc
	}{
		{"every call fails", func(w http.ResponseWriter, _ *http.Request) {
			http.Error(w, `{"error":{"message":"overloaded","type":"server_error"}}`, http.StatusInternalServerError)
		}},
		{"every call is refused", func(w http.ResponseWriter, _ *http.Request) {
			w.Header().Set("Retry-After", "1")
			http.Error(w, `{"error":{"message":"rate limited","type":"rate_limit_error"}}`, http.StatusTooManyRequests)
		}},
		{"no call is answered", func(_ http.ResponseWriter, r *http.Request) {
			select { // bounded, so that the server can close at the end
			case <-r.Context().Done():
			case <-time.After(2 * time.Minute):
			}
		}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			e := setup(t, envOpts{cases: 60, sim: sim.Config{Seed: 1, Models: []sim.Model{{Name: "sim-gpt", Profile: sim.Profile{Seed: 1, Accuracy: 0.9}}}}})
			bad := httptest.NewServer(tc.handler)
			t.Cleanup(func() { bad.CloseClientConnections(); bad.Close() })
			e.editConfig(t, func(c string) string { return strings.Replace(c, e.simURL, bad.URL, 1) })
			start := time.Now()
			ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
			defer cancel()
			code, _, stderr := e.run(t, ctx, "run", "--no-progress", "--samples", "2")
			took := time.Since(start)
			t.Logf("exit %d after %v: %s", code, took.Round(time.Second), lastLine(stderr))
			require.Equal(t, 3, code, stderr)
			require.Less(t, took, 75*time.Second, "stopped within about a minute")
			require.Contains(t, stderr, "--resume 1")
			require.Contains(t, stderr, "was stopped")
		})
	}
}

func lastLine(s string) string {
	lines := strings.Split(strings.TrimSpace(s), "\n")
	return lines[len(lines)-1]
}
