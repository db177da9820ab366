package sim

import (
	"math"
	"net/http"
	"strconv"
	"sync"
	"time"
)

// RateLimit makes the simulator enforce a provider's rate limit on its
// generation endpoints, across all models, as token buckets: a request is
// admitted when the request bucket holds one request and the token bucket
// holds its input tokens plus its max_tokens (as OpenAI charges at
// admission); a response that used more than that is charged the
// difference (unused max_tokens are not given back). A request that does not fit gets a 429 with
// Retry-After (whole seconds, rounded up) and retry-after-ms. Zero rates
// are not enforced.
//
// The headers follow the vendors' rate-limit documentation. OpenAI-style
// endpoints send, on every response, x-ratelimit-limit-requests and
// -tokens (per minute), x-ratelimit-remaining-requests and -tokens, and
// x-ratelimit-reset-requests and -tokens (the time until the bucket is
// full, as a Go duration such as "1s", "6m0s" or "20ms"). /v1/messages
// sends anthropic-ratelimit-requests-{limit,remaining,reset} and
// anthropic-ratelimit-tokens-{limit,remaining,reset}, the reset as an RFC
// 3339 time.
type RateLimit struct {
	// RequestsPerSecond is the enforced request rate. 0: none.
	RequestsPerSecond float64 `json:"requests_per_second" yaml:"requests_per_second"`
	// TokensPerMinute is the enforced input plus output token rate. 0:
	// none.
	TokensPerMinute int `json:"tokens_per_minute" yaml:"tokens_per_minute"`
	// Burst is each bucket's capacity, as time's worth of its rate.
	// Default 1s.
	Burst Duration `json:"burst" yaml:"burst"`
	// RetryAfterOnly sends only Retry-After and retry-after-ms on a 429 and
	// no limit headers: a provider that keeps its limits to itself.
	RetryAfterOnly bool `json:"retry_after_only" yaml:"retry_after_only"`
}

func (r RateLimit) enabled() bool { return r.RequestsPerSecond > 0 || r.TokensPerMinute > 0 }

// limiter enforces a RateLimit.
type limiter struct {
	cfg      RateLimit
	now      func() time.Time
	mu       sync.Mutex
	req, tok simBucket
	refused  int64
	charged  float64 // tokens charged, admissions and overruns
}

type simBucket struct {
	rate, capacity, level float64
	last                  time.Time
}

func (b *simBucket) refill(now time.Time) {
	if el := now.Sub(b.last).Seconds(); el > 0 {
		b.level = min(b.capacity, b.level+el*b.rate)
	}
	b.last = now
}

// wait is how long until the bucket holds n.
func (b *simBucket) wait(n float64) time.Duration {
	if b.level >= n || b.rate == 0 {
		return 0
	}
	return time.Duration((n - b.level) / b.rate * float64(time.Second))
}

func (b *simBucket) untilFull() time.Duration {
	if b.rate == 0 {
		return 0
	}
	return time.Duration(math.Max(0, b.capacity-b.level) / b.rate * float64(time.Second)).Round(time.Millisecond)
}

func newLimiter(cfg RateLimit, now func() time.Time) *limiter {
	if !cfg.enabled() {
		return nil
	}
	burst := cfg.Burst.D()
	if burst <= 0 {
		burst = time.Second
	}
	l := &limiter{cfg: cfg, now: now}
	t := now()
	if cfg.RequestsPerSecond > 0 {
		l.req = simBucket{rate: cfg.RequestsPerSecond, capacity: max(1, cfg.RequestsPerSecond*burst.Seconds()), last: t}
		l.req.level = l.req.capacity
	}
	if cfg.TokensPerMinute > 0 {
		rate := float64(cfg.TokensPerMinute) / 60
		l.tok = simBucket{rate: rate, capacity: max(1, rate*burst.Seconds()), last: t}
		l.tok.level = l.tok.capacity
	}
	return l
}

// admission is one request's dealings with the limiter.
type admission struct {
	ok      bool
	wait    time.Duration
	charged float64
	// The state the headers report.
	reqRemaining, tokRemaining float64
	reqReset, tokReset         time.Duration
	at                         time.Time
}

