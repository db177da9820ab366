package app_test

import (
	"context"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/driftwatch/driftwatch/sim"
)

// TestBudgetCapWarnsAboutUnpricedModels: with max_cost_usd set, a target
// whose model has no price is warned about (its calls count as free, so the
// cap cannot stop it); once prices: names the model, the warning is gone.
func TestBudgetCapWarnsAboutUnpricedModels(t *testing.T) {
	t.Parallel()
	e := setup(t, envOpts{cases: 25, sim: sim.Config{Seed: 3, Models: []sim.Model{{Name: "sim-gpt",
		Profile: sim.Profile{Seed: 1, Accuracy: 0.9}}}}})
	e.editConfig(t, func(c string) string { return c + "max_cost_usd: 5\n" })
	const warning = `driftwatch: warning: max_cost_usd cannot limit target gpt: no price for model "sim-gpt"`
	code, _, stderr := e.run(t, context.Background(), "run", "--samples", "1", "--no-progress")
	require.Equal(t, 0, code, stderr)
	require.Equal(t, 1, strings.Count(stderr, warning), stderr)

	e.editConfig(t, func(c string) string { return c + "prices:\n  sim-gpt: {input: 1, output: 2}\n" })
	code, _, stderr = e.run(t, context.Background(), "run", "--samples", "1", "--no-progress")
	require.Equal(t, 0, code, stderr)
	require.NotContains(t, stderr, "max_cost_usd cannot limit")
}
