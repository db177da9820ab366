package promptfoo

import (
	"bytes"
	"cmp"
	"encoding/csv"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"

	"gopkg.in/yaml.v3"

	"github.com/driftwatch/driftwatch/eval/yamlsuite"
	"github.com/driftwatch/driftwatch/internal/yamldoc"
)

// MaxDatasetBytes is the largest tests file (CSV, JSONL, JSON or YAML) a
// config may reference, as for a Driftwatch suite's dataset. The config and
// its prompt, vars and script files are read up to yamldoc.MaxFileBytes;
// like those, a tests file must be a regular file (not a FIFO or a device).
const MaxDatasetBytes = yamlsuite.MaxDatasetBytes

// prompt is one prompt of a config, before rendering.
type prompt struct {
	raw   string
	label string // promptfoo's label: explicit, or derived from the text
	id    string // the explicit id or label, for a test's prompts: filter
	file  string
	line  int
}

// test is one promptfoo test case, after defaultTest merging and before
// var expansion.
type test struct {
	description string
	vars        *ordered
	asserts     []*assertion
	options     testOptions
	threshold   *float64
	metadata    map[string]any
	prompts     []string // labels or ids the test is restricted to
	file        string
	line        int
	// problems are the unsupported features the test uses: its cases are
	// skipped with them as the reason.
	problems []string
}

type testOptions struct {
	transform           string
	transformFile       string // the file the transform was written in (file:// paths are relative to it)
	prefix, suffix      string
	disableVarExpansion bool
}

// assertion is one entry of a test's assert: list.
type assertion struct {
	typ       string
	value     any
	threshold *float64
	weight    *float64
	metric    string
	transform string
	config    map[string]any
	file      string // where it is written
	line      int
	problem   string // an unsupported feature: the case is skipped
}

// ordered is a JavaScript-like object: keys keep the order they were first
// set in (promptfoo's var expansion follows it).
type ordered struct {
	keys []string
	m    map[string]any
}

func newOrdered() *ordered { return &ordered{m: map[string]any{}} }

func (o *ordered) set(k string, v any) {
	if _, ok := o.m[k]; !ok {
		o.keys = append(o.keys, k)
	}
	o.m[k] = v
}

// merge returns {...o, ...p} (either may be nil).
func (o *ordered) merge(p *ordered) *ordered {
	out := newOrdered()
	for _, x := range []*ordered{o, p} {
		if x == nil {
			continue
		}
		for _, k := range x.keys {
			out.set(k, x.m[k])
		}
	}
	return out
}

// orderedFromNode decodes a YAML mapping keeping its key order.
func orderedFromNode(n *yaml.Node) (*ordered, error) {
	o := newOrdered()
	if n == nil || n.Kind == 0 {
		return o, nil
	}
	if n.Kind != yaml.MappingNode {
		return nil, errors.New("vars must be a mapping")
	}
	for i := 0; i+1 < len(n.Content); i += 2 {
		var v any
		if err := n.Content[i+1].Decode(&v); err != nil {
			return nil, err
		}
		o.set(n.Content[i].Value, jsonValues(v))
	}
	return o, nil
}

// jsonValues turns YAML-decoded values into JSON-like ones (string-keyed
// maps; nil into an empty map at the top).
func jsonValues(v any) any {
	switch x := v.(type) {
	case nil:
		return map[string]any{}
	case map[string]any:
		m := make(map[string]any, len(x))
		for k, e := range x {
			m[k] = jsonValue(e)
		}
		return m
	}
	return jsonValue(v)
}

func jsonValue(v any) any {
	switch x := v.(type) {
	case map[string]any:
		return jsonValues(x)
	case map[any]any:
		m := make(map[string]any, len(x))
		for k, e := range x {
			m[fmt.Sprint(k)] = jsonValue(e)
		}
		return m
	case []any:
		out := make([]any, len(x))
		for i, e := range x {
			out[i] = jsonValue(e)
		}
		return out
	}
	return v
}

// loader reads one promptfoo config and the files it references.
type loader struct {
	doc      *yamldoc.Doc
	dir      string
	errs     yamldoc.Errors
	warns    yamldoc.Errors
	reported map[string]bool
	// parts are the files the config references (prompt, test, var and
	// assertion files): they are the config's, not suites of their own.
	parts []string
}

