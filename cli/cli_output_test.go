package cli

import (
	"bytes"
	"errors"
	"io"
	"os"
	"path/filepath"
	"syscall"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/driftwatch/driftwatch/drift"
	"github.com/driftwatch/driftwatch/report"
)

func TestSummaryPrintsIdentityFindingsAsIdentities(t *testing.T) {
	t.Parallel()
	before := &report.Identity{RequestedModel: "gpt-4o", ResolvedModel: "gpt-4o-2024-08-06", Fingerprint: "fp_old"}
	after := &report.Identity{RequestedModel: "gpt-4o", ResolvedModel: "gpt-4o-2024-11-20", Fingerprint: "fp_new"}
	engine := drift.Finding{Metric: drift.MetricIdentity, Scope: drift.ScopeSuite, Statistic: "set of sample identities",
		Verdict: drift.IdentityChanged, P: 1, Q: 1, Reason: "new identity 3fa2c9d1e0b4a7f6 not seen in the baseline (baseline: 0b1c2d3e4f5a6b7c); a hint, not an alarm"}
	pin := drift.Finding{Metric: drift.MetricIdentity, Scope: drift.ScopeSuite, Statistic: "pin",
		Verdict: drift.IdentityChanged, Reason: "resolved model gpt-4o-2024-11-20, pinned gpt-4o-2024-08-06"}
	for _, tc := range []struct {
		name    string
		rep     report.Report
		want    string
		notWant string
	}{
		{"engine finding: before and after", report.Report{BaselineIdentity: before, Identity: after, Findings: []drift.Finding{engine}},
			"  IDENTITY_CHANGED identity: gpt-4o-2024-08-06 fp_old -> gpt-4o-2024-11-20 fp_new\n", ""},
		{"engine finding without identities: its reason", report.Report{Findings: []drift.Finding{engine}},
			"  IDENTITY_CHANGED identity: new identity 3fa2c9d1e0b4a7f6 not seen in the baseline", ""},
		{"same dominant identity: the reason", report.Report{BaselineIdentity: before, Identity: before, Findings: []drift.Finding{engine}},
			"  IDENTITY_CHANGED identity: new identity 3fa2c9d1e0b4a7f6", "fp_old -> gpt"},
		{"pin: what was pinned", report.Report{Identity: after, Findings: []drift.Finding{pin}},
			"  IDENTITY_CHANGED identity: resolved model gpt-4o-2024-11-20, pinned gpt-4o-2024-08-06\n", ""},
		{"requested model only", report.Report{BaselineIdentity: &report.Identity{RequestedModel: "a"}, Identity: &report.Identity{RequestedModel: "b"},
			Findings: []drift.Finding{engine}}, "  IDENTITY_CHANGED identity: a -> b\n", ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			var stderr bytes.Buffer
			tc.rep.Suite, tc.rep.Target, tc.rep.Verdict = "prime", "gpt", "STABLE"
			printSummary(&stderr, []*report.Report{&tc.rep})
			require.Contains(t, stderr.String(), tc.want)
			require.NotContains(t, stderr.String(), "0.000 -> 0.000")
			require.NotContains(t, stderr.String(), "p=")
			if tc.notWant != "" {
				require.NotContains(t, stderr.String(), tc.notWant)
			}
		})
	}
}

