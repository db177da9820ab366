package config

import (
	"errors"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/driftwatch/driftwatch/drift"
	"github.com/driftwatch/driftwatch/internal/yamldoc"
	"github.com/stretchr/testify/require"
)

// readmeBlock returns the README's fenced block that starts with first.
func readmeBlock(t *testing.T, first string) string {
	t.Helper()
	b, err := os.ReadFile(filepath.Join("..", "README.md"))
	require.NoError(t, err)
	for _, m := range regexp.MustCompile("(?s)```[a-z]*\n(.*?)```").FindAllStringSubmatch(string(b), -1) {
		if strings.HasPrefix(m[1], first) {
			return m[1]
		}
	}
	t.Fatalf("README.md has no block starting with %q", first)
	return ""
}

// TestREADMEConfigLoads loads the README's quick-start config with only the
// API key set: DATABASE_URL may be unset (the embedded default), and an
// unset key reads as empty with the warning the README shows.
func TestREADMEConfigLoads(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	path := filepath.Join(dir, "driftwatch.yaml")
	require.NoError(t, os.WriteFile(path, []byte(readmeBlock(t, "# driftwatch.yaml\ndatabase_url:")), 0o600))

	c, err := LoadWith(path, envOf(map[string]string{"OPENAI_API_KEY": "sk-test"}))
	require.NoError(t, err)
	require.Empty(t, c.DatabaseURL)
	require.Equal(t, "sk-test", c.Targets[0].APIKey)

	c, err = LoadWith(path, envOf(nil))
	require.NoError(t, err)
	require.Empty(t, c.Targets[0].APIKey)
	require.Len(t, c.Unset, 1, c.Unset.Error())
	shown := strings.TrimPrefix(strings.TrimSpace(readmeBlock(t, "driftwatch: warning: driftwatch.yaml:7:")), "driftwatch: warning: driftwatch.yaml")
	require.Equal(t, path+shown, c.Unset[0].Error())
}

// TestConfigValidationNeverShowsExpandedValues: validation messages quote
// the values they reject; a secret put in the wrong field (or a field that
// another field's message quotes) is shown as its ${VAR} reference.
func TestConfigValidationNeverShowsExpandedValues(t *testing.T) {
	t.Parallel()
	const secret = "sk-live-0123456789abcdef"
	for name, text := range map[string]string{
		"provider": "targets:\n  - name: gpt\n    provider: ${OPENAI_API_KEY}\n    model: gpt-4o\n",
		"pin mode": "targets:\n  - name: gpt\n    model: gpt-4o\n    pin:\n      mode: ${OPENAI_API_KEY}\n",
		"cron":     "targets:\n  - name: gpt\n    model: gpt-4o\nschedules:\n  - name: n\n    cron: ${OPENAI_API_KEY}\n    suites: [x]\n",
		"judge":    "judge: ${OPENAI_API_KEY}\ntargets:\n  - name: gpt\n    model: gpt-4o\n",
		// The azure_ad message quotes the provider, read from another line.
		"other line": "targets:\n  - name: gpt\n    provider: ${OPENAI_API_KEY}\n    model: gpt-4o\n    azure_ad:\n      client_id: x\n      tenant_id: y\n      client_secret: z\n",
	} {
		_, err := LoadWith(writeConfig(t, text), envOf(map[string]string{"OPENAI_API_KEY": secret}))
		require.Error(t, err, name)
		require.NotContains(t, err.Error(), secret, name)
		require.Contains(t, err.Error(), "${OPENAI_API_KEY}", name)
	}
}

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
	_, err := LoadWith(path, envOf(env))
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
	c, err := LoadWith(path, envOf(map[string]string{"K": "3", "OPENAI_API_KEY": "sk-x", "CONC": "16", "TMO": "90s", "STREAM": "true", "ALPHA": "0.05"}))
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

