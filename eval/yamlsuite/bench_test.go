package yamlsuite_test

import (
	"testing"

	"github.com/driftwatch/driftwatch/eval/yamlsuite"
)

// BenchmarkLoad100k loads a suite shaped like bench/gensuite's (a templated
// prompt, one templated contains check, a JSONL dataset) with 100,000 cases.
func BenchmarkLoad100k(b *testing.B) {
	path := writeBenchSuite(b, b.TempDir(), 100_000)
	b.ReportAllocs()
	for b.Loop() {
		s, err := yamlsuite.Load(path, yamlsuite.Options{})
		if err != nil {
			b.Fatal(err)
		}
		if len(s.Cases()) != 100_000 {
			b.Fatalf("%d cases", len(s.Cases()))
		}
	}
}
