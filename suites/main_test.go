package suites_test

import (
	"net/http/httptest"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"

	"github.com/stretchr/testify/require"
	"go.uber.org/goleak"

	"github.com/driftwatch/driftwatch/eval"
	"github.com/driftwatch/driftwatch/eval/evaltest"
	"github.com/driftwatch/driftwatch/eval/yamlsuite"
	"github.com/driftwatch/driftwatch/provider/openai"
	"github.com/driftwatch/driftwatch/sim"
	"github.com/driftwatch/driftwatch/suites"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

// Simulated model profiles the suite tests run against.
var (
	// perfect answers every case correctly and never refuses. Recordings
	// are made with it, so a replay passes every case.
	perfect = sim.Profile{Accuracy: 1}
	// wrong answers every case incorrectly, but in the requested format.
	wrong = sim.Profile{Accuracy: 0}
)

// simModel is the simulated model's name.
const simModel = "sim-model"

// simTarget starts a simulator on 127.0.0.1 with one model behaving as p and
// returns an OpenAI client pointed at it. Both stop when the test ends.
func simTarget(t testing.TB, p sim.Profile) eval.Target {
	t.Helper()
	const key = "sim-key-not-secret"
	srv, err := sim.New(sim.Config{Seed: 1, APIKey: key, Models: []sim.Model{{Name: simModel, Profile: p}}})
	require.NoError(t, err)
	hs := httptest.NewServer(srv)
	t.Cleanup(func() {
		srv.Close()
		hs.Close()
	})
	c, err := openai.New(openai.Config{Flavor: "openai", BaseURL: hs.URL + "/v1", Model: simModel, APIKey: key}, nil,
		openai.WithHTTPClient(hs.Client()))
	require.NoError(t, err)
	return c
}

// recordedTarget replays testdata/NAME.jsonl. With go test -record (or
// DRIFTWATCH_RECORD=1) it records it instead, from a simulator that runs the
// perfect profile. Replaying starts no server and opens no socket.
func recordedTarget(t testing.TB, name string) eval.Target {
	t.Helper()
	var live eval.Target
	if evaltest.Recording() {
		live = simTarget(t, perfect)
	}
	return evaltest.Recorded(t, filepath.Join("testdata", name+".jsonl"), live)
}

// loadYAML loads one of the package's YAML suites.
func loadYAML(t testing.TB, file string) *yamlsuite.Suite {
	t.Helper()
	s, err := yamlsuite.Load(file, yamlsuite.Options{})
	require.NoError(t, err)
	return s
}

// results runs every sample of s against target with eval.Run and returns
// them sorted by case and sample, with the run's stats.
func results(t testing.TB, s eval.Suite, target eval.Target) ([]eval.SampleResult, eval.RunStats) {
	t.Helper()
	var (
		mu  sync.Mutex
		out []eval.SampleResult
	)
	stats, err := eval.Run(t.Context(), eval.RunParams{
		Suite: s, Target: target, Concurrency: 8, Seed: 1,
		Sink: func(r eval.SampleResult) error {
			mu.Lock()
			defer mu.Unlock()
			out = append(out, r)
			return nil
		},
	})
	require.NoError(t, err)
	slices.SortFunc(out, func(a, b eval.SampleResult) int {
		if a.Case != b.Case {
			if a.Case < b.Case {
				return -1
			}
			return 1
		}
		return a.Index - b.Index
	})
	require.Zero(t, stats.Errored, "errored samples: %v", firstErr(out))
	return out, stats
}

func firstErr(rs []eval.SampleResult) string {
	for _, r := range rs {
		if r.Outcome == eval.Errored {
			return r.Case + ": " + r.Err
		}
	}
	return ""
}

// failedChecks counts, over rs, the failed results of each check name.
func failedChecks(rs []eval.SampleResult) map[string]int {
	m := map[string]int{}
	for _, r := range rs {
		for _, c := range r.Checks {
			if !c.Pass {
				m[c.Name]++
			}
		}
	}
	return m
}

func TestRegister(t *testing.T) {
	t.Parallel()
	reg := eval.NewRegistry()
	suites.Register(reg)
	require.Equal(t, []string{"arithmetic-followup", "codegen", "tool-use"}, reg.Names())
	for _, s := range reg.Suites() {
		cases := s.Cases()
		require.GreaterOrEqual(t, len(cases), 10, s.Name())
		require.LessOrEqual(t, len(cases), 40, s.Name())
		for _, c := range cases {
			require.Equal(t, "suites", filepath.Base(filepath.Dir(c.File)), "case %s/%s location", s.Name(), c.ID)
			require.Positive(t, c.Line)
		}
	}
	require.Panics(t, func() { suites.Register(reg) }, "registering twice must panic on the duplicate names")
}

func TestYAMLSuitesLoad(t *testing.T) {
	t.Parallel()
	ys, err := yamlsuite.LoadPaths([]string{"."}, yamlsuite.Options{})
	require.NoError(t, err)
	names := map[string]int{}
	for _, s := range ys {
		names[s.Name()] = len(s.Cases())
	}
	require.Equal(t, map[string]int{"arithmetic": 150, "support-triage": 20, "borderline-requests": 15}, names)

	// Go and YAML suite names must not collide: driftwatch run loads both.
	reg := eval.NewRegistry()
	suites.Register(reg)
	for _, s := range ys {
		_, dup := reg.Get(s.Name())
		require.False(t, dup, "suite %q is both YAML and Go", s.Name())
	}
}

func TestFS(t *testing.T) {
	t.Parallel()
	// Every suite file and dataset in the folder is embedded, so the demo
	// (which copies FS) sees the same suites as LoadPaths on the folder.
	entries, err := os.ReadDir(".")
	require.NoError(t, err)
	for _, e := range entries {
		switch filepath.Ext(e.Name()) {
		case ".yaml", ".yml", ".jsonl", ".csv":
			_, err := suites.FS.ReadFile(e.Name())
			require.NoError(t, err, "%s is not embedded in suites.FS", e.Name())
		}
	}
}

// prefixCount sums the counts of the names in m that start with prefix.
func prefixCount(m map[string]int, prefix string) int {
	n := 0
	for k, v := range m {
		if strings.HasPrefix(k, prefix) {
			n += v
		}
	}
	return n
}