func (l *loader) errorf(file string, line int, format string, args ...any) {
	l.errs = append(l.errs, &yamldoc.Error{File: file, Line: line, Msg: fmt.Sprintf(format, args...)})
}

// warnf records an unsupported or ignored feature for lint, once per
// place and message.
func (l *loader) warnf(file string, line int, format string, args ...any) {
	e := &yamldoc.Error{File: file, Line: line, Msg: fmt.Sprintf(format, args...)}
	key := e.Error()
	if l.reported[key] {
		return
	}
	if l.reported == nil {
		l.reported = map[string]bool{}
	}
	l.reported[key] = true
	l.warns = append(l.warns, e)
}

// resolve returns the path a file:// reference names, relative to dir.
func resolve(dir, ref string) string {
	p := strings.TrimPrefix(ref, "file://")
	if filepath.IsAbs(p) {
		return p
	}
	return filepath.Join(dir, p)
}

// splitFunction splits "path.js:fn" into the path and the function name.
func splitFunction(p string) (string, string) {
	for _, ext := range []string{".js:", ".cjs:", ".mjs:", ".py:", ".ts:"} {
		if i := strings.LastIndex(p, ext); i >= 0 {
			return p[:i+len(ext)-1], p[i+len(ext):]
		}
	}
	return p, ""
}

// glob expands a path with wildcards into the files it matches, sorted; a
// path without any is returned as is.
func glob(p string) ([]string, error) {
	if !strings.ContainsAny(p, "*?[") {
		return []string{p}, nil
	}
	m, err := filepath.Glob(p)
	if err != nil {
		return nil, err
	}
	if len(m) == 0 {
		return nil, fmt.Errorf("no file matches %s", p)
	}
	slices.Sort(m)
	return m, nil
}

// prompts reads the config's prompts: a string, a list of strings and
// prompt objects, or a mapping of file paths to labels.
func (l *loader) prompts(n *yaml.Node) []prompt {
	file := l.doc.File
	if n == nil {
		l.errorf(file, 1, "prompts: a promptfoo config needs prompts")
		return nil
	}
	var out []prompt
	add := func(entry *yaml.Node, label, id string) {
		if entry.Kind != yaml.ScalarNode {
			l.errorf(file, entry.Line, "prompts: want a prompt text, a file:// path or a prompt object")
			return
		}
		out = append(out, l.promptEntry(entry.Value, label, id, entry.Line)...)
	}
	switch n.Kind {
	case yaml.ScalarNode:
		add(n, "", "")
	case yaml.SequenceNode:
		for _, e := range n.Content {
			if e.Kind != yaml.MappingNode {
				add(e, "", "")
				continue
			}
			var obj struct {
				ID    string `yaml:"id"`
				Label string `yaml:"label"`
				Raw   string `yaml:"raw"`
			}
			for i := 0; i+1 < len(e.Content); i += 2 {
				switch k := e.Content[i].Value; k {
				case "id", "label", "raw":
				case "config":
					l.warnf(file, e.Content[i].Line, "prompts: a prompt's config (provider options) is not applied: the target's settings are used")
				default:
					l.warnf(file, e.Content[i].Line, "prompts: field %q is not supported and is ignored", k)
				}
			}
			if err := e.Decode(&obj); err != nil {
				l.errorf(file, e.Line, "prompts: %v", err)
				continue
			}
			id := cmp.Or(obj.Label, obj.ID)
			switch {
			case obj.Raw != "":
				out = append(out, prompt{raw: obj.Raw, label: cmp.Or(obj.Label, obj.ID, obj.Raw), id: id, file: file, line: e.Line})
			case obj.ID != "":
				out = append(out, l.promptEntry(obj.ID, obj.Label, id, e.Line)...)
			default:
				l.errorf(file, e.Line, "prompts: a prompt object needs raw or id")
			}
		}
	case yaml.MappingNode:
		// {file://path: label}
		for i := 0; i+1 < len(n.Content); i += 2 {
			k, v := n.Content[i], n.Content[i+1]
			out = append(out, l.promptEntry(k.Value, v.Value, v.Value, k.Line)...)
		}
	}
	if len(out) == 0 && len(l.errs) == 0 {
		l.errorf(file, n.Line, "prompts: no prompts")
	}
	return out
}

