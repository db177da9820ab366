package sim_test

import (
	"fmt"
	"net/http"
	"strconv"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/driftwatch/driftwatch/sim"
)

// A request burst beyond the enforced rate is refused with 429s that carry
// Retry-After, retry-after-ms and OpenAI's x-ratelimit-* headers in the
// documented formats; admitted requests carry the same limit headers.
func TestRateLimitRefusesBeyondTheRate(t *testing.T) {
	t.Parallel()
	b := setup(t, sim.Config{
		Models:    []sim.Model{fixedModel("m", sim.Profile{Accuracy: 1})},
		RateLimit: sim.RateLimit{RequestsPerSecond: 10, TokensPerMinute: 600_000},
	})
	const n = 40
	res := fanOut(t, b.url, n, 8, func(i int) map[string]any { return modelMsg("m", fmt.Sprintf("What is %d + 1?", i)) })
	var ok, refused int
	for _, r := range res {
		h := r.header
		require.Equal(t, "600", h.Get("x-ratelimit-limit-requests"))
		require.Equal(t, "600000", h.Get("x-ratelimit-limit-tokens"))
		rem, err := strconv.Atoi(h.Get("x-ratelimit-remaining-requests"))
		require.NoError(t, err)
		require.GreaterOrEqual(t, rem, 0)
		reset, err := time.ParseDuration(h.Get("x-ratelimit-reset-requests"))
		require.NoError(t, err, "reset is a Go duration like OpenAI's")
		require.LessOrEqual(t, reset, time.Second)
		_, err = time.ParseDuration(h.Get("x-ratelimit-reset-tokens"))
		require.NoError(t, err)
		switch r.status {
		case http.StatusOK:
			ok++
		case http.StatusTooManyRequests:
			refused++
			require.Equal(t, "1", h.Get("Retry-After"))
			ms, err := strconv.Atoi(h.Get("retry-after-ms"))
			require.NoError(t, err)
			require.Positive(t, ms)
			require.LessOrEqual(t, ms, 100)
			require.Contains(t, string(r.body), "rate_limit_exceeded")
		default:
			t.Fatalf("status %d", r.status)
		}
	}
	require.GreaterOrEqual(t, ok, 10, "the full bucket admits a second's worth at once")
	require.Positive(t, refused)
	st := b.srv.Stats()
	require.Equal(t, int64(refused), st.RateLimited)
	require.Equal(t, int64(ok), st.Requests, "refused requests never reach a model")
}

// The token bucket charges input plus max_tokens at admission: a request
// asking for more than is left waits, however few requests went before.
func TestRateLimitTokens(t *testing.T) {
	t.Parallel()
	b := setup(t, sim.Config{
		Models:    []sim.Model{fixedModel("m", sim.Profile{Accuracy: 1})},
		RateLimit: sim.RateLimit{TokensPerMinute: 6000}, // 100 a second
	})
	big := modelMsg("m", "What is 2 + 2?")
	big["max_tokens"] = 80
	resp, _ := b.do(t, http.MethodPost, "/v1/chat/completions", big)
	require.Equal(t, http.StatusOK, resp.StatusCode)
	resp, _ = b.do(t, http.MethodPost, "/v1/chat/completions", big)
	require.Equal(t, http.StatusTooManyRequests, resp.StatusCode)
	rem, err := strconv.Atoi(resp.Header.Get("x-ratelimit-remaining-tokens"))
	require.NoError(t, err)
	require.Less(t, rem, 80, "what is left does not hold the request")
	require.Empty(t, resp.Header.Get("x-ratelimit-limit-requests"), "no request limit, no request headers")
}

// /v1/messages reports the limit in Anthropic's headers, the reset as an
// RFC 3339 time; RetryAfterOnly keeps every limit header back.
func TestRateLimitHeaderFamilies(t *testing.T) {
	t.Parallel()
	b := setup(t, sim.Config{
		Models:    []sim.Model{fixedModel("m", sim.Profile{Accuracy: 1})},
		RateLimit: sim.RateLimit{RequestsPerSecond: 1},
	})
	body := map[string]any{"model": "m", "max_tokens": 16, "messages": []map[string]any{{"role": "user", "content": "What is 1 + 1?"}}}
	resp, _ := b.do(t, http.MethodPost, "/v1/messages", body)
	require.Equal(t, http.StatusOK, resp.StatusCode)
	require.Equal(t, "60", resp.Header.Get("anthropic-ratelimit-requests-limit"))
	require.Equal(t, "0", resp.Header.Get("anthropic-ratelimit-requests-remaining"))
	reset, err := time.Parse(time.RFC3339, resp.Header.Get("anthropic-ratelimit-requests-reset"))
	require.NoError(t, err)
	require.WithinDuration(t, time.Now(), reset, 2*time.Second)
	resp, raw := b.do(t, http.MethodPost, "/v1/messages", body)
	require.Equal(t, http.StatusTooManyRequests, resp.StatusCode)
	require.Contains(t, string(raw), "rate_limit_error")

	quiet := setup(t, sim.Config{
		Models:    []sim.Model{fixedModel("m", sim.Profile{Accuracy: 1})},
		RateLimit: sim.RateLimit{RequestsPerSecond: 1, RetryAfterOnly: true},
	})
	quiet.do(t, http.MethodPost, "/v1/chat/completions", modelMsg("m", "What is 1 + 1?"))
	resp, _ = quiet.do(t, http.MethodPost, "/v1/chat/completions", modelMsg("m", "What is 1 + 1?"))
	require.Equal(t, http.StatusTooManyRequests, resp.StatusCode)
	require.Equal(t, "1", resp.Header.Get("Retry-After"))
	require.Empty(t, resp.Header.Get("x-ratelimit-limit-requests"))
}
