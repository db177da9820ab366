package openai_test

import (
	"context"
	"net/http/httptest"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/driftwatch/driftwatch/provider/anthropic"
	"github.com/driftwatch/driftwatch/provider/openai"
	"github.com/driftwatch/driftwatch/sim"
)

// A closed API's identity (resolved model, system fingerprint) is known
// after exactly one request, before a run fans out; an open server's
// costs no completion at all.
func TestProbeRequestSendsOneRequest(t *testing.T) {
	t.Parallel()
	srv, err := sim.New(sim.Config{Models: []sim.Model{{Name: "gpt-x", Profile: sim.Profile{Accuracy: 1},
		Identity: sim.Identity{ResolvedModel: "gpt-x-2026-01-01", SystemFingerprint: "fp_probe", Root: "org/gpt-x"}}}})
	require.NoError(t, err)
	hs := httptest.NewServer(srv)
	t.Cleanup(func() { srv.Close(); hs.Close() })
	ctx := context.Background()

	closed, err := openai.New(openai.Config{Flavor: openai.FlavorOpenAI, BaseURL: hs.URL + "/v1", Model: "gpt-x", APIKey: "k"}, nil)
	require.NoError(t, err)
	id, err := closed.ProbeRequest(ctx)
	require.NoError(t, err)
	require.Equal(t, "gpt-x-2026-01-01", id.ResolvedModel)
	require.Equal(t, "fp_probe", id.Fingerprint)
	require.Equal(t, int64(1), srv.Stats().Requests)

	an, err := anthropic.New(anthropic.Config{BaseURL: hs.URL, Model: "gpt-x", APIKey: "k"}, nil)
	require.NoError(t, err)
	id, err = an.ProbeRequest(ctx)
	require.NoError(t, err)
	require.Equal(t, "gpt-x-2026-01-01", id.ResolvedModel)
	require.Equal(t, int64(2), srv.Stats().Requests)

	open, err := openai.New(openai.Config{Flavor: openai.FlavorVLLM, BaseURL: hs.URL + "/v1", Model: "gpt-x"}, nil)
	require.NoError(t, err)
	id, err = open.ProbeRequest(ctx)
	require.NoError(t, err)
	require.Equal(t, "gpt-x", id.ResolvedModel)
	require.NotEmpty(t, id.Digest)
	require.Equal(t, int64(2), srv.Stats().Requests, "an open server is probed without a completion")
}
