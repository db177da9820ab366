package app

import (
	"context"
	"errors"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/driftwatch/driftwatch/eval"
	"github.com/driftwatch/driftwatch/internal/yamldoc"
)

// minimalTarget is a valid target list; tests append fields to its target.
const minimalTarget = "targets:\n  - name: gpt\n    model: gpt-4o\n    api_key: k\n"

// writeConfig writes text as a config file and returns its path.
func writeConfig(t testing.TB, text string) string {
	t.Helper()
	path := filepath.Join(t.TempDir(), "c.yaml")
	require.NoError(t, os.WriteFile(path, []byte(text), 0o600))
	return path
}

// envOf is a lookup over a fixed environment.
func envOf(env map[string]string) func(string) (string, bool) {
	return func(k string) (string, bool) { v, ok := env[k]; return v, ok }
}

// requireConfigError loads text and requires one located error per want
// entry ("line: field: words"), in order.
func requireConfigError(t *testing.T, text string, env map[string]string, want ...string) {
	t.Helper()
	path := writeConfig(t, text)
	_, err := loadConfig(path, envOf(env))
	require.Error(t, err)
	var es yamldoc.Errors
	require.True(t, errors.As(err, &es), "want located errors, got %T: %v", err, err)
	require.Len(t, es, len(want), err.Error())
	for i, w := range want {
		require.Contains(t, es[i].Error(), path+":"+w, err.Error())
	}
}

func TestConfigExpandsNonStringFields(t *testing.T) {
	t.Parallel()
	path := writeConfig(t, `database_url: ${DATABASE_URL:-}
samples: ${K}
targets:
  - name: gpt
    model: gpt-4o
    api_key: ${OPENAI_API_KEY}
    concurrency: ${CONC}
    timeout: ${TMO}
    retries: ${RETRIES:-2}
    stream: ${STREAM}
drift:
  alpha: ${ALPHA}
`)
	c, err := loadConfig(path, envOf(map[string]string{"K": "3", "OPENAI_API_KEY": "sk-x", "CONC": "16", "TMO": "90s", "STREAM": "true", "ALPHA": "0.05"}))
	require.NoError(t, err)
	require.Empty(t, c.DatabaseURL)
	require.Equal(t, 3, c.Samples)
	tc := c.Targets[0]
	require.Equal(t, "sk-x", tc.APIKey)
	require.Equal(t, 16, tc.Concurrency)
	require.Equal(t, 90*time.Second, tc.Timeout)
	require.Equal(t, 2, *tc.Retries)
	require.True(t, tc.Stream)
	require.Equal(t, 0.05, c.Drift.Alpha)
}

func TestConfigExpansionErrors(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name, yaml string
		env        map[string]string
		want       []string
	}{
		{"not a number", minimalTarget + "    concurrency: ${CONC}\n", map[string]string{"CONC": "lots"},
			[]string{`5: targets[0].concurrency: cannot use str "${CONC}" here (want int) (the expanded value is not shown)`}},
		{"not a duration", minimalTarget + "    timeout: ${TMO}\n", map[string]string{"TMO": "soon"},
			[]string{"5: "}},
		{"expanded but invalid", minimalTarget + "    concurrency: ${CONC}\n", map[string]string{"CONC": "-1"},
			[]string{"5: targets[0].concurrency: must not be negative, got -1"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			requireConfigError(t, tc.yaml, tc.env, tc.want...)
		})
	}
}

// An unset ${VAR} reads as empty, as DESIGN 13's own example needs
// (`database_url: ${DATABASE_URL}`: empty or absent, the embedded default;
// `base_url: ${BASE}` left to its default), and
// is listed in Config.Unset at its line and field, for the CLI's warning.
func TestConfigUnsetVariableReadsAsEmpty(t *testing.T) {
	t.Parallel()
	c, err := loadConfig(writeConfig(t, "database_url: ${DATABSE_URL}\n"+minimalTarget+"    base_url: ${BASE}\n    concurrency: ${CONC}\n"),
		envOf(map[string]string{"DATABASE_URL": "postgres://x"}))
	require.NoError(t, err)
	require.Empty(t, c.DatabaseURL, "empty: the embedded default")
	require.Empty(t, c.Targets[0].BaseURL)
	require.Zero(t, c.Targets[0].Concurrency, "empty number: the default")
	require.Len(t, c.Unset, 3, c.Unset.Error())
	require.Equal(t, 1, c.Unset[0].Line)
	require.Equal(t, "database_url", c.Unset[0].Field)
	require.Contains(t, c.Unset[0].Msg, "environment variable DATABSE_URL is not set: read as empty")
	require.Equal(t, "targets[0].base_url", c.Unset[1].Field)
	require.Equal(t, "targets[0].concurrency", c.Unset[2].Field)
}

func TestConfigEmptyVariableIsSet(t *testing.T) {
	t.Parallel()
	// A variable set to "" is set: docker compose's ${OPENAI_API_KEY:-}
	// passes one. ${X:-default} takes the default for it, as in the shell.
	c, err := loadConfig(writeConfig(t, "database_url: ${DATABASE_URL}\nweb: {addr: '${ADDR:-:8080}'}\n"+minimalTarget),
		envOf(map[string]string{"DATABASE_URL": "", "ADDR": ""}))
	require.NoError(t, err)
	require.Empty(t, c.DatabaseURL)
	require.Equal(t, ":8080", c.Web.Addr)
	require.Empty(t, c.Unset, "set to empty is set: no warning")
}

