package promptfoo_test

import (
	"encoding/json"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"sort"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/driftwatch/driftwatch/eval"
	"github.com/driftwatch/driftwatch/eval/check"
	"github.com/driftwatch/driftwatch/eval/promptfoo"
	"github.com/driftwatch/driftwatch/provider/openai"
	"github.com/driftwatch/driftwatch/sim"
)

// harness is what the corpus runs against: the simulator (a deterministic
// model that always answers correctly), a judge that passes every output
// it is shown with score 0.9, and an embedder of letter counts, each a
// real HTTP server on 127.0.0.1 spoken to by the OpenAI provider.
type harness struct {
	target eval.Target
	opts   promptfoo.Options
}

const simModel = "pf-sim"

func newHarness(t *testing.T) *harness {
	t.Helper()
	srv, err := sim.New(sim.Config{Seed: 7, Models: []sim.Model{{Name: simModel, Profile: sim.Profile{Accuracy: 1, Deterministic: true}}}})
	if err != nil {
		t.Fatal(err)
	}
	hs := httptest.NewServer(srv)
	t.Cleanup(func() { srv.Close(); hs.Close() })
	logger := slog.New(slog.DiscardHandler)
	target, err := openai.New(openai.Config{BaseURL: hs.URL + "/v1", Model: simModel, APIKey: "k"}, logger, openai.WithHTTPClient(hs.Client()))
	if err != nil {
		t.Fatal(err)
	}
	js := httptest.NewServer(http.HandlerFunc(judgeAndEmbed))
	t.Cleanup(js.Close)
	judge, err := openai.New(openai.Config{BaseURL: js.URL + "/v1", Model: "judge", APIKey: "k"}, logger, openai.WithHTTPClient(js.Client()))
	if err != nil {
		t.Fatal(err)
	}
	return &harness{target: target, opts: promptfoo.Options{Check: check.Options{Judge: judge, Embedder: judge}, Limits: promptfoo.Limits{JSTime: 300 * time.Millisecond, PythonTime: time.Minute}}}
}

// judgeAndEmbed answers chat completions with a passing verdict and
// embeddings with the counts of the letters a to z.
func judgeAndEmbed(w http.ResponseWriter, r *http.Request) {
	body, _ := io.ReadAll(r.Body)
	w.Header().Set("Content-Type", "application/json")
	if strings.HasSuffix(r.URL.Path, "/embeddings") {
		var req struct {
			Input []string `json:"input"`
		}
		_ = json.Unmarshal(body, &req)
		var data []map[string]any
		for i, in := range req.Input {
			v := make([]float64, 26)
			for _, c := range strings.ToLower(in) {
				if c >= 'a' && c <= 'z' {
					v[c-'a']++
				}
			}
			data = append(data, map[string]any{"object": "embedding", "index": i, "embedding": v})
		}
		_ = json.NewEncoder(w).Encode(map[string]any{"object": "list", "model": "embed", "data": data})
		return
	}
	verdict := `{"reason": "meets the rubric", "score": 0.9, "pass": true}`
	_ = json.NewEncoder(w).Encode(map[string]any{
		"id": "j", "object": "chat.completion", "model": "judge",
		"choices": []any{map[string]any{"index": 0, "finish_reason": "stop", "message": map[string]any{"role": "assistant", "content": verdict}}},
		"usage":   map[string]any{"prompt_tokens": 10, "completion_tokens": 10, "total_tokens": 20},
	})
}

// runSuite runs every sample of s through eval.Run and returns them
// sorted by case and sample index.
func runSuite(t *testing.T, s eval.Suite, target eval.Target, samples int) []eval.SampleResult {
	t.Helper()
	var (
		mu  sync.Mutex
		out []eval.SampleResult
	)
	_, err := eval.Run(t.Context(), eval.RunParams{Suite: s, Target: target, Samples: samples, Concurrency: 4, Seed: 1,
		Sink: func(r eval.SampleResult) error {
			mu.Lock()
			defer mu.Unlock()
			out = append(out, r)
			return nil
		}})
	if err != nil {
		t.Fatal(err)
	}
	sort.Slice(out, func(i, j int) bool {
		if out[i].Case != out[j].Case {
			return out[i].Case < out[j].Case
		}
		return out[i].Index < out[j].Index
	})
	return out
}
