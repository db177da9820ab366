package yamldoc

import (
	"errors"
	"fmt"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	"gopkg.in/yaml.v3"
)

// typed has fields of the kinds a config holds besides strings.
type typed struct {
	Name    string        `yaml:"name"`
	Conc    int           `yaml:"concurrency"`
	Timeout time.Duration `yaml:"timeout"`
	Alpha   float64       `yaml:"alpha"`
	Stream  bool          `yaml:"stream"`
	Retries *int          `yaml:"retries"`
	Mode    mode          `yaml:"mode"`
	Inner   struct {
		Base `yaml:",inline"`
		Key  string `yaml:"key"`
	} `yaml:"inner"`
	Headers map[string]string `yaml:"headers"`
	Raw     []yaml.Node       `yaml:"raw"`
}

// Base is inlined into typed.Inner.
type Base struct {
	URL string `yaml:"url"`
}

// mode decodes itself and rejects values other than a and b.
type mode string

func (m *mode) UnmarshalYAML(n *yaml.Node) error {
	if n.Value != "a" && n.Value != "b" {
		return fmt.Errorf("line %d: mode: want a or b", n.Line)
	}
	*m = mode(n.Value)
	return nil
}

func lookupIn(env map[string]string) func(string) (string, bool) {
	return func(k string) (string, bool) { v, ok := env[k]; return v, ok }
}

// located returns err's located errors.
func located(t *testing.T, err error) Errors {
	t.Helper()
	var es Errors
	require.True(t, errors.As(err, &es), "want yamldoc.Errors, got %T: %v", err, err)
	return es
}

func TestDecodeExpandsBeforeTyping(t *testing.T) {
	t.Parallel()
	env := map[string]string{"CONC": "16", "TMO": "90s", "ALPHA": "0.05", "STREAM": "true", "RETRIES": "0", "MODE": "b", "EMPTY": ""}
	doc, err := Parse("c.yaml", []byte(`name: ${NAME:-dflt}
concurrency: ${CONC}
timeout: ${TMO}
alpha: ${ALPHA}
stream: ${STREAM}
retries: ${RETRIES}
mode: ${MODE}
inner:
  url: http://${HOST:-localhost}:8080
  key: ${EMPTY:-fallback}
headers:
  X-Trace: '${CONC}'
`))
	require.NoError(t, err)
	var v typed
	require.NoError(t, doc.Decode(&v, lookupIn(env)))
	require.Equal(t, "dflt", v.Name)
	require.Equal(t, 16, v.Conc)
	require.Equal(t, 90*time.Second, v.Timeout)
	require.Equal(t, 0.05, v.Alpha)
	require.True(t, v.Stream)
	require.NotNil(t, v.Retries)
	require.Equal(t, 0, *v.Retries)
	require.Equal(t, mode("b"), v.Mode)
	require.Equal(t, "http://localhost:8080", v.Inner.URL)
	require.Equal(t, "fallback", v.Inner.Key, "${X:-d} gives d when X is empty, as in the shell")
	require.Equal(t, "16", v.Headers["X-Trace"], "a quoted reference stays a string")
}

func TestDecodeErrors(t *testing.T) {
	t.Parallel()
	env := map[string]string{"CONC": "many", "EMPTY": ""}
	for _, tc := range []struct {
		name, yaml string
		line       int
		field, msg string
	}{
		{"type error after expansion", "name: x\nconcurrency: ${CONC}\n", 2, "concurrency", `cannot use str "${CONC}" here (want int) (the expanded value is not shown)`},
		{"unknown field", "name: x\ninner:\n  url: u\n  kye: k\n", 4, "inner", `unknown field "kye"`},
		{"unknown field in an inline struct's parent", "inner: {urll: u}\n", 1, "inner", `unknown field "urll"`},
		{"unknown top-level field", "name: x\nzzzzzz: 1\n", 2, "", `unknown field "zzzzzz"`},
		{"custom unmarshaler", "name: x\n\nmode: c\n", 3, "mode", "want a or b"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			doc, err := Parse("c.yaml", []byte(tc.yaml))
			require.NoError(t, err)
			var v typed
			es := located(t, doc.Decode(&v, lookupIn(env)))
			require.Len(t, es, 1, "%v", es)
			require.Equal(t, "c.yaml", es[0].File)
			require.Equal(t, tc.line, es[0].Line, es.Error())
			require.Equal(t, tc.field, es[0].Field)
			require.Contains(t, es[0].Msg, tc.msg)
			require.NotContains(t, es[0].Msg, "invalid YAML")
		})
	}
}

