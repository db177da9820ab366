package jobs

import (
	"context"
	"math"
	"sync"
	"time"

	"github.com/driftwatch/driftwatch/eval"
)

// Reserver is a cluster-wide token bucket (storage.Store.ReserveTokens): it
// takes n tokens from bucket key, refilled at ratePerSec up to burst, and
// returns the balance after the take, which may be negative (a debt the
// caller waits out).
type Reserver interface {
	ReserveTokens(ctx context.Context, key string, n, ratePerSec, burst float64) (float64, error)
}

// LimitConfig is a target's cluster-wide rate limit.
type LimitConfig struct {
	// Key names the buckets (":rpm" and ":tpm" are appended).
	Key string
	// RPM is requests per minute for the whole cluster; 0: unlimited.
	RPM int
	// TPM is tokens (input + output) per minute; 0: unlimited. Calls are
	// charged after they return, so the next calls wait out any debt.
	TPM int
}

// ClusterLimit wraps t so that every process sharing r (the database) stays
// within cfg together. To keep round trips low, a process reserves request
// tokens in chunks (a quarter second's worth rounded down, at least 1, at
// most 16; whole tokens only, so every token reserved becomes one request)
// and charges tokens used in chunks too; reserved tokens carry the time at
// which the bucket allows them, so a chunk never lets a process run ahead of
// the cluster's rate.
func ClusterLimit(t eval.Target, r Reserver, cfg LimitConfig) eval.Target {
	l := &clusterLimiter{t: t, r: r, cfg: cfg}
	if cfg.RPM > 0 {
		l.rps = float64(cfg.RPM) / 60
		l.burst = max(1, l.rps)
		// A fractional chunk would take tokens that no request uses (the
		// bucket charges chunk, the process gets int(chunk) requests), so
		// the cluster would reach only a fraction of its rpm.
		l.chunk = chunkSize(l.rps)
	}
	if cfg.TPM > 0 {
		l.tps = float64(cfg.TPM) / 60
		l.tokChunk = max(1, l.tps/4)
	}
	return l
}

// chunkSize is how many request tokens one reservation takes at rps: a
// quarter second's worth, a whole number in [1, 16].
func chunkSize(rps float64) float64 { return min(16, max(1, math.Floor(rps/4))) }

type clusterLimiter struct {
	t   eval.Target
	r   Reserver
	cfg LimitConfig

	rps, burst, chunk float64
	tps, tokChunk     float64

	mu       sync.Mutex
	ready    []time.Time // when each locally held request token may be used
	pending  float64     // tokens used, not yet charged
	tpmUntil time.Time   // wait for the token bucket's debt until then
}

func (l *clusterLimiter) Complete(ctx context.Context, req *eval.Request) (*eval.Response, error) {
	if err := l.wait(ctx); err != nil {
		return nil, err
	}
	resp, err := l.t.Complete(ctx, req)
	if l.tps > 0 && resp != nil {
		l.charge(ctx, float64(resp.Usage.InputTokens+resp.Usage.OutputTokens))
	}
	return resp, err
}

func (l *clusterLimiter) wait(ctx context.Context) error {
	var at time.Time
	l.mu.Lock()
	if l.rps > 0 {
		if len(l.ready) == 0 {
			bal, err := reserve(ctx, l.r, l.cfg.Key+":rpm", l.chunk, l.rps, l.burst)
			if err != nil {
				l.mu.Unlock()
				return err
			}
			now, before := time.Now(), bal+l.chunk
			for i := 1; i <= int(l.chunk); i++ {
				wait := max(0, float64(i)-before) / l.rps
				l.ready = append(l.ready, now.Add(time.Duration(wait*float64(time.Second))))
			}
		}
		at = l.ready[0]
		l.ready = l.ready[1:]
	}
	if l.tpmUntil.After(at) {
		at = l.tpmUntil
	}
	l.mu.Unlock()
	d := time.Until(at)
	if d <= 0 {
		return nil
	}
	timer := time.NewTimer(d)
	defer timer.Stop()
	select {
	case <-timer.C:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}

// chargeTimeout bounds charging used tokens to the cluster's bucket.
const chargeTimeout = 10 * time.Second

func (l *clusterLimiter) charge(ctx context.Context, tokens float64) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.pending += tokens
	if l.pending < l.tokChunk {
		return
	}
	// Charge even when ctx is cancelled (the tokens are spent), but bounded:
	// l.mu is held, and every call of this target waits for it.
	cctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), chargeTimeout)
	defer cancel()
	bal, err := l.r.ReserveTokens(cctx, l.cfg.Key+":tpm", l.pending, l.tps, max(l.tps, l.tokChunk))
	if err != nil {
		return // charged again with the next call
	}
	l.pending = 0
	if bal < 0 {
		l.tpmUntil = time.Now().Add(time.Duration(-bal / l.tps * float64(time.Second)))
	}
}
