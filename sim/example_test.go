package sim_test

import (
	"bytes"
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"

	"github.com/driftwatch/driftwatch/sim"
)

// A simulated model that is always right answers arithmetic in the format
// the prompt asks for; the hint convention overrides the built-in solver.
func Example() {
	srv, err := sim.New(sim.Config{Seed: 1, Models: []sim.Model{{
		Name:     "sim-demo",
		Identity: sim.Identity{ResolvedModel: "sim-demo-2025-01-01"},
		Profile:  sim.Profile{Accuracy: 1},
	}}})
	if err != nil {
		panic(err)
	}
	defer srv.Close()
	hs := httptest.NewServer(srv)
	defer hs.Close()

	for _, prompt := range []string{
		"What is 17 + 25? Answer with only the number.",
		`Is 91 a prime number? Answer [Yes] or [No]. Answer only.`,
		"Capital of France? Answer only. [[sim:expect=Paris]]",
	} {
		body, _ := json.Marshal(map[string]any{
			"model":    "sim-demo",
			"messages": []map[string]string{{"role": "user", "content": prompt}},
		})
		resp, err := http.Post(hs.URL+"/v1/chat/completions", "application/json", bytes.NewReader(body))
		if err != nil {
			panic(err)
		}
		var out struct {
			Model   string `json:"model"`
			Choices []struct {
				Message struct {
					Content string `json:"content"`
				} `json:"message"`
			} `json:"choices"`
		}
		if err := json.NewDecoder(resp.Body).Decode(&out); err != nil {
			panic(err)
		}
		_ = resp.Body.Close()
		fmt.Println(out.Model, out.Choices[0].Message.Content)
	}
	fmt.Println(srv.Stats().Served, "served")
	// Output:
	// sim-demo-2025-01-01 42
	// sim-demo-2025-01-01 [No]
	// sim-demo-2025-01-01 Paris
	// 3 served
}
