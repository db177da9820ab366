package eval

import (
	"cmp"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"log/slog"
	"math"
	"math/rand/v2"
	"sync"
	"sync/atomic"
	"time"
)

// ConcurrencyDefault is the default RunParams.Concurrency.
const ConcurrencyDefault = 8

// ErrStopped is returned by Run when RunParams.SoftStop was closed before
// every sample had run.
var ErrStopped = errors.New("eval: run stopped")

// RunParams are the inputs of one Run.
type RunParams struct {
	// Suite is the suite to run. Required.
	Suite Suite
	// Target is the model under test. Required. It is called concurrently.
	Target Target
	// Samples is k, the number of samples per case. 0 means the suite's
	// default (SuiteInfo.Samples, else SuiteOpts.Samples), else 1.
	Samples int
	// Concurrency is the maximum number of samples in flight. 0 means
	// ConcurrencyDefault.
	Concurrency int
	// Filter selects cases (and subcases) with a go test -run style pattern:
	// slash-separated unanchored regexps matched against the case name below
	// the suite ("case/variant"). Empty runs everything.
	Filter string
	// Skip, if set, reports samples that are already stored (to resume an
	// interrupted run). They are neither executed nor sent to Sink; they are
	// counted in RunStats.Resumed.
	Skip func(caseKey string, index int) bool
	// Sink receives every executed sample. It may be called concurrently
	// from worker goroutines. An error from Sink stops the run: in-flight
	// samples are cancelled, no further results are delivered, and Run
	// returns the error.
	Sink func(SampleResult) error
	// Seed seeds the execution order: all (case, sample) pairs run in a
	// random order that interleaves cases, so that no time slot dominates a
	// case. The same Seed and inputs give the same order. The caller picks
	// (and records) it; 0 is a valid seed.
	Seed uint64
	// Logger receives run-level logs. Nil discards them.
	Logger *slog.Logger
	// OnProgress, if set, is called after each sample (including resumed
	// ones) with the number done and the total. It may be called
	// concurrently.
	OnProgress func(done, total int)
	// SoftStop, if non-nil, stops scheduling when closed: in-flight samples
	// finish normally (and reach Sink) and Run returns ErrStopped. Cancel
	// ctx afterwards to abort them (two-stage shutdown).
	SoftStop <-chan struct{}
}

// RunStats summarises a Run. Passed, Failed, Errored and Skipped count the
// samples delivered to Sink.
type RunStats struct {
	// Total is the number of (case, sample) pairs selected by Filter.
	Total   int
	Passed  int
	Failed  int
	Errored int
	Skipped int
	// Resumed counts samples that RunParams.Skip reported as already stored.
	Resumed int
	Usage   Usage
	CostUSD float64
}

func (s *RunStats) add(o *RunStats) {
	s.Passed += o.Passed
	s.Failed += o.Failed
	s.Errored += o.Errored
	s.Skipped += o.Skipped
	s.Resumed += o.Resumed
	s.Usage.InputTokens += o.Usage.InputTokens
	s.Usage.OutputTokens += o.Usage.OutputTokens
	s.CostUSD += o.CostUSD
}

func (s *RunStats) count(r *SampleResult) {
	switch r.Outcome {
	case Passed:
		s.Passed++
	case Failed:
		s.Failed++
	case Errored:
		s.Errored++
	case Skipped:
		s.Skipped++
	}
	s.Usage.InputTokens += r.Usage.InputTokens
	s.Usage.OutputTokens += r.Usage.OutputTokens
	s.CostUSD += r.CostUSD
}

// Run executes every selected case of p.Suite k times against p.Target and
// hands each SampleResult to p.Sink. Samples run on a fixed pool of
// p.Concurrency workers in a seeded random order; memory does not grow with
// the number of samples beyond one small index per sample.
//
// When ctx is cancelled Run stops scheduling, cancels in-flight samples'
// contexts, waits for them and returns ctx's error. Samples that end Errored
// because of that cancellation are not delivered to Sink (they did not run);
// samples that completed are.
func Run(ctx context.Context, p RunParams) (RunStats, error) {
	r, err := newRunner(&p)
	if err != nil {
		return RunStats{}, err
	}
	workers := min(cmp.Or(p.Concurrency, ConcurrencyDefault), r.total)
	r.logger.Info("eval: run starting", "suite", r.env.suite, "cases", len(r.sel), "samples", r.k,
		"total", r.total, "concurrency", workers, "seed", p.Seed)

	r.debug = r.logger.Enabled(ctx, slog.LevelDebug)
	runCtx, cancel := context.WithCancelCause(ctx)
	defer cancel(nil)
	r.cancel = cancel
	var wg sync.WaitGroup
	for range workers {
		wg.Go(func() { r.work(runCtx) })
	}
	wg.Wait()

	err = r.runErr(ctx)
	stats := &r.stats
	r.logger.Info("eval: run finished", "suite", r.env.suite, "passed", stats.Passed, "failed", stats.Failed,
		"errored", stats.Errored, "skipped", stats.Skipped, "resumed", stats.Resumed, "error", err)
	return *stats, err
}

