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
	// Learned, when set, reports the request and token limits per minute
	// the target's provider has reported to this process (0: none), e.g.
	// from the target's provider.Control:
	//
	//	func() (float64, float64) { s := ctl.Pacer.Stats(); return s.RPM, s.TPM }
	//
	// The cluster's buckets then hold every process to the lower of the
	// configured and the learned rate: a limit one process learns from a
	// provider binds the whole cluster, not each process alone.
	Learned func() (rpm, tpm float64)
}

// ClusterLimit wraps t so that every process sharing r (the database) stays
// within cfg together. To keep round trips low, a process reserves request
// tokens in chunks (a quarter second's worth rounded down, at least 1, at
// most 16; whole tokens only, so every token reserved becomes one request)
// and charges tokens used in chunks too; reserved tokens carry the time at
// which the bucket allows them, so a chunk never lets a process run ahead of
// the cluster's rate.
func ClusterLimit(t eval.Target, r Reserver, cfg LimitConfig) eval.Target {
	return &clusterLimiter{t: t, r: r, cfg: cfg}
}

// rates returns the requests and tokens per second the cluster may send
// now: the configured ones, lowered by learned ones (0: unlimited).
func (l *clusterLimiter) rates() (rps, tps float64) {
	rps, tps = float64(l.cfg.RPM)/60, float64(l.cfg.TPM)/60
	if l.cfg.Learned != nil {
		lr, lt := l.cfg.Learned()
		if lr > 0 && (rps == 0 || lr/60 < rps) {
			rps = lr / 60
		}
		if lt > 0 && (tps == 0 || lt/60 < tps) {
			tps = lt / 60
		}
	}
	return rps, tps
}

// chunkSize is how many request tokens one reservation takes at rps: a
// quarter second's worth, a whole number in [1, 16].
func chunkSize(rps float64) float64 { return min(16, max(1, math.Floor(rps/4))) }

type clusterLimiter struct {
	t   eval.Target
	r   Reserver
	cfg LimitConfig

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
	if _, tps := l.rates(); tps > 0 && resp != nil {
		l.charge(ctx, tps, float64(resp.Usage.InputTokens+resp.Usage.OutputTokens))
	}
	return resp, err
}

func (l *clusterLimiter) wait(ctx context.Context) error {
	var at time.Time
	rps, _ := l.rates()
	l.mu.Lock()
	if rps > 0 {
		if len(l.ready) == 0 {
			// A fractional chunk would take tokens that no request uses
			// (the bucket charges chunk, the process gets int(chunk)
			// requests), so the cluster would reach only a fraction of
			// its rpm.
			chunk, burst := chunkSize(rps), max(1, rps)
			bal, err := reserve(ctx, l.r, l.cfg.Key+":rpm", chunk, rps, burst)
			if err != nil {
				l.mu.Unlock()
				return err
			}
			now, before := time.Now(), bal+chunk
			for i := 1; i <= int(chunk); i++ {
				wait := max(0, float64(i)-before) / rps
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

func (l *clusterLimiter) charge(ctx context.Context, tps, tokens float64) {
	tokChunk := max(1, tps/4)
	l.mu.Lock()
	defer l.mu.Unlock()
	l.pending += tokens
	if l.pending < tokChunk {
		return
	}
	// Charge even when ctx is cancelled (the tokens are spent), but bounded:
	// l.mu is held, and every call of this target waits for it.
	cctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), chargeTimeout)
	defer cancel()
	bal, err := l.r.ReserveTokens(cctx, l.cfg.Key+":tpm", l.pending, tps, max(tps, tokChunk))
	if err != nil {
		return // charged again with the next call
	}
	l.pending = 0
	if bal < 0 {
		l.tpmUntil = time.Now().Add(time.Duration(-bal / tps * float64(time.Second)))
	}
}
