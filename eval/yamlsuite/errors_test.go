package yamlsuite_test

import (
	"path/filepath"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/driftwatch/driftwatch/eval/yamlsuite"
	"github.com/driftwatch/driftwatch/internal/yamldoc"
)

// loadErrs loads the suite text written as name in a temporary folder
// (with the other files given), which must fail, and returns its errors
// one a line, with file names relative to the folder.
func loadErrs(t *testing.T, name, text string, others ...string) []string {
	t.Helper()
	dir := t.TempDir()
	for i := 0; i+1 < len(others); i += 2 {
		writeSuite(t, dir, others[i], others[i+1])
	}
	_, err := yamlsuite.Load(writeSuite(t, dir, name, text), yamlsuite.Options{})
	var es yamldoc.Errors
	require.ErrorAs(t, err, &es)
	var got []string
	for _, e := range es {
		rel, rerr := filepath.Rel(dir, e.File)
		require.NoError(t, rerr)
		e.File = rel
		got = append(got, strings.ReplaceAll(e.Error(), dir+string(filepath.Separator), ""))
	}
	return got
}

// TestTemplateParseErrorsWhereWritten: a template that does not parse is
// reported once, at the line and field where it is written (the suite's
// prompt, system, messages or checks, or a case's own), without
// text/template's internal "t:1:" prefix; not once per case at the case.
func TestTemplateParseErrorsWhereWritten(t *testing.T) {
	t.Parallel()
	got := loadErrs(t, "s.yaml", `name: s
prompt: "hi {{.x"
system: "be {{.x"
checks:
  - type: contains
    value: "[{{.expected}"
  - type: contains-any
    values: [a, "{{if .x}}"]
cases:
  - id: a
    vars: {x: 1, expected: "1"}
  - id: b
    vars: {x: 2, expected: "2"}
  - id: c
    vars: {x: 3}
    prompt: "yo {{.x"
    checks:
      - type: contains
        value: "{{.y"
`)
	require.Equal(t, []string{
		"s.yaml:2: prompt: template: unclosed action",
		"s.yaml:3: system: template: unclosed action",
		"s.yaml:6: checks[0].value: template: bad character U+007D '}'",
		"s.yaml:8: checks[1].values[1]: template: unexpected EOF",
		"s.yaml:16: cases[2].prompt: template: unclosed action",
		"s.yaml:19: cases[2].checks[0].value: template: unclosed action",
	}, got)

	// Messages, a case's system prompt, and a literal block, whose
	// template lines are the file's.
	got = loadErrs(t, "m.yaml", `name: m
messages:
  - role: user
    content: |
      line one {{.x}}
      line two
      line {{.x three
  - role: assistant
    content: "ok {{.x"
cases:
  - id: a
    vars: {x: 1}
  - id: b
    vars: {x: 2}
    system: "{{.x"
  - id: c
    vars: {x: 3}
    messages:
      - {role: user, content: "q {{.x"}
`)
	require.Equal(t, []string{
		`m.yaml:7: messages[0].content: template: function "three" not defined`,
		"m.yaml:9: messages[1].content: template: unclosed action",
		"m.yaml:15: cases[1].system: template: unclosed action",
		"m.yaml:19: cases[2].messages[0].content: template: unclosed action",
	}, got)

	// Cases from a dataset: still once, at the suite's template.
	got = loadErrs(t, "d.yaml", "name: d\nprompt: \"{{.x\"\ndataset: rows.jsonl\n",
		"rows.jsonl", "{\"x\":1}\n{\"x\":2}\n")
	require.Equal(t, []string{"d.yaml:2: prompt: template: unclosed action"}, got)
}

// TestTemplateExecErrorsAtTheCase: a template that parses but fails for a
// case's variables is reported at the case, readably.
func TestTemplateExecErrorsAtTheCase(t *testing.T) {
	t.Parallel()
	got := loadErrs(t, "s.yaml", `name: s
prompt: "hi {{.x.y}}"
checks:
  - {type: contains, value: "{{.x.y}}"}
cases:
  - id: a
    vars: {x: 1}
`)
	require.Equal(t, []string{
		"s.yaml:4: checks[0].value: case \"a\": template: at <.x.y>: can't evaluate field y in type interface {}",
		"s.yaml:6: cases[0].prompt: template: at <.x.y>: can't evaluate field y in type interface {}",
	}, got)
}

// TestCheckDecodeErrorsLocated: a check value of the wrong type is one
// line at the value's line and field, once for a suite-level check (not
// once per case, not yaml's multi-line error at the case's line), at its
// own line for a case's check, and per case when the case's variables
// make it.
func TestCheckDecodeErrorsLocated(t *testing.T) {
	t.Parallel()
	suite := `name: n
prompt: "hi {{.x}}"
cases:
  - id: a
    vars: {x: 1}
  - id: b
    vars: {x: 2}
    checks:
      - type: contains
        value: x
        weight: many
checks:
  - type: contains
    value: a
  - type: contains
    value: b
  - type: levenshtein
    threshold: lots
    value: c
`
	require.Equal(t, []string{
		`n.yaml:11: cases[1].checks[0].weight: cannot use str "many" here (want float64)`,
		`n.yaml:18: checks[2].threshold: cannot use str "lots" here (want float64)`,
	}, loadErrs(t, "n.yaml", suite))

	// A templated check whose text is wrong whatever the case is
	// reported once; one the case's variables make wrong, per case.
	got := loadErrs(t, "t.yaml", `name: t
prompt: "hi"
checks:
  - {type: contains, value: "{{.x}}", min: [1]}
  - type: contains
    value: "{{.x}}"
    values: "{{.x}}"
cases:
  - {id: a, vars: {x: 1}}
  - {id: b, vars: {x: 2}}
`)
	require.Equal(t, []string{
		"t.yaml:4: checks[0].min: cannot use a seq here (want float64)",
		`t.yaml:7: checks[1].values: case "a": cannot use str "1" here (want a list)`,
		`t.yaml:7: checks[1].values: case "b": cannot use str "2" here (want a list)`,
	}, got)

	got = loadErrs(t, "r.yaml", "name: r\nprompt: hi\ndataset: rows.jsonl\nchecks:\n  - {type: contains, value: a, values: \"{{.x}}\"}\n",
		"rows.jsonl", "{\"x\":1}\n{\"x\":2}\n")
	require.Equal(t, []string{
		`rows.jsonl:1: checks[0].values: cannot use str "1" here (want a list) (in the check at r.yaml:5)`,
		`rows.jsonl:2: checks[0].values: cannot use str "2" here (want a list) (in the check at r.yaml:5)`,
	}, got)
}
