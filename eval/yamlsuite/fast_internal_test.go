package yamlsuite

import (
	"bytes"
	"encoding/json"
	"fmt"
	"math"
	"math/rand/v2"
	"os"
	"path/filepath"
	"testing"
	"text/template"

	"github.com/stretchr/testify/require"

	"github.com/driftwatch/driftwatch/internal/yamldoc"
)

// The fast paths (flat JSONL rows, simple templates, checks planned once
// per suite) must give exactly what the general ones give.

func TestParseFlatObjectMatchesJSON(t *testing.T) {
	t.Parallel()
	inputs := []string{
		`{}`, ` { } `, `{"a":1}`, `{"a":-0}`, `{"a":-0.0}`, `{"a":1.5e3,"b":"x"}`, `{"a":1E+2}`, `{"a":1e-7}`,
		`{"a":123456789012345678901234567890}`, `{"a":1e400}`, `{"a":01}`, `{"a":1.}`, `{"a":.5}`, `{"a":-}`,
		`{"a":+1}`, `{"a":1e}`, `{"a":0x10}`, `{"a":Infinity}`, `{"a":NaN}`, `{"a":true,"b":false,"c":null}`,
		`{"a":tru}`, `{"a":truex}`, `{"a":nul}`, `{"a":"x\"y"}`, `{"a":"\u00e9"}`, `{"a":"é ü 日本"}`,
		"{\"a\":\"\xff\"}", "{\"\xff\":1}", "{\"a\":\"x\ty\"}", `{"a":"<&>"}`, `{"a":1,"a":2}`, `{"a":1,}`,
		`{,"a":1}`, `{"a" 1}`, `{"a":1 "b":2}`, `{"a":1}x`, `{"a":1}}`, `{"a":[1,2]}`, `{"a":{"b":1}}`,
		`null`, `[]`, `"x"`, `1`, `{"a":1`, `{"a":"x`, `{"a"`, `{`, `{"":""}`, `{"id":"c0000001","a":100,"b":1,"answer":"101"}`,
		"{\"a\":1,\r\n\"b\":2}", `{"a":1.0000000000000002}`, `{"a":5e-324}`, `{"a":2e-324}`, `{"a":-1.7976931348623157e308}`,
	}
	keys := map[string]string{}
	for _, in := range inputs {
		got, ok := parseFlatObject([]byte(in), keys)
		var want map[string]any
		err := json.Unmarshal([]byte(in), &want)
		if !ok {
			continue // json.Unmarshal decides
		}
		require.NoError(t, err, "%s: the fast path accepted invalid JSON", in)
		require.Equal(t, want, got, in)
		for k, v := range want {
			require.Equal(t, fmt.Sprintf("%T %v", v, v), fmt.Sprintf("%T %v", got[k], got[k]), in)
		}
	}
	// And a random sample of numbers.
	r := rand.New(rand.NewPCG(1, 2))
	for range 20000 {
		var num string
		switch r.IntN(4) {
		case 0:
			num = fmt.Sprint(r.Int64() >> r.IntN(64))
		case 1:
			num = fmt.Sprint(math.Float64frombits(r.Uint64()))
		case 2:
			num = fmt.Sprintf("%.*e", r.IntN(20), r.NormFloat64()*math.Pow(10, float64(r.IntN(40)-20)))
		default:
			num = fmt.Sprintf("%.*f", r.IntN(20), r.NormFloat64()*1000)
		}
		in := `{"n":` + num + `}`
		got, ok := parseFlatObject([]byte(in), keys)
		var want map[string]any
		err := json.Unmarshal([]byte(in), &want)
		if !ok {
			continue
		}
		require.NoError(t, err, in)
		require.Equal(t, want, got, in)
	}
}

