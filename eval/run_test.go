package eval_test

import (
	"context"
	"errors"
	"fmt"
	"runtime"
	"slices"
	"strconv"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/driftwatch/driftwatch/eval"
)

type runBundle struct {
	mu      sync.Mutex
	results []eval.SampleResult
	calls   atomic.Int64
}

func (b *runBundle) sink(r eval.SampleResult) error {
	b.mu.Lock()
	b.results = append(b.results, r)
	b.mu.Unlock()
	return nil
}

func (b *runBundle) keys() []string {
	b.mu.Lock()
	defer b.mu.Unlock()
	out := make([]string, len(b.results))
	for i, r := range b.results {
		out[i] = r.Case + "#" + strconv.Itoa(r.Index)
	}
	return out
}

func setupRun(t *testing.T) *runBundle {
	t.Helper()
	return &runBundle{}
}

// askSuite has n cases, each asking once and checking for "ok".
func askSuite(n int, b *runBundle) eval.Suite {
	cases := make([]eval.Case, n)
	for i := range cases {
		cases[i] = eval.CaseFunc("c"+strconv.Itoa(i), func(t *eval.T) {
			t.Check(t.Ask("q"), contains("ok"))
		})
	}
	return eval.SuiteFunc("ask", cases...)
}

func (b *runBundle) target(text string) eval.Target {
	return eval.TargetFunc(func(ctx context.Context, req *eval.Request) (*eval.Response, error) {
		b.calls.Add(1)
		return &eval.Response{Text: text, Usage: eval.Usage{InputTokens: 1, OutputTokens: 1}}, nil
	})
}

func TestRunAllSamplesExactlyOnce(t *testing.T) {
	t.Parallel()
	b := setupRun(t)
	var progress, badTotal atomic.Int64
	stats, err := eval.Run(context.Background(), eval.RunParams{
		Suite: askSuite(20, b), Target: b.target("ok"), Samples: 5, Concurrency: 4, Sink: b.sink,
		OnProgress: func(done, total int) {
			progress.Add(1)
			if total != 100 {
				badTotal.Add(1)
			}
		},
	})
	require.NoError(t, err)
	require.Equal(t, eval.RunStats{Total: 100, Passed: 100, Usage: eval.Usage{InputTokens: 100, OutputTokens: 100}}, stats)
	keys := b.keys()
	require.Len(t, keys, 100)
	slices.Sort(keys)
	require.Len(t, slices.Compact(keys), 100)
	require.EqualValues(t, 100, progress.Load())
	require.Zero(t, badTotal.Load())
	r := b.results[0]
	require.Equal(t, "ask", r.Suite)
	require.Len(t, r.CaseHash, 32)
}

func TestRunSamplesDefaultFromSuite(t *testing.T) {
	t.Parallel()
	b := setupRun(t)
	s := eval.NewSuite("s", eval.SuiteOpts{Samples: 3, System: "sys", Version: "v2"},
		eval.CaseFunc("one", func(t *eval.T) { t.Ask("q") }),
		eval.Case{ID: "two", Hash: "fixed", Func: func(t *eval.T) {}})
	var systems atomic.Int64
	target := eval.TargetFunc(func(ctx context.Context, req *eval.Request) (*eval.Response, error) {
		if req.Messages[0].Content == "sys" {
			systems.Add(1)
		}
		return &eval.Response{Text: "x"}, nil
	})
	stats, err := eval.Run(context.Background(), eval.RunParams{Suite: s, Target: target, Sink: b.sink})
	require.NoError(t, err)
	require.Equal(t, 6, stats.Total)
	require.EqualValues(t, 3, systems.Load())
	for _, r := range b.results {
		if r.Case == "two" {
			require.Equal(t, "fixed", r.CaseHash)
		} else {
			require.NotEqual(t, "fixed", r.CaseHash)
		}
	}
}

func TestRunSkipResumes(t *testing.T) {
	t.Parallel()
	b := setupRun(t)
	stats, err := eval.Run(context.Background(), eval.RunParams{
		Suite: askSuite(10, b), Target: b.target("ok"), Samples: 2, Sink: b.sink,
		Skip: func(key string, index int) bool { return index == 0 || key == "c3" },
	})
	require.NoError(t, err)
	require.Equal(t, 20, stats.Total)
	require.Equal(t, 11, stats.Resumed)
	require.Equal(t, 9, stats.Passed)
	require.EqualValues(t, 9, b.calls.Load())
	for _, r := range b.results {
		require.Equal(t, 1, r.Index)
		require.NotEqual(t, "c3", r.Case)
	}
}