// promptEntry reads one prompt entry: inline text, or a file:// path to a
// text file (prompts split on lines of ---), a JSON or YAML chat file.
func (l *loader) promptEntry(text, label, id string, line int) []prompt {
	file := l.doc.File
	if !strings.HasPrefix(text, "file://") {
		return []prompt{{raw: text, label: cmp.Or(label, text), id: id, file: file, line: line}}
	}
	ref := strings.TrimPrefix(text, "file://")
	if p, fn := splitFunction(ref); fn != "" || isCode(p) {
		l.errorf(file, line, "prompts: prompt functions (%s) are not supported: write the prompt as text, a chat JSON/YAML file or a Nunjucks template", text)
		return nil
	}
	paths, err := glob(resolve(l.dir, text))
	if err != nil {
		l.errorf(file, line, "prompts: %v", err)
		return nil
	}
	var out []prompt
	for _, p := range paths {
		data, err := yamldoc.ReadRegular(p, yamldoc.MaxFileBytes)
		if err != nil {
			l.errorf(file, line, "prompts: %v", err)
			continue
		}
		l.parts = append(l.parts, p)
		switch strings.ToLower(filepath.Ext(p)) {
		case ".json":
			out = append(out, prompt{raw: string(data), label: cmp.Or(label, text), id: id, file: p, line: 1})
		case ".yaml", ".yml":
			var v any
			if err := yaml.Unmarshal(data, &v); err != nil {
				l.errorf(p, 1, "invalid YAML prompt file: %v", err)
				continue
			}
			b, err := json.Marshal(jsonValue(v))
			if err != nil {
				l.errorf(p, 1, "prompt file: %v", err)
				continue
			}
			out = append(out, prompt{raw: string(b), label: cmp.Or(label, text), id: id, file: p, line: 1})
		default:
			for _, part := range splitPrompts(string(data)) {
				lbl := text + ": " + part.text
				if label != "" {
					lbl = label + ": " + lbl
				}
				out = append(out, prompt{raw: part.text, label: lbl, id: id, file: p, line: part.line})
			}
		}
	}
	return out
}

func isCode(p string) bool {
	switch strings.ToLower(filepath.Ext(p)) {
	case ".js", ".cjs", ".mjs", ".ts", ".py":
		return true
	}
	return false
}

type promptPart struct {
	text string
	line int
}

// splitPrompts splits a prompt file on lines that are "---" (trimmed);
// each prompt is trimmed and empty ones are dropped, as promptfoo does.
func splitPrompts(s string) []promptPart {
	var (
		out   []promptPart
		buf   []string
		start = 1
	)
	lines := regexp.MustCompile(`\r?\n`).Split(s, -1)
	flush := func(next int) {
		if t := strings.TrimSpace(strings.Join(buf, "\n")); t != "" {
			out = append(out, promptPart{text: t, line: start})
		}
		buf, start = nil, next
	}
	for i, ln := range lines {
		if strings.TrimSpace(ln) == "---" {
			flush(i + 2)
			continue
		}
		buf = append(buf, ln)
	}
	flush(0)
	return out
}

// tests reads the tests a tests: value lists: inline tests, and file://
// references to test files (see testFile).
func (l *loader) tests(n *yaml.Node, field string) []*test {
	if n == nil || n.Kind == 0 {
		return nil
	}
	var out []*test
	switch n.Kind {
	case yaml.ScalarNode:
		out = append(out, l.testFile(n.Value, l.doc.File, n.Line, field)...)
	case yaml.SequenceNode:
		for _, e := range n.Content {
			if e.Kind == yaml.ScalarNode {
				out = append(out, l.testFile(e.Value, l.doc.File, e.Line, field)...)
				continue
			}
			out = append(out, l.testNode(e, l.doc.File, field))
		}
	default:
		l.errorf(l.doc.File, n.Line, "%s: want a list of tests or a file:// path", field)
	}
	return out
}