func TestSimpleTemplateMatchesTextTemplate(t *testing.T) {
	t.Parallel()
	vals := []any{"", "x", "<&>", "{{.a}}", 0.0, math.Copysign(0, -1), 1.0, -1.5, 0.1, 1e20, 1e21, 1e-4, 1e-5, 1e-7,
		123456789.0, 1.7976931348623157e308, 5e-324, 100.0, 1321.0, 3, -7, true, false}
	for _, text := range []string{"{{.v}}", "a {{.v}} b {{.v}}", "{{- .v -}} x", "{{/* c */}}{{.v}}", "{{.v}}{{.w}}"} {
		tm, err := template.New("t").Option("missingkey=error").Parse(text)
		require.NoError(t, err)
		c := compile(tm)
		require.True(t, c.simple, text)
		for _, v := range vals {
			vars := map[string]any{"v": v, "w": "y"}
			var want, got bytes.Buffer
			require.NoError(t, tm.Execute(&want, vars))
			require.True(t, appendSimple(&got, c.pieces, vars))
			require.Equal(t, want.String(), got.String(), "%s with %T %v", text, v, v)
		}
	}
	for _, text := range []string{"{{.v.w}}", "{{.v | printf \"%d\"}}", "{{if .v}}x{{end}}", "{{$x := .v}}{{$x}}",
		"{{.}}", "{{template \"u\"}}{{define \"u\"}}x{{end}}", "{{/* only */}}", "{{len .v}}"} {
		tm, err := template.New("t").Option("missingkey=error").Parse(text)
		require.NoError(t, err)
		require.False(t, compile(tm).simple, text)
	}
	tm, _ := template.New("t").Option("missingkey=error").Parse("{{.v}}")
	c := compile(tm)
	for _, v := range []any{nil, math.Inf(1), math.NaN(), []any{1}, map[string]any{}, int64(1)} {
		require.False(t, appendSimple(new(bytes.Buffer), c.pieces, map[string]any{"v": v}), "%T %v", v, v)
	}
	require.False(t, appendSimple(new(bytes.Buffer), c.pieces, map[string]any{}), "missing")
}

func TestCheckPlansMatchDecoding(t *testing.T) {
	t.Parallel()
	const doc = `checks:
  - {type: contains, value: "{{.v}}"}
  - {type: contains, value: 'x {{.v}} y', weight: 2}
  - {type: contains-any, values: ["{{.v}}", a, "{{.w}}"]}
  - {type: "{{.t}}", value: x}
  - {type: json-path, path: "$.{{.w}}", value: "{{.v}}"}
  - {type: levenshtein, ref: "{{.w}}", threshold: 0.5}
  - {type: contains, value: !!str "{{.v}}"}
  - {type: contains, value: "{{.v}}", value: "{{.w}}"}
  - {type: json-schema, value: {type: object, required: ["{{.v}}"]}}
  - {type: contains, weight: "{{.v}}"}
  - {type: contains, value: &a "{{.v}}", ref: *a}
  - {type: contains, value: [a, "{{.v}}"]}
  - {type: contains, "{{.w}}": x}
  - {type: contains, value: "{{.missing}}"}
  - {type: contains, value: "{{.v}}", values: ["{{.missing}}"]}
  - [x, "{{.v}}"]
  - "{{.v}}"
`
	d, err := yamldoc.Parse("checks.yaml", []byte(doc))
	require.NoError(t, err)
	var f file
	require.NoError(t, d.Decode(&f, nil))
	filled := map[int]bool{}
	for _, vars := range []map[string]any{
		{"v": "1321", "w": "name", "t": "contains"},
		{"v": 12.5, "w": "<b>", "t": "regex"},
		{"v": "", "w": true, "t": "starts-with"},
	} {
		for i := range f.Checks {
			n := &f.Checks[i]
			for _, r := range []row{{file: "rows.jsonl", line: 3}, {path: []any{"cases", 0}, spec: caseSpec{ID: "x"}}} {
				slow := loader{doc: d, f: &f, tmpls: map[string]*compiled{}}
				fast := loader{doc: d, f: &f, tmpls: map[string]*compiled{}}
				p := fast.plan(n, i)
				if p.kind != planFill {
					continue
				}
				filled[i] = true
				chk := checkAt{n: n, suite: true, i: i}
				want, wok := slow.decodeCheck(vars, r, chk)
				got, gok := fast.fill(&p, vars, r, chk)
				require.Equal(t, wok, gok, "check %d", i)
				require.Equal(t, slow.errs, fast.errs, "check %d", i)
				if wok {
					require.Equal(t, want, got, "check %d with %v", i, vars)
				}
			}
		}
	}
	require.Equal(t, map[int]bool{0: true, 1: true, 2: true, 3: true, 4: true, 5: true, 6: true, 13: true, 14: true}, filled)
}

