// Package yamldoc decodes YAML files strictly and reports every problem with
// the file, line and field it concerns, so that configs and suites written by
// people (and by other people's scripts) get errors they can act on.
package yamldoc

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"os"
	"reflect"
	"regexp"
	"strconv"
	"strings"

	"gopkg.in/yaml.v3"
)

// Error is a problem located in a file.
type Error struct {
	File  string
	Line  int    // 1-based; 0 when unknown
	Field string // dotted path such as "targets[1].provider"; may be empty
	Msg   string
}

func (e *Error) Error() string {
	var b strings.Builder
	b.WriteString(e.File)
	if e.Line > 0 {
		b.WriteString(":")
		b.WriteString(strconv.Itoa(e.Line))
	}
	b.WriteString(": ")
	if e.Field != "" {
		b.WriteString(e.Field)
		b.WriteString(": ")
	}
	b.WriteString(e.Msg)
	return b.String()
}

// Errors is a list of located problems; it formats as one per line.
type Errors []*Error

func (es Errors) Error() string {
	lines := make([]string, len(es))
	for i, e := range es {
		lines[i] = e.Error()
	}
	return strings.Join(lines, "\n")
}

// Err returns es as an error, or nil when empty.
func (es Errors) Err() error {
	if len(es) == 0 {
		return nil
	}
	return es
}

// Doc is a parsed YAML document that remembers where each node came from.
type Doc struct {
	File string
	Root *yaml.Node // the top-level mapping (never the document node)
	data []byte
}

var lineRE = regexp.MustCompile(`line (\d+): (.*)`)

// Parse parses data (read from file) into a Doc. A syntax error is returned as
// an *Error with the line yaml reports.
func Parse(file string, data []byte) (*Doc, error) {
	var n yaml.Node
	if err := yaml.Unmarshal(data, &n); err != nil {
		return nil, syntaxError(file, err)
	}
	d := &Doc{File: file, data: data}
	switch {
	case n.Kind == 0 || len(n.Content) == 0:
		return nil, &Error{File: file, Line: 1, Msg: "empty document"}
	case n.Kind == yaml.DocumentNode:
		d.Root = n.Content[0]
	default:
		d.Root = &n
	}
	if d.Root.Kind != yaml.MappingNode {
		return nil, &Error{File: file, Line: d.Root.Line, Msg: "expected a mapping of fields at the top level"}
	}
	return d, nil
}

// ReadFile reads and parses path.
func ReadFile(path string) (*Doc, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("read %s: %w", path, err)
	}
	return Parse(path, data)
}

func syntaxError(file string, err error) error {
	msg := strings.TrimPrefix(err.Error(), "yaml: ")
	if m := lineRE.FindStringSubmatch(msg); m != nil {
		line, _ := strconv.Atoi(m[1])
		// yaml.v3's parser (not its scanner) reports "did not find
		// expected ..." at the line before the offending token.
		if strings.HasPrefix(m[2], "did not find expected") {
			line++
		}
		return &Error{File: file, Line: line, Msg: "invalid YAML: " + m[2]}
	}
	return &Error{File: file, Msg: "invalid YAML: " + msg}
}

// Decode decodes the document into v strictly: unknown fields and type
// mismatches are reported with their lines. When expand is non-nil, ${VAR}
// references in scalar values are expanded with it before decoding (after the
// strict check, so line numbers stay those of the file).
func (d *Doc) Decode(v any, expand func(string) (string, bool)) error {
	dec := yaml.NewDecoder(bytes.NewReader(d.data))
	dec.KnownFields(true)
	// Decode into a fresh value of the same type to detect unknown fields.
	if err := dec.Decode(reflect.New(reflect.TypeOf(v).Elem()).Interface()); err != nil && !errors.Is(err, io.EOF) {
		return d.decodeError(err)
	}
	root := d.Root
	if expand != nil {
		var errs Errors
		root = expandNode(d.File, d.Root, expand, &errs)
		if len(errs) > 0 {
			return errs
		}
	}
	if err := root.Decode(v); err != nil {
		return d.decodeError(err)
	}
	return nil
}

func (d *Doc) decodeError(err error) error {
	var te *yaml.TypeError
	if !errors.As(err, &te) {
		return syntaxError(d.File, err)
	}
	var errs Errors
	for _, m := range te.Errors {
		e := &Error{File: d.File, Msg: m}
		if sm := lineRE.FindStringSubmatch(m); sm != nil {
			e.Line, _ = strconv.Atoi(sm[1])
			e.Msg = humanizeTypeError(sm[2])
		}
		errs = append(errs, e)
	}
	return errs
}