// testFile reads the tests of a file:// reference (CSV, JSONL, JSON or
// YAML; globs allowed).
func (l *loader) testFile(ref, file string, line int, field string) []*test {
	if !strings.HasPrefix(ref, "file://") {
		if strings.Contains(ref, "://") {
			l.errorf(file, line, "%s: %s: only file:// test sources are supported", field, ref)
		} else {
			l.errorf(file, line, "%s: want a test or a file:// path, got %q", field, ref)
		}
		return nil
	}
	paths, err := glob(resolve(filepath.Dir(file), ref))
	if err != nil {
		l.errorf(file, line, "%s: %v", field, err)
		return nil
	}
	var out []*test
	for _, p := range paths {
		if isCode(p) {
			l.errorf(file, line, "%s: test generators (%s) are not supported: list the tests in CSV, JSONL, JSON or YAML", field, ref)
			continue
		}
		data, err := yamldoc.ReadRegular(p, MaxDatasetBytes)
		if err != nil {
			l.errorf(file, line, "%s: %v", field, err)
			continue
		}
		l.parts = append(l.parts, p)
		switch strings.ToLower(filepath.Ext(p)) {
		case ".csv":
			out = append(out, l.csvTests(p, data)...)
		case ".jsonl":
			for i, ln := range bytes.Split(data, []byte("\n")) {
				if len(bytes.TrimSpace(ln)) == 0 {
					continue
				}
				var node yaml.Node
				if err := yaml.Unmarshal(ln, &node); err != nil || len(node.Content) == 0 {
					l.errorf(p, i+1, "invalid JSON line: %v", err)
					continue
				}
				setLine(node.Content[0], i+1)
				out = append(out, l.testNode(node.Content[0], p, "tests"))
			}
		case ".json", ".yaml", ".yml":
			var node yaml.Node
			if err := yaml.Unmarshal(data, &node); err != nil {
				l.errorf(p, 1, "invalid test file: %v", err)
				continue
			}
			if len(node.Content) == 0 {
				continue
			}
			root := node.Content[0]
			switch root.Kind {
			case yaml.SequenceNode:
				for _, e := range root.Content {
					out = append(out, l.testNode(e, p, "tests"))
				}
			case yaml.MappingNode:
				out = append(out, l.testNode(root, p, "tests"))
			default:
				l.errorf(p, root.Line, "want a list of tests")
			}
		default:
			l.errorf(file, line, "%s: %s: unsupported test file format (want .csv, .jsonl, .json, .yaml or .yml)", field, ref)
		}
	}
	return out
}

// setLine sets the line of n and everything under it (a JSONL row is
// parsed alone: its lines are all 1).
func setLine(n *yaml.Node, line int) {
	n.Line = line
	for _, c := range n.Content {
		setLine(c, line)
	}
}

// testNode reads one test written as YAML (or JSON) in file.
func (l *loader) testNode(n *yaml.Node, file, field string) *test {
	t := &test{vars: newOrdered(), file: file, line: n.Line}
	if n.Kind != yaml.MappingNode {
		l.errorf(file, n.Line, "%s: a test must be a mapping", field)
		return t
	}
	for i := 0; i+1 < len(n.Content); i += 2 {
		k, v := n.Content[i], n.Content[i+1]
		switch k.Value {
		case "description":
			t.description = v.Value
		case "vars":
			if v.Kind == yaml.ScalarNode && strings.HasPrefix(v.Value, "file://") {
				t.vars = l.varsFile(v.Value, file, v.Line)
				continue
			}
			o, err := orderedFromNode(v)
			if err != nil {
				l.errorf(file, v.Line, "vars: %v", err)
				continue
			}
			t.vars = o
		case "assert":
			if v.Kind != yaml.SequenceNode {
				l.errorf(file, v.Line, "assert: want a list of assertions")
				continue
			}
			for _, a := range v.Content {
				t.asserts = append(t.asserts, l.assertionNode(a, file))
			}
		case "options":
			l.options(v, file, t)
		case "threshold":
			f, err := strconv.ParseFloat(v.Value, 64)
			if err != nil {
				l.errorf(file, v.Line, "threshold: want a number, got %q", v.Value)
				continue
			}
			t.threshold = &f
		case "metadata":
			var m any
			_ = v.Decode(&m)
			if mm, ok := jsonValues(m).(map[string]any); ok {
				t.metadata = mm
			}
		case "prompts":
			var ps []string
			if err := v.Decode(&ps); err != nil {
				l.errorf(file, v.Line, "prompts: want a list of prompt labels or ids")
				continue
			}
			t.prompts = ps
		case "provider", "providers":
			l.warnf(file, k.Line, "%s: ignored: Driftwatch runs every test on the targets the run names (--target or a schedule)", k.Value)
		default:
			t.problems = append(t.problems, fmt.Sprintf("test field %q is not supported", k.Value))
			l.warnf(file, k.Line, "test field %q is not supported: the test's cases are skipped", k.Value)
		}
	}
	return t
}

