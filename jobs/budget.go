package jobs

import (
	"context"
	"fmt"
	"time"

	"github.com/driftwatch/driftwatch/eval"
)

// BudgetKey names the cluster-wide budget bucket of a run.
func BudgetKey(runID int64) string { return fmt.Sprintf("budget:run:%d", runID) }

// ClusterBudget wraps t so that a run's calls, in every batch and every
// process, stay within maxUSD together. The budget lives in the database as
// two token buckets without refill (capacity maxUSD, in USD): key holds what
// is spent plus what calls in flight reserved, key+":spent" what is spent.
// A call reserves its estimated cost before it is sent and gives back the
// difference with its actual cost (all of it when the call fails) after.
// A call whose estimate does not fit waits while calls in flight settle; it
// fails with an *eval.TargetError of kind eval.ErrBudget, without being
// sent, only when the estimate does not fit what is left after spending.
// So the cap can only be passed by what calls in flight cost beyond their
// estimates. Reservations of a process that dies mid-call stay charged (the
// budget errs on the safe side).
func ClusterBudget(t eval.Target, r Reserver, key string, maxUSD float64, estimate func(*eval.Request) float64) eval.Target {
	spentKey := key + ":spent"
	return eval.TargetFunc(func(ctx context.Context, req *eval.Request) (*eval.Response, error) {
		est := max(estimate(req), 0)
		wait := 20 * time.Millisecond
		for {
			bal, err := reserve(ctx, r, key, est, 0, maxUSD)
			if err != nil {
				return nil, err
			}
			if bal >= 0 {
				break
			}
			// Give the estimate back; fail if spending alone leaves too
			// little, else wait for the calls in flight to settle.
			if err := giveBack(ctx, r, key, -est, maxUSD); err != nil {
				return nil, err
			}
			left, err := reserve(ctx, r, spentKey, 0, 0, maxUSD)
			if err != nil {
				return nil, err
			}
			if left < est {
				return nil, &eval.TargetError{Kind: eval.ErrBudget,
					Err: fmt.Errorf("run budget of $%.4f reached ($%.4f left, a call may cost $%.4f)", maxUSD, max(left, 0), est)}
			}
			timer := time.NewTimer(wait)
			select {
			case <-ctx.Done():
				timer.Stop()
				return nil, ctx.Err()
			case <-timer.C:
			}
			wait = min(2*wait, 500*time.Millisecond)
		}
		resp, err := t.Complete(ctx, req)
		actual := 0.0
		if err == nil && resp != nil {
			actual = resp.CostUSD
		}
		// A settlement that cannot reach the database is dropped: the
		// answer is paid for and must be kept. The reservation then stays
		// at the estimate, and only the spent bucket can lag behind.
		if d := actual - est; d != 0 {
			_ = giveBack(ctx, r, key, d, maxUSD)
		}
		if actual > 0 {
			_ = giveBack(ctx, r, spentKey, actual, maxUSD)
		}
		return resp, err
	})
}

// settleTimeout bounds a budget settlement, which must happen even when the
// call's ctx is cancelled but must not wait forever for the database.
const settleTimeout = 30 * time.Second

// giveBack adds n to bucket key under a context that outlives ctx's
// cancellation, bounded by settleTimeout (reserve retries while the
// database is unreachable, so an unbounded context could hang forever).
func giveBack(ctx context.Context, r Reserver, key string, n, maxUSD float64) error {
	sctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), settleTimeout)
	defer cancel()
	if _, err := reserve(sctx, r, key, n, 0, maxUSD); err != nil {
		return fmt.Errorf("settle budget %s: %w", key, err)
	}
	return nil
}

// reserveWaitMax bounds the backoff between attempts to reach the database.
const reserveWaitMax = 2 * time.Second

// reserve calls r.ReserveTokens and, while the database is unreachable
// (a restart), tries again with backoff until ctx is done: a call waits for
// the database rather than failing (and being stored as an error).
func reserve(ctx context.Context, r Reserver, key string, n, ratePerSec, burst float64) (float64, error) {
	wait := 50 * time.Millisecond
	for {
		bal, err := r.ReserveTokens(ctx, key, n, ratePerSec, burst)
		if err == nil || ctx.Err() != nil {
			return bal, err
		}
		timer := time.NewTimer(wait)
		select {
		case <-ctx.Done():
			timer.Stop()
			return 0, err
		case <-timer.C:
		}
		wait = min(2*wait, reserveWaitMax)
	}
}