func TestRunFilter(t *testing.T) {
	t.Parallel()
	suite := eval.SuiteFunc("f",
		eval.CaseFunc("alpha", func(t *eval.T) {
			t.Run("x", func(t *eval.T) {})
			t.Run("y", func(t *eval.T) {})
		}),
		eval.CaseFunc("beta", func(t *eval.T) {}),
		eval.CaseFunc("alphabet", func(t *eval.T) {}),
	)
	tests := []struct {
		name     string
		filter   string
		cases    []string
		subcases []string // of alpha
	}{
		{"Empty", "", []string{"alpha", "alphabet", "beta"}, []string{"alpha/x", "alpha/y"}},
		{"Prefix", "alpha", []string{"alpha", "alphabet"}, []string{"alpha/x", "alpha/y"}},
		{"Anchored", "^alpha$", []string{"alpha"}, []string{"alpha/x", "alpha/y"}},
		{"Subcase", "^alpha$/y", []string{"alpha"}, []string{"alpha/y"}},
		{"Alternation", "a(lpha|b)$|beta", []string{"alpha", "beta"}, []string{"alpha/x", "alpha/y"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			b := setupRun(t)
			_, err := eval.Run(context.Background(), eval.RunParams{Suite: suite, Target: b.target(""), Filter: tt.filter, Sink: b.sink})
			require.NoError(t, err)
			var cases, subs []string
			for _, r := range b.results {
				cases = append(cases, r.Case)
				for _, s := range r.Subcases {
					subs = append(subs, s.Name)
				}
			}
			slices.Sort(cases)
			require.Equal(t, tt.cases, cases)
			require.Equal(t, tt.subcases, subs)
		})
	}

	_, err := eval.Run(context.Background(), eval.RunParams{Suite: suite, Target: cannedTarget(""), Filter: "a/(["})
	require.ErrorContains(t, err, "filter")
}

func TestRunConcurrencyLimit(t *testing.T) {
	t.Parallel()
	const limit = 3
	var inFlight, peak atomic.Int64
	target := eval.TargetFunc(func(ctx context.Context, req *eval.Request) (*eval.Response, error) {
		n := inFlight.Add(1)
		defer inFlight.Add(-1)
		for {
			p := peak.Load()
			if n <= p || peak.CompareAndSwap(p, n) {
				break
			}
		}
		runtime.Gosched()
		return &eval.Response{Text: "ok"}, nil
	})
	b := setupRun(t)
	stats, err := eval.Run(context.Background(), eval.RunParams{Suite: askSuite(50, b), Target: target, Samples: 4, Concurrency: limit})
	require.NoError(t, err)
	require.Equal(t, 200, stats.Passed)
	require.LessOrEqual(t, peak.Load(), int64(limit))
	require.Positive(t, peak.Load())
}

func TestRunDeterministicOrder(t *testing.T) {
	t.Parallel()
	order := func(seed uint64) []string {
		b := setupRun(t)
		_, err := eval.Run(context.Background(), eval.RunParams{Suite: askSuite(30, b), Target: b.target("ok"), Samples: 3, Concurrency: 1, Seed: seed, Sink: b.sink})
		require.NoError(t, err)
		return b.keys()
	}
	a, again, other := order(42), order(42), order(43)
	require.Equal(t, a, again)
	require.NotEqual(t, a, other)
	// Cases are interleaved, not run in blocks.
	require.NotEqual(t, []string{"c0#0", "c0#1", "c0#2"}, a[:3])
}

func TestRunCancelStopsCleanly(t *testing.T) {
	t.Parallel()
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	started := make(chan struct{}, 100)
	target := eval.TargetFunc(func(ctx context.Context, req *eval.Request) (*eval.Response, error) {
		started <- struct{}{}
		<-ctx.Done()
		return nil, ctx.Err()
	})
	b := setupRun(t)
	errc := make(chan error, 1)
	var stats eval.RunStats
	go func() {
		var err error
		stats, err = eval.Run(ctx, eval.RunParams{Suite: askSuite(1000, b), Target: target, Concurrency: 4, Sink: b.sink})
		errc <- err
	}()
	for range 4 {
		<-started
	}
	cancel()
	select {
	case err := <-errc:
		require.ErrorIs(t, err, context.Canceled)
	case <-time.After(10 * time.Second):
		t.Fatal("run did not stop")
	}
	require.Empty(t, b.results, "interrupted samples are not delivered")
	require.Zero(t, stats.Errored)
}

