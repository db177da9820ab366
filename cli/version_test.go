package cli_test

import (
	"bytes"
	"context"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/driftwatch/driftwatch/cli"
)

func TestVersionFlagAndCommandPrintTheVersion(t *testing.T) {
	for _, args := range [][]string{{"--version"}, {"version"}} {
		var stdout, stderr bytes.Buffer
		code := cli.Main(context.Background(), args, nil, &stdout, &stderr)
		require.Equal(t, 0, code, stderr.String())
		out := stdout.String()
		require.True(t, strings.HasPrefix(out, "driftwatch "+cli.ReadBuildInfo().Version), out)
		require.Contains(t, out, "go1.", "the Go version it was built with")
	}
}

func TestHealthcheckFollowsTheHealthEndpoint(t *testing.T) {
	var healthy atomic.Bool
	healthy.Store(true)
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		require.Equal(t, "/healthz", r.URL.Path)
		if !healthy.Load() {
			http.Error(w, "database unreachable", http.StatusServiceUnavailable)
		}
	}))
	defer srv.Close()
	var stdout, stderr bytes.Buffer
	require.Equal(t, 0, cli.Main(context.Background(), []string{"healthcheck", "--url", srv.URL + "/healthz"}, nil, &stdout, &stderr), stderr.String())
	healthy.Store(false)
	require.Equal(t, 3, cli.Main(context.Background(), []string{"healthcheck", "--url", srv.URL + "/healthz"}, nil, &stdout, &stderr))
	require.Contains(t, stderr.String(), "503")
}
