package suites_test

import (
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/driftwatch/driftwatch/eval"
	"github.com/driftwatch/driftwatch/eval/evaltest"
	"github.com/driftwatch/driftwatch/sim"
)

func TestSupportTriage(t *testing.T) {
	t.Parallel()
	evaltest.Run(t, loadYAML(t, "support_triage.yaml"), simTarget(t, perfect), evaltest.Parallel())
}

func TestSupportTriageAnswers(t *testing.T) {
	t.Parallel()
	s := loadYAML(t, "support_triage.yaml")
	rs, stats := results(t, s, simTarget(t, perfect))
	require.Equal(t, 40, stats.Total) // 20 emails, 2 samples each
	require.Equal(t, stats.Total, stats.Passed)
	byCase := map[string]string{}
	for _, r := range rs {
		require.True(t, r.HasAnswer, r.Case)
		byCase[r.Case] = r.Answer
	}
	require.Equal(t, "billing", byCase["double-charge"])
	require.Equal(t, "technical", byCase["app-crash"])
}

func TestSupportTriageRegressions(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name    string
		profile sim.Profile
		// failing is the check every sample must fail.
		failing string
	}{
		{name: "BrokenJSON", profile: sim.Profile{Accuracy: 1, BrokenJSON: 1}, failing: "is-json"},
		{name: "WrongCategory", profile: wrong, failing: "json-path"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			rs, stats := results(t, loadYAML(t, "support_triage.yaml"), simTarget(t, tt.profile))
			require.Equal(t, stats.Total, stats.Failed)
			fails := failedChecks(rs)
			require.Equal(t, len(rs), prefixCount(fails, tt.failing), "failed checks: %v", fails)
			for _, r := range rs {
				require.Equal(t, eval.Failed, r.Outcome)
			}
		})
	}
}

func TestSupportTriageRecorded(t *testing.T) {
	t.Parallel()
	evaltest.Run(t, loadYAML(t, "support_triage.yaml"), recordedTarget(t, "support-triage"), evaltest.Parallel())
}
