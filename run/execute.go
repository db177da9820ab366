package run

import (
	"cmp"
	"context"
	"encoding/json"
	"errors"
	"slices"
	"sync"
	"sync/atomic"
	"time"

	"github.com/driftwatch/driftwatch/eval"
	"github.com/driftwatch/driftwatch/eval/check"
	"github.com/driftwatch/driftwatch/provider"
	"github.com/driftwatch/driftwatch/storage"
)

// Progress shows how far an execution is.
type Progress interface {
	Update(done, errs int)
	Finish()
}

type noProgress struct{}

func (noProgress) Update(int, int) {}
func (noProgress) Finish()         {}

// Exec is one pass of the runner over a run's cases: all of them for
// `driftwatch run`, one batch under serve.
type Exec struct {
	Suite  eval.Suite
	Target *Target
	// Upto bounds the sample indexes sent (every case's samples below it:
	// a stage of a staged night, Run.Upto); 0: all K.
	Upto int
	// Skip, if set, skips samples that another pass stores (other batches).
	// Samples already stored without error are always skipped.
	Skip func(key string, idx int) bool
	// LocalBudget applies the policy's max_cost_usd in this process (the
	// CLI); under serve the target's Call carries the cluster-wide budget.
	LocalBudget bool
	// SoftStop stops scheduling samples; in-flight ones finish and are
	// stored.
	SoftStop <-chan struct{}
	// Grace is how long in-flight samples may finish once ctx is done
	// before they are cancelled (and run again on resume). Zero:
	// SoftStopTimeout; negative: none, ctx's end cancels them at once (a
	// batch job, whose soft stop is SoftStop).
	Grace time.Duration
	// FailFastAfter, when positive, stops scheduling once that many samples
	// in a row from the start failed because the target cannot be used.
	FailFastAfter int
	Progress      Progress
	// OnSample observes every stored sample (metrics).
	OnSample func(eval.SampleResult)
}

// SoftStopTimeout is how long in-flight samples may finish after a soft
// stop (Ctrl-C) before they are cancelled (and run again on resume).
const SoftStopTimeout = 30 * time.Second

// Executed is what an execution saw.
type Executed struct {
	// PinErr is the first pin mismatch among the responses' identities;
	// Identity is the first identity that did not match (or the identity
	// seen most often).
	PinErr   error
	Identity *eval.Identity
	// CircuitOpen says why the target's circuit breaker stopped the
	// execution ("" when it did not): the target keeps failing or does not
	// answer.
	CircuitOpen string
	// BudgetHit: max_cost_usd stopped the execution.
	BudgetHit bool
	// Stopped: a soft stop (SoftStop, ctx, the budget, fail-fast) came
	// before every sample was run. Interrupted: ctx was done.
	Stopped     bool
	Interrupted bool
	// FailedFast says the execution stopped after its first FailedAfter
	// samples all failed because the target cannot be used.
	FailedFast  bool
	FailedAfter int
	// RunErr is the runner's error; WriteErr the sample writer's.
	RunErr   error
	WriteErr error
}

// FailFastAfter is how many samples in a row from the start may fail
// because the target cannot be used before a run stops sending: two rounds
// of the target's concurrency, and at least 10.
func FailFastAfter(concurrency int) int { return max(10, 2*concurrency) }

// Execute runs r's samples that are not stored yet (and that x.Skip does not
// skip) and stores each as it arrives, journaled first (Policy.Journal): a
// crash loses only the calls in flight, at most the target's concurrency.
// A pin mismatch, the budget and
// fail-fast stop the execution from its sink, before the worker takes
// another sample; a soft stop lets the samples in flight finish and be
// stored, so a resumed run makes no extra calls.
func (l *Lifecycle) Execute(ctx context.Context, r *Run, x Exec) Executed {
	t := x.Target
	parent := context.WithoutCancel(ctx)
	if x.Grace < 0 {
		parent = ctx
	}
	runCtx, cancelRun := context.WithCancelCause(parent)
	defer cancelRun(nil)
	softStop, stop := stopper(x.SoftStop, ctx.Done())
	defer stop()
	var hard atomic.Pointer[time.Timer]
	defer context.AfterFunc(ctx, func() {
		hard.Store(time.AfterFunc(cmp.Or(x.Grace, SoftStopTimeout), func() { cancelRun(context.Cause(ctx)) }))
	})()
	defer func() {
		if h := hard.Load(); h != nil {
			h.Stop()
		}
	}()
	_, baseID, err := l.baselineOf(ctx, r.SuiteID, r.TargetID)
	if err != nil {
		return Executed{RunErr: err}
	}
	s := newSink(runCtx, l, r, x, baseID, stop, cancelRun)
	call := t.Call
	if x.LocalBudget && l.policy.MaxCostUSD > 0 {
		call = provider.Guard(call, provider.NewBudgetSpent(l.policy.MaxCostUSD, r.Spent), t.Estimate)
	}
	_, runErr := eval.Run(runCtx, eval.RunParams{
		Suite:       x.Suite,
		Target:      call,
		Samples:     upto(x.Upto, r.K),
		Concurrency: cmp.Or(t.Concurrency, 1),
		Filter:      r.Filter,
		Skip:        s.skip,
		Sink:        s.put,
		SoftStop:    softStop,
		Seed:        uint64(r.Row.ID),
		Logger:      l.logger,
	})
	ex := s.close(runErr)
	ex.Interrupted = ctx.Err() != nil
	return ex
}

