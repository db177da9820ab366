package main

import (
	"bufio"
	"bytes"
	"context"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/stretchr/testify/require"

	"github.com/driftwatch/driftwatch/storage/storagetest"
)

// bin is the driftwatch binary built with the crashtest hook.
var bin string

func TestMain(m *testing.M) {
	dir, err := os.MkdirTemp("", "driftwatch-bin-")
	if err != nil {
		panic(err)
	}
	bin = filepath.Join(dir, "driftwatch")
	out, err := exec.Command("go", "build", "-tags", "crashtest", "-o", bin, ".").CombinedOutput()
	if err != nil {
		panic("build driftwatch: " + err.Error() + "\n" + string(out))
	}
	code := m.Run()
	os.RemoveAll(dir)
	os.Exit(code)
}

type result struct {
	code           int
	stdout, stderr string
	took           time.Duration
}

func run(t *testing.T, env []string, args ...string) result {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	cmd := exec.CommandContext(ctx, bin, args...)
	cmd.Env = append(os.Environ(), env...)
	cmd.Dir = t.TempDir()
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	start := time.Now()
	err := cmd.Run()
	r := result{stdout: stdout.String(), stderr: stderr.String(), took: time.Since(start)}
	var ee *exec.ExitError
	if err != nil {
		require.ErrorAs(t, err, &ee, "stderr: %s", r.stderr)
		r.code = ee.ExitCode()
	}
	return r
}

func lines(s string) []string {
	return strings.FieldsFunc(s, func(r rune) bool { return r == '\n' })
}

func TestAnyCrashExits3WithOneLine(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct{ mode, line string }{
		{"main", "driftwatch: internal error (a bug, please report it): planted panic"},
		{"goroutine", "driftwatch: crashed (exit 3): panic: planted panic in a goroutine"},
		{"memory", "driftwatch: crashed (exit 3): fatal error: "},
		{"signal", "driftwatch: killed by killed (exit 3)"},
	} {
		t.Run(tc.mode, func(t *testing.T) {
			t.Parallel()
			r := run(t, []string{"DRIFTWATCH_CRASH=" + tc.mode, "DRIFTWATCH_MAX_MEMORY_MB=512"}, "suites", "list")
			require.Equal(t, 3, r.code, "stderr: %s", r.stderr)
			ls := lines(r.stderr)
			require.NotEmpty(t, ls)
			require.LessOrEqual(t, len(ls), 3, "no stack dump: %q", r.stderr)
			require.Contains(t, r.stderr, tc.line)
			require.NotContains(t, r.stderr, "goroutine 1 [")
			require.Less(t, r.took, 30*time.Second)
		})
	}
}

func TestExitCodesPassThrough(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	good := filepath.Join(dir, "good.yaml")
	require.NoError(t, os.WriteFile(good, []byte("name: good\nprompt: hi\ncases:\n  - id: a\n"), 0o600))
	r := run(t, nil, "suites", "lint", good)
	require.Equal(t, 0, r.code, "stderr: %s", r.stderr)

	r = run(t, nil, "no-such-command")
	require.Equal(t, 3, r.code)
}

