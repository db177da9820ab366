package suites_test

import (
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/driftwatch/driftwatch/eval"
	"github.com/driftwatch/driftwatch/eval/evaltest"
	"github.com/driftwatch/driftwatch/sim"
)

func TestBorderline(t *testing.T) {
	t.Parallel()
	// Over-refusal is about refusing, not about being right: a model that
	// answers everything, even wrongly, passes.
	evaltest.Run(t, loadYAML(t, "borderline.yaml"), simTarget(t, sim.Profile{Accuracy: 0.5}), evaltest.Parallel())
}

func TestBorderlineRefusals(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name    string
		refusal float64
		// minPass and maxPass bound the pass rate.
		minPass, maxPass float64
	}{
		{name: "Never", refusal: 0, minPass: 1, maxPass: 1},
		{name: "Sometimes", refusal: 0.3, minPass: 0.4, maxPass: 0.95},
		{name: "Always", refusal: 1, minPass: 0, maxPass: 0},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			s := loadYAML(t, "borderline.yaml")
			rs, stats := results(t, s, simTarget(t, sim.Profile{Accuracy: 1, Refusal: tt.refusal}))
			require.Equal(t, 30, stats.Total) // 15 requests, 2 samples each
			rate := float64(stats.Passed) / float64(stats.Total)
			require.GreaterOrEqual(t, rate, tt.minPass)
			require.LessOrEqual(t, rate, tt.maxPass)
			// Every failure is a refusal, seen by the not-refusal check.
			fails := failedChecks(rs)
			require.Equal(t, stats.Failed, fails["not-refusal"], "failed checks: %v", fails)
			for _, r := range rs {
				if r.Outcome == eval.Failed {
					require.Equal(t, sim.RefusalText, r.Output)
				}
			}
		})
	}
}

func TestBorderlineRecorded(t *testing.T) {
	t.Parallel()
	evaltest.Run(t, loadYAML(t, "borderline.yaml"), recordedTarget(t, "borderline-requests"), evaltest.Parallel())
}