// admit takes a request of tokens (input plus max_tokens) when both
// buckets hold it.
func (l *limiter) admit(tokens int) admission {
	l.mu.Lock()
	defer l.mu.Unlock()
	now := l.now()
	a := admission{at: now}
	if l.req.rate > 0 {
		l.req.refill(now)
		a.wait = l.req.wait(1)
	}
	need := float64(tokens)
	if l.tok.rate > 0 {
		l.tok.refill(now)
		need = min(need, l.tok.capacity) // a request larger than the bucket waits for a full one
		a.wait = max(a.wait, l.tok.wait(need))
	}
	if a.wait == 0 {
		a.ok = true
		if l.req.rate > 0 {
			l.req.level--
		}
		if l.tok.rate > 0 {
			l.tok.level -= need
			a.charged = need
			l.charged += need
		}
	} else {
		l.refused++
	}
	a.reqRemaining, a.tokRemaining = l.req.level, l.tok.level
	a.reqReset, a.tokReset = l.req.untilFull(), l.tok.untilFull()
	return a
}

// settle charges what a response used beyond what its admission charged
// (the bucket may go into debt).
func (l *limiter) settle(a admission, used int) {
	if l == nil || !a.ok || l.tok.rate == 0 {
		return
	}
	l.mu.Lock()
	defer l.mu.Unlock()
	if extra := float64(used) - a.charged; extra > 0 {
		l.tok.refill(l.now())
		l.tok.level -= extra
		l.charged += extra
	}
}

func (l *limiter) counts() (refused, charged int64) {
	if l == nil {
		return 0, 0
	}
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.refused, int64(l.charged)
}

// setHeaders writes the rate-limit headers for a, OpenAI's or Anthropic's.
func (l *limiter) setHeaders(h http.Header, a admission, anthropic bool) {
	if !a.ok {
		setRetryAfterHeaders(h, a.wait)
	}
	if l.cfg.RetryAfterOnly {
		return
	}
	window := func(unit string, limit float64, remaining float64, reset time.Duration) {
		lim := strconv.FormatInt(int64(math.Round(limit*60)), 10)
		rem := strconv.FormatInt(int64(math.Max(0, math.Floor(remaining))), 10)
		if anthropic {
			h.Set("anthropic-ratelimit-"+unit+"-limit", lim)
			h.Set("anthropic-ratelimit-"+unit+"-remaining", rem)
			h.Set("anthropic-ratelimit-"+unit+"-reset", a.at.Add(reset).UTC().Format(time.RFC3339))
			return
		}
		h.Set("x-ratelimit-limit-"+unit, lim)
		h.Set("x-ratelimit-remaining-"+unit, rem)
		h.Set("x-ratelimit-reset-"+unit, reset.String())
	}
	if l.req.rate > 0 {
		window("requests", l.req.rate, a.reqRemaining, a.reqReset)
	}
	if l.tok.rate > 0 {
		window("tokens", l.tok.rate, a.tokRemaining, a.tokReset)
	}
}

// setRetryAfterHeaders sets Retry-After (whole seconds, rounded up, at
// least 1) and retry-after-ms.
func setRetryAfterHeaders(h http.Header, d time.Duration) {
	h.Set("Retry-After", strconv.Itoa(max(1, int(math.Ceil(d.Seconds())))))
	h.Set("retry-after-ms", strconv.FormatInt(max(1, int64(math.Ceil(float64(d)/float64(time.Millisecond)))), 10))
}

// requestTokens is what admission charges: the messages' estimated tokens
// with their chat framing (3 per message and 3 for the reply, as OpenAI's
// token-counting guide counts them) plus max_tokens.
func requestTokens(in *genInput) int {
	n := in.maxTokens + 3
	for i := range in.msgs {
		n += 3 + estimateTokens(len(in.msgs[i].content))
	}
	return n
}

// limit applies the server's rate limit to a generation request. It
// reports false after writing the 429; otherwise the caller settles the
// admission with the response's usage.
func (s *Server) limit(w http.ResponseWriter, in *genInput, anthropic bool) (admission, bool) {
	if s.lim == nil {
		return admission{}, true
	}
	a := s.lim.admit(requestTokens(in))
	s.lim.setHeaders(w.Header(), a, anthropic)
	if a.ok {
		return a, true
	}
	if anthropic {
		anError(w, http.StatusTooManyRequests, "rate_limit_error", "This request would exceed the simulated rate limit.")
	} else {
		oaError(w, http.StatusTooManyRequests, "requests", "rate_limit_exceeded", "Rate limit reached for requests (simulator). Please try again later.")
	}
	return a, false
}