func TestDecodeReportsEveryProblemInLineOrder(t *testing.T) {
	t.Parallel()
	doc, err := Parse("c.yaml", []byte("concurrency: x\nnmae: y\ntimeout: [1]\n"))
	require.NoError(t, err)
	var v typed
	es := located(t, doc.Decode(&v, nil))
	require.Len(t, es, 3, "%v", es)
	for i, e := range es {
		require.Equal(t, i+1, e.Line, es.Error())
	}
	require.Contains(t, es[1].Msg, `unknown field "nmae"`)
}

// An unset ${VAR} reads as empty, as in the shell (the README's
// `database_url: ${DATABASE_URL}`: empty or absent, the embedded default);
// DecodeEnv lists every such reference at its line and field, so the caller
// can warn about a misspelt name.
func TestDecodeMissingVariablesReadAsEmptyAndAreListed(t *testing.T) {
	t.Parallel()
	doc, err := Parse("c.yaml", []byte("name: ${A}-${B}\ninner:\n  url: &x ${C}\n  key: ${OPENAI_API_KEY}\nheaders:\n  A: x-${TYPO}\nconcurrency: ${CONC}\n"))
	require.NoError(t, err)
	var v typed
	unset, err := doc.DecodeEnv(&v, lookupIn(nil))
	require.NoError(t, err)
	require.Equal(t, "-", v.Name)
	require.Empty(t, v.Inner.Key)
	require.Equal(t, "x-", v.Headers["A"])
	require.Zero(t, v.Conc, "an empty plain scalar is null: the field's default")
	require.Len(t, unset, 6, "%v", unset)
	for i, want := range []struct {
		line        int
		field, name string
	}{{1, "name", "A"}, {1, "name", "B"}, {3, "inner.url", "C"}, {4, "inner.key", "OPENAI_API_KEY"}, {6, "headers.A", "TYPO"}, {7, "concurrency", "CONC"}} {
		require.Equal(t, "c.yaml", unset[i].File)
		require.Equal(t, want.line, unset[i].Line, unset.Error())
		require.Equal(t, want.field, unset[i].Field)
		require.Equal(t, "environment variable "+want.name+" is not set: read as empty (write ${"+want.name+":-} if empty is intended, or ${"+want.name+":-default})", unset[i].Msg)
	}
	require.NoError(t, doc.Decode(&v, lookupIn(nil)), "Decode reads them as empty too")
}

// A type error about an expanded value shows the ${VAR} reference, never
// the value: a key put in the wrong field must not reach a terminal or a log.
func TestDecodeErrorsDoNotShowExpandedValues(t *testing.T) {
	t.Parallel()
	const secret = "sk-live-0123456789abcdef"
	doc, err := Parse("c.yaml", []byte("name: x\nconcurrency: ${OPENAI_API_KEY}\ntimeout: ${OPENAI_API_KEY}\n"))
	require.NoError(t, err)
	var v typed
	err = doc.Decode(&v, lookupIn(map[string]string{"OPENAI_API_KEY": secret}))
	es := located(t, err)
	require.Len(t, es, 2, "%v", es)
	require.NotContains(t, err.Error(), secret)
	require.NotContains(t, err.Error(), "sk-live")
	require.Contains(t, es[0].Msg, "${OPENAI_API_KEY}")
	require.Equal(t, "concurrency", es[0].Field)
}

