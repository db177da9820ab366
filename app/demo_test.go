package app_test

import (
	"bytes"
	"context"
	"os"
	"regexp"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/driftwatch/driftwatch/cli"
	"github.com/driftwatch/driftwatch/eval"
)

// TestDemo plays `driftwatch demo` on the embedded PostgreSQL (a private
// cluster in a temporary folder): two nights, a silent update, the verdicts,
// the Slack message at the local receiver and the run page.
func TestDemo(t *testing.T) {
	t.Parallel()
	if testing.Short() {
		t.Skip("starts an embedded PostgreSQL")
	}
	var stdout, stderr bytes.Buffer
	code := cli.Main(context.Background(), []string{"demo"}, eval.NewRegistry(), &stdout, &stderr)
	out := stdout.String()
	require.Equal(t, 0, code, "stdout:\n%s\nstderr:\n%s", out, stderr.String())
	require.Regexp(t, `arithmetic\s+sim-gpt\s+\d+\s+BASELINE`, stderr.String())
	require.Regexp(t, `arithmetic\s+sim-gpt\s+\d+\s+DRIFT`, stderr.String())
	require.Regexp(t, `arithmetic\s+sim-llama\s+\d+\s+STABLE`, stderr.String())
	require.Contains(t, out, "Slack message delivered to the local receiver")
	require.Contains(t, out, "DRIFT: arithmetic on sim-gpt")
	m := regexp.MustCompile(`dashboard page is in (\S+\.html)`).FindStringSubmatch(out)
	require.NotNil(t, m, out)
	page, err := os.ReadFile(m[1])
	require.NoError(t, err)
	require.Contains(t, string(page), "DRIFT")
	require.NotContains(t, string(page), "<script", "the run page runs no script")
}
