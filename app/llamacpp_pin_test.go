package app_test

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/driftwatch/driftwatch/sim"
)

// A pinned llama.cpp target (the simulator's llama-server surface, which
// follows recorded real responses) passes its pin run after run on the
// same model file, and a re-quantized file behind an alias is a pin
// violation found before any case is sent.
func TestPinnedLlamaCPPSameFileAndRequantizedFile(t *testing.T) {
	t.Parallel()
	cfg := sim.Config{Seed: 5, Models: []sim.Model{{Name: "tiny-drift",
		Identity: sim.Identity{Server: sim.ServerLlamaCPP, ModelPath: "/models/tiny-drift-f32.gguf", MaxModelLen: 256},
		Profile:  sim.Profile{Seed: 1, Accuracy: 0.9, Deterministic: true},
		Updates: []sim.Update{{Name: "requantized", Identity: &sim.Identity{
			ModelPath: "/models/tiny-drift-q4_0.gguf", Alias: "tiny-drift-llama", Size: 2465802}}}}}}
	e := setup(t, envOpts{cases: 30, sim: cfg})
	b, err := os.ReadFile(e.cfgPath)
	require.NoError(t, err)
	c := strings.Replace(string(b), "provider: openai", "provider: llamacpp", 1)
	c = strings.Replace(c, "model: sim-gpt", "model: tiny-drift", 1)
	c = strings.Replace(c, "concurrency: 8", "concurrency: 8\n    pin: true", 1)
	require.NoError(t, os.WriteFile(e.cfgPath, []byte(c), 0o600))
	jsonPath := filepath.Join(e.dir, "r.json")
	ctx := context.Background()

	for i := range 2 {
		code, _, stderr := e.run(t, ctx, "run", "--no-progress", "--json", jsonPath)
		require.Equal(t, 0, code, "run %d: %s", i+1, stderr)
		r := readReports(t, jsonPath)[0]
		require.False(t, r.PinViolated, "run %d", i+1)
		require.False(t, r.IdentityChanged, "run %d", i+1)
		require.Equal(t, "/models/tiny-drift-f32.gguf", r.Identity.ResolvedModel)
	}

	_, err = e.sim.Update("tiny-drift")
	require.NoError(t, err)
	before := e.sim.Stats().Requests
	code, _, stderr := e.run(t, ctx, "run", "--no-progress", "--json", jsonPath)
	require.Equal(t, 1, code, stderr)
	r := readReports(t, jsonPath)[0]
	require.True(t, r.PinViolated)
	require.True(t, r.IdentityChanged)
	require.Equal(t, "/models/tiny-drift-q4_0.gguf", r.Identity.ResolvedModel)
	require.Equal(t, before, e.sim.Stats().Requests, "no case was sent to the re-quantized model")
}
