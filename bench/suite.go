package bench

import (
	"bufio"
	"fmt"
	"os"
	"path/filepath"
	"strings"
)

// SuiteYAML is the benchmark suite (a fmt format: name, dataset file): one
// prompt per case, one contains check.
const SuiteYAML = `name: %s
description: Benchmark suite, one contains check per case.
samples: 1
params: {max_tokens: 64}
prompt: "What is {{.a}} + {{.b}}?"
dataset: %s
checks:
  - type: contains
    value: "{{.answer}}"
`

// ConfigYAML is a driftwatch.yaml for the benchmark (a fmt format:
// concurrency, suite files): one OpenAI-compatible target on the simulator
// (SIM_URL) and the database from DATABASE_URL (empty: the embedded
// cluster).
const ConfigYAML = `database_url: ${DATABASE_URL:-}
targets:
  - name: sim
    provider: openai
    base_url: ${SIM_URL}
    model: bench-gpt
    api_key: bench
    concurrency: %d
suites: [%s]
`

// WriteSuite writes the suite name (NAME.yaml) with n cases (NAME.jsonl)
// into dir.
func WriteSuite(dir, name string, n int) error {
	err := os.WriteFile(filepath.Join(dir, name+".yaml"), fmt.Appendf(nil, SuiteYAML, name, name+".jsonl"), 0o644)
	if err != nil {
		return err
	}
	f, err := os.Create(filepath.Join(dir, name+".jsonl"))
	if err != nil {
		return err
	}
	w := bufio.NewWriter(f)
	for i := range n {
		a, b := 100+i%900, i
		fmt.Fprintf(w, "{\"id\":\"c%07d\",\"a\":%d,\"b\":%d,\"answer\":\"%d\"}\n", i, a, b, a+b)
	}
	if err := w.Flush(); err != nil {
		f.Close()
		return err
	}
	return f.Close()
}

// WriteConfig writes a driftwatch.yaml at path for target concurrency conc
// and the given suite files (relative to path's folder).
func WriteConfig(path string, conc int, suites ...string) error {
	return os.WriteFile(path, fmt.Appendf(nil, ConfigYAML, conc, strings.Join(suites, ", ")), 0o644)
}
