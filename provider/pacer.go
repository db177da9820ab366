package provider

import (
	"context"
	"net/http"
	"sync"
	"time"
)

// PacerConfig configures a Pacer. Zero fields mean "not configured": the
// pacer then learns the limit from the provider.
type PacerConfig struct {
	// RPM and TPM are the configured requests and tokens per minute. The
	// pacer never sends faster; a lower limit the provider reports wins.
	RPM, TPM int
	// Burst is how much of a second's allowance may go out at once.
	// Default 0.25 (a quarter second's worth, at least one request).
	Burst float64
}

// Pacer paces one target's HTTP attempts to the provider's rate limits. It
// starts from the configured rpm/tpm (unlimited when none) and learns from
// every response:
//
//   - a reported limit (x-ratelimit-limit-*, anthropic-ratelimit-*-limit,
//     per minute) becomes the pacing rate when lower than the current one;
//   - a reported remaining count lower than the pacer's own allowance
//     replaces it, and a remaining count of 0 holds every send until the
//     reset (at most one request's or token's worth of the rate);
//   - a 429 holds every send until its Retry-After (or retry-after-ms,
//     or 1s when it says nothing) and, when the provider reports no limit,
//     cuts the rate, when a fifth or more of the last two seconds'
//     responses were 429s, to 90% of what the provider accepted in them
//     (and to at most 85% of the current rate), from where it
//     grows again by 2% of that per second without a 429; a cut that did
//     not lower the share of 429s (they do not depend on the rate) is
//     undone, and cutting pauses for 30s.
//
// Every attempt calls Wait before it is sent and Observe after. A Pacer is
// safe for concurrent use; one per target.
type Pacer struct {
	now func() time.Time

	mu         sync.Mutex
	req, tok   bucket
	cfgReqRate float64 // per second, 0: none configured
	cfgTokRate float64
	burst      float64
	gate       time.Time // nothing is sent before
	// Learning without reported limits (requests only).
	reportedReq bool
	cutRate     float64   // the rate after the last cut, 0: none
	cutAt       time.Time // when
	started     time.Time // first Wait
	oks, limits []time.Time
	// The last cut: the rate before it and the share of 429s that
	// prompted it; cutting stops until noCutUntil when cuts do not help.
	rateBeforeCut, shareAtCut float64
	noCutUntil                time.Time
	// peak is the highest accepted rate a cut measured: no cut goes below
	// half of it.
	peak float64
	// Statistics.
	waiting   int
	waitSince time.Time
	throttled time.Duration
	limited   int64
}

// NewPacer returns a pacer for cfg.
func NewPacer(cfg PacerConfig) *Pacer {
	p := &Pacer{now: time.Now, burst: cfg.Burst}
	if p.burst <= 0 {
		p.burst = 0.25
	}
	if cfg.RPM > 0 {
		p.cfgReqRate = float64(cfg.RPM) / 60
		p.req.setRate(p.cfgReqRate, p.burst, p.now())
	}
	if cfg.TPM > 0 {
		p.cfgTokRate = float64(cfg.TPM) / 60
		p.tok.setRate(p.cfgTokRate, p.burst, p.now())
	}
	return p
}

// Ticket is one admitted attempt, handed back to Observe.
type Ticket struct {
	tokens int // what was charged
}

// Wait blocks until an attempt charged tokens may be sent, or ctx ends
// (its error is then returned). Charge what the provider counts at
// admission: the input tokens plus max_tokens (OpenAI and Anthropic both
// count the requested output before it is generated). A nil Pacer never
// waits.
func (p *Pacer) Wait(ctx context.Context, tokens int) (Ticket, error) {
	if p == nil {
		return Ticket{}, nil
	}
	tokens = max(tokens, 0)
	p.mu.Lock()
	now := p.now()
	p.grow(now)
	at := now
	if p.gate.After(at) {
		at = p.gate
	}
	if t := p.req.take(now, 1); t.After(at) {
		at = t
	}
	if t := p.tok.take(now, float64(tokens)); t.After(at) {
		at = t
	}
	if p.started.IsZero() {
		p.started = now
	}
	d := at.Sub(now)
	tk := Ticket{tokens: tokens}
	if d <= 0 {
		p.mu.Unlock()
		return tk, nil
	}
	p.startWait(now)
	p.mu.Unlock()

	t := time.NewTimer(d)
	defer t.Stop()
	var err error
	select {
	case <-t.C:
	case <-ctx.Done():
		err = context.Cause(ctx)
	}
	p.mu.Lock()
	p.endWait(p.now())
	if err != nil {
		p.req.refund(1)
		p.tok.refund(float64(tokens))
	}
	p.mu.Unlock()
	return tk, err
}

