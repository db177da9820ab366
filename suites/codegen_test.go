package suites_test

import (
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/driftwatch/driftwatch/eval"
	"github.com/driftwatch/driftwatch/eval/evaltest"
	"github.com/driftwatch/driftwatch/sim"
	"github.com/driftwatch/driftwatch/suites"
)

func TestCodegen(t *testing.T) {
	t.Parallel()
	evaltest.Run(t, suites.Codegen(), simTarget(t, perfect), evaltest.Parallel())
}

func TestCodegenShapes(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name    string
		profile sim.Profile
		pass    bool
		answer  string   // every sample's answer category
		failing []string // checks every sample fails
	}{
		{name: "BareCode", profile: perfect, pass: true, answer: "bare-code"},
		{name: "Fenced", profile: sim.Profile{Accuracy: 1, CodeFence: 1}, answer: "fenced",
			failing: []string{"starts-with", "not-contains", "regex", "parses as Go"}},
		{name: "NotCode", profile: wrong, answer: "prose",
			failing: []string{"starts-with", "regex", "parses as Go"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			rs, stats := results(t, suites.Codegen(), simTarget(t, tt.profile))
			require.Equal(t, 20, stats.Total)
			fails := failedChecks(rs)
			for _, r := range rs {
				require.Equal(t, tt.pass, r.Outcome == eval.Passed, "%s: %v", r.Case, r.Logs)
				require.Equal(t, tt.answer, r.Answer, r.Case)
			}
			for _, name := range tt.failing {
				require.Equal(t, len(rs), prefixCount(fails, name), "check %s; failed checks: %v", name, fails)
			}
		})
	}
}

func TestCodegenRecorded(t *testing.T) {
	t.Parallel()
	evaltest.Run(t, suites.Codegen(), recordedTarget(t, "codegen"), evaltest.Parallel())
}
