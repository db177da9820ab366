package app

import (
	"testing"

	"github.com/driftwatch/driftwatch/config"
	"github.com/stretchr/testify/require"
)

func TestNewDoesNotModifyTheConfig(t *testing.T) {
	t.Parallel()
	cfg := &config.Config{File: "c.yaml", DataDir: "/from/config"}
	a := New(cfg, Options{DataDir: "/from/flag"})
	require.Equal(t, "/from/config", cfg.DataDir, "the caller's config is unchanged")
	require.Equal(t, "/from/flag", a.cfg.ResolvedDataDir(), "the flag wins for the App")

	// Without the flag the App uses the config as given.
	require.Equal(t, "/from/config", New(cfg, Options{}).cfg.ResolvedDataDir())
}
