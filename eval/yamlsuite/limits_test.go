package yamlsuite_test

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/driftwatch/driftwatch/eval/yamlsuite"
	"github.com/driftwatch/driftwatch/internal/yamldoc"
)

// quickErrs is loadErrs, and requires the load to fail within a few seconds.
func quickErrs(t *testing.T, name, text string, others ...string) []string {
	t.Helper()
	start := time.Now()
	got := loadErrs(t, name, text, others...)
	require.Less(t, time.Since(start), 5*time.Second, "a bad suite fails fast")
	return got
}

func TestTemplateBombsFailFastOnceAtTheirLine(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct{ name, prompt, msg string }{
		{"long loop", `{{range 100000000}}x{{end}}`, "more than 100000 loop iterations"},
		{"empty loop", `{{range 100000000}}{{end}}`, "more than 100000 loop iterations"},
		{"nested loops", `{{range 1000}}{{range 1000}}{{range 1000}}{{end}}{{end}}{{end}}`, "more than 100000 loop iterations"},
		{"recursion", `{{define "a"}}{{range 2}}{{template "a" .}}{{end}}{{end}}{{template "a" .}}`, "templates nest more than 100 deep"},
		{"wide recursion", `{{define "a"}}{{range 9}}{{template "b" .}}{{end}}{{end}}{{define "b"}}{{range 9}}{{template "c" .}}{{end}}{{end}}{{define "c"}}{{range 9999}}{{end}}{{end}}{{template "a" .}}`, "more than 100000 loop iterations"},
		{"output", `{{range 5000}}` + strings.Repeat("x", 1000) + `{{end}}`, "renders more than 4194304 bytes"},
		{"doubling", `{{$x := "abcdefgh"}}{{range 40}}{{$x = printf "%s%s" $x $x}}{{end}}{{len $x}}`, "printf would make more than 4194304 bytes"},
		{"widths", `{{printf "%0999999d%0999999d%0999999d%0999999d%0999999d" 1 2 3 4 5}}`, "printf would make more than"},
		{"escaping", `{{$x := printf "%0900000d" 0}}{{len (html $x $x $x $x $x)}}`, "html would make more than"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			got := quickErrs(t, "s.yaml", fmt.Sprintf("name: s\nprompt: %q\ncases:\n  - id: a\n  - id: b\n", tc.prompt))
			require.Len(t, got, 1, "one error for the template, not one per case: %q", got)
			// On a loaded machine (or under -race) a loop may reach the
			// time limit before the step limit: either stops it.
			if !strings.Contains(got[0], tc.msg) && strings.Contains(tc.msg, "loop iterations") {
				tc.msg = "rendering took more than 1s"
			}
			require.Contains(t, got[0], "s.yaml:2: prompt: template: "+tc.msg)
			require.Contains(t, got[0], "(for the case at line 4)", "stopped at the first case")
		})
	}
}

func TestTemplatesWithinLimitsRender(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	p := writeSuite(t, dir, "ok.yaml", "name: ok\nprompt: \"{{range 1000}}{{printf \\\"%03d\\\" 7}}{{end}}{{html .x}}\"\nvars: {x: \"<b>\"}\ncases:\n  - id: a\n")
	s, err := yamlsuite.Load(p, yamlsuite.Options{})
	require.NoError(t, err)
	got := s.Request("a").Messages[0].Content
	require.Equal(t, strings.Repeat("007", 1000)+"&lt;b&gt;", got)
}

func TestTemplateErrorInLargeDatasetIsOneLineAtTheSuite(t *testing.T) {
	t.Parallel()
	var rows strings.Builder
	for i := range 500 {
		fmt.Fprintf(&rows, "{\"id\": \"r%d\", \"x\": %d}\n", i, i)
	}
	got := quickErrs(t, "suite.yaml", "name: big\nprompt: \"{{.x}} {{range 100000000}}{{end}}\"\ndataset: rows.jsonl\n", "rows.jsonl", rows.String())
	require.Len(t, got, 1)
	require.Regexp(t, `^suite\.yaml:2: prompt: template: (more than 100000 loop iterations or template calls|rendering took more than 1s) \(for the case at rows\.jsonl:1\)$`, got[0])

	got = quickErrs(t, "suite.yaml", "name: big\nprompt: \"{{.x}} in {{.language}}\"\ndataset: rows.jsonl\n", "rows.jsonl", rows.String())
	require.Equal(t, []string{`suite.yaml:2: prompt: template refers to missing variable "language" (for the case at rows.jsonl:1 and 499 more)`}, got)
}

