package app

import (
	"context"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"sync/atomic"
	"testing"

	"github.com/driftwatch/driftwatch/config"
	"github.com/driftwatch/driftwatch/eval"
	"github.com/stretchr/testify/require"
)

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
			c, err := config.LoadWith(writeConfig(t, minimalTarget+"    base_url: "+srv.URL+"\n"+tc.retries), envOf(nil))
			require.NoError(t, err)
			a := New(c, Options{})
			refs, err := a.targets(nil)
			require.NoError(t, err)
			_, err = refs[0].target.Complete(context.Background(), &eval.Request{Messages: []eval.Message{{Role: "user", Content: "hi"}}})
			require.Error(t, err)
			require.Equal(t, tc.attempts, hits.Load())
		})
	}
}

func TestStoredBaseURLHasNoCredentials(t *testing.T) {
	t.Parallel()
	c, err := config.LoadWith(writeConfig(t, minimalTarget+"    base_url: https://user:pw-s3cret@gw.example.com/v1?api-version=2024-06-01&api_key=k-s3cret\n"), envOf(nil))
	require.NoError(t, err)
	refs, err := New(c, Options{}).targets(nil)
	require.NoError(t, err)
	require.Equal(t, "https://xxxxx@gw.example.com/v1?api-version=2024-06-01&api_key=xxxxx", refs[0].baseURL)
	require.Equal(t, "http://127.0.0.1:8089/v1", redactURL("http://127.0.0.1:8089/v1"))
	require.Empty(t, redactURL(""))
}

func TestTargetBuildErrorsAreLocated(t *testing.T) {
	t.Parallel()
	path := writeConfig(t, "targets:\n  - name: gpt\n    model: gpt-4o\n    api_key_file: /nonexistent/driftwatch-key\n")
	c, err := config.LoadWith(path, envOf(nil))
	require.NoError(t, err)
	_, err = New(c, Options{}).targets(nil)
	require.ErrorContains(t, err, path+`:2: targets[0]: target "gpt": api_key_file: open /nonexistent/driftwatch-key`)
}

func TestUnknownSuiteEntryIsLocated(t *testing.T) {
	t.Parallel()
	path := writeConfig(t, minimalTarget+"suites:\n  - nothere/\n")
	c, err := config.LoadWith(path, envOf(nil))
	require.NoError(t, err)
	_, _, err = New(c, Options{}).suiteEntries()
	require.ErrorContains(t, err, path+`:6: suites[0]: "nothere/" is neither a suite file or folder nor a registered Go suite`)
}

// writeConfig writes text as a config file and returns its path.
func writeConfig(t testing.TB, text string) string {
	t.Helper()
	path := filepath.Join(t.TempDir(), "c.yaml")
	require.NoError(t, os.WriteFile(path, []byte(text), 0o600))
	return path
}

func envOf(env map[string]string) func(string) (string, bool) {
	return func(k string) (string, bool) { v, ok := env[k]; return v, ok }
}

// minimalTarget is a valid target list; tests append fields to its target.
const minimalTarget = "targets:\n  - name: gpt\n    model: gpt-4o\n    api_key: k\n"
