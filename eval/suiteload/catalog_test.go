package suiteload

import (
	"os"
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/driftwatch/driftwatch/config"
	"github.com/driftwatch/driftwatch/eval"
)

type goSuite struct{ name string }

func (s goSuite) Name() string     { return s.name }
func (goSuite) Cases() []eval.Case { return []eval.Case{{ID: "one", Func: func(*eval.T) {}}} }

// catalogOf writes a config whose suites: list is entries, with two YAML
// suites (alpha, beta) in suites/, and registers the Go suites named goNames.
func catalogOf(t *testing.T, entries string, goNames ...string) *Catalog {
	t.Helper()
	dir := t.TempDir()
	require.NoError(t, os.MkdirAll(filepath.Join(dir, "suites"), 0o755))
	for _, name := range []string{"alpha", "beta"} {
		suite := "name: " + name + "\nprompt: \"Say {{.w}}\"\ncases:\n  - {id: c1, vars: {w: hi}}\nchecks:\n  - {type: contains, value: hi}\n"
		require.NoError(t, os.WriteFile(filepath.Join(dir, "suites", name+".yaml"), []byte(suite), 0o600))
	}
	path := filepath.Join(dir, "driftwatch.yaml")
	cfg := "targets:\n  - {name: gpt, model: gpt-4o, api_key: k}\nsuites:\n" + entries
	require.NoError(t, os.WriteFile(path, []byte(cfg), 0o600))
	c, err := config.LoadWith(path, func(string) (string, bool) { return "", false })
	require.NoError(t, err)
	reg := eval.NewRegistry()
	for _, n := range goNames {
		reg.Register(goSuite{name: n})
	}
	return &Catalog{Config: c, Registry: reg}
}

func names(ss []eval.Suite) []string {
	out := make([]string, len(ss))
	for i, s := range ss {
		out[i] = s.Name()
	}
	return out
}

// A run without --suite runs the YAML suites and the Go suites the config
// names; a Go suite only compiled in is there for --suite.
func TestCatalogDefaultsSkipUnnamedGoSuites(t *testing.T) {
	t.Parallel()
	c := catalogOf(t, "  - suites/\n  - named\n", "named", "example")
	all, err := c.Load(t.Context())
	require.NoError(t, err)
	require.ElementsMatch(t, []string{"alpha", "beta", "named", "example"}, names(all))
	def, err := c.Defaults(all)
	require.NoError(t, err)
	require.ElementsMatch(t, []string{"alpha", "beta", "named"}, names(def))
	picked, err := c.Pick(all, []string{"example"})
	require.NoError(t, err)
	require.Equal(t, []string{"example"}, names(picked))
}

// Loading one suite renders only it, and an unknown name lists every suite
// the config offers, also those not loaded.
func TestCatalogOneAndUnknownNames(t *testing.T) {
	t.Parallel()
	c := catalogOf(t, "  - suites/\n", "gosuite")
	s, err := c.One(t.Context(), "beta")
	require.NoError(t, err)
	require.Equal(t, "beta", s.Name())
	only, err := c.Load(t.Context(), "beta")
	require.NoError(t, err)
	require.ElementsMatch(t, []string{"beta", "gosuite"}, names(only))
	_, err = c.Pick(only, []string{"gamma"})
	require.EqualError(t, err, `unknown suite "gamma" (known: alpha, beta, gosuite)`)
	for name, want := range map[string]bool{"alpha": true, "gosuite": true, "gamma": false} {
		has, err := c.Has(name)
		require.NoError(t, err)
		require.Equal(t, want, has, name)
	}
}

// A suites: entry that is neither a path nor a Go suite is an error at its
// line; a Go suite name that is also a YAML path says how to write either.
func TestCatalogEntryErrorsAreLocated(t *testing.T) {
	t.Parallel()
	c := catalogOf(t, "  - suites/\n  - nothere\n")
	_, _, err := c.Entries()
	require.ErrorContains(t, err, `driftwatch.yaml:5: suites[1]: "nothere" is neither a suite file or folder nor a registered Go suite`)

	c = catalogOf(t, "  - suites\n", "suites")
	_, _, err = c.Entries()
	require.ErrorContains(t, err, `"suites" is both a registered Go suite and a YAML suite path: write ./suites for the path`)
}