// runner is one Run: what its workers share. Job j of the run (order holds
// them in the order they run) is sample j%k of case sel[j/k].
type runner struct {
	p      *RunParams
	env    *runEnv
	logger *slog.Logger
	debug  bool // logger takes Debug records
	cases  []Case
	sel    []int32  // indexes in cases of the cases Filter selects
	hashes []string // content hash per case (selected cases only)
	k      int      // samples per case
	total  int      // len(sel) * k
	order  []uint32 // a seeded permutation of the jobs
	cancel context.CancelCauseFunc

	next     atomic.Int64 // index in order of the next job to claim
	progress atomic.Int64 // jobs done, resumed ones included
	stopped  atomic.Bool  // a worker saw SoftStop closed

	mu      sync.Mutex
	stats   RunStats // the workers' counts, added as each exits
	sinkErr error    // the first Sink error
}

// newRunner validates p, selects the cases and draws the order of the jobs.
func newRunner(p *RunParams) (*runner, error) {
	if p.Suite == nil {
		return nil, errors.New("eval: run: no suite")
	}
	if p.Target == nil {
		return nil, errors.New("eval: run: no target")
	}
	logger := p.Logger
	if logger == nil {
		logger = slog.New(slog.DiscardHandler)
	}
	env, err := newRunEnv(p.Suite, p.Target, p.Filter)
	if err != nil {
		return nil, err
	}
	k := p.Samples
	if k == 0 {
		if si, ok := p.Suite.(SuiteInfo); ok {
			k = si.Samples()
		}
		k = cmp.Or(k, env.opts.Samples, 1)
	}
	if k < 0 {
		return nil, fmt.Errorf("eval: run %s: negative samples %d", env.suite, k)
	}
	cases := p.Suite.Cases()
	sel, hashes, err := env.selectCases(cases)
	if err != nil {
		return nil, err
	}
	total := len(sel) * k
	if total > math.MaxUint32 {
		return nil, fmt.Errorf("eval: run %s: %d samples is too many", env.suite, total)
	}
	return &runner{
		p: p, env: env, logger: logger, cases: cases, sel: sel, hashes: hashes, k: k,
		total: total, order: permutation(total, p.Seed), stats: RunStats{Total: total},
	}, nil
}

// selectCases checks that every case has a unique ID and a Func, and
// returns the indexes of the cases the filter selects and, at the same
// indexes as cases, their content hashes.
func (e *runEnv) selectCases(cases []Case) (sel []int32, hashes []string, err error) {
	sel = make([]int32, 0, len(cases))
	hashes = make([]string, len(cases))
	seen := make(map[string]struct{}, len(cases))
	for i := range cases {
		c := &cases[i]
		if c.ID == "" {
			return nil, nil, fmt.Errorf("eval: run %s: case %d has an empty ID", e.suite, i)
		}
		if c.Func == nil {
			return nil, nil, fmt.Errorf("eval: run %s: case %q has no Func", e.suite, c.ID)
		}
		if _, dup := seen[c.ID]; dup {
			return nil, nil, fmt.Errorf("eval: run %s: duplicate case ID %q", e.suite, c.ID)
		}
		seen[c.ID] = struct{}{}
		if e.filter.match(c.ID) {
			sel = append(sel, int32(i))
			hashes[i] = e.caseHash(c)
		}
	}
	return sel, hashes, nil
}

// work is one worker: it claims and runs jobs until none is left, runCtx
// is done, SoftStop is closed or a job stops the run, then adds its counts
// to r.stats.
func (r *runner) work(runCtx context.Context) {
	var local RunStats
	defer func() {
		r.mu.Lock()
		r.stats.add(&local)
		r.mu.Unlock()
	}()
	// The worker's own context, under which its samples' contexts hang.
	wctx, wcancel := context.WithCancel(runCtx)
	defer wcancel()
	runDone, softStop := runCtx.Done(), r.p.SoftStop
	done := make(chan struct{}, 1) // reused by every sample
	for {
		select {
		case <-runDone:
			return
		case <-softStop:
			r.stopped.Store(true)
			return
		default:
		}
		i := r.next.Add(1) - 1
		if i >= int64(r.total) {
			return
		}
		if !r.runJob(runCtx, wctx, int(r.order[i]), done, &local) {
			return
		}
		if r.p.OnProgress != nil {
			r.p.OnProgress(int(r.progress.Add(1)), r.total)
		}
	}
}