// TestPlannedLoadMatchesUnplanned loads suites, good and bad, with checks
// planned once per suite and with every check rendered and decoded per
// case, and wants the same cases (ids, hashes, requests) and errors.
func TestPlannedLoadMatchesUnplanned(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	write := func(name, text string) string {
		p := filepath.Join(dir, name)
		require.NoError(t, os.WriteFile(p, []byte(text), 0o644))
		return p
	}
	rows := "{\"id\":\"r1\",\"v\":\"1321\",\"n\":2.5}\n{\"v\":7,\"n\":1}\n\n{\"id\":3,\"v\":\"<&>\",\"n\":null}\n"
	write("rows.jsonl", rows)
	write("short.jsonl", "{\"id\":\"r1\",\"v\":\"1321\"}\n{\"id\":\"r2\"}\n")
	paths := []string{
		write("all.yaml", "name: all\nprompt: \"{{.v}} {{.n}}\"\ndataset: rows.jsonl\nthreshold: 0.5\nchecks:\n"+
			"  - {type: contains, value: \"{{.v}}\", weight: 2}\n  - {type: contains-any, values: [\"{{.v}}\", x]}\n"+
			"  - {type: not-contains, value: sorry}\n  - {type: json-schema, value: {type: object, required: [\"{{.v}}\"]}}\n"),
		write("literal_bad.yaml", "name: lb\nprompt: hi {{.v}}\ndataset: rows.jsonl\nchecks:\n  - {type: containz, value: x}\n  - {type: regex, value: \"(\"}\n"),
		write("decode_bad.yaml", "name: db\nprompt: hi {{.v}}\ndataset: rows.jsonl\nchecks:\n  - {type: contains, weight: heavy}\n"),
		write("tmpl_bad.yaml", "name: tb\nprompt: hi {{.v}}\ndataset: rows.jsonl\nchecks:\n  - {type: regex, value: \"({{.v}}\"}\n  - {type: \"{{.v}}\"}\n"),
		write("missing.yaml", "name: m\nprompt: hi {{.v}}\ndataset: short.jsonl\nchecks:\n  - {type: contains, value: \"{{.v}}\"}\n"),
		write("parse_bad.yaml", "name: pb\nprompt: \"hi {{.v\"\ndataset: rows.jsonl\nchecks:\n  - {type: contains, value: \"[{{.v}\"}\n  - {type: contains-any, values: [a, \"{{.v\"]}\n"),
		write("decode_tmpl.yaml", "name: dt\nprompt: hi\ndataset: rows.jsonl\nchecks:\n  - {type: contains, value: \"{{.v}}\", min: [1]}\n  - type: contains\n    value: x\n    values: \"{{.v}}\"\n"),
		write("inline.yaml", "name: in\nprompt: hi {{.v}}\nchecks:\n  - {type: contains, value: \"{{.v}}\"}\ncases:\n  - {id: a, vars: {v: 1}}\n  - {id: b, vars: {w: 1}}\n  - {id: c, vars: {v: x}, checks: [{type: regex, value: \"{{.v}}\"}]}\n"),
	}
	for _, sub := range []string{"good", "bad"} {
		fs, err := SuiteFiles([]string{filepath.Join("testdata", sub)})
		require.NoError(t, err)
		paths = append(paths, fs...)
	}
	fs, err := SuiteFiles([]string{filepath.Join("..", "..", "suites")})
	require.NoError(t, err)
	paths = append(paths, fs...)
	for _, p := range paths {
		want, werr := loadFile(t.Context(), p, Options{}, false)
		got, gerr := loadFile(t.Context(), p, Options{}, true)
		require.Equal(t, fmt.Sprint(werr), fmt.Sprint(gerr), p)
		if werr != nil {
			continue
		}
		require.Equal(t, len(want.Cases()), len(got.Cases()), p)
		for i, c := range want.Cases() {
			g := got.Cases()[i]
			require.Equal(t, []any{c.ID, c.Hash, c.File, c.Line, c.Tags}, []any{g.ID, g.Hash, g.File, g.Line, g.Tags}, p)
			require.Equal(t, want.Request(c.ID), got.Request(g.ID), p)
		}
	}
}
