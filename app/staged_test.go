package app_test

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/driftwatch/driftwatch/drift"
	"github.com/driftwatch/driftwatch/sim"
	"github.com/driftwatch/driftwatch/storage"
)

// stagedCases is the suite size of the staged-night tests.
const stagedCases = 200

// stagedReport is a --json report with its sampling.
type stagedReport struct {
	RunID          int64         `json:"run_id"`
	Verdict        string        `json:"verdict"`
	Reason         string        `json:"reason"`
	Status         string        `json:"status"`
	BaselineRunIDs []int64       `json:"baseline_run_ids"`
	Sampling       *drift.Staged `json:"sampling"`
	Metrics        struct {
		Samples        int `json:"samples"`
		Cases          int `json:"cases"`
		SamplesPerCase int `json:"samples_per_case"`
	} `json:"metrics"`
}

// setupStaged is a test environment whose suite sets no samples: the
// config's sampling: plans each night (staged by default, K=5, a pool of
// three baseline runs).
func setupStaged(t *testing.T, o envOpts) *testEnv {
	t.Helper()
	o.cases = stagedCases
	e := setup(t, o)
	suite := filepath.Join(e.dir, "suites", "arith.yaml")
	b, err := os.ReadFile(suite)
	require.NoError(t, err)
	require.NoError(t, os.WriteFile(suite, []byte(strings.Replace(string(b), "samples: 4\n", "", 1)), 0o644))
	return e
}

// night runs one night with the CLI and returns its report and the calls
// it made to the model.
func (e *testEnv) night(t *testing.T, ctx context.Context, wantCode int, args ...string) (stagedReport, int64) {
	t.Helper()
	path := filepath.Join(e.dir, fmt.Sprintf("night-%d.json", time.Now().UnixNano()))
	before := e.sim.Stats().Requests
	code, _, stderr := e.run(t, ctx, append([]string{"run", "--no-progress", "--json", path}, args...)...)
	require.Equal(t, wantCode, code, stderr)
	b, err := os.ReadFile(path)
	require.NoError(t, err)
	var r stagedReport
	require.NoError(t, json.Unmarshal(b, &r))
	return r, e.sim.Stats().Requests - before
}

func stagedSim() sim.Config {
	worse := sim.Profile{Seed: 1, Mixture: mixture, CollapseFraction: 0.1, CollapseBy: 0.7, Drop: 0.05}
	return sim.Config{Seed: 11, Models: []sim.Model{{Name: "sim-gpt", Profile: sim.Profile{Seed: 1, Mixture: mixture},
		Updates: []sim.Update{{Name: "silent", Profile: &worse}}}}}
}

// TestStagedNightsThroughTheCLI: the first three nights run fixed at K=5
// and build the pooled baseline; then quiet nights are staged and stop
// early as STABLE (calls per case far below K, the report says at which
// look); after a silent update the night reaches K and is DRIFT.
func TestStagedNightsThroughTheCLI(t *testing.T) {
	t.Parallel()
	e := setupStaged(t, envOpts{sim: stagedSim()})
	ctx := context.Background()
	st := e.openStore(t)

	var pool []int64
	for i := range 3 {
		want := map[int]string{0: "BASELINE"}[i]
		r, calls := e.night(t, ctx, 0)
		require.Equal(t, "completed", r.Status)
		if want != "" {
			require.Equal(t, want, r.Verdict, r.Reason)
		} else {
			require.Equal(t, "STABLE", r.Verdict, r.Reason)
		}
		require.NotNil(t, r.Sampling)
		require.Equal(t, drift.ModeFixed, r.Sampling.Mode, "nights before the pool is complete run fixed")
		require.Equal(t, 5, r.Sampling.K)
		require.Equal(t, int64(5*stagedCases), calls, "a pool-building night sends K per case")
		pool = append(pool, r.RunID)
	}
	row, err := st.GetRun(ctx, pool[0])
	require.NoError(t, err)
	p, err := st.ActivePool(ctx, row.SuiteID, row.TargetID)
	require.NoError(t, err)
	require.Equal(t, pool, p.RunIDs, "the first three nights pool into the baseline")
	require.True(t, p.Complete())

	const quiet = 4
	var calls int64
	stopped := 0
	for range quiet {
		r, c := e.night(t, ctx, 0)
		require.Equal(t, "STABLE", r.Verdict, r.Reason)
		require.Equal(t, pool, r.BaselineRunIDs, "a complete pool is frozen")
		require.Equal(t, drift.ModeStaged, r.Sampling.Mode)
		require.NotEmpty(t, r.Sampling.Looks)
		require.Equal(t, int64(r.Metrics.Samples), c, "the report counts the calls made")
		if r.Sampling.StoppedAt > 0 {
			stopped++
			lr := r.Sampling.Looks[r.Sampling.StoppedAt-1]
			require.False(t, lr.Continue)
			require.Contains(t, r.Reason, "no drift at the looks")
			require.Greater(t, lr.MDE, 0.0)
			require.Equal(t, lr.SamplesPerCase, r.Sampling.SamplesPerCase)
			require.Equal(t, int64(lr.SamplesPerCase*stagedCases), c)
		}
		calls += c
		for _, lr := range r.Sampling.Looks {
			t.Logf("night %d look %d: %s", r.RunID, lr.Look, lr.Reason)
		}
	}
	perCase := float64(calls) / float64(quiet*stagedCases)
	t.Logf("quiet staged nights: %.2f calls per case over %d nights (K=5), %d stopped early", perCase, quiet, stopped)
	require.GreaterOrEqual(t, stopped, quiet/2, "most quiet nights stop at a look")
	require.Less(t, perCase, 3.0, "quiet nights cost well below K=5 calls per case")
	p, err = st.ActivePool(ctx, row.SuiteID, row.TargetID)
	require.NoError(t, err)
	require.Equal(t, pool, p.RunIDs, "staged nights never join a complete pool")

	_, err = e.sim.Update("sim-gpt")
	require.NoError(t, err)
	r, c := e.night(t, ctx, 1)
	require.Equal(t, "DRIFT", r.Verdict, r.Reason)
	require.Equal(t, drift.ModeStaged, r.Sampling.Mode)
	require.Zero(t, r.Sampling.StoppedAt)
	require.Equal(t, 5, r.Sampling.SamplesPerCase)
	require.Equal(t, int64(5*stagedCases), c, "a drifted night reaches K")
	for _, lr := range r.Sampling.Looks {
		require.True(t, lr.Continue, lr.Reason)
	}
}

