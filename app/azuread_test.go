package app_test

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/driftwatch/driftwatch/config"
	"github.com/driftwatch/driftwatch/sim"
)

// tokenServer is a Microsoft Entra ID token endpoint for the client
// credentials grant: it checks the form and issues numbered tokens.
type tokenServer struct {
	secret  string
	expires int // expires_in of issued tokens, seconds

	mu     sync.Mutex
	issued int
	bad    []string // what was wrong with refused or malformed requests
}

func (s *tokenServer) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if err := r.ParseForm(); err != nil || r.Method != http.MethodPost || r.URL.Path != "/tenant-1/oauth2/v2.0/token" {
		s.bad = append(s.bad, fmt.Sprintf("%s %s: %v", r.Method, r.URL.Path, err))
		http.Error(w, "bad request", http.StatusBadRequest)
		return
	}
	want := map[string]string{"grant_type": "client_credentials", "client_id": "app-1",
		"scope": "https://cognitiveservices.azure.com/.default"}
	for k, v := range want {
		if got := r.PostForm.Get(k); got != v {
			s.bad = append(s.bad, fmt.Sprintf("%s=%q, want %q", k, got, v))
		}
	}
	if r.PostForm.Get("client_secret") != s.secret {
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(http.StatusUnauthorized)
		_, _ = w.Write([]byte(`{"error":"invalid_client","error_description":"AADSTS7000215: Invalid client secret provided."}`))
		return
	}
	s.issued++
	w.Header().Set("Content-Type", "application/json")
	_ = json.NewEncoder(w).Encode(map[string]any{"access_token": fmt.Sprintf("tok-%d", s.issued),
		"token_type": "Bearer", "expires_in": s.expires})
}

// TestAzureADTokens: an Azure target with azure_ad sends Entra ID bearer
// tokens (fetched once and shared by concurrent requests), never an api-key
// header; a wrong client secret errors every sample without leaking it.
func TestAzureADTokens(t *testing.T) {
	t.Parallel()
	const secret = "planted-client-secret-7f3e9a"
	for _, tc := range []struct {
		name        string
		configured  string
		wantErrored bool
	}{
		{"valid", secret, false},
		{"wrong secret", "not-the-" + secret, true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			cfg := sim.Config{Seed: 3, Models: []sim.Model{{Name: "sim-gpt", Profile: sim.Profile{Seed: 1, Accuracy: 0.95}}}}
			e := setup(t, envOpts{cases: 20, sim: cfg})
			tokens := &tokenServer{secret: secret, expires: 3600}
			idp := httptest.NewServer(tokens)
			t.Cleanup(idp.Close)

			// The Azure endpoint: bearer tokens from the IdP only, then the
			// simulator's Azure surface.
			var mu sync.Mutex
			seen := map[string]int{}
			azure := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				mu.Lock()
				seen[r.Header.Get("Authorization")+" api-key="+r.Header.Get("api-key")]++
				mu.Unlock()
				if !strings.HasPrefix(r.Header.Get("Authorization"), "Bearer tok-") || r.Header.Get("api-key") != "" {
					http.Error(w, `{"error":{"message":"unauthorized"}}`, http.StatusUnauthorized)
					return
				}
				e.sim.ServeHTTP(w, r)
			}))
			t.Cleanup(azure.Close)

			b, err := os.ReadFile(e.cfgPath)
			require.NoError(t, err)
			c := strings.Replace(string(b), "provider: openai", "provider: azure", 1)
			c = strings.Replace(c, "base_url: "+e.simURL+"/v1", "base_url: "+azure.URL+"\n    deployment: prod-gpt\n    retries: 0", 1)
			c = strings.Replace(c, "    api_key: ${DW_TEST_KEY:-sk-test-planted-secret-0123456789}\n", fmt.Sprintf(
				"    azure_ad: {tenant_id: tenant-1, client_id: app-1, client_secret: %q, token_url: %q}\n",
				tc.configured, idp.URL+"/tenant-1/oauth2/v2.0/token"), 1)
			require.NoError(t, os.WriteFile(e.cfgPath, []byte(c), 0o600))

			jsonPath := filepath.Join(e.dir, "r.json")
			code, stdout, stderr := e.run(t, context.Background(), "run", "--samples", "2", "--no-progress", "-v", "--json", jsonPath)
			require.Empty(t, tokens.bad)
			require.NotContains(t, stdout+stderr, secret)
			r := readReports(t, jsonPath)[0]
			raw, err := os.ReadFile(jsonPath)
			require.NoError(t, err)
			require.NotContains(t, string(raw), secret)
			if tc.wantErrored {
				// Every sample sent failed; the run stopped sending after
				// two rounds of its concurrency (8) of them.
				require.Equal(t, r.Metrics.Samples, r.Metrics.ErrorCount, stderr)
				require.GreaterOrEqual(t, r.Metrics.ErrorCount, 16, stderr)
				require.LessOrEqual(t, r.Metrics.ErrorCount, 40, stderr)
				require.Contains(t, []int{2, 3}, code)
				require.Empty(t, seen, "no request without a token reaches the endpoint")
				return
			}
			require.Equal(t, 0, code, stderr)
			require.Equal(t, "BASELINE", r.Verdict)
			require.Zero(t, r.Metrics.ErrorCount)
			require.Equal(t, 40, r.Metrics.Samples)
			require.Equal(t, 1, tokens.issued, "one token serves the whole run")
			require.Equal(t, map[string]int{"Bearer tok-1 api-key=": 40}, seen)
		})
	}
}

// TestAzureADConfigErrors: misuses of azure_ad are reported with the file,
// the line and the field.
func TestAzureADConfigErrors(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct{ target, want string }{
		{"provider: openai\n    model: m\n    azure_ad: {tenant_id: t, client_id: c, client_secret: s}", "azure_ad is for provider azure"},
		{"provider: azure\n    model: m\n    api_key: k\n    azure_ad: {tenant_id: t, client_id: c, client_secret: s}", "either api_key or azure_ad"},
		{"provider: azure\n    model: m\n    azure_ad: {client_id: c, client_secret: s}", "needs client_id and tenant_id"},
		{"provider: azure\n    model: m\n    azure_ad: {tenant_id: t, client_id: c}", "needs client_secret"},
		{"provider: azure\n    model: m\n    azure_ad: {tenant_id: t, client_id: c, client_secret: s, secret: x}", `unknown field "secret"`},
	} {
		path := filepath.Join(t.TempDir(), "driftwatch.yaml")
		require.NoError(t, os.WriteFile(path, []byte("targets:\n  - name: az\n    "+tc.target+"\n"), 0o600))
		_, err := config.Load(path)
		require.ErrorContains(t, err, tc.want)
		require.ErrorContains(t, err, path+":")
	}
}
