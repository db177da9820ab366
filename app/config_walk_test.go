package app

import (
	"testing"

	"github.com/stretchr/testify/require"
)

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
	_, err := loadConfig(writeConfig(t, "alerts:\n  slack: {webhook_url: \"hooks.slack.com/s3cret\"}\n"+minimalTarget), envOf(nil))
	require.Error(t, err)
	require.NotContains(t, err.Error(), "s3cret")

	// Empty (unset through ${VAR:-}) URLs and in-range params load.
	_, err = loadConfig(writeConfig(t, "alerts:\n  slack: {webhook_url: '${SLACK:-}'}\n"+minimalTarget+
		"    base_url: http://127.0.0.1:11434/v1\n    params: {temperature: 0, top_p: 1, max_tokens: 512}\n"), envOf(nil))
	require.NoError(t, err)
}

// TestStoredBaseURLHasNoCredentials: the base URL stored with each run
// (runs.config) carries no credentials from its user information or from
// secret-looking query parameters.
func TestStoredBaseURLHasNoCredentials(t *testing.T) {
	t.Parallel()
	c, err := loadConfig(writeConfig(t, minimalTarget+"    base_url: https://user:pw-s3cret@gw.example.com/v1?api-version=2024-06-01&api_key=k-s3cret\n"), envOf(nil))
	require.NoError(t, err)
	refs, err := New(c, Options{}).targets(nil)
	require.NoError(t, err)
	require.Equal(t, "https://xxxxx@gw.example.com/v1?api-version=2024-06-01&api_key=xxxxx", refs[0].baseURL)
	require.Equal(t, "http://127.0.0.1:8089/v1", redactURL("http://127.0.0.1:8089/v1"))
	require.Empty(t, redactURL(""))
}

// TestTargetBuildErrorsAreLocated: a target that cannot be built (an
// unreadable api_key_file) is reported at its line in the config.
func TestTargetBuildErrorsAreLocated(t *testing.T) {
	t.Parallel()
	path := writeConfig(t, "targets:\n  - name: gpt\n    model: gpt-4o\n    api_key_file: /nonexistent/driftwatch-key\n")
	c, err := loadConfig(path, envOf(nil))
	require.NoError(t, err)
	_, err = New(c, Options{}).targets(nil)
	require.ErrorContains(t, err, path+`:2: targets[0]: target "gpt": api_key_file: open /nonexistent/driftwatch-key`)
}

// TestUnknownSuiteEntryIsLocated: a suites: entry that is neither a path
// nor a Go suite is reported at its line.
func TestUnknownSuiteEntryIsLocated(t *testing.T) {
	t.Parallel()
	path := writeConfig(t, minimalTarget+"suites:\n  - nothere/\n")
	c, err := loadConfig(path, envOf(nil))
	require.NoError(t, err)
	_, _, err = New(c, Options{}).suiteEntries()
	require.ErrorContains(t, err, path+`:6: suites[0]: "nothere/" is neither a suite file or folder nor a registered Go suite`)
}