// Observe learns from the response to an admitted attempt: its status (0
// when no response arrived), its headers and the tokens it used (0 when
// unknown).
func (p *Pacer) Observe(t Ticket, status int, h http.Header, used int) {
	if p == nil {
		return
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	now := p.now()
	if extra := used - t.tokens; extra > 0 && p.tok.rate > 0 {
		// Used beyond the charge: the provider counts it too. Unused
		// max_tokens are not given back (providers do not either).
		p.tok.refill(now)
		p.tok.tokens -= float64(extra)
	}
	if status == 0 {
		return
	}
	if status < 300 {
		p.oks = appendCapped(p.oks, now)
	}
	rl := ParseRateLimit(h, now)
	p.learn(now, &p.req, rl.Requests, &p.cfgReqRate, 1)
	p.learn(now, &p.tok, rl.Tokens, &p.cfgTokRate, float64(max(t.tokens, 1)))
	if rl.Requests.Limit > 0 {
		p.reportedReq = true
	}
	if status != http.StatusTooManyRequests {
		return
	}
	p.limited++
	wait := rl.RetryAfter
	if wait <= 0 {
		wait = time.Second
	}
	if g := now.Add(wait); g.After(p.gate) {
		p.gate = g
	}
	p.limits = appendCapped(p.limits, now)
	if !p.reportedReq && now.After(p.noCutUntil) && now.Sub(p.cutAt) >= max(wait, 2*time.Second) {
		p.cut(now)
	}
}

// cut slows a pacer whose provider reports no limit down below the rate
// the provider accepted lately (successes in the last two seconds), and
// below the current rate (never below half the highest accepted rate
// measured), when at least a fifth of those seconds' responses were 429s. When the previous cut did not lower the share of
// 429s (they do not depend on the rate: an overloaded server, random
// refusals), it is undone instead and cutting pauses for noCutPause.
func (p *Pacer) cut(now time.Time) {
	win := min(2*time.Second, now.Sub(p.started))
	ok, limited := countSince(p.oks, now, win), countSince(p.limits, now, win)
	if ok+limited < cutMinResponses {
		return // too few responses to tell: the Retry-After hold does
	}
	share := float64(limited) / float64(ok+limited)
	if p.cutRate > 0 && p.req.rate <= p.cutRate*1.05 && share >= 0.6*p.shareAtCut {
		p.req.setRate(p.rateBeforeCut, p.burst, now)
		p.cutRate, p.noCutUntil = 0, now.Add(noCutPause)
		return
	}
	if share < cutMinShare || ok == 0 {
		return
	}
	accepted := float64(ok) / max(win.Seconds(), 1)
	p.peak = max(p.peak, accepted)
	rate := 0.9 * accepted
	if p.req.rate > 0 {
		rate = min(rate, 0.85*p.req.rate)
	}
	rate = max(rate, p.peak/2)
	p.rateBeforeCut, p.shareAtCut = p.req.rate, share
	p.cutRate, p.cutAt = rate, now
	p.req.setRate(rate, p.burst, now)
}

// A pacer with no reported limit cuts its rate only on evidence: at least
// cutMinResponses responses in the window, at least cutMinShare of them
// 429s.
const (
	cutMinResponses = 20
	cutMinShare     = 0.2
)

// noCutPause is how long a pacer stops cutting its rate after a cut that
// did not help.
const noCutPause = 30 * time.Second

// appendCapped appends t to ts, dropping the oldest half past 8192.
func appendCapped(ts []time.Time, t time.Time) []time.Time {
	if len(ts) >= 8192 {
		ts = append(ts[:0], ts[4096:]...)
	}
	return append(ts, t)
}

// countSince counts the times in ts (ascending) within win before now.
func countSince(ts []time.Time, now time.Time, win time.Duration) int {
	n := 0
	for i := len(ts) - 1; i >= 0 && now.Sub(ts[i]) < win; i-- {
		n++
	}
	return n
}

// learn applies one reported window to b.
func (p *Pacer) learn(now time.Time, b *bucket, w RateWindow, cfgRate *float64, need float64) {
	if w.Limit > 0 {
		rate := float64(w.Limit) / 60
		if *cfgRate > 0 {
			rate = min(rate, *cfgRate)
		}
		if b.rate == 0 || rate < b.rate || (rate > b.rate && p.cutRate == 0) {
			b.setRate(rate, p.burst, now)
		}
	}
	if w.Remaining >= 0 && b.rate > 0 {
		b.refill(now)
		if r := float64(w.Remaining); r < b.tokens {
			b.tokens = r
		}
	}
	if w.Remaining == 0 && w.Reset > 0 {
		hold := w.Reset
		if b.rate > 0 {
			hold = min(hold, time.Duration(need/b.rate*float64(time.Second)))
		}
		if g := now.Add(hold); g.After(p.gate) {
			p.gate = g
		}
	}
}

// grow raises a learned (cut) request rate by 2% of the cut rate per
// second without a 429.
func (p *Pacer) grow(now time.Time) {
	if p.cutRate == 0 || p.reportedReq {
		return
	}
	rate := p.cutRate * (1 + 0.02*now.Sub(p.cutAt).Seconds())
	if p.cfgReqRate > 0 {
		rate = min(rate, p.cfgReqRate)
	}
	if rate > p.req.rate*1.001 {
		p.req.setRate(rate, p.burst, now)
	}
}

func (p *Pacer) startWait(now time.Time) {
	if p.waiting == 0 {
		p.waitSince = now
	}
	p.waiting++
}

func (p *Pacer) endWait(now time.Time) {
	p.waiting--
	if p.waiting == 0 {
		p.throttled += now.Sub(p.waitSince)
	}
}

// PacerStats is what a Pacer has done so far.
type PacerStats struct {
	// Throttled is the wall-clock time during which at least one attempt
	// was held back by the pacer (rate limits, 429 waits).
	Throttled time.Duration
	// RateLimited counts 429 responses.
	RateLimited int64
	// RPM and TPM are the current pacing rates per minute; 0: unpaced.
	RPM, TPM float64
}

// Stats returns the pacer's statistics. A nil Pacer reports zeros.
func (p *Pacer) Stats() PacerStats {
	if p == nil {
		return PacerStats{}
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	th := p.throttled
	if p.waiting > 0 {
		th += p.now().Sub(p.waitSince)
	}
	return PacerStats{Throttled: th, RateLimited: p.limited, RPM: p.req.rate * 60, TPM: p.tok.rate * 60}
}

// bucket is a token bucket that may go into debt: a take beyond the
// balance is admitted at the time the debt is repaid, so concurrent takers
// queue in order. rate 0 means unlimited.
type bucket struct {
	rate, burst, tokens float64
	last                time.Time
}

func (b *bucket) setRate(rate, burstSeconds float64, now time.Time) {
	b.refill(now)
	b.rate = rate
	b.burst = max(1, rate*burstSeconds)
	if b.last.IsZero() {
		b.tokens = b.burst
	}
	b.tokens = min(b.tokens, b.burst)
	b.last = now
}

func (b *bucket) refill(now time.Time) {
	if b.rate == 0 {
		return
	}
	if el := now.Sub(b.last).Seconds(); el > 0 {
		b.tokens = min(b.burst, b.tokens+el*b.rate)
	}
	b.last = now
}

// take removes n and returns when the caller may go.
func (b *bucket) take(now time.Time, n float64) time.Time {
	if b.rate == 0 || n <= 0 {
		return now
	}
	b.refill(now)
	b.tokens -= n
	if b.tokens >= 0 {
		return now
	}
	return now.Add(time.Duration(-b.tokens / b.rate * float64(time.Second)))
}

func (b *bucket) refund(n float64) {
	if b.rate > 0 {
		b.tokens = min(b.burst, b.tokens+n)
	}
}
