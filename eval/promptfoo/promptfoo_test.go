package promptfoo_test

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/driftwatch/driftwatch/eval"
	"github.com/driftwatch/driftwatch/eval/promptfoo"
	"github.com/driftwatch/driftwatch/eval/suiteload"
)

// write writes files (name -> content) into a new folder and returns it.
func write(t *testing.T, files map[string]string) string {
	t.Helper()
	dir := t.TempDir()
	for name, content := range files {
		p := filepath.Join(dir, name)
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p, []byte(content), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	return dir
}

func load(t *testing.T, path string, opts promptfoo.Options) *promptfoo.Suite {
	t.Helper()
	s, err := promptfoo.Load(path, opts)
	if err != nil {
		t.Fatalf("load: %v", err)
	}
	return s
}

func TestPythonAssertionWithoutPython3IsSkippedWithTheReason(t *testing.T) {
	dir := write(t, map[string]string{"promptfooconfig.yaml": `
prompts: ['hi {{x}}']
tests:
  - vars: {x: 1}
    assert:
      - type: python
        value: "'1' in output"
`})
	s := load(t, filepath.Join(dir, "promptfooconfig.yaml"), promptfoo.Options{Python: filepath.Join(dir, "no-python3-here")})
	c := s.Details()[0]
	if !strings.Contains(c.SkipReason, "python: needs python3") {
		t.Fatalf("skip reason %q, want one naming python3", c.SkipReason)
	}
	r := eval.RunSample(t.Context(), s, s.Cases()[0], 0, eval.TargetFunc(func(context.Context, *eval.Request) (*eval.Response, error) {
		t.Fatal("a skipped case must not call the target")
		return nil, nil
	}))
	if r.Outcome != eval.Skipped || !strings.Contains(r.Err, "python3") {
		t.Fatalf("outcome %s (%q), want skipped with the reason", r.Outcome, r.Err)
	}
}

func TestContentHashCoversRenderedPromptAndAssertionsOnly(t *testing.T) {
	base := `
prompts: ['What is {{a}} + 1?']
tests:
  - description: %DESC%
    vars: {a: %A%, want: '%WANT%'}
    assert:
      - type: contains
        value: '{{want}}'
`
	hash := func(desc, a, want string) string {
		cfg := strings.NewReplacer("%DESC%", desc, "%A%", a, "%WANT%", want).Replace(base)
		dir := write(t, map[string]string{"promptfooconfig.yaml": cfg})
		return load(t, filepath.Join(dir, "promptfooconfig.yaml"), promptfoo.Options{}).Cases()[0].Hash
	}
	h := hash("one", "1", "2")
	if hash("one", "1", "2") != h {
		t.Fatal("the same config hashes differently")
	}
	if hash("renamed", "1", "2") != h {
		t.Error("the description is not content: the hash must not change with it")
	}
	if hash("one", "5", "2") == h {
		t.Error("a different rendered prompt must change the hash")
	}
	if hash("one", "1", "3") == h {
		t.Error("a different rendered assertion value must change the hash")
	}
}

func TestSuiteLoadTellsConfigsFromSuitesAndLeavesOutTheirParts(t *testing.T) {
	dir := write(t, map[string]string{
		"pf/promptfooconfig.yaml": "prompts: [file://prompts.yaml]\ntests: file://tests.yaml\n",
		"pf/prompts.yaml":         "- role: user\n  content: 'What is {{a}} + 1?'\n",
		"pf/tests.yaml":           "- vars: {a: 1}\n  assert: [{type: contains, value: '2'}]\n",
		"native.yaml":             "name: native\nprompt: hello\ncases: [{id: one}]\n",
	})
	loaded, err := suiteload.LoadPaths(t.Context(), []string{dir}, suiteload.Options{})
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, s := range loaded.Suites {
		names = append(names, s.Name())
	}
	if strings.Join(names, ",") != "native,pf" {
		t.Fatalf("suites %v, want the Driftwatch suite and the promptfoo config (named after its folder)", names)
	}
	got, err := suiteload.Names([]string{dir})
	if err != nil || strings.Join(got, ",") != "native,pf" {
		t.Fatalf("Names = %v, %v", got, err)
	}
	if !promptfoo.IsConfig(filepath.Join(dir, "pf", "promptfooconfig.yaml")) || promptfoo.IsConfig(filepath.Join(dir, "native.yaml")) {
		t.Fatal("IsConfig must accept the config (prompts: and tests:) and only it")
	}
}

func TestCSVSyntaxOfExpectedCells(t *testing.T) {
	dir := write(t, map[string]string{
		"c.yaml": "prompts: ['{{q}}']\ntests: file://t.csv\n",
		"t.csv": "q,__expected1,__expected2,__expected3,__expected4,__expected5,__expected6\n" +
			"x,not-contains:bad,\"contains-any:a, b\",similar(0.9):hello,javascript: output.length > 0,grade:polite,plain text\n",
	})
	s := load(t, filepath.Join(dir, "c.yaml"), promptfoo.Options{Check: newHarness(t).opts.Check})
	var types []string
	for _, a := range s.Details()[0].Asserts {
		types = append(types, a.Type)
	}
	want := "not-contains,contains-any,similar,javascript,llm-rubric,equals"
	if strings.Join(types, ",") != want {
		t.Fatalf("types %v, want %s", types, want)
	}
}

func TestCSVConfigColumnRejectsEmptyValueAtTheRow(t *testing.T) {
	dir := write(t, map[string]string{
		"c.yaml": "prompts: ['{{q}}']\ntests: file://t.csv\n",
		"t.csv":  "q,__expected,__config:__expected:threshold\nx,contains:a,0.5\ny,contains:b,\n",
	})
	_, err := promptfoo.Load(filepath.Join(dir, "c.yaml"), promptfoo.Options{})
	if err == nil || !strings.Contains(err.Error(), "t.csv:3:") || !strings.Contains(err.Error(), "invalid numeric value") {
		t.Fatalf("error %v, want the empty __config cell reported at t.csv:3", err)
	}
}

func TestJavaScriptSandboxStopsRunawayAndGreedyScripts(t *testing.T) {
	dir := write(t, map[string]string{"c.yaml": `
prompts: ['hi']
tests:
  - assert:
      - type: javascript
        value: |
          let n = 0;
          while (true) { n++; }
      - type: javascript
        value: |
          const a = [];
          while (true) { a.push(new Array(1000000).fill(1)); }
      - type: javascript
        value: typeof require === 'undefined' && typeof process === 'undefined'
`})
	greedyDir := write(t, map[string]string{"c.yaml": `
prompts: ['hi']
tests:
  - assert:
      - type: javascript
        value: |
          const a = [];
          while (true) { a.push(new Array(1000000).fill(1)); }
`})
	path := filepath.Join(dir, "c.yaml")
	resp := &eval.Response{Text: "hello"}
	// A short time limit stops the endless loop; a generous one leaves the
	// memory limit to stop the allocation, however loaded the machine.
	fast := load(t, path, promptfoo.Options{Limits: promptfoo.Limits{JSTime: 300 * time.Millisecond}}).Details()[0].Grade(t.Context(), resp)
	greedy := load(t, filepath.Join(greedyDir, "c.yaml"), promptfoo.Options{Limits: promptfoo.Limits{JSTime: time.Minute, JSMemory: 32 << 20}}).Details()[0].Grade(t.Context(), resp)
	if r := fast.Results[0]; r.Pass || !strings.Contains(r.Reason, "time limit") {
		t.Errorf("endless loop: %+v, want a failure naming the time limit", r)
	}
	if r := greedy.Results[0]; r.Pass || !strings.Contains(r.Reason, "memory limit") {
		t.Errorf("unbounded allocation: %+v, want a failure naming the memory limit", r)
	}
	if r := fast.Results[2]; !r.Pass {
		t.Errorf("the sandbox exposes require or process: %+v", r)
	}
}

func TestThresholdAndWeightFollowPromptfoo(t *testing.T) {
	dir := write(t, map[string]string{"c.yaml": `
prompts: ['hi']
tests:
  - threshold: 0.6
    assert:
      - {type: contains, value: 'a', weight: 2, metric: m}
      - {type: contains, value: 'zzz', metric: m}
  - assert:
      - {type: contains, value: 'a'}
      - {type: contains, value: 'zzz', weight: 0}
`})
	s := load(t, filepath.Join(dir, "c.yaml"), promptfoo.Options{})
	resp := &eval.Response{Text: "abc"}
	g := s.Details()[0].Grade(t.Context(), resp)
	if !g.Pass || g.Score < 0.66 || g.Score > 0.67 || g.NamedScores["m"] != g.Score {
		t.Errorf("threshold: %+v, want a pass at score 2/3 and metric m = 2/3", g)
	}
	g = s.Details()[1].Grade(t.Context(), resp)
	if !g.Pass || g.Score != 1 || !g.Results[1].Pass || g.Results[1].Score != 0 {
		t.Errorf("weight 0: %+v, want a pass with score 1: the weight-0 assertion only reports (it passes with its own score 0)", g)
	}
}
