package pglocal_test

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/stretchr/testify/require"
	"go.uber.org/goleak"

	"github.com/driftwatch/driftwatch/storage/pglocal"
	"github.com/driftwatch/driftwatch/storage/storagetest"
)

func TestMain(m *testing.M) {
	if os.Getenv("PGLOCAL_HELPER_DIR") != "" {
		os.Exit(helperProcess(os.Getenv("PGLOCAL_HELPER_DIR")))
	}
	goleak.VerifyTestMain(m)
}

// helperProcess is a second driftwatch process: it starts the cluster, prints
// the postmaster pid, waits for stdin to close, then stops.
func helperProcess(dir string) int {
	ctx := context.Background()
	c, err := pglocal.Start(ctx, pglocal.Config{DataDir: dir})
	if err != nil {
		fmt.Println("error:", err)
		return 1
	}
	pid, err := postmasterPID(ctx, c.URL())
	if err != nil {
		fmt.Println("error:", err)
		return 1
	}
	fmt.Println("pid:", pid)
	_, _ = io.Copy(io.Discard, os.Stdin)
	if err := c.Stop(ctx); err != nil {
		fmt.Println("error:", err)
		return 1
	}
	return 0
}

func postmasterPID(ctx context.Context, url string) (int, error) {
	conn, err := pgx.Connect(ctx, url)
	if err != nil {
		return 0, err
	}
	defer conn.Close(ctx)
	var pid int
	err = conn.QueryRow(ctx, "SELECT pid FROM pg_stat_activity WHERE backend_type = 'checkpointer'").Scan(&pid)
	return pid, err
}

func TestBadBinDir(t *testing.T) {
	t.Parallel()
	_, err := pglocal.Start(context.Background(), pglocal.Config{DataDir: t.TempDir(), BinDir: "/nonexistent"})
	require.ErrorContains(t, err, "not found in BinDir /nonexistent")
}

func requireBinaries(t *testing.T) {
	t.Helper()
	if testing.Short() {
		t.Skip("starts PostgreSQL: skipped under -short")
	}
}

// dataDir returns a directory the postgres user can reach when tests run as
// root.
func dataDir(t *testing.T) string { return storagetest.ClusterDir(t) }

func serverRunning(t *testing.T, dir string) bool {
	t.Helper()
	matches, _ := filepath.Glob(filepath.Join(dir, "pg", "data", "postmaster.pid"))
	return len(matches) > 0
}

func TestStartStopRestart(t *testing.T) {
	t.Parallel()
	requireBinaries(t)
	ctx := context.Background()
	dir := dataDir(t)

	c, err := pglocal.Start(ctx, pglocal.Config{DataDir: dir})
	require.NoError(t, err)
	conn, err := pgx.Connect(ctx, c.URL())
	require.NoError(t, err)
	_, err = conn.Exec(ctx, "CREATE TABLE kept (v text); INSERT INTO kept VALUES ('hello')")
	require.NoError(t, err)
	require.NoError(t, conn.Close(ctx))
	require.NoError(t, c.Stop(ctx))
	require.NoError(t, c.Stop(ctx), "Stop is idempotent")
	require.False(t, serverRunning(t, dir), "last user stops the server")

	c, err = pglocal.Start(ctx, pglocal.Config{DataDir: dir})
	require.NoError(t, err)
	defer func() { require.NoError(t, c.Stop(ctx)) }()
	conn, err = pgx.Connect(ctx, c.URL())
	require.NoError(t, err)
	defer conn.Close(ctx)
	var v string
	require.NoError(t, conn.QueryRow(ctx, "SELECT v FROM kept").Scan(&v))
	require.Equal(t, "hello", v)
}

func TestConcurrentStartGoroutines(t *testing.T) {
	t.Parallel()
	requireBinaries(t)
	ctx := context.Background()
	dir := dataDir(t)

	var wg sync.WaitGroup
	clusters := make([]*pglocal.Cluster, 3)
	pids := make([]int, len(clusters))
	errs := make([]error, len(clusters))
	for i := range clusters {
		wg.Go(func() {
			clusters[i], errs[i] = pglocal.Start(ctx, pglocal.Config{DataDir: dir})
			if errs[i] == nil {
				pids[i], errs[i] = postmasterPID(ctx, clusters[i].URL())
			}
		})
	}
	wg.Wait()
	require.NoError(t, errors.Join(errs...))
	require.Equal(t, pids[0], pids[1])
	require.Equal(t, pids[0], pids[2])

	require.NoError(t, clusters[0].Stop(ctx))
	require.NoError(t, clusters[1].Stop(ctx))
	require.True(t, serverRunning(t, dir), "a user remains")
	_, err := postmasterPID(ctx, clusters[2].URL())
	require.NoError(t, err)
	require.NoError(t, clusters[2].Stop(ctx))
	require.False(t, serverRunning(t, dir))
}

func TestConcurrentStartProcesses(t *testing.T) {
	t.Parallel()
	requireBinaries(t)
	dir := dataDir(t)

	type helper struct {
		cmd   *exec.Cmd
		stdin io.WriteCloser
		out   *bufio.Reader
	}
	helpers := make([]helper, 2)
	for i := range helpers {
		cmd := exec.Command(os.Args[0], "-test.run=^$")
		cmd.Env = append(os.Environ(), "PGLOCAL_HELPER_DIR="+dir)
		stdin, err := cmd.StdinPipe()
		require.NoError(t, err)
		stdout, err := cmd.StdoutPipe()
		require.NoError(t, err)
		cmd.Stderr = os.Stderr
		require.NoError(t, cmd.Start())
		helpers[i] = helper{cmd: cmd, stdin: stdin, out: bufio.NewReader(stdout)}
	}
	var pids []string
	for _, h := range helpers {
		line, err := h.out.ReadString('\n')
		require.NoError(t, err)
		require.True(t, strings.HasPrefix(line, "pid: "), "helper said %q", line)
		pids = append(pids, strings.TrimSpace(line))
	}
	require.Equal(t, pids[0], pids[1], "both processes share one server")

	for _, h := range helpers {
		require.NoError(t, h.stdin.Close())
		done := make(chan error, 1)
		go func() { done <- h.cmd.Wait() }()
		select {
		case err := <-done:
			require.NoError(t, err)
		case <-time.After(90 * time.Second):
			t.Fatal("helper did not exit")
		}
	}
	require.False(t, serverRunning(t, dir), "the last process stopped the server")
}

func TestLongDataDirUsesShortSocket(t *testing.T) {
	t.Parallel()
	requireBinaries(t)
	ctx := context.Background()
	dir := filepath.Join(dataDir(t), strings.Repeat("long-directory-name-", 6))
	require.NoError(t, os.MkdirAll(filepath.Dir(dir), 0o755))

	c, err := pglocal.Start(ctx, pglocal.Config{DataDir: dir})
	require.NoError(t, err)
	defer func() { require.NoError(t, c.Stop(ctx)) }()
	_, err = postmasterPID(ctx, c.URL())
	require.NoError(t, err)
}
