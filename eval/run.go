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
	if p.Suite == nil {
		return RunStats{}, errors.New("eval: run: no suite")
	}
	if p.Target == nil {
		return RunStats{}, errors.New("eval: run: no target")
	}
	logger := p.Logger
	if logger == nil {
		logger = slog.New(slog.DiscardHandler)
	}
	env, err := newRunEnv(p.Suite, p.Target, p.Filter)
	if err != nil {
		return RunStats{}, err
	}
	k := p.Samples
	if k == 0 {
		if si, ok := p.Suite.(SuiteInfo); ok {
			k = si.Samples()
		}
		k = cmp.Or(k, env.opts.Samples, 1)
	}
	if k < 0 {
		return RunStats{}, fmt.Errorf("eval: run %s: negative samples %d", env.suite, k)
	}

	cases := p.Suite.Cases()
	sel := make([]int32, 0, len(cases))
	hashes := make([]string, len(cases))
	seen := make(map[string]struct{}, len(cases))
	for i := range cases {
		c := &cases[i]
		if c.ID == "" {
			return RunStats{}, fmt.Errorf("eval: run %s: case %d has an empty ID", env.suite, i)
		}
		if c.Func == nil {
			return RunStats{}, fmt.Errorf("eval: run %s: case %q has no Func", env.suite, c.ID)
		}
		if _, dup := seen[c.ID]; dup {
			return RunStats{}, fmt.Errorf("eval: run %s: duplicate case ID %q", env.suite, c.ID)
		}
		seen[c.ID] = struct{}{}
		if env.filter.match(c.ID) {
			sel = append(sel, int32(i))
			hashes[i] = env.caseHash(c)
		}
	}
	seen = nil
	total := len(sel) * k
	if total > math.MaxUint32 {
		return RunStats{}, fmt.Errorf("eval: run %s: %d samples is too many", env.suite, total)
	}
	order := permutation(total, p.Seed)

	conc := cmp.Or(p.Concurrency, ConcurrencyDefault)
	workers := min(conc, total)
	logger.Info("eval: run starting", "suite", env.suite, "cases", len(sel), "samples", k,
		"total", total, "concurrency", workers, "seed", p.Seed)

	debug := logger.Enabled(ctx, slog.LevelDebug)
	runCtx, cancel := context.WithCancelCause(ctx)
	defer cancel(nil)

	var (
		next     atomic.Int64
		progress atomic.Int64
		mu       sync.Mutex
		stats    = RunStats{Total: total}
		sinkErr  error
		stopped  atomic.Bool
		wg       sync.WaitGroup
	)
	for range workers {
		wg.Go(func() {
			var local RunStats
			defer func() {
				mu.Lock()
				stats.add(&local)
				mu.Unlock()
			}()
			wctx, wcancel := context.WithCancel(runCtx)
			defer wcancel()
			runDone := runCtx.Done()
			done := make(chan struct{}, 1)
			for {
				select {
				case <-runDone:
					return
				case <-p.SoftStop:
					stopped.Store(true)
					return
				default:
				}
				i := next.Add(1) - 1
				if i >= int64(total) {
					return
				}
				job := int(order[i])
				c := &cases[sel[job/k]]
				idx := job % k
				if p.Skip != nil && p.Skip(c.ID, idx) {
					local.Resumed++
				} else {
					res := env.sample(wctx, c, hashes[sel[job/k]], idx, done)
					if res.Outcome == Errored && runCtx.Err() != nil && res.ErrorKind == ErrCanceled {
						return // interrupted, not a real result
					}
					if res.Outcome == Errored && debug {
						logger.Debug("eval: sample errored", "suite", env.suite, "case", c.ID,
							"index", idx, "kind", res.ErrorKind, "error", res.Err)
					}
					if p.Sink != nil {
						if err := p.Sink(res); err != nil {
							mu.Lock()
							if sinkErr == nil {
								sinkErr = fmt.Errorf("eval: run %s: sink: %w", env.suite, err)
							}
							mu.Unlock()
							cancel(err)
							return
						}
					}
					local.count(&res)
				}
				if p.OnProgress != nil {
					p.OnProgress(int(progress.Add(1)), total)
				}
			}
		})
	}
	wg.Wait()

	var runErr error
	switch {
	case sinkErr != nil:
		runErr = sinkErr
	case ctx.Err() != nil:
		runErr = ctx.Err()
	case stopped.Load() && int(progress.Load()) < total:
		runErr = ErrStopped
	}
	logger.Info("eval: run finished", "suite", env.suite, "passed", stats.Passed, "failed", stats.Failed,
		"errored", stats.Errored, "skipped", stats.Skipped, "resumed", stats.Resumed, "error", runErr)
	return stats, runErr
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
