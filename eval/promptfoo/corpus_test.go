package promptfoo_test

import (
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"sort"
	"strings"
	"testing"

	"gopkg.in/yaml.v3"

	"github.com/driftwatch/driftwatch/eval"
	"github.com/driftwatch/driftwatch/eval/promptfoo"
	"github.com/driftwatch/driftwatch/eval/suiteload"
)

// expectation is a corpus config's testdata/expect/NAME.yaml: the outcome of every case
// against the simulator, what suites lint warns about, and the named
// metrics the samples carry.
type expectation struct {
	Cases    map[string]string `yaml:"cases"`
	Warnings []string          `yaml:"warnings"`
	Metrics  []string          `yaml:"metrics"`
	Skips    []string          `yaml:"skips"` // substrings of skip reasons
}

// TestCorpusLoadsLintsAndRuns loads each promptfoo config of
// testdata/corpus through the suite loader (which tells promptfoo configs
// from Driftwatch suites and leaves out the files a config references),
// and runs it with k=2 against the simulator through eval.Run: every
// case's outcome, the lint warnings and the named metrics must be as
// expect.yaml says.
func TestCorpusLoadsLintsAndRuns(t *testing.T) {
	dirs, err := filepath.Glob("testdata/corpus/*")
	if err != nil {
		t.Fatal(err)
	}
	if len(dirs) < 20 {
		t.Fatalf("the corpus has %d configs, want at least 20", len(dirs))
	}
	h := newHarness(t)
	for _, dir := range dirs {
		t.Run(filepath.Base(dir), func(t *testing.T) {
			loaded, err := suiteload.LoadPaths(t.Context(), []string{dir}, suiteload.Options{Check: h.opts.Check, Promptfoo: h.opts})
			if err != nil {
				t.Fatalf("load: %v", err)
			}
			if len(loaded.Suites) != 1 {
				t.Fatalf("got %d suites, want the config alone (its referenced files are not suites)", len(loaded.Suites))
			}
			s := loaded.Suites[0].(*promptfoo.Suite)
			if s.Name() != filepath.Base(dir) {
				t.Errorf("suite name %q, want the folder's %q", s.Name(), filepath.Base(dir))
			}
			var warnings []string
			for _, w := range loaded.Warnings {
				if w.Line <= 0 {
					t.Errorf("warning without a line: %v", w)
				}
				rel, _ := filepath.Rel(dir, w.File)
				warnings = append(warnings, fmt.Sprintf("%s:%d: %s", rel, w.Line, w.Msg))
			}
			results := runSuite(t, s, h.target, 2)
			got := map[string]string{}
			metrics := map[string]bool{}
			var skips []string
			for _, r := range results {
				o := string(r.Outcome)
				if prev, ok := got[r.Case]; ok && prev != o {
					t.Errorf("case %s: samples disagree (%s, %s) against a deterministic model", r.Case, prev, o)
				}
				got[r.Case] = o
				if r.Outcome == eval.Errored {
					t.Errorf("case %s errored: %s", r.Case, r.Err)
				}
				if r.Outcome == eval.Skipped {
					skips = append(skips, r.Err)
				}
				for m := range r.Metrics {
					metrics[m] = true
				}
				if testing.Verbose() {
					t.Logf("%s #%d %s %q %+v", r.Case, r.Index, r.Outcome, r.Output, r.Checks)
				}
			}
			if os.Getenv("PROMPTFOO_CORPUS_DUMP") != "" {
				dump(t, dir, got, warnings, metrics)
				return
			}
			var want expectation
			b, err := os.ReadFile(filepath.Join("testdata", "expect", filepath.Base(dir)+".yaml"))
			if err != nil {
				t.Fatal(err)
			}
			if err := yaml.Unmarshal(b, &want); err != nil {
				t.Fatal(err)
			}
			for id, o := range want.Cases {
				if got[id] != o {
					t.Errorf("case %s: %s, want %s", id, got[id], o)
				}
			}
			for id := range got {
				if _, ok := want.Cases[id]; !ok {
					t.Errorf("unexpected case %s (%s)", id, got[id])
				}
			}
			for _, w := range want.Warnings {
				if !slices.ContainsFunc(warnings, func(g string) bool { return strings.Contains(g, w) }) {
					t.Errorf("no lint warning contains %q; got:\n%s", w, strings.Join(warnings, "\n"))
				}
			}
			for _, m := range want.Metrics {
				if !metrics[m] {
					t.Errorf("no sample carries metric %q", m)
				}
			}
			for _, sk := range want.Skips {
				if !slices.ContainsFunc(skips, func(g string) bool { return strings.Contains(g, sk) }) {
					t.Errorf("no skip reason contains %q; got %q", sk, skips)
				}
			}
		})
	}
}

// dump writes the observed outcomes as a testdata/expect/NAME.yaml draft (for a new
// corpus config; review it before committing).
func dump(t *testing.T, dir string, got map[string]string, warnings []string, metrics map[string]bool) {
	ids := make([]string, 0, len(got))
	for id := range got {
		ids = append(ids, id)
	}
	sort.Strings(ids)
	var b strings.Builder
	b.WriteString("cases:\n")
	for _, id := range ids {
		fmt.Fprintf(&b, "  %s: %s\n", id, got[id])
	}
	if len(warnings) > 0 {
		b.WriteString("warnings:\n")
		for _, w := range warnings {
			fmt.Fprintf(&b, "  - %q\n", w)
		}
	}
	if len(metrics) > 0 {
		b.WriteString("metrics:\n")
		for m := range metrics {
			fmt.Fprintf(&b, "  - %s\n", m)
		}
	}
	if err := os.WriteFile(filepath.Join("testdata", "expect", filepath.Base(dir)+".yaml"), []byte(b.String()), 0o644); err != nil {
		t.Fatal(err)
	}
}