func TestDatasetMustBeARegularFileInsideTheSuiteFolder(t *testing.T) {
	t.Parallel()
	outside := filepath.Join(t.TempDir(), "other.csv")
	require.NoError(t, os.WriteFile(outside, []byte("id,x\na,hunter2\n"), 0o600))
	for _, tc := range []struct {
		name  string
		setup func(t *testing.T, dir string)
		msg   string
	}{
		{"link to /dev/zero", func(t *testing.T, dir string) {
			require.NoError(t, os.Symlink("/dev/zero", filepath.Join(dir, "rows.jsonl")))
		}, "dataset rows.jsonl is /dev/zero, outside the suite's folder"},
		{"FIFO", func(t *testing.T, dir string) {
			require.NoError(t, syscall.Mkfifo(filepath.Join(dir, "rows.jsonl"), 0o600))
		}, "not a regular file (a FIFO)"},
		{"link leaving the folder", func(t *testing.T, dir string) {
			require.NoError(t, os.Symlink(outside, filepath.Join(dir, "rows.jsonl")))
		}, "outside the suite's folder"},
		{"folder", func(t *testing.T, dir string) {
			require.NoError(t, os.Mkdir(filepath.Join(dir, "rows.jsonl"), 0o700))
		}, "not a regular file (a folder)"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			dir := t.TempDir()
			tc.setup(t, dir)
			start := time.Now()
			_, err := yamlsuite.Load(writeSuite(t, dir, "s.yaml", "name: s\nprompt: \"{{.x}}\"\ndataset: rows.jsonl\n"), yamlsuite.Options{})
			require.Less(t, time.Since(start), 5*time.Second)
			require.ErrorContains(t, err, filepath.Join(dir, "s.yaml")+":3: dataset: ")
			require.ErrorContains(t, err, tc.msg)
			require.NotContains(t, err.Error(), "hunter2", "the file is not read")
		})
	}

	// An absolute path outside is refused too; a link within the folder is fine.
	got := quickErrs(t, "s.yaml", "name: s\nprompt: \"{{.x}}\"\ndataset: "+outside+"\n")
	require.Len(t, got, 1)
	require.Contains(t, got[0], "outside the suite's folder")
	dir := t.TempDir()
	require.NoError(t, os.Mkdir(filepath.Join(dir, "data"), 0o700))
	writeSuite(t, dir, "data/rows.csv", "id,x\na,1\n")
	require.NoError(t, os.Symlink("data/rows.csv", filepath.Join(dir, "rows.csv")))
	s, err := yamlsuite.Load(writeSuite(t, dir, "s.yaml", "name: s\nprompt: \"{{.x}}\"\ndataset: rows.csv\n"), yamlsuite.Options{})
	require.NoError(t, err)
	require.Len(t, s.Cases(), 1)
}

func TestSamplesMustBeASaneWholeNumber(t *testing.T) {
	t.Parallel()
	for text, msg := range map[string]string{
		"2.5":        `s.yaml:2: samples: cannot use "2.5" here (want a whole number)`,
		"1e9":        `s.yaml:2: samples: cannot use "1e9" here (want a whole number)`,
		"1000000000": `s.yaml:2: samples: at most 10000, got 1000000000`,
	} {
		got := quickErrs(t, "s.yaml", "name: s\nsamples: "+text+"\nprompt: hi\ncases:\n  - id: a\n")
		require.Equal(t, []string{msg}, got)
	}
}

func TestTextThatCannotBeStoredIsRefused(t *testing.T) {
	t.Parallel()
	got := quickErrs(t, "s.yaml", "name: s\nprompt: \"{{.x}}\"\ndataset: rows.jsonl\n",
		"rows.jsonl", "{\"id\": \"a\", \"x\": \"fine\"}\n{\"id\": \"b\", \"x\": \"nul \\u0000 here\"}\n")
	require.Equal(t, []string{"rows.jsonl:2: x: contains a NUL byte (at byte 4), which cannot be stored"}, got)

	got = quickErrs(t, "s.yaml", "name: s\nprompt: \"a\\0b\"\ncases:\n  - id: a\n")
	require.Equal(t, []string{"s.yaml:2: prompt: text contains a NUL byte (at byte 1), which cannot be stored"}, got)

	got = quickErrs(t, "s.yaml", "name: s\nprompt: \"{{printf \\\"%c\\\" 0}}\"\ncases:\n  - id: a\n")
	require.Equal(t, []string{"s.yaml:4: cases[0]: the case's rendered message 1 (user) contains a NUL byte (at byte 0), which cannot be stored"}, got)

	got = quickErrs(t, "s.yaml", "name: s\nprompt: \"{{.x}}\"\ndataset: rows.csv\n", "rows.csv", "id,x\na,\xff\xfe\n")
	require.Equal(t, []string{"rows.csv:2: x: is not valid UTF-8"}, got)
}

// A load whose context has ended stops reading the dataset (JSONL or CSV)
// and returns the context's error, not a problem of the suite; with a live
// context the same suites load.
func TestDatasetReadingStopsWhenTheContextEnds(t *testing.T) {
	t.Parallel()
	const n = 20_000
	jsonlDir, csvDir := t.TempDir(), t.TempDir()
	jsonl := writeBenchSuite(t, jsonlDir, n)
	var rows strings.Builder
	rows.WriteString("id,x\n")
	for i := range n {
		fmt.Fprintf(&rows, "c%d,%d\n", i, i)
	}
	require.NoError(t, os.WriteFile(filepath.Join(csvDir, "rows.csv"), []byte(rows.String()), 0o644))
	csv := writeSuite(t, csvDir, "s.yaml", "name: s\nprompt: \"{{.x}}\"\ndataset: rows.csv\n")

	interrupted := errors.New("interrupted")
	ctx, cancel := context.WithCancelCause(context.Background())
	cancel(interrupted)
	for _, path := range []string{jsonl, csv} {
		_, err := yamlsuite.LoadContext(ctx, path, yamlsuite.Options{})
		require.ErrorIs(t, err, interrupted, path)
		var problems yamldoc.Errors
		require.False(t, errors.As(err, &problems), "not a problem of the suite: %v", err)
		s, err := yamlsuite.LoadContext(t.Context(), path, yamlsuite.Options{})
		require.NoError(t, err)
		require.Len(t, s.Cases(), n)
	}
	_, err := yamlsuite.LoadPathsContext(ctx, []string{jsonlDir, csvDir}, yamlsuite.Options{})
	require.ErrorIs(t, err, interrupted)
}
