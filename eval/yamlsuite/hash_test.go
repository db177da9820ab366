package yamlsuite_test

import (
	"bufio"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/driftwatch/driftwatch/eval/yamlsuite"
)

// pinnedSuite exercises what goes into a case's content hash: suite and
// case vars, templated and literal checks (nested values, lists, weights),
// a threshold, tools, an extractor, messages, params and overrides.
const pinnedSuite = `name: pinned
system: "You answer {{.style}}."
params: {temperature: 0.5, max_tokens: 32}
vars: {style: tersely, n: 3}
prompt: "What is {{.a}} + {{.b}}?"
extract: {type: regex, value: '(\d+)'}
threshold: 0.5
tags: [pin]
tools:
  - name: add
    description: Adds.
    parameters: {type: object, properties: {x: {type: number}}}
checks:
  - type: contains
    value: "{{.sum}}"
    weight: 2
  - type: contains-any
    values: ["{{.sum}}", "sum", "{{.n}}"]
  - type: not-contains
    value: sorry
  - type: json-schema
    value: {type: object, required: ["{{.a}}"]}
  - type: length
    max: 500
cases:
  - id: plain
    vars: {a: 1, b: 2, sum: 3}
  - vars: {a: 5, b: 6, sum: 11}
  - id: own/messages
    vars: {a: 2, b: 2, sum: 4, style: verbosely}
    params: {seed: 7}
    messages:
      - {role: user, content: "Add {{.a}} and {{.b}}."}
      - {role: assistant, content: "Which numbers?"}
      - {role: user, content: "{{.a}} and {{.b}}, {{.id}}."}
    checks:
      - type: starts-with
        value: "The answer"
    extract: {type: first-line}
    threshold: 1
    tags: [smoke]
`

// writeBenchSuite writes a suite shaped like bench/gensuite's: one
// templated prompt, one templated contains check, n JSONL rows.
func writeBenchSuite(tb testing.TB, dir string, n int) string {
	tb.Helper()
	yml := "name: bench\ndescription: Benchmark suite, one contains check per case.\nsamples: 1\n" +
		"params: {max_tokens: 64}\nprompt: \"What is {{.a}} + {{.b}}?\"\ndataset: bench.jsonl\n" +
		"checks:\n  - type: contains\n    value: \"{{.answer}}\"\n"
	path := filepath.Join(dir, "bench.yaml")
	require.NoError(tb, os.WriteFile(path, []byte(yml), 0o644))
	f, err := os.Create(filepath.Join(dir, "bench.jsonl"))
	require.NoError(tb, err)
	w := bufio.NewWriter(f)
	for i := range n {
		a, b := 100+i%900, i
		fmt.Fprintf(w, "{\"id\":\"c%07d\",\"a\":%d,\"b\":%d,\"answer\":\"%d\"}\n", i, a, b, a+b)
	}
	require.NoError(tb, w.Flush())
	require.NoError(tb, f.Close())
	return path
}

// digest hashes every case's id, content hash, file, line, tags and
// rendered request, so that a change to any of them changes the digest.
func digest(t *testing.T, s *yamlsuite.Suite) string {
	t.Helper()
	h := sha256.New()
	for _, c := range s.Cases() {
		req, err := json.Marshal(s.Request(c.ID))
		require.NoError(t, err)
		fmt.Fprintf(h, "%s %s %s:%d %q %s\n", c.ID, c.Hash, filepath.Base(c.File), c.Line, c.Tags, req)
	}
	return hex.EncodeToString(h.Sum(nil))[:16]
}

// TestContentHashesPinned pins case ids and content hashes (stored in the
// database and compared across runs: they must never change) and the
// rendered requests of a few suites.
func TestContentHashesPinned(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	pinned := filepath.Join(dir, "pinned.yaml")
	require.NoError(t, os.WriteFile(pinned, []byte(pinnedSuite), 0o644))
	s := load(t, pinned)
	hashes := map[string]string{}
	for _, c := range s.Cases() {
		hashes[c.ID] = c.Hash
	}
	require.Equal(t, map[string]string{
		"25ef05477e6631e4": "25ef05477e6631e4",
		"own/messages":     "87791bef38f16c27",
		"plain":            "c5cbaaa9ee1462f1",
	}, hashes)

	bench := load(t, writeBenchSuite(t, dir, 50))
	require.Equal(t, "d4b3d9af405f3967", bench.Cases()[0].Hash)
	require.Equal(t, "517dd053018c6936", bench.Cases()[49].Hash)

	digests := map[string]string{"pinned": digest(t, s), "bench": digest(t, bench)}
	for _, p := range []string{"csv_ids.yaml", "jsonl_noid.yaml", "messages.yaml", "overrides.yaml"} {
		s := load(t, filepath.Join("testdata", "good", p))
		digests[p] = digest(t, s)
	}
	ss, err := yamlsuite.LoadPaths([]string{filepath.Join("..", "..", "suites")}, yamlsuite.Options{})
	require.NoError(t, err)
	for _, s := range ss {
		digests["suites/"+s.Name()] = digest(t, s)
	}
	require.Equal(t, map[string]string{
		"bench":                      "6d2c8abdf4ce69b7",
		"csv_ids.yaml":               "f08302192c2b1718",
		"jsonl_noid.yaml":            "45693c11ec3ddc4b",
		"messages.yaml":              "32a2dfa62c7e2587",
		"overrides.yaml":             "00bcec2fde4b2e8f",
		"pinned":                     "5bedb1cbec5dfd32",
		"suites/arithmetic":          "4b1942dce4ed82d3",
		"suites/borderline-requests": "282bdc01da82b743",
		"suites/support-triage":      "f6a8d3b17c8ff85f",
	}, digests)
}