func TestDecodeWithoutLookupKeepsReferences(t *testing.T) {
	t.Parallel()
	doc, err := Parse("s.yaml", []byte("name: ${NOT_EXPANDED}\n"))
	require.NoError(t, err)
	var v typed
	require.NoError(t, doc.Decode(&v, nil))
	require.Equal(t, "${NOT_EXPANDED}", v.Name)
}

func TestDecodeMergeKeys(t *testing.T) {
	t.Parallel()
	doc, err := Parse("c.yaml", []byte("defaults: &d {url: u, bogus: 1}\ninner:\n  <<: *d\n  key: k\n"))
	require.NoError(t, err)
	var v struct {
		Defaults map[string]any `yaml:"defaults"`
		Inner    struct {
			URL string `yaml:"url"`
			Key string `yaml:"key"`
		} `yaml:"inner"`
	}
	es := located(t, doc.Decode(&v, nil))
	require.Len(t, es, 1, "%v", es)
	require.Contains(t, es[0].Msg, `unknown field "bogus"`)
	require.Equal(t, "u", v.Inner.URL)
}

func TestDecodeSelfReferringAnchor(t *testing.T) {
	t.Parallel()
	doc, err := Parse("c.yaml", []byte("raw: &x [a, *x]\nheaders: {A: b}\n"))
	require.NoError(t, err)
	for _, lookup := range []func(string) (string, bool){nil, lookupIn(nil)} {
		var v struct {
			Raw     [][]any           `yaml:"raw"`
			Headers map[string]string `yaml:"headers"`
		}
		require.Error(t, doc.Decode(&v, lookup)) // and returns
	}
}

// TestDecodeTypeErrorsNameTheirField: a type error says which field it is
// about, also when several values share its line (a flow mapping) or the
// value is a sequence, so "cannot use str here" is never left unexplained.
func TestDecodeTypeErrorsNameTheirField(t *testing.T) {
	t.Parallel()
	doc, err := Parse("c.yaml", []byte("name: x\ninner: {url: u, key: k}\nalpha: 0.5\nheaders: {A: a}\nstream: true\nretries: 2\nconcurrency: 3\nmode: a\ntimeout: 5s\n"+
		"raw: [a]\n"))
	require.NoError(t, err)
	var v typed
	require.NoError(t, doc.Decode(&v, nil))

	doc, err = Parse("c.yaml", []byte("name: x\nconcurrency: [1]\nalpha: hot\ninner: {url: u, key: [k]}\nheaders: {A: [b]}\nretries: 2\nstream: {on: 1}\n"))
	require.NoError(t, err)
	es := located(t, doc.Decode(&v, nil))
	var got []string
	for _, e := range es {
		got = append(got, e.Error())
	}
	require.Equal(t, []string{
		"c.yaml:2: concurrency: cannot use a seq here (want int)",
		`c.yaml:3: alpha: cannot use str "hot" here (want float64)`,
		"c.yaml:4: inner.key: cannot use a seq here (want string)",
		"c.yaml:5: headers.A: cannot use a seq here (want string)",
		"c.yaml:7: stream: cannot use a map here (want bool)",
	}, got)
}

// TestDecodeTypeErrorsSayListOrMapping: a list or a mapping is wanted in
// words, not as a Go type ("map[string]interface {}", "Node").
func TestDecodeTypeErrorsSayListOrMapping(t *testing.T) {
	t.Parallel()
	doc, err := Parse("c.yaml", []byte("headers: [x]\nraw: hello\n"))
	require.NoError(t, err)
	var v typed
	es := located(t, doc.Decode(&v, nil))
	require.Len(t, es, 2, "%v", es)
	require.Equal(t, "c.yaml:1: headers: cannot use a seq here (want a mapping)", es[0].Error())
	require.Equal(t, `c.yaml:2: raw: cannot use str "hello" here (want a list)`, es[1].Error())
}