// TestStagedNightResumesBetweenStages: a staged night interrupted after
// its first look (which went on) resumes at its second stage: the recorded
// look is not taken again, no sample is sent twice, and the night ends as
// an uninterrupted one would.
func TestStagedNightResumesBetweenStages(t *testing.T) {
	t.Parallel()
	e := setupStaged(t, envOpts{sim: stagedSim()})
	ctx := context.Background()
	st := e.openStore(t)
	for range 3 {
		e.night(t, ctx, 0)
	}
	_, err := e.sim.Update("sim-gpt")
	require.NoError(t, err)
	// Ctrl-C with the 20th request of the second stage: after look 1.
	ictx := e.interruptAt(t, stagedCases+20)
	r, _ := e.night(t, ictx, 3)
	require.Equal(t, "stopped", r.Status)
	rs, looks, err := st.Sampling(ctx, r.RunID)
	require.NoError(t, err)
	require.Equal(t, storage.SamplingStaged, rs.Mode)
	require.Len(t, looks, 1, "interrupted in the second stage")
	require.True(t, looks[0].Continued, looks[0].Reason)
	first := looks[0]

	done, _ := e.night(t, ctx, 1, "--resume", fmt.Sprint(r.RunID))
	require.Equal(t, r.RunID, done.RunID)
	require.Equal(t, "DRIFT", done.Verdict, done.Reason)
	require.Equal(t, 5*stagedCases, done.Metrics.Samples)
	_, looks, err = st.Sampling(ctx, r.RunID)
	require.NoError(t, err)
	require.Len(t, looks, 2)
	require.Equal(t, first.CreatedAt, looks[0].CreatedAt, "the first look was not taken again")
	require.Equal(t, first.Reason, done.Sampling.Looks[0].Reason)
	samples, err := st.ListSamples(ctx, r.RunID, "")
	require.NoError(t, err)
	require.Len(t, samples, 5*stagedCases, "every (case, sample) stored once")
	require.Equal(t, int64(4*5*stagedCases), e.sim.Stats().Requests, "no sample paid twice: three fixed nights and this one")
}

// TestSuiteChangeStartsANewPool: when a case's content changes, the next
// night finds no pool of the new content (no run sampled it yet): it
// compares with the old pool at full K, fixed, and, STABLE, starts the pool
// of the new content, which then grows night by night as the first one did.
func TestSuiteChangeStartsANewPool(t *testing.T) {
	t.Parallel()
	e := setupStaged(t, envOpts{sim: stagedSim()})
	ctx := context.Background()
	st := e.openStore(t)
	var old []int64
	for range 3 {
		r, _ := e.night(t, ctx, 0)
		old = append(old, r.RunID)
	}
	ds := filepath.Join(e.dir, "suites", "arith.jsonl")
	b, err := os.ReadFile(ds)
	require.NoError(t, err)
	b = []byte(strings.Replace(string(b), `{"id":"c000","a":100,"op":"+","b":13,"answer":"113"}`, `{"id":"c000","a":101,"op":"+","b":13,"answer":"114"}`, 1))
	require.NoError(t, os.WriteFile(ds, b, 0o644))

	r, calls := e.night(t, ctx, 0)
	require.Equal(t, "STABLE", r.Verdict, r.Reason)
	require.Equal(t, old, r.BaselineRunIDs, "compared with the old pool")
	require.Equal(t, drift.ModeFixed, r.Sampling.Mode, "no complete pool of the new content: fixed at K")
	require.Equal(t, int64(5*stagedCases), calls)
	row, err := st.GetRun(ctx, r.RunID)
	require.NoError(t, err)
	p, err := st.ActivePool(ctx, row.SuiteID, row.TargetID)
	require.NoError(t, err)
	require.Equal(t, []int64{r.RunID}, p.RunIDs, "a new pool of the new content starts with this night")
	require.Equal(t, 3, p.PoolSize)
	require.False(t, p.Complete())

	r2, _ := e.night(t, ctx, 0)
	require.Equal(t, []int64{r.RunID}, r2.BaselineRunIDs)
	require.Equal(t, drift.ModeFixed, r2.Sampling.Mode)
	p, err = st.ActivePool(ctx, row.SuiteID, row.TargetID)
	require.NoError(t, err)
	require.Equal(t, []int64{r.RunID, r2.RunID}, p.RunIDs)
}
