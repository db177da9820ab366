package evaltest

import (
	"fmt"
	"slices"
	"strings"
	"testing"

	"github.com/driftwatch/driftwatch/app"
	"github.com/driftwatch/driftwatch/config"
	"github.com/driftwatch/driftwatch/eval"
)

// FromConfig returns the target called name in the driftwatch config file
// path (driftwatch.yaml), built as driftwatch run builds it: provider, base
// URL, key, default params, retries and rate limits. It skips the test when
// a ${VAR} of that target (its api_key, say) names an environment variable
// that is not set, so that go test ./evals -run Live passes offline and hits
// the model once the key is exported. A config that cannot be read or does
// not define the target fails the test.
func FromConfig(t testing.TB, path, name string) eval.Target {
	t.Helper()
	cfg, err := config.Load(path)
	if err != nil {
		t.Fatalf("evaltest: load %s: %v", path, err)
	}
	i := slices.IndexFunc(cfg.Targets, func(tc config.Target) bool { return tc.Name == name })
	if i < 0 {
		_, err := cfg.Target(name)
		t.Fatalf("evaltest: %v", err)
	}
	prefix := fmt.Sprintf("targets[%d].", i)
	for _, u := range cfg.Unset {
		if strings.HasPrefix(u.Field, prefix) {
			msg, _, _ := strings.Cut(u.Msg, ":") // "environment variable X is not set"
			t.Skipf("evaltest: target %q of %s:%d: %s: set it to run against the live model", name, path, u.Line, msg)
		}
	}
	a := app.New(cfg, app.Options{})
	t.Cleanup(func() { _ = a.Close() })
	target, err := a.CallTarget(name)
	if err != nil {
		t.Fatalf("evaltest: target %q of %s: %v", name, path, err)
	}
	return target
}
