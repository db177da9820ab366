package config

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// FuzzLoadConfig feeds arbitrary config files to the config loader: it
// returns a config or errors, never panics, and never echoes the value of a
// variable it expanded into an error. The seeds in
// testdata/fuzz/FuzzLoadConfig are configs of every feature and mistake.
func FuzzLoadConfig(f *testing.F) {
	const secret = "sk-fuzz-0123456789abcdef"
	env := map[string]string{"KEY": secret, "N": "3", "URL": "http://127.0.0.1:9/v1"}
	lookup := func(k string) (string, bool) { v, ok := env[k]; return v, ok }
	dir := f.TempDir()
	f.Add("targets:\n  - name: a\n    provider: openai\n    model: m\n    base_url: ${URL}\n    api_key: ${KEY}\nconcurrency: ${N}\n")
	f.Fuzz(func(t *testing.T, src string) {
		if len(src) > 64<<10 {
			t.Skip("larger than any config the fuzzer needs to try")
		}
		path := filepath.Join(dir, "driftwatch.yaml")
		if err := os.WriteFile(path, []byte(src), 0o600); err != nil {
			t.Fatal(err)
		}
		_, err := LoadWith(path, lookup)
		if err != nil && strings.Contains(err.Error(), secret) && !strings.Contains(src, secret) {
			t.Fatalf("the error echoes an expanded secret: %v", err)
		}
	})
}
