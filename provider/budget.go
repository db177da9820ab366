package provider

import (
	"context"
	"fmt"
	"sync"

	"github.com/driftwatch/driftwatch/eval"
)

// Budget caps what one run may spend. It is safe for concurrent use.
//
// A call reserves its estimated cost before it starts and settles the
// actual cost when it ends. A reservation that would take spent plus
// reserved past the cap fails with eval.ErrBudget, so the cap can only be
// exceeded by what in-flight calls cost beyond their estimates. Once spent
// reaches the cap the budget is exhausted and every later Reserve fails
// fast.
type Budget struct {
	max float64

	mu       sync.Mutex
	spent    float64
	reserved float64
}

// NewBudget returns a budget of maxUSD. maxUSD <= 0 means unlimited (the
// budget still tracks spend).
func NewBudget(maxUSD float64) *Budget { return &Budget{max: maxUSD} }

// NewBudgetSpent returns a budget of maxUSD of which spentUSD is already
// spent, for a run that resumes: it does not get the cap again.
func NewBudgetSpent(maxUSD, spentUSD float64) *Budget {
	return &Budget{max: maxUSD, spent: max(0, spentUSD)}
}

// Reservation is an estimate held against a Budget until settled.
type Reservation struct {
	b    *Budget
	est  float64
	once sync.Once
}

// Reserve holds est USD. It fails with an *eval.TargetError of kind
// eval.ErrBudget when the budget is exhausted or est does not fit. A nil
// Budget reserves nothing and never fails.
func (b *Budget) Reserve(est float64) (*Reservation, error) {
	if b == nil {
		return nil, nil
	}
	est = max(est, 0)
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.max > 0 {
		if b.spent >= b.max {
			return nil, &eval.TargetError{Kind: eval.ErrBudget, Err: fmt.Errorf("budget of $%.4f exhausted (spent $%.4f)", b.max, b.spent)}
		}
		if b.spent+b.reserved+est > b.max {
			return nil, &eval.TargetError{Kind: eval.ErrBudget, Err: fmt.Errorf("estimated $%.4f does not fit budget of $%.4f (spent $%.4f, in flight $%.4f)", est, b.max, b.spent, b.reserved)}
		}
	}
	b.reserved += est
	return &Reservation{b: b, est: est}, nil
}

// Settle releases the reservation and records actual USD spent. Only the
// first call counts; a nil Reservation is a no-op.
func (r *Reservation) Settle(actual float64) {
	if r == nil {
		return
	}
	r.once.Do(func() {
		r.b.mu.Lock()
		r.b.reserved -= r.est
		r.b.spent += max(actual, 0)
		r.b.mu.Unlock()
	})
}

// Spent returns the settled spend in USD.
func (b *Budget) Spent() float64 {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.spent
}

// Remaining returns what is left after spend and reservations (0 for an
// unlimited budget, which never runs out).
func (b *Budget) Remaining() float64 {
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.max <= 0 {
		return 0
	}
	return max(b.max-b.spent-b.reserved, 0)
}

// EstimateFunc returns the USD a request is expected to cost.
type EstimateFunc func(req *eval.Request) float64

// Estimator prices a request on model with p: estimated input tokens plus
// max_tokens (or defaultMaxTokens when the request sets none) of output.
func (p Prices) Estimator(model string, defaultMaxTokens int) EstimateFunc {
	return func(req *eval.Request) float64 {
		out := req.Params.MaxTokens
		if out <= 0 {
			out = defaultMaxTokens
		}
		return p.Cost(model, eval.Usage{InputTokens: EstimateRequestTokens(req), OutputTokens: out})
	}
}

// Guard wraps t so every call reserves estimate(req) from b first and
// settles Response.CostUSD after. Failed calls settle 0: providers charge
// for completed responses only.
func Guard(t eval.Target, b *Budget, estimate EstimateFunc) eval.Target {
	return eval.TargetFunc(func(ctx context.Context, req *eval.Request) (*eval.Response, error) {
		r, err := b.Reserve(estimate(req))
		if err != nil {
			return nil, err
		}
		resp, err := t.Complete(ctx, req)
		if err != nil {
			r.Settle(0)
			return resp, err
		}
		r.Settle(resp.CostUSD)
		return resp, nil
	})
}