// upto is the samples per case an execution sends: bound when set, at most k.
func upto(bound, k int) int {
	if bound > 0 {
		return min(bound, k)
	}
	return k
}

// stopper returns a channel closed by stop, by soft or by done, whichever
// comes first.
func stopper(soft, done <-chan struct{}) (<-chan struct{}, func()) {
	ch, finished := make(chan struct{}), make(chan struct{})
	once := sync.OnceFunc(func() { close(ch) })
	go func() {
		select {
		case <-soft:
		case <-done:
		case <-finished:
		}
		once()
	}()
	var fin sync.Once
	return ch, func() { once(); fin.Do(func() { close(finished) }) }
}

// sink stores what the runner returns and watches for reasons to stop.
type sink struct {
	runCtx    context.Context
	l         *Lifecycle
	r         *Run
	x         Exec
	t         *Target
	baseID    *eval.Identity
	stop      func()
	cancelRun context.CancelCauseFunc
	writer    *storage.SampleWriter
	ff        failFast
	prog      Progress
	ids       identityCache

	mu         sync.Mutex
	identities map[string]eval.Identity
	idCount    map[string]int
	pinErr     error
	pinID      *eval.Identity
	circuit    string // why the target's breaker opened ("": it did not)

	budgetHit, failedFast atomic.Bool
	done, errs            atomic.Int64
}

func newSink(runCtx context.Context, l *Lifecycle, r *Run, x Exec, baseID *eval.Identity, stop func(),
	cancelRun context.CancelCauseFunc) *sink {
	s := &sink{runCtx: runCtx, l: l, r: r, x: x, t: x.Target, baseID: baseID, stop: stop, cancelRun: cancelRun,
		ff: failFast{after: x.FailFastAfter}, prog: x.Progress,
		identities: map[string]eval.Identity{}, idCount: map[string]int{}}
	if s.prog == nil {
		s.prog = noProgress{}
	}
	opts := storage.SampleWriterOpts{Retries: l.policy.WriterRetries}
	if l.policy.Journal != "" {
		opts.Journal = storage.Journal{Dir: l.policy.Journal, Run: r.Row}
	}
	s.writer = l.store.NewSampleWriter(context.WithoutCancel(runCtx), r.Row.ID, opts)
	return s
}

func (s *sink) skip(key string, idx int) bool {
	if _, ok := s.r.Done[storage.SampleKey{CaseKey: key, SampleIdx: idx}]; ok {
		return true
	}
	return s.x.Skip != nil && s.x.Skip(key, idx)
}

func (s *sink) put(res eval.SampleResult) error {
	if res.ErrorKind == eval.ErrCircuitOpen {
		// The target's circuit breaker stopped it: the sample got no
		// answer, so it is not stored (a resume runs it), and nothing more
		// is sent.
		s.mu.Lock()
		if s.circuit == "" {
			s.circuit = res.Err
		}
		s.mu.Unlock()
		s.stop()
		return nil
	}
	if s.ff.observe(res) {
		s.failedFast.Store(true)
		s.stop()
	}
	row, idHash, id := sampleRow(s.r.Row.ID, res, &s.ids)
	if id != nil {
		s.observeIdentity(idHash, *id)
	}
	if res.Outcome == eval.Errored {
		s.errs.Add(1)
		if res.ErrorKind == eval.ErrBudget {
			s.budgetHit.Store(true)
			s.stop()
			return nil // never sent: run again on resume
		}
	}
	n := s.done.Add(1)
	s.prog.Update(int(n), int(s.errs.Load()))
	if res.ErrorKind == eval.ErrCanceled && s.runCtx.Err() != nil {
		return nil // not stored: it is run again on resume
	}
	if s.x.OnSample != nil {
		s.x.OnSample(res)
	}
	return s.writer.Write(row)
}

// observeIdentity counts an identity and checks the pin on its first
// sighting; a mismatch of a stopping pin cancels the run.
func (s *sink) observeIdentity(hash string, id eval.Identity) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.idCount[hash]++
	if _, seen := s.identities[hash]; seen {
		return
	}
	s.identities[hash] = id
	if s.pinErr != nil {
		return
	}
	if err := s.t.checkPin(id, s.baseID); err != nil {
		s.pinErr, s.pinID = err, &id
		if !s.t.PinWarn {
			s.cancelRun(err)
		}
	}
}

