package yamlsuite

import (
	"os"
	"path/filepath"
	"testing"

	"github.com/driftwatch/driftwatch/internal/yamldoc"
)

// FuzzLoad feeds arbitrary suite files to the loader, next to a small JSONL
// and CSV dataset: loading returns a suite or errors, never panics, and
// stays within the limits (a template cannot render more than
// MaxTemplateOutput bytes, so no request does). The seeds in
// testdata/fuzz/FuzzLoad are suites of every feature and mistake.
func FuzzLoad(f *testing.F) {
	dir := f.TempDir()
	for name, text := range map[string]string{
		"rows.jsonl": "{\"id\": \"a\", \"x\": 1, \"s\": \"one\"}\n{\"id\": \"b\", \"x\": 2, \"s\": \"two\"}\n",
		"rows.csv":   "id,x,s\na,1,one\nb,2,two\n",
	} {
		if err := os.WriteFile(filepath.Join(dir, name), []byte(text), 0o600); err != nil {
			f.Fatal(err)
		}
	}
	f.Add("name: s\nprompt: \"{{.x}} {{.s}}\"\ndataset: rows.jsonl\nchecks:\n  - {type: contains, value: \"{{.s}}\"}\n")
	path := filepath.Join(dir, "s.yaml")
	f.Fuzz(func(t *testing.T, src string) {
		if len(src) > 64<<10 {
			t.Skip("larger than any suite the fuzzer needs to try")
		}
		doc, err := yamldoc.Parse(path, []byte(src))
		if err != nil {
			return
		}
		var fl file
		if err := doc.Decode(&fl, nil); err != nil {
			return
		}
		l := loader{doc: doc, f: &fl, tmpls: map[string]*compiled{}}
		s, err := l.load(t.Context())
		if err != nil {
			if err.Error() == "" {
				t.Fatal("an error without a message")
			}
			return
		}
		if s.Samples() < 0 || s.Samples() > MaxSamples {
			t.Fatalf("samples %d outside [0, %d]", s.Samples(), MaxSamples)
		}
		for _, req := range s.reqs {
			for _, m := range req.Messages {
				if len(m.Content) > MaxTemplateOutput {
					t.Fatalf("a %d-byte message passed the %d-byte limit", len(m.Content), MaxTemplateOutput)
				}
				if textProblem(m.Content) != "" {
					t.Fatalf("a message that cannot be stored passed: %q", m.Content)
				}
			}
		}
	})
}