// varsFile reads a test's vars from a YAML or JSON file.
func (l *loader) varsFile(ref, file string, line int) *ordered {
	p := resolve(filepath.Dir(file), ref)
	data, err := yamldoc.ReadRegular(p, yamldoc.MaxFileBytes)
	if err != nil {
		l.errorf(file, line, "vars: %v", err)
		return newOrdered()
	}
	l.parts = append(l.parts, p)
	var node yaml.Node
	if err := yaml.Unmarshal(data, &node); err != nil || len(node.Content) == 0 {
		l.errorf(p, 1, "invalid vars file: %v", err)
		return newOrdered()
	}
	o, err := orderedFromNode(node.Content[0])
	if err != nil {
		l.errorf(p, 1, "%v", err)
		return newOrdered()
	}
	return o
}

// options reads a test's options.
func (l *loader) options(n *yaml.Node, file string, t *test) {
	if n.Kind != yaml.MappingNode {
		l.errorf(file, n.Line, "options: want a mapping")
		return
	}
	for i := 0; i+1 < len(n.Content); i += 2 {
		k, v := n.Content[i], n.Content[i+1]
		switch k.Value {
		case "transform":
			t.options.transform, t.options.transformFile = v.Value, file
		case "prefix":
			t.options.prefix = v.Value
		case "suffix":
			t.options.suffix = v.Value
		case "disableVarExpansion":
			t.options.disableVarExpansion = v.Value == "true"
		case "provider":
			l.warnf(file, k.Line, "options.provider: the grading provider is the config's judge: (or embedder:) target")
		case "runSerially", "cache", "storeOutputAs":
			l.warnf(file, k.Line, "options.%s: ignored", k.Value)
		default:
			t.problems = append(t.problems, fmt.Sprintf("options.%s is not supported", k.Value))
			l.warnf(file, k.Line, "options.%s is not supported: the test's cases are skipped", k.Value)
		}
	}
}

// assertionNode reads one assertion.
func (l *loader) assertionNode(n *yaml.Node, file string) *assertion {
	a := &assertion{file: file, line: n.Line}
	if n.Kind != yaml.MappingNode {
		l.errorf(file, n.Line, "assert: an assertion must be a mapping with a type")
		return a
	}
	for i := 0; i+1 < len(n.Content); i += 2 {
		k, v := n.Content[i], n.Content[i+1]
		switch k.Value {
		case "type":
			a.typ = v.Value
		case "value":
			var x any
			if err := v.Decode(&x); err != nil {
				l.errorf(file, v.Line, "value: %v", err)
			}
			a.value = jsonValue(x)
		case "threshold":
			f, err := strconv.ParseFloat(v.Value, 64)
			if err != nil {
				l.errorf(file, v.Line, "threshold: want a number, got %q", v.Value)
				continue
			}
			a.threshold = &f
		case "weight":
			f, err := strconv.ParseFloat(v.Value, 64)
			if err != nil || f < 0 {
				l.errorf(file, v.Line, "weight: want a number >= 0, got %q", v.Value)
				continue
			}
			a.weight = &f
		case "metric":
			a.metric = v.Value
		case "transform":
			a.transform = v.Value
		case "config":
			var x any
			_ = v.Decode(&x)
			if m, ok := jsonValues(x).(map[string]any); ok {
				a.config = m
			}
		case "provider":
			l.warnf(file, k.Line, "provider: the grading provider is the config's judge: (or embedder:) target")
		default:
			a.problem = fmt.Sprintf("assertion field %q is not supported", k.Value)
		}
	}
	if a.typ == "" {
		l.errorf(file, n.Line, "assert: an assertion needs a type")
	}
	return a
}