func TestConfigRanges(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name, yaml string
		want       []string
	}{
		{"alpha", "drift: {alpha: 7}\n", []string{"1: drift.alpha: must be between 0 and 1 (exclusive), got 7 (0 means the default 0.01)"}},
		{"alpha nan", "drift:\n  alpha: .nan\n", []string{"2: drift.alpha: must be between 0 and 1"}},
		{"q_case", "drift:\n  q_case: 1\n", []string{"2: drift.q_case: must be between 0 and 1"}},
		{"min_pass_delta", "drift:\n  min_pass_delta: -0.1\n", []string{"2: drift.min_pass_delta: must be between 0 and 1"}},
		{"max_error_rate", "drift:\n  max_error_rate: 3\n", []string{"2: drift.max_error_rate: must be a fraction in (0, 1], got 3"}},
		{"min_samples", "drift:\n  min_samples: -1\n", []string{"2: drift.min_samples: must not be negative"}},
		{"baseline runs", "baseline:\n  runs: -2\n", []string{"2: baseline.runs: must not be negative, got -2 (0 means the default 1)"}},
		{"max_cost_usd", "max_cost_usd: -1\n", []string{"1: max_cost_usd: must not be negative, got -1 (0 means no cap)"}},
		{"samples", "samples: -3\n", []string{"1: samples: must not be negative"}},
		{"prices", "prices:\n  m: {input: 1, output: -2}\n", []string{"2: prices.m.output: must not be negative"}},
		{"repeat_interval", "alerts:\n  repeat_interval: -1h\n", []string{"2: alerts.repeat_interval: must not be negative, got -1h0m0s"}},
		{"retries", "    retries: -3\n", []string{"5: targets[0].retries: must not be negative, got -3 (0: no retries; leave it out for the default 4)"}},
		{"timeout", "    timeout: -5s\n", []string{"5: targets[0].timeout: must not be negative, got -5s (0 means the default 1m0s)"}},
		{"rpm and tpm", "    rpm: -1\n    tpm: -2\n", []string{"5: targets[0].rpm: must not", "6: targets[0].tpm: must not"}},
		{"schedule samples", "schedules:\n  - {name: n, cron: '0 3 * * *', samples: -1}\n", []string{"2: schedules[0].samples: must not be negative"}},
		{"duplicate schedule", "schedules:\n  - name: nightly\n    cron: '0 3 * * *'\n  - name: nightly\n    cron: '0 4 * * *'\n",
			[]string{`4: schedules[1].name: duplicate schedule name "nightly" (also schedules[0], line 2)`}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			text := tc.yaml + minimalTarget
			if strings.HasPrefix(tc.yaml, "    ") { // a target field
				text = minimalTarget + tc.yaml
			}
			requireConfigError(t, text, nil, tc.want...)
		})
	}
	// The valid edges load.
	_, err := loadConfig(writeConfig(t, minimalTarget+"    retries: 0\n    timeout: 0s\ndrift: {alpha: 0.05, max_error_rate: 1, q_case: 0}\nbaseline: {runs: 0}\n"), envOf(nil))
	require.NoError(t, err)
}

func TestConfigScheduleSuites(t *testing.T) {
	t.Parallel()
	c, err := loadConfig(writeConfig(t, minimalTarget+"schedules:\n  - name: nightly\n    cron: '0 3 * * *'\n    suites: [arith, arihtmetic]\n"), envOf(nil))
	require.NoError(t, err)
	require.NoError(t, (&Config{Schedules: c.Schedules}).checkScheduleSuites([]string{"arith", "arihtmetic"}))
	err = c.checkScheduleSuites([]string{"arith", "arithmetic"})
	require.ErrorContains(t, err, c.File+`:8: schedules[0].suites[1]: schedule "nightly" names unknown suite "arihtmetic" (known: arith, arithmetic)`)
}

func TestRetriesMeansRetriesAfterTheFirstAttempt(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name     string
		retries  string
		attempts int64
	}{
		{"default", "", RetriesDefault + 1},
		{"none", "    retries: 0\n", 1},
		{"two", "    retries: 2\n", 3},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			var hits atomic.Int64
			srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
				hits.Add(1)
				w.Header().Set("Retry-After-Ms", "1")
				// A real error: 429s are waited out without using up retries.
				w.WriteHeader(http.StatusInternalServerError)
			}))
			t.Cleanup(srv.Close)
			c, err := loadConfig(writeConfig(t, minimalTarget+"    base_url: "+srv.URL+"\n"+tc.retries), envOf(nil))
			require.NoError(t, err)
			a := New(c, Options{})
			refs, err := a.targets(nil)
			require.NoError(t, err)
			_, err = refs[0].target.Complete(context.Background(), &eval.Request{Messages: []eval.Message{{Role: "user", Content: "hi"}}})
			require.Error(t, err)
			require.Equal(t, tc.attempts, hits.Load())
		})
	}
}