func (s *sink) close(runErr error) Executed {
	s.prog.Finish()
	bg := context.WithoutCancel(s.runCtx)
	werr := s.writer.Close(bg)
	s.mu.Lock()
	defer s.mu.Unlock()
	var errs []error
	for h, id := range s.identities {
		errs = append(errs, s.l.store.RecordIdentity(bg, s.r.TargetID, s.r.Row.ID, h, encodeJSON(id)))
	}
	if err := errors.Join(errs...); err != nil {
		s.l.logger.Warn("record identities", "run", s.r.Row.ID, "err", err)
	}
	ex := Executed{CircuitOpen: s.circuit, PinErr: s.pinErr, Identity: s.pinID, BudgetHit: s.budgetHit.Load(), RunErr: runErr, WriteErr: werr,
		FailedFast: s.failedFast.Load(), FailedAfter: s.x.FailFastAfter}
	ex.Stopped = errors.Is(runErr, eval.ErrStopped)
	if ex.PinErr != nil && !s.t.PinWarn {
		ex.RunErr = nil // the pin cancelled the run: not a runner failure
	}
	if ex.Identity == nil {
		ex.Identity = s.dominant()
	}
	return ex
}

// dominant is the identity seen most often; s.mu is held.
func (s *sink) dominant() *eval.Identity {
	best, n := "", -1
	for h, c := range s.idCount {
		if c > n || (c == n && h < best) {
			best, n = h, c
		}
	}
	if n < 0 {
		return nil
	}
	id := s.identities[best]
	return &id
}

// unusableKinds are the errors that say the target cannot be used at all
// (unreachable, not authorised, rejecting the requests) rather than that it
// is having a bad time.
var unusableKinds = []eval.ErrorKind{eval.ErrTransport, eval.ErrAuth, eval.ErrBadRequest}

// failFast stops an execution whose first samples all fail because the
// target cannot be used (unusableKinds): a wrong URL or key would otherwise
// be retried, with backoff, for every sample of the suite. Any other
// outcome first (a success, a server error, a timeout) disarms it.
type failFast struct {
	after int // trip after this many such failures; 0: off
	mu    sync.Mutex
	n     int
	done  bool // tripped or disarmed
}

// observe counts r and reports whether it trips (once).
func (f *failFast) observe(r eval.SampleResult) bool {
	if f.after <= 0 {
		return false
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.done {
		return false
	}
	if r.Outcome != eval.Errored || !slices.Contains(unusableKinds, r.ErrorKind) {
		f.done = true
		return false
	}
	f.n++
	f.done = f.n >= f.after
	return f.done
}

// sampleRow converts a runner result into a storage row, with the behaviour
// flags the drift engine compares.
func sampleRow(runID int64, r eval.SampleResult, ids *identityCache) (storage.Sample, string, *eval.Identity) {
	row := storage.Sample{
		RunID:     runID,
		CaseKey:   r.Case,
		CaseHash:  r.CaseHash,
		SampleIdx: r.Index,
		Output:    r.Output,
		Error:     r.Err,
		ErrorKind: string(r.ErrorKind),
		Outcome:   string(r.Outcome),
		Passed:    r.Outcome == eval.Passed,
		CostUSD:   r.CostUSD,
	}
	if r.Outcome == eval.Skipped {
		row.Error = ""
	}
	if r.Outcome != eval.Errored {
		score := r.Score
		row.Score = &score
		row.Refused = check.IsRefusal(r.Output)
		row.JSONValid = check.JSONValid(r.Output)
		row.CodeFence = check.HasCodeFence(r.Output)
	}
	if len(r.Checks) > 0 {
		row.Checks = encodeJSON(r.Checks)
	}
	if r.HasAnswer {
		ans := r.Answer
		row.Answer = &ans
	}
	if r.Request != nil {
		row.Request = encodeJSON(r.Request)
	}
	row.InputTokens, row.OutputTokens = r.Usage.InputTokens, r.Usage.OutputTokens
	row.UsageEstimated = r.Usage.Estimated
	var (
		idHash string
		id     *eval.Identity
	)
	if resp := r.Response; resp != nil {
		row.LatencyMS = float64(resp.Latency) / float64(time.Millisecond)
		row.FinishReason = resp.FinishReason
		if len(resp.Raw) > 0 && json.Valid(resp.Raw) {
			row.Raw = resp.Raw
		}
		if row.OutputTokens == 0 {
			row.OutputTokens = provider.EstimateTokens(r.Output)
		}
		id = &resp.Identity
		idHash, row.Identity = ids.encode(resp.Identity)
		row.IdentityHash = idHash
	}
	return row, idHash, id
}

// encodeJSON encodes v for a jsonb column. A value that cannot be encoded (a
// NaN in user-supplied parameters, say) is stored as a JSON string that says
// why, so that the row and the rest of it are never lost.
func encodeJSON(v any) json.RawMessage {
	b, err := json.Marshal(v)
	if err != nil {
		msg, _ := json.Marshal("not encodable as JSON: " + err.Error()) // a string always encodes
		return msg
	}
	return b
}