func TestRunSoftStopFinishesInFlight(t *testing.T) {
	t.Parallel()
	stop := make(chan struct{})
	release := make(chan struct{})
	started := make(chan struct{}, 100)
	target := eval.TargetFunc(func(ctx context.Context, req *eval.Request) (*eval.Response, error) {
		started <- struct{}{}
		<-release
		return &eval.Response{Text: "ok"}, nil
	})
	b := setupRun(t)
	errc := make(chan error, 1)
	go func() {
		_, err := eval.Run(context.Background(), eval.RunParams{Suite: askSuite(100, b), Target: target, Concurrency: 2, Sink: b.sink, SoftStop: stop})
		errc <- err
	}()
	<-started
	<-started
	close(stop)
	close(release)
	require.ErrorIs(t, <-errc, eval.ErrStopped)
	require.Len(t, b.results, 2)
	require.Equal(t, eval.Passed, b.results[0].Outcome)
}

func TestRunSinkErrorStops(t *testing.T) {
	t.Parallel()
	b := setupRun(t)
	boom := errors.New("disk full")
	var n atomic.Int64
	_, err := eval.Run(context.Background(), eval.RunParams{
		Suite: askSuite(100, b), Target: b.target("ok"), Concurrency: 1,
		Sink: func(eval.SampleResult) error {
			if n.Add(1) == 3 {
				return boom
			}
			return nil
		},
	})
	require.ErrorIs(t, err, boom)
	require.EqualValues(t, 3, n.Load())
}

func TestRunValidation(t *testing.T) {
	t.Parallel()
	_, err := eval.Run(context.Background(), eval.RunParams{Suite: eval.SuiteFunc("s", eval.CaseFunc("a", func(*eval.T) {}), eval.CaseFunc("a", func(*eval.T) {})), Target: cannedTarget("")})
	require.ErrorContains(t, err, `duplicate case ID "a"`)
	_, err = eval.Run(context.Background(), eval.RunParams{Suite: eval.SuiteFunc("s", eval.Case{ID: "a"}), Target: cannedTarget("")})
	require.ErrorContains(t, err, "no Func")
	_, err = eval.Run(context.Background(), eval.RunParams{Suite: eval.SuiteFunc("s")})
	require.ErrorContains(t, err, "no target")
}

func TestRunPanicDoesNotStopRun(t *testing.T) {
	t.Parallel()
	b := setupRun(t)
	s := eval.SuiteFunc("p",
		eval.CaseFunc("panics", func(t *eval.T) { panic(fmt.Sprint("bad ", 1)) }),
		eval.CaseFunc("fine", func(t *eval.T) {}))
	stats, err := eval.Run(context.Background(), eval.RunParams{Suite: s, Target: b.target(""), Samples: 3, Sink: b.sink})
	require.NoError(t, err)
	require.Equal(t, 3, stats.Errored)
	require.Equal(t, 3, stats.Passed)
}

func TestRunFlatMemory(t *testing.T) {
	t.Parallel()
	if testing.Short() {
		t.Skip("large run")
	}
	const n = 100_000
	cases := make([]eval.Case, n)
	f := func(t *eval.T) { t.Check(t.Ask("q"), contains("ok")) }
	for i := range cases {
		cases[i] = eval.Case{ID: "case-" + strconv.Itoa(i), Func: f}
	}
	var peak atomic.Uint64
	var delivered atomic.Int64
	sample := func() {
		var ms runtime.MemStats
		runtime.ReadMemStats(&ms)
		for {
			p := peak.Load()
			if ms.HeapInuse <= p || peak.CompareAndSwap(p, ms.HeapInuse) {
				return
			}
		}
	}
	start := time.Now()
	stats, err := eval.Run(context.Background(), eval.RunParams{
		Suite: eval.SuiteFunc("big", cases...), Target: cannedTarget("ok"), Samples: 1,
		Sink: func(r eval.SampleResult) error {
			if delivered.Add(1)%20_000 == 0 {
				sample()
			}
			return nil
		},
	})
	require.NoError(t, err)
	require.Equal(t, n, stats.Passed)
	// The cases themselves, their hashes and the order take ~20 MB; results
	// must not accumulate (200k results would be well over 100 MB).
	require.Less(t, peak.Load(), uint64(96<<20), "heap in use")
	t.Logf("%d samples in %v, peak heap in use %d MiB", n, time.Since(start), peak.Load()>>20)
}