var notFoundRE = regexp.MustCompile(`^field (\S+) not found in type .+$`)
var cannotKindRE = regexp.MustCompile(`^cannot unmarshal !!(seq|map) into (\S+)$`)
var cannotRE = regexp.MustCompile("^cannot unmarshal !!(\\w+) `(.*)` into (\\S+)$")

func humanizeTypeError(msg string) string {
	if m := notFoundRE.FindStringSubmatch(msg); m != nil {
		return fmt.Sprintf("unknown field %q", m[1])
	}
	if m := cannotKindRE.FindStringSubmatch(msg); m != nil {
		want := m[2]
		if i := strings.LastIndex(want, "."); i >= 0 {
			want = want[i+1:]
		}
		return fmt.Sprintf("cannot use a %s here (want %s)", m[1], strings.TrimPrefix(want, "[]"))
	}
	if m := cannotRE.FindStringSubmatch(msg); m != nil {
		want := m[3]
		if i := strings.LastIndex(want, "."); i >= 0 {
			want = want[i+1:]
		}
		return fmt.Sprintf("cannot use %s %q here (want %s)", m[1], m[2], strings.TrimPrefix(want, "[]"))
	}
	return msg
}

// Line returns the line of the node at path (mapping keys as strings,
// sequence indexes as ints), or of the deepest node found on the way.
func (d *Doc) Line(path ...any) int {
	return Lookup(d.Root, path...).Line
}

// Errorf returns an *Error located at the node at path.
func (d *Doc) Errorf(path []any, format string, args ...any) *Error {
	return &Error{File: d.File, Line: d.Line(path...), Field: FieldName(path...), Msg: fmt.Sprintf(format, args...)}
}

// Lookup walks from n along path and returns the deepest node reached. For a
// mapping key it returns the value node.
func Lookup(n *yaml.Node, path ...any) *yaml.Node {
	cur := n
	for _, p := range path {
		next := step(cur, p)
		if next == nil {
			return cur
		}
		cur = next
	}
	return cur
}

func step(n *yaml.Node, p any) *yaml.Node {
	switch k := p.(type) {
	case string:
		if n.Kind != yaml.MappingNode {
			return nil
		}
		for i := 0; i+1 < len(n.Content); i += 2 {
			if n.Content[i].Value == k {
				return n.Content[i+1]
			}
		}
	case int:
		if n.Kind == yaml.SequenceNode && k >= 0 && k < len(n.Content) {
			return n.Content[k]
		}
	}
	return nil
}

// FieldName formats path as "targets[1].provider".
func FieldName(path ...any) string {
	var b strings.Builder
	for _, p := range path {
		switch k := p.(type) {
		case int:
			fmt.Fprintf(&b, "[%d]", k)
		default:
			if b.Len() > 0 {
				b.WriteByte('.')
			}
			fmt.Fprint(&b, k)
		}
	}
	return b.String()
}

var envRE = regexp.MustCompile(`\$\{([A-Za-z_][A-Za-z0-9_]*)(?::-([^}]*))?\}`)

// ExpandEnv expands ${VAR} and ${VAR:-default} in s with lookup. A reference
// to an unset variable without a default expands to "" and is reported in
// missing.
func ExpandEnv(s string, lookup func(string) (string, bool)) (out string, missing []string) {
	out = envRE.ReplaceAllStringFunc(s, func(m string) string {
		sm := envRE.FindStringSubmatch(m)
		if v, ok := lookup(sm[1]); ok {
			return v
		}
		if strings.Contains(m, ":-") {
			return sm[2]
		}
		missing = append(missing, sm[1])
		return ""
	})
	return out, missing
}

func expandNode(file string, n *yaml.Node, lookup func(string) (string, bool), errs *Errors) *yaml.Node {
	c := *n
	switch n.Kind {
	case yaml.ScalarNode:
		if strings.Contains(n.Value, "${") {
			v, _ := ExpandEnv(n.Value, lookup)
			c.Value = v
			if n.Tag == "!!null" && v != "" {
				c.Tag = "!!str"
			}
		}
	case yaml.MappingNode, yaml.SequenceNode, yaml.DocumentNode:
		c.Content = make([]*yaml.Node, len(n.Content))
		for i, ch := range n.Content {
			c.Content[i] = expandNode(file, ch, lookup, errs)
		}
	case yaml.AliasNode:
		c.Alias = expandNode(file, n.Alias, lookup, errs)
	}
	return &c
}