func TestWriteReportFileFailures(t *testing.T) {
	t.Parallel()
	t.Run("encode fails", func(t *testing.T) {
		t.Parallel()
		dir := t.TempDir()
		path := filepath.Join(dir, "out", "report.json")
		errEncode := errors.New("encode report: boom")
		err := writeReportFile(path, io.Discard, func(w io.Writer) error {
			_, _ = io.WriteString(w, "{half")
			return errEncode
		})
		require.ErrorIs(t, err, errEncode)
		require.ErrorContains(t, err, "write report "+path+": encode report: boom")
		entries, rerr := os.ReadDir(filepath.Dir(path))
		require.NoError(t, rerr)
		require.Empty(t, entries, "no report and no .tmp left behind")
	})
	t.Run("rename fails", func(t *testing.T) {
		t.Parallel()
		dir := t.TempDir()
		path := filepath.Join(dir, "report.json")
		require.NoError(t, os.MkdirAll(filepath.Join(path, "occupied"), 0o755)) // a non-empty folder where the file goes
		err := writeReportFile(path, io.Discard, func(w io.Writer) error { _, err := io.WriteString(w, "{}\n"); return err })
		require.ErrorContains(t, err, "write report "+path+": ")
		_, serr := os.Stat(path + ".tmp")
		require.ErrorIs(t, serr, os.ErrNotExist, "the .tmp is removed")
	})
	t.Run("success replaces the file", func(t *testing.T) {
		t.Parallel()
		path := filepath.Join(t.TempDir(), "report.md")
		require.NoError(t, os.WriteFile(path, []byte("old"), 0o644))
		require.NoError(t, writeReportFile(path, io.Discard, func(w io.Writer) error { _, err := io.WriteString(w, "new"); return err }))
		b, err := os.ReadFile(path)
		require.NoError(t, err)
		require.Equal(t, "new", string(b))
		_, serr := os.Stat(path + ".tmp")
		require.ErrorIs(t, serr, os.ErrNotExist)
	})
	t.Run("a named pipe stays a pipe", func(t *testing.T) {
		// As /dev/null or /dev/stdout: renaming a file over a special
		// file replaced it (run as root, --json /dev/null replaced the
		// device with a regular file).
		t.Parallel()
		path := filepath.Join(t.TempDir(), "pipe")
		require.NoError(t, syscall.Mkfifo(path, 0o600))
		r, err := os.OpenFile(path, os.O_RDWR, 0) // read end; opening does not block
		require.NoError(t, err)
		defer r.Close()
		require.NoError(t, writeReportFile(path, io.Discard, func(w io.Writer) error { _, err := io.WriteString(w, "{}\n"); return err }))
		st, err := os.Lstat(path)
		require.NoError(t, err)
		require.Equal(t, os.ModeNamedPipe, st.Mode().Type(), "still a named pipe")
		require.NoError(t, r.SetReadDeadline(time.Now().Add(5*time.Second)))
		buf := make([]byte, 3)
		_, err = io.ReadFull(r, buf)
		require.NoError(t, err)
		require.Equal(t, "{}\n", string(buf))
		_, serr := os.Stat(path + ".tmp")
		require.ErrorIs(t, serr, os.ErrNotExist)
	})
	t.Run("stdout", func(t *testing.T) {
		t.Parallel()
		var out bytes.Buffer
		require.NoError(t, writeReportFile("-", &out, func(w io.Writer) error { _, err := io.WriteString(w, "x"); return err }))
		require.Equal(t, "x", out.String())
	})
}

// Model-controlled text (a model name with terminal escapes in an
// identity, a reason, a drifted case key) never reaches the terminal as
// escapes: no clipboard write, retitle or screen clear.
func TestSummaryStripsTerminalEscapes(t *testing.T) {
	t.Parallel()
	evil := "gpt\x1b]52;c;Y3VybA==\x07\x1b]0;pwned\x07\x1b[2J\rALL GOOD"
	rep := &report.Report{Suite: "prime", Target: "gpt", RunID: 3, Verdict: "DRIFT", Status: "completed", Reason: "drift: " + evil,
		IdentityChanged: true, BaselineIdentity: &report.Identity{ResolvedModel: "gpt-4o"}, Identity: &report.Identity{ResolvedModel: evil},
		DriftedCases: []string{"case-" + evil},
		Findings:     []drift.Finding{{Metric: drift.MetricIdentity, Verdict: drift.IdentityChanged, Reason: "resolved model " + evil}}}
	var out bytes.Buffer
	printSummary(&out, []*report.Report{rep})
	require.NotContains(t, out.String(), "\x1b")
	require.NotContains(t, out.String(), "\x07")
	require.NotContains(t, out.String(), "\r")
	require.Contains(t, out.String(), "ALL GOOD", "the text itself is kept, only its control characters go")
}