// An unset ${VAR} reads as empty, as the README's `database_url: ${DATABASE_URL}` needs
// (`database_url: ${DATABASE_URL}`: empty or absent, the embedded default;
// `base_url: ${BASE}` left to its default), and
// is listed in Config.Unset at its line and field, for the CLI's warning.
func TestConfigUnsetVariableReadsAsEmpty(t *testing.T) {
	t.Parallel()
	c, err := LoadWith(writeConfig(t, "database_url: ${DATABSE_URL}\n"+minimalTarget+"    base_url: ${BASE}\n    concurrency: ${CONC}\n"),
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
	c, err := LoadWith(writeConfig(t, "database_url: ${DATABASE_URL}\nweb: {addr: '${ADDR:-:8080}'}\n"+minimalTarget),
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
		{"baseline runs", "baseline:\n  runs: -2\n", []string{"2: baseline.runs: must not be negative, got -2 (0 means the default 3)"}},
		{"sampling mode", "sampling:\n  mode: adaptive\n", []string{`2: sampling.mode: "adaptive" is not staged or fixed`}},
		{"sampling look at k", "sampling:\n  k: 5\n  looks: [1, 5]\n", []string{"3: sampling.looks[1]: 5 is not below sampling.k 5"}},
		{"sampling bounds", "sampling:\n  looks: [1, 2]\n  bounds: [0.3, 1.5]\n", []string{"3: sampling.bounds[1]: 1.5 is not in (0, 1)"}},
		{"sampling bounds count", "sampling:\n  looks: [1, 2]\n  bounds: [0.3]\n", []string{"3: sampling.bounds: 1 bounds for 2 looks"}},
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
	_, err := LoadWith(writeConfig(t, minimalTarget+"    retries: 0\n    timeout: 0s\ndrift: {alpha: 0.05, max_error_rate: 1, q_case: 0}\nbaseline: {runs: 0}\n"), envOf(nil))
	require.NoError(t, err)
	// A fixed plan ignores looks; a single-run baseline defaults to looks
	// [1, 3] and K=10.
	cfg, err := LoadWith(writeConfig(t, minimalTarget+"sampling: {mode: fixed, k: 2}\nbaseline: {runs: 1}\n"), envOf(nil))
	require.NoError(t, err)
	require.Equal(t, drift.Plan{Mode: drift.ModeFixed, K: 2}, cfg.Sampling.WithDefaults(cfg.Baseline.Pool()))
	cfg, err = LoadWith(writeConfig(t, minimalTarget+"baseline: {runs: 1}\n"), envOf(nil))
	require.NoError(t, err)
	require.Equal(t, drift.Plan{Mode: drift.ModeStaged, Looks: []int{1, 3}, Bounds: []float64{0.30, 0.10}, K: 10}, cfg.Sampling.WithDefaults(cfg.Baseline.Pool()))
}

func TestConfigScheduleSuites(t *testing.T) {
	t.Parallel()
	c, err := LoadWith(writeConfig(t, minimalTarget+"schedules:\n  - name: nightly\n    cron: '0 3 * * *'\n    suites: [arith, arihtmetic]\n"), envOf(nil))
	require.NoError(t, err)
	require.NoError(t, (&Config{Schedules: c.Schedules}).CheckScheduleSuites([]string{"arith", "arihtmetic"}))
	err = c.CheckScheduleSuites([]string{"arith", "arithmetic"})
	require.ErrorContains(t, err, c.File+`:8: schedules[0].suites[1]: schedule "nightly" names unknown suite "arihtmetic" (known: arith, arithmetic)`)
}

// TestConfigTypeErrorsNameTheField: a value of the wrong type names its
// field, not only its line ("targets[0].params.temperature: cannot use ...").
func TestConfigTypeErrorsNameTheField(t *testing.T) {
	t.Parallel()
	requireConfigError(t, "samples: many\n"+minimalTarget+"    params: {temperature: hot}\n    timeout: 5\n", nil,
		`1: samples: cannot use str "many" here (want int)`,
		`6: targets[0].params.temperature: cannot use str "hot" here (want float64)`,
		`7: targets[0].timeout: cannot use int "5" here (want Duration)`)
	requireConfigError(t, minimalTarget+"    pin: maybe\n", nil,
		`5: targets[0].pin: want true, warn or a mapping {model, digest, fingerprints, mode}, got "maybe"`)
}

// TestConfigParamsAndURLs: sampling parameters no provider accepts and
// endpoints that are not http(s) URLs fail at load; webhook URLs (secrets)
// are not echoed; errors come in line order.
func TestConfigParamsAndURLs(t *testing.T) {
	t.Parallel()
	requireConfigError(t, `alerts:
  slack: {webhook_url: "hooks.slack.com/services/T0/B0/s3cret"}
  webhook: {url: "ftp://example.com/hook"}
web: {url: "dashboard.local"}
`+minimalTarget+`    base_url: localhost:11434/v1
    params: {temperature: -1, top_p: 3, max_tokens: -5}
`, nil,
		"2: alerts.slack.webhook_url: must be an absolute http:// or https:// URL",
		"3: alerts.webhook.url: must be an absolute http:// or https:// URL",
		"4: web.url: must be an absolute http:// or https:// URL",
		"9: targets[0].base_url: must be an absolute http:// or https:// URL",
		"10: targets[0].params.temperature: must be between 0 and 2, got -1",
		"10: targets[0].params.top_p: must be between 0 and 1, got 3",
		"10: targets[0].params.max_tokens: must not be negative, got -5")
	_, err := LoadWith(writeConfig(t, "alerts:\n  slack: {webhook_url: \"hooks.slack.com/s3cret\"}\n"+minimalTarget), envOf(nil))
	require.Error(t, err)
	require.NotContains(t, err.Error(), "s3cret")

	// Empty (unset through ${VAR:-}) URLs and in-range params load.
	_, err = LoadWith(writeConfig(t, "alerts:\n  slack: {webhook_url: '${SLACK:-}'}\n"+minimalTarget+
		"    base_url: http://127.0.0.1:11434/v1\n    params: {temperature: 0, top_p: 1, max_tokens: 512}\n"), envOf(nil))
	require.NoError(t, err)
}

// TestStoredBaseURLHasNoCredentials: the base URL stored with each run
// (runs.config) carries no credentials from its user information or from
// secret-looking query parameters.
// TestTargetBuildErrorsAreLocated: a target that cannot be built (an
// unreadable api_key_file) is reported at its line in the config.
// TestUnknownSuiteEntryIsLocated: a suites: entry that is neither a path
// nor a Go suite is reported at its line.

func TestShortWebTokenIsRefusedAtItsLine(t *testing.T) {
	t.Parallel()
	_, err := LoadWith(writeConfig(t, minimalTarget+"web: {token: abc}\n"), envOf(nil))
	require.ErrorContains(t, err, ":5: web.token: must be at least 12 characters")
}
