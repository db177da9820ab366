package targets

import (
	"context"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"sync/atomic"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/driftwatch/driftwatch/config"
	"github.com/driftwatch/driftwatch/eval"
)

// minimalTarget is a valid target list; tests append fields to its target.
const minimalTarget = "targets:\n  - name: gpt\n    model: gpt-4o\n    api_key: k\n"

// load writes text as a config file and loads it with an empty environment.
func load(t *testing.T, text string) *config.Config {
	t.Helper()
	path := filepath.Join(t.TempDir(), "c.yaml")
	require.NoError(t, os.WriteFile(path, []byte(text), 0o600))
	c, err := config.LoadWith(path, func(string) (string, bool) { return "", false })
	require.NoError(t, err)
	return c
}

func TestRetriesMeansRetriesAfterTheFirstAttempt(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name     string
		retries  string
		attempts int64
	}{
		{"default", "", config.RetriesDefault + 1},
		{"none", "    retries: 0\n", 1},
		{"two", "    retries: 2\n", 3},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			var hits atomic.Int64
			srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
				hits.Add(1)
				w.Header().Set("Retry-After-Ms", "1")
				// A real error: 429s are waited out without using up retries.
				w.WriteHeader(http.StatusInternalServerError)
			}))
			t.Cleanup(srv.Close)
			refs, err := Build(load(t, minimalTarget+"    base_url: "+srv.URL+"\n"+tc.retries), nil, Options{})
			require.NoError(t, err)
			_, err = refs[0].Call.Complete(context.Background(), &eval.Request{Messages: []eval.Message{{Role: "user", Content: "hi"}}})
			require.Error(t, err)
			require.Equal(t, tc.attempts, hits.Load())
		})
	}
}

func TestStoredBaseURLHasNoCredentials(t *testing.T) {
	t.Parallel()
	refs, err := Build(load(t, minimalTarget+"    base_url: https://user:pw-s3cret@gw.example.com/v1?api-version=2024-06-01&api_key=k-s3cret\n"), nil, Options{})
	require.NoError(t, err)
	require.Equal(t, "https://xxxxx@gw.example.com/v1?api-version=2024-06-01&api_key=xxxxx", refs[0].BaseURL)
}

func TestTargetBuildErrorsAreLocated(t *testing.T) {
	t.Parallel()
	c := load(t, "targets:\n  - name: gpt\n    model: gpt-4o\n    api_key_file: /nonexistent/driftwatch-key\n")
	_, err := Build(c, nil, Options{})
	require.ErrorContains(t, err, c.File+`:2: targets[0]: target "gpt": api_key_file: open /nonexistent/driftwatch-key`)
}
