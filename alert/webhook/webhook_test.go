package webhook_test

import (
	"context"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	"go.uber.org/goleak"

	"github.com/driftwatch/driftwatch/alert"
	"github.com/driftwatch/driftwatch/alert/webhook"
)

func TestMain(m *testing.M) {
	goleak.VerifyTestMain(m)
}

func TestNotifyPostsEventJSON(t *testing.T) {
	t.Parallel()
	type got struct {
		auth string
		body []byte
	}
	ch := make(chan got, 1)
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		b, _ := io.ReadAll(r.Body)
		ch <- got{auth: r.Header.Get("Authorization"), body: b}
	}))
	t.Cleanup(srv.Close)

	n, err := webhook.New(webhook.Config{URL: alert.NewSecret(srv.URL + "/hook"),
		Headers: map[string]alert.Secret{"Authorization": alert.NewSecret("Bearer abc")}}, srv.Client(), nil)
	require.NoError(t, err)
	ev := alert.Event{Kind: alert.KindDrift, Severity: alert.SeverityCritical, DedupKey: "k", Fingerprint: "f",
		Time: time.Date(2026, 3, 1, 0, 0, 0, 0, time.UTC), Suite: "prime", Target: "gpt4", RunID: 3,
		Cases: []alert.CaseExample{{Case: "c", Before: "<!channel>", After: "b"}}}
	require.NoError(t, n.Notify(context.Background(), &ev))
	g := <-ch
	require.Equal(t, "Bearer abc", g.auth)
	var back alert.Event
	require.NoError(t, json.Unmarshal(g.body, &back))
	require.Equal(t, ev, back)
	require.Contains(t, string(g.body), `"severity":"critical"`)
}

// TestNotifyResolvedJSON pins the resolved event's part of the webhook
// contract: kind "resolved", the drift alert's dedup key and severity, and
// the episode it ends.
func TestNotifyResolvedJSON(t *testing.T) {
	t.Parallel()
	ch := make(chan []byte, 1)
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		b, _ := io.ReadAll(r.Body)
		ch <- b
	}))
	t.Cleanup(srv.Close)
	n, err := webhook.New(webhook.Config{URL: alert.NewSecret(srv.URL + "/hook")}, srv.Client(), nil)
	require.NoError(t, err)
	first := time.Date(2026, 3, 1, 2, 0, 0, 0, time.UTC)
	ev := alert.Event{Kind: alert.KindResolved, Severity: alert.SeverityCritical, DedupKey: "driftwatch/drift/prime@gpt4",
		Time: first.Add(48 * time.Hour), Suite: "prime", Target: "gpt4", RunID: 47, Verdict: "STABLE",
		Episode: &alert.Episode{FirstRunID: 42, FirstAlertedAt: first, LastRunID: 45, LastAlertedAt: first.Add(24 * time.Hour)}}
	require.NoError(t, n.Notify(context.Background(), &ev))
	var got struct {
		Kind     string          `json:"kind"`
		Severity string          `json:"severity"`
		DedupKey string          `json:"dedup_key"`
		RunID    int64           `json:"run_id"`
		Episode  json.RawMessage `json:"episode"`
	}
	require.NoError(t, json.Unmarshal(<-ch, &got))
	require.Equal(t, "resolved", got.Kind)
	require.Equal(t, "critical", got.Severity)
	require.Equal(t, "driftwatch/drift/prime@gpt4", got.DedupKey)
	require.Equal(t, int64(47), got.RunID)
	require.JSONEq(t, `{"first_run_id":42,"first_alerted_at":"2026-03-01T02:00:00Z","last_run_id":45,"last_alerted_at":"2026-03-02T02:00:00Z"}`,
		string(got.Episode))
}

func TestNewRejectsBadURL(t *testing.T) {
	t.Parallel()
	for _, u := range []string{"", "ftp://x/secret-path", "not a url"} {
		_, err := webhook.New(webhook.Config{URL: alert.NewSecret(u)}, nil, nil)
		require.Error(t, err)
		if u != "" {
			require.NotContains(t, err.Error(), u)
		}
	}
}

// An endpoint that echoes the request in its error body must not leak the
// header tokens (or the URL) into the delivery error.
func TestNotifyErrorRedactsEchoedSecrets(t *testing.T) {
	t.Parallel()
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.WriteHeader(http.StatusBadRequest)
		_, _ = io.WriteString(w, "bad request to "+r.URL.Path+" with Authorization: "+r.Header.Get("Authorization"))
	}))
	t.Cleanup(srv.Close)

	n, err := webhook.New(webhook.Config{URL: alert.NewSecret(srv.URL + "/hook/tok-url-123"),
		Headers: map[string]alert.Secret{"Authorization": alert.NewSecret("Bearer tok-hdr-456")}}, srv.Client(), nil)
	require.NoError(t, err)
	err = n.Notify(context.Background(), &alert.Event{Kind: alert.KindDrift, DedupKey: "k", RunID: 1})
	require.Error(t, err)
	require.Contains(t, err.Error(), "unexpected status 400")
	require.NotContains(t, err.Error(), "tok-url-123")
	require.NotContains(t, err.Error(), "tok-hdr-456")
}
