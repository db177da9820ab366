package cli_test

import (
	"bytes"
	"context"
	"fmt"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"syscall"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/driftwatch/driftwatch/bench"
	"github.com/driftwatch/driftwatch/sim"
	"github.com/driftwatch/driftwatch/storage"
	"github.com/driftwatch/driftwatch/storage/storagetest"
)

// A `driftwatch run` killed with SIGKILL while answers stream in, then
// finished by `driftwatch run --resume` in a new process: every sample is
// stored exactly once, and the only calls sent again are those in flight
// at the kill (a request sent or an answer not yet stored): at most the
// target's concurrency.
func TestKilledRunResumesWithoutRepeatingAnsweredCalls(t *testing.T) {
	t.Parallel()
	const cases, k, concurrency = 400, 2, 8
	ctx := context.Background()
	srv, err := sim.New(sim.Config{Seed: 9, Models: []sim.Model{{Name: "bench-gpt",
		Profile: sim.Profile{Seed: 1, Accuracy: 0.9, Latency: sim.Latency{Fixed: sim.Duration(25 * time.Millisecond)}}}}})
	require.NoError(t, err)
	hs := httptest.NewServer(srv)
	t.Cleanup(func() { srv.Close(); hs.Close() })
	simURL := hs.URL

	dbURL := storagetest.NewDatabaseURL(t)
	st, err := storage.Open(ctx, dbURL)
	require.NoError(t, err)
	t.Cleanup(st.Close)
	// The benchmark's suite and config, read by a child with SIM_URL and
	// DATABASE_URL set (startMain).
	dir := t.TempDir()
	require.NoError(t, bench.WriteSuite(dir, "arith", cases))
	cfg := filepath.Join(dir, "driftwatch.yaml")
	require.NoError(t, bench.WriteConfig(cfg, concurrency, "arith.yaml"))
	env := []string{"SIM_URL=" + simURL + "/v1", "DATABASE_URL=" + dbURL}

	// The sample journals go to the test's own cache folder.
	cache := t.TempDir()
	journals := func() []string {
		paths, err := filepath.Glob(filepath.Join(cache, "driftwatch", "journal", "*"))
		require.NoError(t, err)
		return paths
	}
	stored := func() int { // the database holds this run only
		var n int
		if err := st.Pool().QueryRow(ctx, `SELECT count(*) FROM samples`).Scan(&n); err != nil {
			return -1
		}
		return n
	}
	// The first process is killed once part of the run is stored, while
	// the simulator keeps answering.
	first := startMain(t, env, cache, "run", "--config", cfg, "--no-progress", "--samples", fmt.Sprint(k))
	require.Eventually(t, func() bool { return stored() >= cases*k/5 || first.exited() },
		2*time.Minute, 20*time.Millisecond, "the run stores its first samples")
	require.False(t, first.exited(), "the run ended before the kill:\n%s", &first.out)
	require.NoError(t, first.cmd.Process.Signal(syscall.SIGKILL))
	_ = first.wait()
	// The killed process's calls end on their own: count once they have.
	require.Eventually(t, func() bool { return srv.Stats().InFlight == 0 },
		time.Minute, 20*time.Millisecond, "the killed run's calls end")
	var runID int64
	require.NoError(t, st.Pool().QueryRow(ctx, `SELECT id FROM runs`).Scan(&runID))
	storedAtKill := stored()
	atKill := srv.Stats()
	require.Less(t, storedAtKill, cases*k, "the run was killed before it finished")
	require.NotEmpty(t, journals(), "the killed run left its journal")

	report := filepath.Join(dir, "resumed.json")
	resumed := startMain(t, env, cache, "run", "--config", cfg, "--no-progress", "--resume", fmt.Sprint(runID), "--json", report)
	require.NoError(t, resumed.wait(), "driftwatch run --resume %d:\n%s", runID, &resumed.out)
	require.Empty(t, journals(), "the resumed run stored the journal and removed it")

	perKey := map[storage.SampleKey]int{}
	require.NoError(t, st.StreamSamples(ctx, []int64{runID}, func(s storage.Sample) error {
		perKey[s.Key()]++
		return nil
	}))
	require.Len(t, perKey, cases*k, "every (case, sample) is stored")
	for key, n := range perKey {
		require.Equal(t, 1, n, "sample %v stored once", key)
	}
	end := srv.Stats()
	var answeredTwice int64
	for _, prompts := range end.PerPrompt {
		for _, n := range prompts {
			answeredTwice += max(0, n-k)
		}
	}
	sentAgain := end.Requests - cases*k
	missing, resent := int64(cases*k-storedAtKill), end.Requests-atKill.Requests
	t.Logf("stored at the kill %d of %d; the resumed run stored %d without a call (the journal) and sent %d; "+
		"requests %d: sent again %d, answered twice %d; concurrency %d",
		storedAtKill, cases*k, missing-resent, resent, end.Requests, sentAgain, answeredTwice, concurrency)
	require.LessOrEqual(t, resent, missing, "the resumed run sends only samples not stored")
	require.LessOrEqual(t, sentAgain, int64(concurrency), "only the calls in flight at the kill are sent again")
	require.LessOrEqual(t, answeredTwice, sentAgain)
}

// child is a process started by startMain.
type child struct {
	cmd  *exec.Cmd
	out  bytes.Buffer // its output, read once it has exited
	done chan struct{}
	err  error // Wait's, once done is closed
}

func (c *child) wait() error {
	<-c.done
	return c.err
}

func (c *child) exited() bool {
	select {
	case <-c.done:
		return true
	default:
		return false
	}
}

// startMain starts the test binary as `driftwatch` with args (see TestMain),
// env added to its environment and cache as its user cache folder.
func startMain(t *testing.T, env []string, cache string, args ...string) *child {
	t.Helper()
	c := &child{cmd: exec.Command(os.Args[0], args...), done: make(chan struct{})}
	c.cmd.Env = append(append(os.Environ(), env...), envMain+"=1", "XDG_CACHE_HOME="+cache)
	c.cmd.Stdout, c.cmd.Stderr = &c.out, &c.out
	require.NoError(t, c.cmd.Start())
	go func() {
		c.err = c.cmd.Wait()
		close(c.done)
	}()
	t.Cleanup(func() {
		_ = c.cmd.Process.Kill() // an error once it has exited
		<-c.done
	})
	return c
}
