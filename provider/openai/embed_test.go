package openai_test

import (
	"context"
	"encoding/json"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/driftwatch/driftwatch/eval"
	"github.com/driftwatch/driftwatch/provider"
	"github.com/driftwatch/driftwatch/provider/openai"
)

func TestEmbed(t *testing.T) {
	t.Parallel()
	var calls atomic.Int32
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		require.Equal(t, "/v1/embeddings", r.URL.Path)
		if calls.Add(1) == 1 {
			w.WriteHeader(http.StatusServiceUnavailable)
			_, _ = io.WriteString(w, `{"error":{"message":"overloaded","type":"server_error"}}`)
			return
		}
		var req struct {
			Input []string `json:"input"`
			Model string   `json:"model"`
		}
		require.NoError(t, json.NewDecoder(r.Body).Decode(&req))
		require.Equal(t, "text-embedding-3-small", req.Model)
		// Out of order on purpose: the client must place vectors by index.
		_, _ = io.WriteString(w, `{"object":"list","model":"text-embedding-3-small","data":[
			{"object":"embedding","index":1,"embedding":[0,1]},
			{"object":"embedding","index":0,"embedding":[1,0]}],"usage":{"prompt_tokens":4,"total_tokens":4}}`)
	}))
	t.Cleanup(srv.Close)
	c, err := openai.New(openai.Config{BaseURL: srv.URL + "/v1", Model: "text-embedding-3-small", APIKey: "k",
		Retry: provider.Retry{MaxAttempts: 2, BaseDelay: time.Millisecond}}, slog.New(slog.DiscardHandler))
	require.NoError(t, err)
	vs, err := c.Embed(context.Background(), []string{"a", "b"})
	require.NoError(t, err)
	require.Equal(t, [][]float64{{1, 0}, {0, 1}}, vs)
	require.Equal(t, int32(2), calls.Load(), "the 503 was retried")

	bad := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.WriteHeader(http.StatusBadRequest)
		_, _ = io.WriteString(w, `{"error":{"message":"unknown model","type":"invalid_request_error"}}`)
	}))
	t.Cleanup(bad.Close)
	c, err = openai.New(openai.Config{BaseURL: bad.URL + "/v1", Model: "nope", APIKey: "k"}, slog.New(slog.DiscardHandler))
	require.NoError(t, err)
	_, err = c.Embed(context.Background(), []string{"a"})
	require.Error(t, err)
	require.Equal(t, eval.ErrBadRequest, eval.KindOf(err))
	require.Contains(t, err.Error(), "unknown model")
}
