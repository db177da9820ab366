package main

import (
	"bufio"
	"context"
	"encoding/json"
	"io"
	"net/http"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/driftwatch/driftwatch/storage"
	"github.com/driftwatch/driftwatch/storage/storagetest"
)

// TestServeHugeOutputsSmallPagesBoundedMemory: with a run of 20 outputs
// of 5 MB each, `serve` answers six concurrent GETs of its run and case
// pages with pages under 1 MB, and its worker process stays under 200 MB
// of resident memory (peak, VmHWM).
func TestServeHugeOutputsSmallPagesBoundedMemory(t *testing.T) {
	if testing.Short() {
		t.Skip("starts serve on a real database")
	}
	t.Parallel()
	ctx := context.Background()
	dbURL := storagetest.NewDatabaseURL(t)
	st, err := storage.Open(ctx, dbURL)
	require.NoError(t, err)
	suiteID, err := st.EnsureSuite(ctx, storagetest.ProjectID(t, st), "big")
	require.NoError(t, err)
	targetID, err := st.EnsureTarget(ctx, storagetest.ProjectID(t, st), "sim", "openai", "m")
	require.NoError(t, err)
	run, err := st.CreateRun(ctx, storage.NewRun{SuiteID: suiteID, TargetID: targetID, Trigger: storage.TriggerCLI, SamplesPerCase: 20, HarnessVersion: "test"})
	require.NoError(t, err)
	huge := strings.Repeat("lorem ipsum <b>dolor</b> ", 5<<20/25)
	for i := range 20 {
		require.NoError(t, st.WriteSamples(ctx, []storage.Sample{{RunID: run.ID, CaseKey: "c", CaseHash: "h", SampleIdx: i, Output: huge,
			Request: json.RawMessage(`{"prompt":"p"}`), IdentityHash: "id", FinishReason: "stop"}}))
	}
	st.Close()

	dir := t.TempDir()
	cfg := filepath.Join(dir, "driftwatch.yaml")
	require.NoError(t, os.WriteFile(cfg, []byte("project: default\ndatabase_url: "+dbURL+"\ntargets:\n  - {name: sim, provider: openai, base_url: \"http://127.0.0.1:1/v1\", model: m}\n"), 0o600))
	cmd := exec.Command(bin, "--config", cfg, "serve", "--addr", "127.0.0.1:0")
	stdout, err := cmd.StdoutPipe()
	require.NoError(t, err)
	cmd.Stderr = io.Discard
	require.NoError(t, cmd.Start())
	t.Cleanup(func() {
		_ = cmd.Process.Signal(os.Interrupt)
		done := make(chan struct{})
		go func() { _ = cmd.Wait(); close(done) }()
		select {
		case <-done:
		case <-time.After(30 * time.Second):
			_ = cmd.Process.Kill()
		}
	})
	lines := bufio.NewScanner(stdout)
	var base string
	for lines.Scan() {
		if rest, ok := strings.CutPrefix(lines.Text(), "driftwatch serving on "); ok {
			base = rest
			break
		}
	}
	require.NotEmpty(t, base, "serve did not start")
	go func() { _, _ = io.Copy(io.Discard, stdout) }()
	worker := workerPID(t, cmd.Process.Pid)

	paths := []string{"/runs/" + strconv.FormatInt(run.ID, 10), "/runs/" + strconv.FormatInt(run.ID, 10) + "/cases/" + url.PathEscape("c")}
	var wg sync.WaitGroup
	sizes := make([]int, 6)
	codes := make([]int, 6)
	for i := range 6 {
		wg.Go(func() {
			resp, err := http.Get(base + paths[i%2])
			if err != nil {
				return
			}
			defer resp.Body.Close()
			b, _ := io.ReadAll(resp.Body)
			sizes[i], codes[i] = len(b), resp.StatusCode
		})
	}
	wg.Wait()
	for i := range 6 {
		require.Equal(t, http.StatusOK, codes[i], paths[i%2])
		require.Less(t, sizes[i], 1<<20, "%s is under 1 MB", paths[i%2])
	}
	hwm := peakRSS(t, worker)
	t.Logf("serve worker peak RSS after 6 concurrent pages: %d MB; pages %v bytes", hwm>>20, sizes)
	require.Less(t, hwm, int64(200<<20), "serve stays under 200 MB")
}

// workerPID returns the supervisor's child, the process that serves.
func workerPID(t *testing.T, pid int) int {
	t.Helper()
	tasks, err := filepath.Glob("/proc/" + strconv.Itoa(pid) + "/task/*/children")
	require.NoError(t, err)
	var f []string
	for _, task := range tasks { // the child hangs off the thread that forked it
		b, err := os.ReadFile(task)
		require.NoError(t, err)
		f = append(f, strings.Fields(string(b))...)
	}
	require.Len(t, f, 1, "one worker")
	w, err := strconv.Atoi(f[0])
	require.NoError(t, err)
	return w
}

// peakRSS reads a process's peak resident set size (VmHWM).
func peakRSS(t *testing.T, pid int) int64 {
	t.Helper()
	b, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/status")
	require.NoError(t, err)
	for _, line := range strings.Split(string(b), "\n") {
		if rest, ok := strings.CutPrefix(line, "VmHWM:"); ok {
			kb, err := strconv.ParseInt(strings.TrimSuffix(strings.TrimSpace(rest), " kB"), 10, 64)
			require.NoError(t, err)
			return kb << 10
		}
	}
	t.Fatal("no VmHWM")
	return 0
}
