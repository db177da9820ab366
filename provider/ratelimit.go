package provider

import (
	"net/http"
	"strconv"
	"strings"
	"time"
)

// RateLimit is what a response's headers say about the provider's rate
// limits. Zero fields were not reported. Two header families are read,
// checked against the vendors' rate-limit documentation:
//
//   - OpenAI (and the OpenAI-compatible servers that copy it):
//     x-ratelimit-limit-requests and -tokens (per minute),
//     x-ratelimit-remaining-requests and -tokens, and
//     x-ratelimit-reset-requests and -tokens, the time until the limit is
//     fully replenished as a Go-style duration ("1s", "6m0s", "20ms",
//     "7.66s").
//   - Anthropic: anthropic-ratelimit-requests-{limit,remaining,reset} and
//     anthropic-ratelimit-tokens-{limit,remaining,reset} (also
//     input-tokens and output-tokens; the most constraining wins), with
//     the reset as an RFC 3339 time.
//
// On a 429 both send Retry-After (seconds); OpenAI's clients also read
// retry-after-ms, which OpenAI-compatible gateways send.
type RateLimit struct {
	// RetryAfter is the server's requested wait (Retry-After-Ms or
	// Retry-After).
	RetryAfter time.Duration
	// Requests and Tokens are the two limited dimensions.
	Requests, Tokens RateWindow
}

// RateWindow is one limited dimension: Limit per minute, Remaining now,
// Reset until fully replenished. Limit and Remaining are -1 when not
// reported.
type RateWindow struct {
	Limit, Remaining int64
	Reset            time.Duration
}

// Known reports whether the window carried any header.
func (w RateWindow) Known() bool { return w.Limit >= 0 || w.Remaining >= 0 || w.Reset > 0 }

// ParseRateLimit reads the rate-limit headers of h (nil allowed) at now.
func ParseRateLimit(h http.Header, now time.Time) RateLimit {
	rl := RateLimit{Requests: RateWindow{Limit: -1, Remaining: -1}, Tokens: RateWindow{Limit: -1, Remaining: -1}}
	if h == nil {
		return rl
	}
	rl.RetryAfter = RetryAfter(h, now)
	openai := func(w *RateWindow, unit string) {
		w.Limit = headerInt(h, "X-Ratelimit-Limit-"+unit)
		w.Remaining = headerInt(h, "X-Ratelimit-Remaining-"+unit)
		w.Reset = parseResetDuration(h.Get("X-Ratelimit-Reset-" + unit))
	}
	openai(&rl.Requests, "Requests")
	openai(&rl.Tokens, "Tokens")
	anthropic := func(w *RateWindow, unit string) {
		lim := headerInt(h, "Anthropic-Ratelimit-"+unit+"-Limit")
		rem := headerInt(h, "Anthropic-Ratelimit-"+unit+"-Remaining")
		var reset time.Duration
		if t, err := time.Parse(time.RFC3339, strings.TrimSpace(h.Get("Anthropic-Ratelimit-"+unit+"-Reset"))); err == nil {
			reset = max(t.Sub(now), 0)
		}
		if lim < 0 && rem < 0 && reset == 0 {
			return
		}
		// Several token windows: keep the one with the least remaining.
		if w.Remaining >= 0 && rem >= 0 && rem > w.Remaining {
			return
		}
		if lim >= 0 {
			w.Limit = lim
		}
		if rem >= 0 {
			w.Remaining = rem
		}
		if reset > 0 {
			w.Reset = reset
		}
	}
	anthropic(&rl.Requests, "Requests")
	anthropic(&rl.Tokens, "Tokens")
	anthropic(&rl.Tokens, "Input-Tokens")
	anthropic(&rl.Tokens, "Output-Tokens")
	return rl
}

func headerInt(h http.Header, key string) int64 {
	v := strings.TrimSpace(h.Get(key))
	if v == "" {
		return -1
	}
	n, err := strconv.ParseInt(v, 10, 64)
	if err != nil || n < 0 {
		return -1
	}
	return n
}

// parseResetDuration reads OpenAI's reset durations ("6m0s", "1s",
// "20ms", "1h2m3.5s"); a bare number is taken as seconds. Unparseable,
// negative or absurd (over a day) values read as 0.
func parseResetDuration(v string) time.Duration {
	v = strings.TrimSpace(v)
	if v == "" {
		return 0
	}
	d, err := time.ParseDuration(v)
	if err != nil {
		f, ferr := strconv.ParseFloat(v, 64)
		if ferr != nil {
			return 0
		}
		d = time.Duration(f * float64(time.Second))
	}
	if d < 0 || d > 24*time.Hour {
		return 0
	}
	return d
}
