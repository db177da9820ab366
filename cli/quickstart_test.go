package cli_test

import (
	"bytes"
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/driftwatch/driftwatch/cli"
	"github.com/driftwatch/driftwatch/eval"
	"github.com/driftwatch/driftwatch/storage/storagetest"
)

// envMain makes the test binary run `driftwatch` with its arguments.
const envMain = "DRIFTWATCH_TEST_MAIN"

func TestMain(m *testing.M) {
	if os.Getenv(envMain) == "1" {
		os.Exit(cli.Main(context.Background(), os.Args[1:], eval.NewRegistry(), os.Stdout, os.Stderr))
	}
	os.Exit(m.Run())
}

// readmeBlock returns the README's fenced block that starts with first.
func readmeBlock(t *testing.T, first string) string {
	t.Helper()
	b, err := os.ReadFile(filepath.Join("..", "README.md"))
	require.NoError(t, err)
	for _, m := range regexp.MustCompile("(?s)```[a-z]*\n(.*?)```").FindAllStringSubmatch(string(b), -1) {
		if strings.HasPrefix(m[1], first) {
			return m[1]
		}
	}
	t.Fatalf("README.md has no block starting with %q", first)
	return ""
}

// The README's quick start, followed literally in an empty folder: init,
// then run twice: a BASELINE, then a STABLE run compared with it.
func TestREADMEQuickStartInAnEmptyFolder(t *testing.T) {
	t.Parallel()
	block := readmeBlock(t, "mkdir ")
	dir := t.TempDir()
	dbURL := storagetest.NewDatabaseURL(t)
	var outputs []string
	for _, line := range strings.Split(strings.TrimSpace(block), "\n") {
		line = strings.TrimSpace(line)
		switch {
		case strings.HasPrefix(line, "mkdir "):
			name, cd, ok := strings.Cut(strings.TrimPrefix(line, "mkdir "), " && cd ")
			require.True(t, ok && name == cd, "mkdir X && cd X: %q", line)
			dir = filepath.Join(dir, name)
			require.NoError(t, os.Mkdir(dir, 0o755))
		case strings.HasPrefix(line, "driftwatch "):
			ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
			cmd := exec.CommandContext(ctx, os.Args[0], strings.Fields(strings.TrimPrefix(line, "driftwatch "))...)
			cmd.Dir = dir
			cmd.Env = append(os.Environ(), envMain+"=1", "DATABASE_URL="+dbURL, "OPENAI_API_KEY=")
			var out bytes.Buffer
			cmd.Stdout, cmd.Stderr = &out, &out
			err := cmd.Run()
			cancel()
			require.NoError(t, err, "%s:\n%s", line, out.String())
			outputs = append(outputs, out.String())
		default:
			t.Fatalf("the quick start has a line this test cannot follow: %q", line)
		}
	}
	require.Len(t, outputs, 3, "init, run, run")
	require.Contains(t, outputs[0], "driftwatch.yaml")
	require.FileExists(t, filepath.Join(dir, "suites", "arithmetic.yaml"))
	require.FileExists(t, filepath.Join(dir, ".gitignore"))
	require.Contains(t, outputs[1], "BASELINE")
	require.Contains(t, outputs[2], "STABLE")
	require.NotContains(t, outputs[2], "BASELINE")
}

// init never overwrites a project.
func TestInitRefusesAnExistingProject(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	require.NoError(t, os.WriteFile(filepath.Join(dir, "driftwatch.yaml"), []byte("mine\n"), 0o600))
	var stdout, stderr bytes.Buffer
	code := cli.Main(context.Background(), []string{"init", dir}, nil, &stdout, &stderr)
	require.Equal(t, 3, code)
	require.Contains(t, stderr.String(), "driftwatch.yaml exists")
	b, err := os.ReadFile(filepath.Join(dir, "driftwatch.yaml"))
	require.NoError(t, err)
	require.Equal(t, "mine\n", string(b))
	require.NoFileExists(t, filepath.Join(dir, "suites", "arithmetic.yaml"))
}

// A negative --samples is a usage error, found before anything is opened.
func TestNegativeSamplesIsAUsageError(t *testing.T) {
	t.Parallel()
	var stdout, stderr bytes.Buffer
	code := cli.Main(context.Background(), []string{"run", "--samples", "-1", "--config", filepath.Join(t.TempDir(), "none.yaml")}, nil, &stdout, &stderr)
	require.Equal(t, 3, code)
	require.Contains(t, stderr.String(), "--samples -1: want a whole number of samples per case")
	code = cli.Main(context.Background(), []string{"run", "--samples", "2.5"}, nil, &stdout, &stderr)
	require.Equal(t, 3, code, "a fraction is not a number of samples")
}
