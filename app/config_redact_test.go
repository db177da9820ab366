package app

import (
	"testing"

	"github.com/stretchr/testify/require"
)

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
		_, err := loadConfig(writeConfig(t, text), envOf(map[string]string{"OPENAI_API_KEY": secret}))
		require.Error(t, err, name)
		require.NotContains(t, err.Error(), secret, name)
		require.Contains(t, err.Error(), "${OPENAI_API_KEY}", name)
	}
}
