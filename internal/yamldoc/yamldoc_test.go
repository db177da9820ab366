package yamldoc

import (
	"errors"
	"testing"

	"github.com/stretchr/testify/require"
	"gopkg.in/yaml.v3"
)

type cfg struct {
	Name    string `yaml:"name"`
	Targets []struct {
		Model string `yaml:"model"`
		Key   string `yaml:"key"`
	} `yaml:"targets"`
}

func TestDecode(t *testing.T) {
	t.Parallel()
	env := map[string]string{"KEY": "s3cret"}
	lookup := func(k string) (string, bool) { v, ok := env[k]; return v, ok }
	for _, tc := range []struct {
		name, yaml string
		line       int
		msg        string
	}{
		{"unknown field", "name: x\ntargets:\n  - model: m\n    modle: n\n", 4, `unknown field "modle"`},
		{"wrong type", "name: [a]\n", 1, "cannot use a seq here (want string)"},
		{"syntax", "name: x\ntargets:\n  - {model: m, key: k\n", 3, "invalid YAML"},
		{"not a mapping", "- a\n- b\n", 1, "expected a mapping"},
		{"empty", "", 1, "empty document"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			doc, err := Parse("c.yaml", []byte(tc.yaml))
			if err == nil {
				var c cfg
				err = doc.Decode(&c, lookup)
			}
			require.Error(t, err)
			var es Errors
			var e *Error
			switch {
			case errors.As(err, &es):
				e = es[0]
			case errors.As(err, &e):
			}
			require.NotNil(t, e, "%v", err)
			require.Equal(t, "c.yaml", e.File)
			require.Equal(t, tc.line, e.Line, err.Error())
			require.Contains(t, e.Msg, tc.msg)
		})
	}

	doc, err := Parse("c.yaml", []byte("name: ${NAME:-dflt}\ntargets:\n  - model: m\n    key: ${KEY}\n"))
	require.NoError(t, err)
	var c cfg
	require.NoError(t, doc.Decode(&c, lookup))
	require.Equal(t, "dflt", c.Name)
	require.Equal(t, "s3cret", c.Targets[0].Key)
	require.Equal(t, 4, doc.Line("targets", 0, "key"))
	require.Equal(t, "targets[0].key", FieldName("targets", 0, "key"))
}

func TestExpandEnv(t *testing.T) {
	t.Parallel()
	out, missing := ExpandEnv("a ${A} b ${B:-x} c ${C} $D", func(k string) (string, bool) {
		if k == "A" {
			return "1", true
		}
		return "", false
	})
	require.Equal(t, "a 1 b x c  $D", out)
	require.Equal(t, []string{"C"}, missing)
}

// TestDecodeNode: a node kept as a yaml.Node and decoded later gets the
// errors Decode gives, one line each, at the bad value's line, named by
// its full path.
func TestDecodeNode(t *testing.T) {
	t.Parallel()
	doc, err := Parse("n.yaml", []byte("items:\n  - name: a\n  - name: b\n    size: lots\n    tags: x\n"))
	require.NoError(t, err)
	var f struct {
		Items []yaml.Node `yaml:"items"`
	}
	require.NoError(t, doc.Decode(&f, nil))
	var item struct {
		Name string   `yaml:"name"`
		Size float64  `yaml:"size"`
		Tags []string `yaml:"tags"`
	}
	require.Nil(t, doc.DecodeNode(&f.Items[0], &item, "items", 0))
	got := doc.DecodeNode(&f.Items[1], &item, "items", 1)
	require.Equal(t, "n.yaml:4: items[1].size: cannot use str \"lots\" here (want float64)\n"+
		"n.yaml:5: items[1].tags: cannot use str \"x\" here (want a list)", got.Error())
}