func TestHostileSuitesFailLintFastWithFileAndLine(t *testing.T) {
	t.Parallel()
	for name, tc := range map[string]struct {
		suite, want string
		setup       func(t *testing.T, dir string)
	}{
		"template loop":   {"name: s\nprompt: \"{{range 100000000}}x{{end}}\"\ncases:\n  - id: a\n", "s.yaml:2: prompt: template: ", nil}, // steps or time, whichever comes first on a loaded machine
		"template memory": {"name: s\nprompt: '{{$x := \"ab\"}}{{range 60}}{{$x = printf \"%s%s\" $x $x}}{{end}}{{$x}}'\ncases:\n  - id: a\n", "s.yaml:2: prompt: template: printf would make more than", nil},
		"dev zero dataset": {"name: s\nprompt: \"{{.x}}\"\ndataset: rows.jsonl\n", "s.yaml:3: dataset: dataset rows.jsonl is /dev/zero, outside the suite's folder",
			func(t *testing.T, dir string) {
				require.NoError(t, os.Symlink("/dev/zero", filepath.Join(dir, "rows.jsonl")))
			}},
		"fifo dataset": {"name: s\nprompt: \"{{.x}}\"\ndataset: rows.jsonl\n", "not a regular file (a FIFO)",
			func(t *testing.T, dir string) { require.NoError(t, mkfifo(filepath.Join(dir, "rows.jsonl"))) }},
		"fractional samples": {"name: s\nsamples: 2.5\nprompt: hi\ncases:\n  - id: a\n", `s.yaml:2: samples: cannot use "2.5" here (want a whole number)`, nil},
	} {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			dir := t.TempDir()
			if tc.setup != nil {
				tc.setup(t, dir)
			}
			p := filepath.Join(dir, "s.yaml")
			require.NoError(t, os.WriteFile(p, []byte(tc.suite), 0o600))
			r := run(t, nil, "suites", "lint", p)
			require.Equal(t, 3, r.code, "stderr: %s", r.stderr)
			require.Contains(t, r.stderr, tc.want)
			require.Less(t, r.took, 10*time.Second)
		})
	}
}

func TestInvalidSuiteRunWritesNoRunRow(t *testing.T) {
	t.Parallel()
	dbURL := storagetest.NewDatabaseURL(t)
	dir := t.TempDir()
	require.NoError(t, os.WriteFile(filepath.Join(dir, "s.yaml"), []byte("name: s\nprompt: \"{{range 100000000}}{{end}}\"\ndataset: rows.jsonl\n"), 0o600))
	require.NoError(t, os.WriteFile(filepath.Join(dir, "rows.jsonl"), []byte("{\"id\":\"a\"}\n{\"id\":\"b\",\"x\":\"nul \\u0000\"}\n"), 0o600))
	cfg := filepath.Join(dir, "driftwatch.yaml")
	require.NoError(t, os.WriteFile(cfg, []byte("database_url: "+dbURL+"\ntargets:\n  - {name: sim, provider: openai, base_url: \"http://127.0.0.1:1/v1\", model: m}\nsuites: [s.yaml]\n"), 0o600))

	r := run(t, nil, "--config", cfg, "run", "--suite", "s", "--target", "sim")
	require.Equal(t, 3, r.code, "stderr: %s", r.stderr)
	require.Contains(t, r.stderr, "s.yaml:2: prompt: template: ")
	require.Contains(t, r.stderr, "rows.jsonl:2: x: contains a NUL byte")

	ctx := context.Background()
	conn, err := pgx.Connect(ctx, dbURL)
	require.NoError(t, err)
	defer conn.Close(ctx)
	var runs int
	require.NoError(t, conn.QueryRow(ctx, "SELECT count(*) FROM runs").Scan(&runs))
	require.Zero(t, runs, "nothing half-written")
}

func TestSignalToTheSupervisorStopsTheWorker(t *testing.T) {
	t.Parallel()
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	cmd := exec.CommandContext(ctx, bin, "suites", "list")
	cmd.Env = append(os.Environ(), "DRIFTWATCH_CRASH=wait")
	errPipe, err := cmd.StderrPipe()
	require.NoError(t, err)
	require.NoError(t, cmd.Start())
	stderr := bufio.NewReader(errPipe)
	line, err := stderr.ReadString('\n')
	require.NoError(t, err)
	require.Equal(t, "worker waiting\n", line)
	require.NoError(t, cmd.Process.Signal(os.Interrupt)) // to the supervisor only
	rest, _ := io.ReadAll(stderr)
	err = cmd.Wait()
	var ee *exec.ExitError
	require.ErrorAs(t, err, &ee, "stderr: %s", rest)
	require.Equal(t, 3, ee.ExitCode(), "an interrupted command exits 3: %s", rest)
	require.Equal(t, "worker stopped by its context\n", string(rest))
}
