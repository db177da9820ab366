// Package yamldoc decodes YAML files strictly and reports every problem with
// the file, line and field it concerns, so that configs and suites written by
// people (and by other people's scripts) get errors they can act on.
package yamldoc

import (
	"cmp"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"maps"
	"os"
	"reflect"
	"regexp"
	"slices"
	"sort"
	"strconv"
	"strings"
	"syscall"
	"time"

	"gopkg.in/yaml.v3"
)

// Error is a problem located in a file.
type Error struct {
	File  string
	Line  int    // 1-based; 0 when unknown
	Field string // dotted path such as "targets[1].provider"; may be empty
	Msg   string
	// key marks a message that quotes a mapping key, which is never an
	// expanded value (redact leaves the quote alone).
	key bool
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
	// expanded holds, by line, the ${VAR} values DecodeEnv expanded, so
	// that Errorf about a decoded field never shows one (a secret put in
	// the wrong field: "provider: ${OPENAI_API_KEY}").
	expanded map[int][]expansion
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

// MaxFileBytes is the largest file ReadFile and ReadRegular read: far above
// any config or suite written by hand, far below what would strain memory.
const MaxFileBytes = 16 << 20

// ReadFile reads and parses path, which must be a regular file of at most
// MaxFileBytes (see ReadRegular).
func ReadFile(path string) (*Doc, error) {
	data, err := ReadRegular(path, MaxFileBytes)
	if err != nil {
		return nil, err
	}
	return Parse(path, data)
}

// ReadRegular reads the regular file at path, of at most limit bytes. A
// FIFO, a device (/dev/zero) or a folder is refused without reading or
// blocking on it, as is a larger file.
func ReadRegular(path string, limit int64) ([]byte, error) {
	f, err := OpenRegular(path, limit)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	data, err := io.ReadAll(io.LimitReader(f, limit+1))
	if err != nil {
		return nil, fmt.Errorf("read %s: %w", path, err)
	}
	if int64(len(data)) > limit {
		return nil, fmt.Errorf("read %s: larger than %d bytes", path, limit)
	}
	return data, nil
}

// OpenRegular opens path for reading when it is a regular file of at most
// limit bytes, and returns an error naming the path otherwise. It opens
// without blocking, so a FIFO is refused instead of waiting for a writer.
func OpenRegular(path string, limit int64) (*os.File, error) {
	f, err := os.OpenFile(path, os.O_RDONLY|syscall.O_NONBLOCK, 0)
	if err != nil {
		return nil, fmt.Errorf("read %s: %w", path, err)
	}
	st, err := f.Stat()
	if err != nil {
		f.Close()
		return nil, fmt.Errorf("read %s: %w", path, err)
	}
	if !st.Mode().IsRegular() {
		f.Close()
		return nil, fmt.Errorf("read %s: not a regular file (%s)", path, fileKind(st.Mode()))
	}
	if st.Size() > limit {
		f.Close()
		return nil, fmt.Errorf("read %s: %d bytes, more than the limit of %d", path, st.Size(), limit)
	}
	return f, nil
}

func fileKind(m fs.FileMode) string {
	switch {
	case m.IsDir():
		return "a folder"
	case m&fs.ModeNamedPipe != 0:
		return "a FIFO"
	case m&fs.ModeCharDevice != 0:
		return "a character device"
	case m&fs.ModeDevice != 0:
		return "a device"
	case m&fs.ModeSocket != 0:
		return "a socket"
	}
	return m.Type().String()
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
// mismatches are reported with their lines.
//
// When lookup is non-nil, ${VAR} and ${VAR:-default} references in scalar
// values are expanded with it first (see ExpandEnv), so a reference may stand
// for a number, a duration or a boolean as well as a string. A reference to a
// variable that is not set and has no default reads as empty, as in the
// shell and docker compose (DecodeEnv lists them, for the caller to warn
// about a misspelt name or a key not exported). Every line reported is the
// file's.
func (d *Doc) Decode(v any, lookup func(string) (string, bool)) error {
	_, err := d.DecodeEnv(v, lookup)
	return err
}

// DecodeEnv is Decode, and also returns the ${VAR} references whose
// variable is not set (each at its line; they read as empty).
func (d *Doc) DecodeEnv(v any, lookup func(string) (string, bool)) (unset Errors, err error) {
	root := d.Root
	var errs Errors
	var x *expander
	if lookup != nil {
		x = &expander{file: d.File, lookup: lookup, copies: map[*yaml.Node]*yaml.Node{}}
		root, unset = x.expand(d.Root, nil), x.unset
		d.expanded = x.expanded
	}
	d.unknownFields(root, reflect.TypeOf(v), nil, map[*yaml.Node]bool{}, &errs)
	if err := root.Decode(v); err != nil {
		errs = append(errs, d.decodeError(root, nil, err)...)
	}
	redact(d.expanded, errs, false)
	sort.SliceStable(errs, func(i, j int) bool { return errs[i].Line < errs[j].Line })
	return unset, errs.Err()
}

// DecodeNode decodes n, the node at path of the document (one kept as a
// yaml.Node when the document was decoded, and decoded later), into v, and
// locates its errors as Decode does: each at its line, the field named by
// its full path ("checks[2].threshold"), one line each. Unknown fields are
// not reported (UnknownFields does), nor is ${VAR} expanded.
func (d *Doc) DecodeNode(n *yaml.Node, v any, path ...any) Errors {
	err := n.Decode(v)
	if err == nil {
		return nil
	}
	errs := d.decodeError(n, path, err)
	for _, e := range errs {
		if e.Line == 0 {
			e.Line = n.Line
		}
	}
	return errs
}

// decodeError locates the errors of a decode of root (the parsed document,
// or its expanded copy, or the node at path base in it): type errors, and
// those of custom unmarshalers (which say "line N: ..."). Each names the
// field it concerns when the line and the message tell which (see
// fieldAt), else base.
func (d *Doc) decodeError(root *yaml.Node, base []any, err error) Errors {
	field := func(rel []any) string {
		return FieldName(append(base[:len(base):len(base)], rel...)...)
	}
	var te *yaml.TypeError
	if !errors.As(err, &te) {
		e := &Error{File: d.File, Field: field(nil), Msg: strings.TrimPrefix(err.Error(), "yaml: ")}
		if m := lineRE.FindStringSubmatch(e.Msg); m != nil {
			e.Line, _ = strconv.Atoi(m[1])
			e.Msg = m[2]
			// A custom unmarshaler names its own key ("pin: want ...");
			// the located field replaces it with the full path.
			if key, rest, ok := strings.Cut(e.Msg, ": "); ok && !strings.ContainsAny(key, " \t") {
				if path := fieldAt(root, e.Line, func(k, _ *yaml.Node) bool { return k != nil && k.Value == key }); path != nil {
					e.Field, e.Msg = field(path), rest
				}
			}
		}
		return Errors{e}
	}
	var errs Errors
	for _, m := range te.Errors {
		e := &Error{File: d.File, Field: field(nil), Msg: m}
		if sm := lineRE.FindStringSubmatch(m); sm != nil {
			e.Line, _ = strconv.Atoi(sm[1])
			e.Msg = humanizeTypeError(sm[2])
			e.Field = field(fieldAt(root, e.Line, typeErrorNode(sm[2])))
		}
		errs = append(errs, e)
	}
	return errs
}

// typeErrorNode returns what tells the node of yaml's type error msg apart
// from others on its line: its text ("cannot unmarshal !!str `x` into
// int") or its kind ("cannot unmarshal !!seq into int").
func typeErrorNode(msg string) func(k, v *yaml.Node) bool {
	if m := cannotRE.FindStringSubmatch(msg); m != nil {
		// yaml cuts a long value to its start and "...".
		prefix, cut := strings.CutSuffix(m[2], "...")
		return func(_, v *yaml.Node) bool {
			return v.Kind == yaml.ScalarNode && (v.Value == m[2] || cut && strings.HasPrefix(v.Value, prefix))
		}
	}
	if m := cannotKindRE.FindStringSubmatch(msg); m != nil {
		kind := map[string]yaml.Kind{"seq": yaml.SequenceNode, "map": yaml.MappingNode}[m[1]]
		return func(_, v *yaml.Node) bool { return v.Kind == kind }
	}
	return func(_, _ *yaml.Node) bool { return true }
}

// fieldAt returns the path of the first value node (in document order) on
// line for which match(key, value) holds (key is nil for a sequence item),
// or nil. Aliases are not followed: yaml reports an error at the line of
// the anchored node.
func fieldAt(n *yaml.Node, line int, match func(k, v *yaml.Node) bool) []any {
	var walk func(n *yaml.Node, path []any) []any
	walk = func(n *yaml.Node, path []any) []any {
		switch n.Kind {
		case yaml.MappingNode:
			for i := 0; i+1 < len(n.Content); i += 2 {
				k, v := n.Content[i], n.Content[i+1]
				p := append(path[:len(path):len(path)], k.Value)
				if v.Line == line && match(k, v) {
					return p
				}
				if v.Line <= line {
					if found := walk(v, p); found != nil {
						return found
					}
				}
			}
		case yaml.SequenceNode:
			for i, v := range n.Content {
				p := append(path[:len(path):len(path)], i)
				if v.Line == line && match(nil, v) {
					return p
				}
				if v.Line <= line {
					if found := walk(v, p); found != nil {
						return found
					}
				}
			}
		}
		return nil
	}
	return walk(n, nil)
}

var (
	unmarshalerType = reflect.TypeFor[yaml.Unmarshaler]()
	nodeType        = reflect.TypeFor[yaml.Node]()
	durationType    = reflect.TypeFor[time.Duration]()
)

// unknownFields reports the mapping keys under n that name no field of the
// struct type t decodes them into, as yaml's KnownFields does; it works on
// the (expanded) node tree, which a yaml.Decoder cannot read. Values whose
// type decodes itself (yaml.Unmarshaler, yaml.Node) are left to that type.
//
// visiting holds the anchored nodes being walked, so that an anchor that
// contains an alias of itself is walked once.
func (d *Doc) unknownFields(n *yaml.Node, t reflect.Type, path []any, visiting map[*yaml.Node]bool, errs *Errors) {
	if n != nil && n.Kind == yaml.AliasNode {
		if visiting[n.Alias] {
			return
		}
		visiting[n.Alias] = true
		defer delete(visiting, n.Alias)
		n = n.Alias
	}
	for t.Kind() == reflect.Pointer {
		t = t.Elem()
	}
	if n == nil || t == nodeType || reflect.PointerTo(t).Implements(unmarshalerType) {
		return
	}
	switch t.Kind() {
	case reflect.Struct:
		if n.Kind != yaml.MappingNode {
			return
		}
		fields, open := yamlFields(t)
		for i := 0; i+1 < len(n.Content); i += 2 {
			k, val := n.Content[i], n.Content[i+1]
			if k.ShortTag() == "!!merge" {
				for _, m := range mergeSources(val) {
					d.unknownFields(m, t, path, visiting, errs)
				}
				continue
			}
			ft, ok := fields[k.Value]
			switch {
			case ok:
				d.unknownFields(val, ft, append(path[:len(path):len(path)], k.Value), visiting, errs)
			case !open:
				*errs = append(*errs, &Error{File: d.File, Line: k.Line, Field: FieldName(path...),
					Msg: fmt.Sprintf("unknown field %q", k.Value), key: true})
			}
		}
	case reflect.Slice, reflect.Array:
		if n.Kind != yaml.SequenceNode {
			return
		}
		for i, ch := range n.Content {
			d.unknownFields(ch, t.Elem(), append(path[:len(path):len(path)], i), visiting, errs)
		}
	case reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64,
		reflect.Uint, reflect.Uint8, reflect.Uint16, reflect.Uint32, reflect.Uint64:
		// yaml.v3 truncates a float into an integer field (2.5 becomes 2);
		// it refuses one for a duration itself.
		if n.Kind == yaml.ScalarNode && n.ShortTag() == "!!float" && t != durationType {
			*errs = append(*errs, &Error{File: d.File, Line: n.Line, Field: FieldName(path...),
				Msg: fmt.Sprintf("cannot use %q here (want a whole number)", n.Value)})
		}
	case reflect.Map:
		if n.Kind != yaml.MappingNode {
			return
		}
		for i := 0; i+1 < len(n.Content); i += 2 {
			d.unknownFields(n.Content[i+1], t.Elem(), append(path[:len(path):len(path)], n.Content[i].Value), visiting, errs)
		}
	}
}

// UnknownFields reports the mapping keys under n, the node at path, that
// name no field of v's type (a struct or a pointer to one), as Decode does
// for the whole document. It is for nodes kept as yaml.Node and decoded
// later, which Decode leaves alone.
func (d *Doc) UnknownFields(n *yaml.Node, v any, path ...any) Errors {
	var errs Errors
	d.unknownFields(n, reflect.TypeOf(v), path, map[*yaml.Node]bool{}, &errs)
	return errs
}

// mergeSources returns the mappings a merge key ("<<") refers to.
func mergeSources(n *yaml.Node) []*yaml.Node {
	if n.Kind == yaml.SequenceNode {
		return n.Content
	}
	return []*yaml.Node{n}
}

// yamlFields maps the YAML keys of struct type t to their field types, as
// yaml.v3 names them (the tag's name, else the lower-cased field name;
// ",inline" structs contribute their fields). open reports an inline map,
// which accepts any key.
func yamlFields(t reflect.Type) (fields map[string]reflect.Type, open bool) {
	fields = map[string]reflect.Type{}
	for i := range t.NumField() {
		f := t.Field(i)
		tag := f.Tag.Get("yaml")
		if !f.IsExported() || tag == "-" {
			continue
		}
		name, opts, _ := strings.Cut(tag, ",")
		if slices.Contains(strings.Split(opts, ","), "inline") {
			ft := f.Type
			if ft.Kind() == reflect.Pointer {
				ft = ft.Elem()
			}
			switch ft.Kind() {
			case reflect.Map:
				open = true
			case reflect.Struct:
				inner, innerOpen := yamlFields(ft)
				maps.Copy(fields, inner)
				open = open || innerOpen
			}
			continue
		}
		fields[cmp.Or(name, strings.ToLower(f.Name))] = f.Type
	}
	return fields, open
}

var notFoundRE = regexp.MustCompile(`^field (\S+) not found in type .+$`)
var cannotKindRE = regexp.MustCompile(`^cannot unmarshal !!(seq|map) into (.+)$`)
var cannotRE = regexp.MustCompile("^cannot unmarshal !!(\\w+) `(.*)` into (.+)$")

func humanizeTypeError(msg string) string {
	if m := notFoundRE.FindStringSubmatch(msg); m != nil {
		return fmt.Sprintf("unknown field %q", m[1])
	}
	if m := cannotKindRE.FindStringSubmatch(msg); m != nil {
		return fmt.Sprintf("cannot use a %s here (want %s)", m[1], wantName(m[2]))
	}
	if m := cannotRE.FindStringSubmatch(msg); m != nil {
		return fmt.Sprintf("cannot use %s %q here (want %s)", m[1], m[2], wantName(m[3]))
	}
	return msg
}

// wantName names the Go type yaml wanted as a user reads it: a list, a
// mapping, or the type's own name (int, string, Duration).
func wantName(goType string) string {
	switch {
	case strings.HasPrefix(goType, "[]"):
		return "a list"
	case strings.HasPrefix(goType, "map["):
		return "a mapping"
	}
	if i := strings.LastIndex(goType, "."); i >= 0 {
		goType = goType[i+1:]
	}
	return goType
}

// Line returns the line of the node at path (mapping keys as strings,
// sequence indexes as ints), or of the deepest node found on the way.
func (d *Doc) Line(path ...any) int {
	return Lookup(d.Root, path...).Line
}

// Errorf returns an *Error located at the node at path. After DecodeEnv,
// an expanded ${VAR} value the message quotes (on the node's line), or any
// long one anywhere in it, is shown as its reference: validation messages
// quote the values they reject, which may be secrets.
func (d *Doc) Errorf(path []any, format string, args ...any) *Error {
	e := &Error{File: d.File, Line: d.Line(path...), Field: FieldName(path...), Msg: fmt.Sprintf(format, args...)}
	redact(d.expanded, Errors{e}, true)
	return e
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

var envRE = regexp.MustCompile(`\$\{([A-Za-z_][A-Za-z0-9_]*)(:-([^}]*))?\}`)

// ExpandEnv expands ${VAR} and ${VAR:-default} in s with lookup. As in the
// shell, ${VAR:-default} gives default when VAR is unset or empty, so
// ${VAR:-} means "empty when unset". A ${VAR} whose variable is not set
// expands to "" and is reported in missing (a variable set to "" is not
// missing). Other text, a lone $ included, is kept as it is.
func ExpandEnv(s string, lookup func(string) (string, bool)) (out string, missing []string) {
	out = envRE.ReplaceAllStringFunc(s, func(m string) string {
		sm := envRE.FindStringSubmatch(m)
		v, ok := lookup(sm[1])
		switch {
		case sm[2] != "" && v == "":
			return sm[3]
		case !ok:
			missing = append(missing, sm[1])
		}
		return v
	})
	return out, missing
}

// expander copies a node tree with ${VAR} references expanded.
type expander struct {
	file   string
	lookup func(string) (string, bool)
	// unset lists the references to variables that are not set.
	unset Errors
	// expanded maps a line to the values expanded on it and the text they
	// were written as, so that an error about one shows the reference, not
	// the value (which may be a secret).
	expanded map[int][]expansion
	// copies maps each node copied so far to its copy, so that an alias
	// refers to the copy of its anchor (and a self-referring anchor, which
	// yaml rejects when decoding, does not recurse forever here).
	copies map[*yaml.Node]*yaml.Node
}

// expansion is one scalar's expanded value and the text it was written as.
type expansion struct{ value, text string }

// quotedRE matches a double-quoted value in an error message.
var quotedRE = regexp.MustCompile(`"(?:[^"\\]|\\.)*"`)

// redactMinLen is the length from which an expanded value is kept out of
// messages about other lines too: a validation message can quote a field
// read from another line ("azure_ad is for provider azure, not ..."). Shorter
// values (a concurrency of 8, "true") are left alone there, so that they do
// not replace unrelated text.
const redactMinLen = 8

// redact keeps expanded values out of the messages of errs: a key put in
// the wrong field ("concurrency: ${OPENAI_API_KEY}") must not be printed.
// On a line where a value was expanded, every value the message quotes (yaml
// quotes values whole or cut, "sk-live...") and the expanded values
// themselves are replaced by the text they were written as; an expanded
// value of at least redactMinLen bytes is replaced wherever it appears.
// With quotedOnly (a validation message, which says what it got: "must not
// be negative, got -1"), shorter values are replaced only where quoted.
func redact(expanded map[int][]expansion, errs Errors, quotedOnly bool) {
	if len(expanded) == 0 {
		return
	}
	var long []expansion
	for _, exs := range expanded {
		for _, ex := range exs {
			if len(ex.value) >= redactMinLen {
				long = append(long, ex)
			}
		}
	}
	// Longest first, so that a value containing another is replaced whole.
	slices.SortFunc(long, func(a, b expansion) int {
		return cmp.Or(cmp.Compare(len(b.value), len(a.value)), strings.Compare(a.value, b.value))
	})
	for _, e := range errs {
		msg := e.Msg
		exs := expanded[e.Line]
		texts := make([]string, len(exs))
		for i, ex := range exs {
			texts[i] = ex.text
			if ex.value != "" && !quotedOnly {
				msg = strings.ReplaceAll(msg, ex.value, ex.text)
			}
		}
		for _, ex := range long {
			msg = strings.ReplaceAll(msg, ex.value, ex.text)
		}
		if len(exs) > 0 && !e.key {
			msg = quotedRE.ReplaceAllLiteralString(msg, strconv.Quote(strings.Join(texts, " ")))
		}
		if msg != e.Msg {
			e.Msg = msg + " (the expanded value is not shown)"
		}
	}
}

// expand returns a copy of n with ${VAR} references expanded in its scalar
// values (not in mapping keys); a missing variable reads as empty and is
// listed in x.unset at its scalar's line.
func (x *expander) expand(n *yaml.Node, path []any) *yaml.Node {
	if c, ok := x.copies[n]; ok {
		return c
	}
	c := new(yaml.Node)
	*c = *n
	x.copies[n] = c
	switch n.Kind {
	case yaml.ScalarNode:
		if !strings.Contains(n.Value, "${") {
			break
		}
		v, missing := ExpandEnv(n.Value, x.lookup)
		for _, name := range missing {
			x.unset = append(x.unset, &Error{File: x.file, Line: n.Line, Field: FieldName(path...),
				Msg: fmt.Sprintf("environment variable %s is not set: read as empty (write ${%s:-} if empty is intended, or ${%s:-default})", name, name, name)})
		}
		c.Value = v
		if x.expanded == nil {
			x.expanded = map[int][]expansion{}
		}
		x.expanded[n.Line] = append(x.expanded[n.Line], expansion{value: v, text: n.Value})
		if n.Style&(yaml.TaggedStyle|yaml.DoubleQuotedStyle|yaml.SingleQuotedStyle|yaml.LiteralStyle|yaml.FoldedStyle) == 0 {
			// A plain scalar takes the type its expanded text has, as if
			// the value had been written there: "8" is an int, "5s" a
			// string a duration accepts, "" null (the default).
			c.Tag = ""
		}
	case yaml.MappingNode:
		c.Content = make([]*yaml.Node, len(n.Content))
		for i := 0; i+1 < len(n.Content); i += 2 {
			c.Content[i] = n.Content[i]
			c.Content[i+1] = x.expand(n.Content[i+1], append(path[:len(path):len(path)], n.Content[i].Value))
		}
	case yaml.SequenceNode, yaml.DocumentNode:
		c.Content = make([]*yaml.Node, len(n.Content))
		for i, ch := range n.Content {
			c.Content[i] = x.expand(ch, append(path[:len(path):len(path)], i))
		}
	case yaml.AliasNode:
		c.Alias = x.expand(n.Alias, path)
	}
	return c
}
