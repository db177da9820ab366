package provider_test

import (
	"net/http"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/driftwatch/driftwatch/provider"
)

// The header sets of OpenAI's and Anthropic's rate-limit documentation.
func TestParseRateLimit(t *testing.T) {
	t.Parallel()
	now := time.Date(2026, 12, 6, 10, 0, 0, 0, time.UTC)
	hdr := func(kv ...string) http.Header {
		h := http.Header{}
		for i := 0; i < len(kv); i += 2 {
			h.Set(kv[i], kv[i+1])
		}
		return h
	}
	tests := []struct {
		name string
		h    http.Header
		want provider.RateLimit
	}{
		{"OpenAI", hdr(
			"x-ratelimit-limit-requests", "60", "x-ratelimit-remaining-requests", "59", "x-ratelimit-reset-requests", "1s",
			"x-ratelimit-limit-tokens", "150000", "x-ratelimit-remaining-tokens", "149984", "x-ratelimit-reset-tokens", "6m0s"),
			provider.RateLimit{Requests: provider.RateWindow{Limit: 60, Remaining: 59, Reset: time.Second},
				Tokens: provider.RateWindow{Limit: 150000, Remaining: 149984, Reset: 6 * time.Minute}}},
		{"OpenAI429", hdr("retry-after-ms", "20", "Retry-After", "1", "x-ratelimit-reset-requests", "20ms", "x-ratelimit-remaining-requests", "0"),
			provider.RateLimit{RetryAfter: 20 * time.Millisecond, Requests: provider.RateWindow{Limit: -1, Remaining: 0, Reset: 20 * time.Millisecond},
				Tokens: provider.RateWindow{Limit: -1, Remaining: -1}}},
		{"Anthropic", hdr("retry-after", "7",
			"anthropic-ratelimit-requests-limit", "50", "anthropic-ratelimit-requests-remaining", "0", "anthropic-ratelimit-requests-reset", "2026-12-06T10:00:07Z",
			"anthropic-ratelimit-tokens-limit", "40000", "anthropic-ratelimit-tokens-remaining", "39000", "anthropic-ratelimit-tokens-reset", "2026-12-06T10:00:01Z",
			"anthropic-ratelimit-output-tokens-limit", "8000", "anthropic-ratelimit-output-tokens-remaining", "100", "anthropic-ratelimit-output-tokens-reset", "2026-12-06T10:00:30Z"),
			provider.RateLimit{RetryAfter: 7 * time.Second, Requests: provider.RateWindow{Limit: 50, Remaining: 0, Reset: 7 * time.Second},
				Tokens: provider.RateWindow{Limit: 8000, Remaining: 100, Reset: 30 * time.Second}}},
		{"Garbage", hdr("x-ratelimit-limit-requests", "many", "x-ratelimit-reset-requests", "-5s", "retry-after", "soon"),
			provider.RateLimit{Requests: provider.RateWindow{Limit: -1, Remaining: -1}, Tokens: provider.RateWindow{Limit: -1, Remaining: -1}}},
		{"None", nil, provider.RateLimit{Requests: provider.RateWindow{Limit: -1, Remaining: -1}, Tokens: provider.RateWindow{Limit: -1, Remaining: -1}}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			require.Equal(t, tt.want, provider.ParseRateLimit(tt.h, now))
		})
	}
}
