package jobs_test

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/driftwatch/driftwatch/app"
	"github.com/driftwatch/driftwatch/sim"
	"github.com/driftwatch/driftwatch/storage"
)

// A process loads a run's suite once, not once per batch: its batches and
// its analysis use the suite the run job loaded. That is also the content
// the run started with: an edit of the suite file in the middle of the run
// does not reach its later batches.
func TestRunLoadsSuiteOnce(t *testing.T) {
	t.Parallel()
	const cases, k, batch = 120, 2, 10
	e := setup(t, envOpts{cases: cases, k: k, latency: 100 * time.Millisecond})
	var addr string
	var mu sync.Mutex
	e.serve(t, app.ServeOptions{BatchSize: batch, BatchWorkers: 1, Addr: "127.0.0.1:0",
		OnListen: func(a string) { mu.Lock(); addr = a; mu.Unlock() }})
	insertRun(t, e, "manual@once/arith/gpt")

	runID := awaitSamples(t, e, "manual@once", batch*k) // the first batch
	path := filepath.Join(e.dir, "suites", "arith.yaml")
	old, err := os.ReadFile(path)
	require.NoError(t, err)
	edited := strings.Replace(string(old), `prompt: "What is {{.a}} + {{.b}}?"`, `prompt: "Compute {{.a}} plus {{.b}}."`, 1)
	require.NotEqual(t, string(old), edited)
	require.NoError(t, os.WriteFile(path, []byte(edited), 0o644))
	require.Less(t, countSamples(t, e.st, runID), cases*k, "the suite was edited in the middle of the run")

	run := awaitRunDone(t, e, "manual@once/arith/gpt", 60*time.Second)
	require.Equal(t, storage.RunCompleted, run.Status)
	require.Equal(t, cases*k, countSamples(t, e.st, runID))

	// Every prompt served is one the run started with.
	original := map[string]bool{}
	for i := range cases {
		a, b := 100+7*i, 13+3*i
		original[sim.PromptHash(fmt.Sprintf("What is %d + %d?", a, b))] = true
	}
	for _, prompts := range e.sim.Stats().PerPrompt {
		for h, n := range prompts {
			require.True(t, original[h], "a prompt of the edited suite was sent (%d times)", n)
		}
	}

	mu.Lock()
	base := "http://" + addr
	mu.Unlock()
	m := metricsAfterAlert(t, base)
	require.Equal(t, 1.0, m["driftwatch_suite_loads_total"], "%d batches and the analysis parsed the suite again", cases/batch)
}