// runJob runs job under wctx, a worker's context below runCtx, delivers
// its result to Sink and counts it in local; a job Skip reports stored
// only counts as resumed. It reports false when the worker must stop: the
// run was cancelled during the sample (whose result is dropped), or Sink
// failed (and the run is cancelled).
func (r *runner) runJob(runCtx, wctx context.Context, job int, done chan struct{}, local *RunStats) bool {
	ci := r.sel[job/r.k]
	c, idx := &r.cases[ci], job%r.k
	if r.p.Skip != nil && r.p.Skip(c.ID, idx) {
		local.Resumed++
		return true
	}
	res := r.env.sample(wctx, c, r.hashes[ci], idx, done)
	if res.Outcome == Errored && runCtx.Err() != nil && res.ErrorKind == ErrCanceled {
		return false // interrupted, not a real result
	}
	if res.Outcome == Errored && r.debug {
		r.logger.Debug("eval: sample errored", "suite", r.env.suite, "case", c.ID,
			"index", idx, "kind", res.ErrorKind, "error", res.Err)
	}
	if r.p.Sink != nil {
		if err := r.p.Sink(res); err != nil {
			r.sinkFailed(err)
			return false
		}
	}
	local.count(&res)
	return true
}

// sinkFailed records the first Sink error, which Run returns, and cancels
// the run with err as the cause.
func (r *runner) sinkFailed(err error) {
	r.mu.Lock()
	if r.sinkErr == nil {
		r.sinkErr = fmt.Errorf("eval: run %s: sink: %w", r.env.suite, err)
	}
	r.mu.Unlock()
	r.cancel(err)
}

// runErr returns the error of a finished run: the first Sink error, else
// ctx's error, else ErrStopped when SoftStop left jobs undone.
func (r *runner) runErr(ctx context.Context) error {
	switch {
	case r.sinkErr != nil:
		return r.sinkErr
	case ctx.Err() != nil:
		return ctx.Err()
	case r.stopped.Load() && int(r.progress.Load()) < r.total:
		return ErrStopped
	}
	return nil
}

// permutation returns a seeded random permutation of 0..n-1.
func permutation(n int, seed uint64) []uint32 {
	p := make([]uint32, n)
	for i := range p {
		p[i] = uint32(i)
	}
	r := rand.New(rand.NewPCG(seed, seed^0x9e3779b97f4a7c15))
	r.Shuffle(n, func(i, j int) { p[i], p[j] = p[j], p[i] })
	return p
}

// runEnv is what every sample of one suite run shares.
type runEnv struct {
	suite  string
	opts   SuiteOpts
	target Target
	filter filter
}

func newRunEnv(s Suite, target Target, pattern string) (*runEnv, error) {
	f, err := parseFilter(pattern)
	if err != nil {
		return nil, err
	}
	env := &runEnv{suite: s.Name(), target: target, filter: f}
	if so, ok := s.(SuiteOptions); ok {
		env.opts = so.SuiteOpts()
	}
	return env, nil
}

// caseHash returns c.Hash, or a hash of the suite name, suite Version and
// case ID when c has none.
func (e *runEnv) caseHash(c *Case) string {
	if c.Hash != "" {
		return c.Hash
	}
	h := sha256.New()
	h.Write([]byte(e.suite))
	h.Write([]byte{0})
	h.Write([]byte(e.opts.Version))
	h.Write([]byte{0})
	h.Write([]byte(c.ID))
	var sum [sha256.Size]byte
	return hex.EncodeToString(h.Sum(sum[:0])[:16])
}

// sample runs one sample of c in a new goroutine and waits for it. done is
// a channel with a buffer of one, reused across calls.
func (e *runEnv) sample(ctx context.Context, c *Case, hash string, index int, done chan struct{}) SampleResult {
	// One allocation for the sample state and its T.
	st := &struct {
		s sample
		t T
	}{}
	s, t := &st.s, &st.t
	s.target, s.filter = e.target, e.filter
	s.res = SampleResult{Suite: e.suite, Case: c.ID, CaseHash: hash, Index: index, Started: time.Now()}
	*t = T{s: s, name: c.ID, base: ctx, system: e.opts.System, params: e.opts.Params}
	go t.run(c.Func, done)
	<-done

	// The case goroutine has finished: no lock needed, but a goroutine the
	// case leaked may still hold it.
	s.mu.Lock()
	defer s.mu.Unlock()
	r := s.res
	r.Duration = time.Since(r.Started)
	switch {
	case s.errored:
		r.Outcome = Errored
	case t.failed:
		r.Outcome = Failed
		r.Err = ""
	case t.skipped:
		r.Outcome = Skipped
	default:
		r.Outcome = Passed
		r.Err = ""
	}
	r.Score = 1
	if s.weightSum > 0 {
		r.Score = s.scoreSum / s.weightSum
	}
	return r
}

// RunSample runs sample index of case c of suite s against target, applying
// the suite's options, and returns its result. It is the unit Run schedules;
// evaltest uses it to run each sample as a go test subtest.
func RunSample(ctx context.Context, s Suite, c Case, index int, target Target) SampleResult {
	env, err := newRunEnv(s, target, "")
	if err != nil {
		return SampleResult{Suite: s.Name(), Case: c.ID, Index: index, Outcome: Errored, Err: err.Error()}
	}
	return env.sample(ctx, &c, env.caseHash(&c), index, make(chan struct{}, 1))
}
