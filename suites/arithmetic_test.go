package suites_test

import (
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/driftwatch/driftwatch/eval/evaltest"
	"github.com/driftwatch/driftwatch/sim"
)

func TestArithmetic(t *testing.T) {
	t.Parallel()
	// 150 cases: one sample each keeps the test fast.
	evaltest.Run(t, loadYAML(t, "arithmetic.yaml"), simTarget(t, perfect), evaltest.Parallel(), evaltest.Samples(1))
}

func TestArithmeticAccuracy(t *testing.T) {
	t.Parallel()
	// The suite's 4 samples of a 90%-accurate model: the pass rate and the
	// extracted answers follow the model.
	rs, stats := results(t, loadYAML(t, "arithmetic.yaml"), simTarget(t, sim.Profile{Accuracy: 0.9, Verbosity: 1}))
	require.Equal(t, 600, stats.Total)
	rate := float64(stats.Passed) / float64(stats.Total)
	require.InDelta(t, 0.9, rate, 0.05)
	for _, r := range rs {
		require.True(t, r.HasAnswer, "%s #%d: %q", r.Case, r.Index, r.Output)
	}
}

func TestArithmeticRecorded(t *testing.T) {
	t.Parallel()
	evaltest.Run(t, loadYAML(t, "arithmetic.yaml"), recordedTarget(t, "arithmetic"), evaltest.Parallel(), evaltest.Samples(1))
}
