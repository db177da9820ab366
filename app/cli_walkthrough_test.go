package app_test

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"github.com/driftwatch/driftwatch/cli"

	"github.com/stretchr/testify/require"

	"github.com/driftwatch/driftwatch/sim"
)

// TestCaseFlagNotARegexp: a --case pattern that is not a regular
// expression is one line naming the flag, the pattern and what is wrong
// (not eval's "filter ... element ... error parsing regexp"), exit 3, for
// a run and a dry run alike.
func TestCaseFlagNotARegexp(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		pattern, want string
	}{
		{"[", `--case "[": not a valid regular expression: missing closing ]`},
		{"ok/a(b", `--case "ok/a(b": not a valid regular expression: missing closing ) (at "a(b")`},
	} {
		for _, dry := range []bool{false, true} {
			args := []string{"--config", filepath.Join(t.TempDir(), "none.yaml"), "run", "--case", tc.pattern}
			if dry {
				args = append(args, "--dry-run")
			}
			r := runCLI(t, args...)
			require.Equal(t, cli.ExitConfig, r.code, r.stderr)
			require.Equal(t, "driftwatch: "+tc.want+"\n", r.stderr, "%v", args)
		}
	}
}

// TestDiffRunWithItself: diff of a run with itself (always STABLE, never
// what was meant) is a usage error, said before the database is opened.
func TestDiffRunWithItself(t *testing.T) {
	t.Parallel()
	r := runCLI(t, "--config", filepath.Join(t.TempDir(), "none.yaml"), "diff", "7", "7")
	require.Equal(t, cli.ExitConfig, r.code, r.stderr)
	require.Equal(t, "driftwatch: diff: run 7 is compared with itself: give two different runs (RUN_A the baseline, RUN_B the current run)\n", r.stderr)
	require.Empty(t, r.stdout)
}

// TestDryRunUnknownPrice: a dry run on a model with no price (not in the
// built-in table, not in prices:) shows its cost as unknown and says how
// to set one, instead of $0.0000; priced models keep their cost.
func TestDryRunUnknownPrice(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	suite := "name: s\nprompt: \"hi {{.x}}\"\ncases:\n  - {id: a, vars: {x: 1}}\n  - {id: b, vars: {x: 2}}\n"
	require.NoError(t, os.WriteFile(filepath.Join(dir, "s.yaml"), []byte(suite), 0o600))
	target := func(name, model string) string {
		return fmt.Sprintf("  - {name: %s, provider: openai, base_url: http://127.0.0.1:1/v1, model: %s, api_key: k}\n", name, model)
	}
	cfg := filepath.Join(dir, "driftwatch.yaml")
	require.NoError(t, os.WriteFile(cfg, []byte("database_url: postgres://u@127.0.0.1:1/none\ntargets:\n"+
		target("local", "my-local-model")+target("local2", "my-local-model")+target("four", "gpt-4o")+target("mine", "my-priced")+
		"prices:\n  my-priced: {input: 1, output: 2}\nsuites: [s.yaml]\n"), 0o600))

	r := runCLI(t, "--config", cfg, "run", "--dry-run", "--samples", "1")
	require.Equal(t, 0, r.code, r.stderr)
	require.Regexp(t, regexp.MustCompile(`(?m)^s\s+local\s+2\s+1\s+2\s+\d+\s+1024\s+unknown$`), r.stdout)
	require.Regexp(t, regexp.MustCompile(`(?m)^s\s+local2\s+.*\sunknown$`), r.stdout)
	require.Regexp(t, regexp.MustCompile(`(?m)^s\s+four\s+.*\s\$0\.010\d$`), r.stdout)
	require.Regexp(t, regexp.MustCompile(`(?m)^s\s+mine\s+.*\s\$0\.002\d$`), r.stdout)
	require.Regexp(t, regexp.MustCompile(`(?m)^TOTAL\s+.*\s\$0\.01\d\d \+ unknown$`), r.stdout)
	require.NotContains(t, r.stdout, "$0.0000")
	require.Equal(t, 1, strings.Count(r.stdout, "no price"), r.stdout)
	require.Contains(t, r.stdout, `cost unknown: no price for model "my-local-model" (targets local, local2); set prices: in the config`)
}

// TestDiffNamesTheSideWithoutSamples: a diff whose first run (the
// baseline side) has no comparable sample, every one errored, says so
// instead of counting "0 comparable current samples"; the other way round
// the reason names the current side.
func TestDiffNamesTheSideWithoutSamples(t *testing.T) {
	t.Parallel()
	const key = "sk-test-planted-secret-0123456789"
	e := setup(t, envOpts{cases: 60, targets: "    retries: 0\n", sim: sim.Config{Seed: 1, APIKey: key,
		Models: []sim.Model{{Name: "sim-gpt", Profile: sim.Profile{Seed: 1, Accuracy: 0.9}}}}})
	ctx := context.Background()
	wrongKey := func(c string) string {
		return strings.Replace(c, "${DW_TEST_KEY:-"+key+"}", "sk-wrong-0000000000000000", 1)
	}
	rightKey := func(c string) string {
		return strings.Replace(c, "sk-wrong-0000000000000000", "${DW_TEST_KEY:-"+key+"}", 1)
	}

	e.editConfig(t, wrongKey)
	failed := filepath.Join(e.dir, "failed.json")
	code, _, stderr := e.run(t, ctx, "run", "--samples", "1", "--no-progress", "--json", failed)
	require.Equal(t, 3, code, stderr)
	a := readReports(t, failed)[0]
	require.Equal(t, a.Metrics.Samples, a.Metrics.ErrorCount)

	e.editConfig(t, rightKey)
	good := filepath.Join(e.dir, "good.json")
	code, _, stderr = e.run(t, ctx, "run", "--samples", "1", "--no-progress", "--json", good)
	require.Equal(t, 0, code, stderr)
	b := readReports(t, good)[0]

	code, stdout, stderr := e.run(t, ctx, "diff", fmt.Sprint(a.RunID), fmt.Sprint(b.RunID), "--json", "-")
	require.Equal(t, 2, code, stderr)
	require.Contains(t, stdout, fmt.Sprintf("no comparable baseline samples: all %d baseline samples errored", a.Metrics.Samples))
	require.NotContains(t, stdout, "comparable current samples")

	code, stdout, stderr = e.run(t, ctx, "diff", fmt.Sprint(b.RunID), fmt.Sprint(a.RunID), "--json", "-")
	require.Equal(t, 2, code, stderr)
	require.Contains(t, stdout, "current error rate 1.000")
}