// csvTests reads a CSV test file: a column per var, plus promptfoo's
// special columns (__expected*, __description, __metadata:KEY,
// __threshold, __metric, __prefix, __suffix, __config:__expectedN:threshold).
func (l *loader) csvTests(path string, data []byte) []*test {
	r := csv.NewReader(bytes.NewReader(data))
	r.FieldsPerRecord = -1
	header, err := r.Read()
	if err != nil {
		l.errorf(path, 1, "read CSV header: %v", err)
		return nil
	}
	for i := range header {
		header[i] = strings.TrimSpace(strings.TrimPrefix(header[i], "\ufeff"))
	}
	var out []*test
	for {
		rec, err := r.Read()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			var pe *csv.ParseError
			if errors.As(err, &pe) {
				l.errorf(path, pe.Line, "invalid CSV: %v", pe.Err)
			} else {
				l.errorf(path, 0, "read CSV: %v", err)
			}
			return out
		}
		line, _ := r.FieldPos(0)
		out = append(out, l.csvRow(path, line, header, rec))
	}
	return out
}

var expectedIndexRE = regexp.MustCompile(`^__expected(\d*)$`)

func (l *loader) csvRow(path string, line int, header, rec []string) *test {
	t := &test{vars: newOrdered(), file: path, line: line}
	var (
		metric  string
		configs = map[int]float64{} // assertion index -> threshold
	)
	for i, h := range header {
		v := ""
		if i < len(rec) {
			v = rec[i]
		}
		switch {
		case strings.HasPrefix(h, "__expected"):
			if strings.TrimSpace(v) != "" {
				a := assertionFromString(strings.TrimSpace(v))
				a.file, a.line = path, line
				t.asserts = append(t.asserts, a)
			}
		case h == "__description":
			t.description = v
		case h == "__prefix":
			t.options.prefix = v
		case h == "__suffix":
			t.options.suffix = v
		case h == "__metric":
			metric = v
		case h == "__threshold":
			if f, err := strconv.ParseFloat(strings.TrimSpace(v), 64); err == nil {
				t.threshold = &f
			}
		case strings.HasPrefix(h, "__metadata:"):
			key := strings.TrimPrefix(h, "__metadata:")
			if strings.TrimSpace(v) == "" {
				continue
			}
			if t.metadata == nil {
				t.metadata = map[string]any{}
			}
			if strings.HasSuffix(key, "[]") {
				var vals []any
				for _, s := range splitEscaped(v) {
					vals = append(vals, s)
				}
				t.metadata[strings.TrimSuffix(key, "[]")] = vals
			} else {
				t.metadata[key] = v
			}
		case h == "__metadata":
			l.warnf(path, 1, "the __metadata column needs a key (__metadata:KEY): ignored")
		case strings.HasPrefix(h, "__config:"):
			parts := strings.Split(strings.TrimPrefix(h, "__config:"), ":")
			m := expectedIndexRE.FindStringSubmatch(parts[0])
			if len(parts) != 2 || parts[1] != "threshold" || m == nil {
				l.errorf(path, 1, "column %s: want __config:__expectedN:threshold", h)
				continue
			}
			idx := 0
			if m[1] != "" {
				n, _ := strconv.Atoi(m[1])
				idx = n - 1
			}
			f, err := strconv.ParseFloat(strings.TrimSpace(v), 64)
			if err != nil || math.IsInf(f, 0) || math.IsNaN(f) {
				// promptfoo rejects the file for it, even for an empty cell.
				l.errorf(path, line, "column %s: invalid numeric value %q", h, v)
				continue
			}
			if idx >= 0 {
				configs[idx] = f
			}
		case strings.HasPrefix(h, "__"):
			t.problems = append(t.problems, fmt.Sprintf("CSV column %s is not supported", h))
			l.warnf(path, 1, "CSV column %s is not supported: its tests are skipped", h)
		default:
			t.vars.set(h, v)
		}
	}
	for i, a := range t.asserts {
		if metric != "" {
			a.metric = metric
		}
		if th, ok := configs[i]; ok {
			a.threshold = &th
		}
	}
	return t
}

// splitEscaped splits a __metadata:KEY[] value on commas not preceded by
// a backslash, trimming each value and unescaping "\,".
func splitEscaped(v string) []string {
	var (
		out []string
		cur strings.Builder
	)
	for i := 0; i < len(v); i++ {
		switch {
		case v[i] == '\\' && i+1 < len(v) && v[i+1] == ',':
			cur.WriteByte(',')
			i++
		case v[i] == ',':
			out = append(out, strings.TrimSpace(cur.String()))
			cur.Reset()
		default:
			cur.WriteByte(v[i])
		}
	}
	return append(out, strings.TrimSpace(cur.String()))
}
