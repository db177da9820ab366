// Package yamlsuite loads suites written as YAML plus an optional dataset
// (the YAML suite contract documented in the README) into eval.Suite values.
//
// A suite file names a prompt template (Go text/template over the case's
// variables), an optional system prompt or a list of messages, sampling
// params, samples per case, checks (eval/check specs whose string values are
// templates too), an optional answer extractor, and cases given inline and/or
// in a JSONL or CSV dataset. Every template is rendered when the suite loads,
// so a reference to a missing variable is reported with the file and line of
// the case before anything is sent to a model.
package yamlsuite

import (
	"bufio"
	"bytes"
	"cmp"
	"context"
	"crypto/sha256"
	"encoding/csv"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"maps"
	"math"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"sort"
	"strconv"
	"strings"
	"sync"
	"text/template"
	"text/template/parse"
	"unicode/utf8"

	"gopkg.in/yaml.v3"

	"github.com/driftwatch/driftwatch/eval"
	"github.com/driftwatch/driftwatch/eval/check"
	"github.com/driftwatch/driftwatch/eval/extract"
	"github.com/driftwatch/driftwatch/internal/yamldoc"
)

// Options are the dependencies some checks need.
type Options struct {
	Check check.Options
	// Only, when set, makes LoadPaths load just the suites with these
	// names (others are not rendered: a large unselected suite costs
	// nothing).
	Only []string
}

// file is the YAML suite format.
type file struct {
	Name        string         `yaml:"name"`
	Description string         `yaml:"description"`
	Samples     int            `yaml:"samples"`
	Params      eval.Params    `yaml:"params"`
	System      string         `yaml:"system"`
	Prompt      string         `yaml:"prompt"`
	Messages    []message      `yaml:"messages"`
	Tools       []tool         `yaml:"tools"`
	Dataset     string         `yaml:"dataset"`
	Extract     *extract.Spec  `yaml:"extract"`
	Checks      []yaml.Node    `yaml:"checks"`
	Threshold   *float64       `yaml:"threshold"`
	Tags        []string       `yaml:"tags"`
	Vars        map[string]any `yaml:"vars"`
	Cases       []caseSpec     `yaml:"cases"`
}

type message struct {
	Role    string `yaml:"role"`
	Content string `yaml:"content"`
}

type tool struct {
	Name        string         `yaml:"name"`
	Description string         `yaml:"description"`
	Parameters  map[string]any `yaml:"parameters"`
}

type caseSpec struct {
	ID        string         `yaml:"id"`
	Vars      map[string]any `yaml:"vars"`
	Prompt    string         `yaml:"prompt"`
	System    *string        `yaml:"system"`
	Messages  []message      `yaml:"messages"`
	Params    *eval.Params   `yaml:"params"`
	Checks    []yaml.Node    `yaml:"checks"`
	Threshold *float64       `yaml:"threshold"`
	Extract   *extract.Spec  `yaml:"extract"`
	Tags      []string       `yaml:"tags"`
}

// Suite is a loaded YAML suite.
type Suite struct {
	name        string
	File        string
	Description string
	samples     int
	cases       []eval.Case
	reqs        []*eval.Request // parallel to cases

	reqOnce  sync.Once
	requests map[string]*eval.Request // built on the first Request call
}

// Name implements eval.Suite.
func (s *Suite) Name() string { return s.name }

// Cases implements eval.Suite.
func (s *Suite) Cases() []eval.Case { return s.cases }

// Request returns the request a case sends (nil for an unknown id). Dry
// runs use it to estimate tokens and cost.
func (s *Suite) Request(caseID string) *eval.Request {
	s.reqOnce.Do(func() {
		s.requests = make(map[string]*eval.Request, len(s.cases))
		for i := range s.cases {
			s.requests[s.cases[i].ID] = s.reqs[i]
		}
	})
	return s.requests[caseID]
}

// Samples implements eval.SuiteInfo.
func (s *Suite) Samples() int { return s.samples }

// Load reads one suite file. The error, if any, is a yamldoc.Errors listing
// every problem found, each with file:line.
func Load(path string, opts Options) (*Suite, error) {
	return LoadContext(context.Background(), path, opts)
}

// LoadContext is Load, stopped when ctx ends (a large dataset takes
// seconds to read): it then returns ctx's error.
func LoadContext(ctx context.Context, path string, opts Options) (*Suite, error) {
	return loadFile(ctx, path, opts, true)
}

// loadFile is LoadContext; without plan, every case renders and decodes
// every check (tests compare the two).
func loadFile(ctx context.Context, path string, opts Options, plan bool) (*Suite, error) {
	doc, err := yamldoc.ReadFile(path)
	if err != nil {
		return nil, err
	}
	var f file
	if err := doc.Decode(&f, nil); err != nil {
		return nil, err
	}
	l := loader{doc: doc, f: &f, opts: opts, tmpls: map[string]*compiled{}, noPlans: !plan}
	return l.load(ctx)
}

// LoadPaths loads every suite in paths (files, or folders searched for
// *.yaml / *.yml files, non-recursively into hidden folders or datasets).
// Suite names must be unique. All problems of all files are reported together.
func LoadPaths(paths []string, opts Options) ([]*Suite, error) {
	return LoadPathsContext(context.Background(), paths, opts)
}

// LoadPathsContext is LoadPaths, stopped when ctx ends: it then returns
// ctx's error alone.
func LoadPathsContext(ctx context.Context, paths []string, opts Options) ([]*Suite, error) {
	files, err := SuiteFiles(paths)
	if err != nil {
		return nil, err
	}
	var (
		out    []*Suite
		errs   yamldoc.Errors
		byName = map[string]string{}
	)
	for _, p := range files {
		if len(opts.Only) > 0 {
			// Skip unselected suites before rendering their cases; a file
			// whose name cannot be read is loaded to report its errors.
			if n, ok := suiteName(p); ok && !slices.Contains(opts.Only, n) {
				continue
			}
		}
		s, err := LoadContext(ctx, p, opts)
		if ctx.Err() != nil {
			return nil, fmt.Errorf("load suites: %w", context.Cause(ctx))
		}
		if err != nil {
			var es yamldoc.Errors
			var e *yamldoc.Error
			switch {
			case errors.As(err, &es):
				errs = append(errs, es...)
			case errors.As(err, &e):
				errs = append(errs, e)
			default:
				errs = append(errs, &yamldoc.Error{File: p, Msg: err.Error()})
			}
			continue
		}
		if prev, dup := byName[s.name]; dup {
			errs = append(errs, &yamldoc.Error{File: p, Line: 1, Field: "name", Msg: fmt.Sprintf("duplicate suite name %q (also in %s)", s.name, prev)})
			continue
		}
		byName[s.name] = p
		out = append(out, s)
	}
	return out, errs.Err()
}

// Names returns the names of the suites in paths (files or folders, as
// LoadPaths takes them), sorted, without rendering any case: what an
// "unknown suite" message lists when LoadPaths loaded only some suites. A
// file whose name cannot be read is left out.
func Names(paths []string) ([]string, error) {
	files, err := SuiteFiles(paths)
	if err != nil {
		return nil, err
	}
	var names []string
	for _, p := range files {
		if n, ok := suiteName(p); ok {
			names = append(names, n)
		}
	}
	slices.Sort(names)
	return slices.Compact(names), nil
}

// suiteName reads the name of the suite in file p, or reports false.
func suiteName(p string) (string, bool) {
	doc, err := yamldoc.ReadFile(p)
	if err != nil {
		return "", false
	}
	n := yamldoc.Lookup(doc.Root, "name")
	return n.Value, n != doc.Root
}

// SuiteFiles expands folders into the suite files they contain, sorted.
func SuiteFiles(paths []string) ([]string, error) {
	var files []string
	for _, p := range paths {
		st, err := os.Stat(p)
		if err != nil {
			return nil, fmt.Errorf("suite path %s: %w", p, err)
		}
		if !st.IsDir() {
			files = append(files, p)
			continue
		}
		// A trailing separator makes WalkDir enter a folder given as a
		// symbolic link (a mounted ConfigMap, a shared checkout) instead of
		// reporting the link itself and finding no suites.
		root := p
		if !strings.HasSuffix(root, string(filepath.Separator)) {
			root += string(filepath.Separator)
		}
		err = filepath.WalkDir(root, func(path string, d fs.DirEntry, err error) error {
			if err != nil {
				return err
			}
			if d.IsDir() && path != root && (strings.HasPrefix(d.Name(), ".") || d.Name() == "testdata") {
				return filepath.SkipDir
			}
			if !d.IsDir() && (strings.HasSuffix(path, ".yaml") || strings.HasSuffix(path, ".yml")) {
				files = append(files, path)
			}
			return nil
		})
		if err != nil {
			return nil, fmt.Errorf("walk %s: %w", p, err)
		}
	}
	sort.Strings(files)
	return files, nil
}

type loader struct {
	doc   *yamldoc.Doc
	f     *file
	opts  Options
	errs  yamldoc.Errors
	tmpls map[string]*compiled
	// budget meters template renderings against the limits.
	budget budget
	// buf is reused by every template execution; hbuf and henc by every
	// content hash.
	buf  bytes.Buffer
	hbuf bytes.Buffer
	henc *json.Encoder
	hin  hashInput
	// sbuf and senc encode the specs of a case's checks for its hash;
	// offs and specs delimit them.
	sbuf  bytes.Buffer
	senc  *json.Encoder
	sspec check.Spec
	offs  []int
	specs []json.RawMessage
	// plans holds, per suite-level check, what every case can share.
	plans   []checkPlan
	noPlans bool
	// reported holds errors already reported (checkError's and
	// reportOnce's), so that a bad suite-level check or template is
	// reported once, not once per case.
	reported map[string]bool
	// groups holds the errors reported once for several cases.
	groups map[string]*rowGroup
	// badText is set when the suite file holds text that cannot be stored.
	badText bool
}

// row is one case before rendering, with where it came from.
type row struct {
	spec caseSpec
	file string
	line int
	path []any // YAML path for inline cases
}

var idRE = regexp.MustCompile(`^[A-Za-z0-9_.:@+-]+(/[A-Za-z0-9_.:@+-]+)*$`)

func (l *loader) errorf(path []any, format string, args ...any) {
	l.errs = append(l.errs, l.doc.Errorf(path, format, args...))
}

func (l *loader) load(ctx context.Context) (*Suite, error) {
	f := l.f
	if f.Name == "" {
		l.errorf([]any{"name"}, "a suite needs a name")
	} else if strings.ContainsAny(f.Name, "/ \t") {
		l.errorf([]any{"name"}, "suite name %q must not contain slashes or spaces", f.Name)
	}
	if f.Samples < 0 {
		l.errorf([]any{"samples"}, "must not be negative, got %d (0 or absent means the config's samples)", f.Samples)
	} else if f.Samples > MaxSamples {
		l.errorf([]any{"samples"}, "at most %d, got %d", MaxSamples, f.Samples)
	}
	l.checkText()
	l.checkFields()
	if f.Prompt == "" && len(f.Messages) == 0 {
		hasOwn := len(f.Cases) > 0
		for _, c := range f.Cases {
			if c.Prompt == "" && len(c.Messages) == 0 {
				hasOwn = false
			}
		}
		if !hasOwn {
			l.errorf([]any{"prompt"}, "a suite needs a prompt (or messages), at the top or in every case")
		}
	}
	for i, m := range f.Messages {
		l.checkRole(m.Role, []any{"messages", i, "role"})
	}
	var rows []row
	for i, c := range f.Cases {
		rows = append(rows, row{spec: c, file: l.doc.File, line: l.doc.Line("cases", i), path: []any{"cases", i}})
	}
	if f.Dataset != "" {
		dr, err := readDataset(ctx, l.doc.File, f.Dataset)
		var located *yamldoc.Error
		switch {
		case ctx.Err() != nil:
			return nil, fmt.Errorf("suite %s: %w", l.doc.File, context.Cause(ctx))
		case errors.As(err, &located):
			l.errs = append(l.errs, located)
		case err != nil:
			l.errorf([]any{"dataset"}, "%v", err)
		}
		if rows == nil {
			rows = dr
		} else {
			rows = append(rows, dr...)
		}
	}
	if len(rows) == 0 && len(l.errs) == 0 {
		l.errorf([]any{"cases"}, "a suite needs cases (inline cases: or a dataset:)")
	}
	var extractor eval.Extractor
	if f.Extract != nil {
		ex, err := extract.New(*f.Extract)
		if err != nil {
			l.errorf([]any{"extract"}, "%v", err)
		}
		extractor = ex
	}
	tools, err := convertTools(f.Tools)
	if err != nil {
		l.errorf([]any{"tools"}, "%v", err)
	}
	s := &Suite{name: f.Name, File: l.doc.File, Description: f.Description, samples: f.Samples}
	if len(rows) > 0 && !l.noPlans {
		l.plans = make([]checkPlan, len(f.Checks))
		for i := range f.Checks {
			l.plans[i] = l.plan(&f.Checks[i], i)
		}
	}
	// ids points into rows (a row is large; the map once held copies).
	ids := make(map[string]int, len(rows))
	s.cases = make([]eval.Case, 0, len(rows))
	s.reqs = make([]*eval.Request, 0, len(rows))
	for i := range rows {
		if i%1024 == 0 && ctx.Err() != nil {
			return nil, fmt.Errorf("suite %s: %w", l.doc.File, context.Cause(ctx))
		}
		r := rows[i]
		c, req, ok := l.buildCase(r, extractor, tools)
		rows[i] = row{file: r.file, line: r.line} // the rest is garbage now
		if !ok {
			continue
		}
		if prev, dup := ids[c.ID]; dup {
			l.rowErrorf(r, "id", "duplicate case id %q (first at %s:%d)", c.ID, rows[prev].file, rows[prev].line)
			continue
		}
		ids[c.ID] = i
		s.cases = append(s.cases, c)
		s.reqs = append(s.reqs, req)
	}
	l.finishGroups()
	// The suite file's problems in line order, then its dataset's.
	slices.SortStableFunc(l.errs, func(a, b *yamldoc.Error) int {
		return cmp.Compare(l.lineInSuite(a), l.lineInSuite(b))
	})
	if err := l.errs.Err(); err != nil {
		return nil, err
	}
	return s, nil
}

// lineInSuite orders errors: those of the suite file by line, those of
// other files (its dataset) after them.
func (l *loader) lineInSuite(e *yamldoc.Error) int {
	if e.File != l.doc.File {
		return math.MaxInt
	}
	return e.Line
}

// checkFields reports what decoding the file does not: unknown fields in
// checks (kept as YAML nodes until each case renders them), sampling
// parameters no provider accepts and thresholds outside [0, 1], for the
// suite and its inline cases, at their lines.
func (l *loader) checkFields() {
	f := l.f
	params := func(p eval.Params, path ...any) {
		for _, pp := range p.Problems() {
			l.errorf(append(path, "params", pp.Field), "%s", pp.Msg)
		}
	}
	threshold := func(t *float64, path ...any) {
		if t != nil && !(*t >= 0 && *t <= 1) {
			l.errorf(append(path, "threshold"), "must be between 0 and 1 (the weighted share of checks that pass), got %v", *t)
		}
	}
	checks := func(ns []yaml.Node, path ...any) {
		for i := range ns {
			p := append(path[:len(path):len(path)], "checks", i)
			l.errs = append(l.errs, l.doc.UnknownFields(&ns[i], check.Spec{}, p...)...)
		}
	}
	params(f.Params)
	threshold(f.Threshold)
	checks(f.Checks)
	for i, c := range f.Cases {
		if c.Params != nil {
			params(*c.Params, "cases", i)
		}
		threshold(c.Threshold, "cases", i)
		checks(c.Checks, "cases", i)
	}
}

func (l *loader) checkRole(role string, path []any) {
	switch role {
	case eval.RoleSystem, eval.RoleUser, eval.RoleAssistant:
	default:
		l.errorf(path, "unknown role %q (want system, user or assistant)", role)
	}
}

func (l *loader) rowErrorf(r row, field, format string, args ...any) {
	if r.path != nil {
		p := append(append([]any{}, r.path...), field)
		l.errorf(p, format, args...)
		return
	}
	l.errs = append(l.errs, &yamldoc.Error{File: r.file, Line: r.line, Field: field, Msg: fmt.Sprintf(format, args...)})
}

// buildCase renders the templates of one row and compiles its checks into
// a case and the request it sends. It reports false, with the problems in
// l.errs, when the row does not make a case.
func (l *loader) buildCase(r row, suiteEx eval.Extractor, tools []eval.Tool) (eval.Case, *eval.Request, bool) {
	f, cs := l.f, r.spec
	nerr := len(l.errs)
	l.checkRowVars(r)
	vars := caseVars(f.Vars, cs.Vars, cs.ID)
	msgs, msgsOK := l.caseMessages(vars, r)
	params := f.Params
	if cs.Params != nil {
		params = params.Merge(*cs.Params)
	}
	threshold := f.Threshold
	if cs.Threshold != nil {
		threshold = cs.Threshold
	}
	checks, checksOK := l.caseChecks(vars, r, threshold)
	ex := l.caseExtractor(r, suiteEx)
	if msgsOK && len(l.errs) == nerr {
		msgsOK = l.checkMessages(r, msgs)
	}
	if len(l.errs) > nerr || !msgsOK || !checksOK {
		return eval.Case{}, nil, false
	}

	req := &eval.Request{Messages: msgs, Params: params, Tools: tools}
	hasChecks := len(f.Checks)+len(cs.Checks) > 0
	hash := l.contentHash(req, hasChecks, extractSpec(f, cs), threshold)
	id := cs.ID
	if id == "" {
		id = hash
	} else if !idRE.MatchString(id) {
		l.rowErrorf(r, "id", "case id %q may only contain letters, digits, _ . : @ + - and /", id)
		return eval.Case{}, nil, false
	}
	tags := append(append([]string{}, f.Tags...), cs.Tags...)
	return eval.Case{
		ID:   id,
		Hash: hash,
		Tags: tags,
		File: r.file,
		Line: r.line,
		Func: caseFunc(req, checks, ex),
	}, req, true
}

// checkRowVars reports a dataset row's string that cannot be stored (a NUL
// byte, invalid UTF-8), at the row.
func (l *loader) checkRowVars(r row) {
	if r.path != nil {
		return // the suite file's own text: see checkText
	}
	for _, k := range slices.Sorted(maps.Keys(r.spec.Vars)) {
		if v, isStr := r.spec.Vars[k].(string); isStr {
			if p := textProblem(v); p != "" {
				l.rowErrorf(r, k, "%s", p)
			}
		}
	}
}

// checkMessages reports a rendered message that cannot be stored (a NUL
// byte, invalid UTF-8), at the row. It reports false on a problem.
func (l *loader) checkMessages(r row, msgs []eval.Message) bool {
	for i, m := range msgs {
		if l.badText {
			break // the suite's own text is reported already
		}
		if p := textProblem(m.Content); p != "" {
			e := &yamldoc.Error{File: r.file, Line: r.line, Msg: fmt.Sprintf("the case's rendered message %d (%s) %s", i+1, m.Role, p)}
			if r.path != nil {
				e.Field = yamldoc.FieldName(r.path...)
			}
			l.errs = append(l.errs, e)
			return false
		}
	}
	return true
}

// checkText reports the suite file's text values that cannot be sent or
// stored (a NUL byte, invalid UTF-8), at their lines.
func (l *loader) checkText() {
	var walk func(n *yaml.Node, path []any)
	walk = func(n *yaml.Node, path []any) {
		switch n.Kind {
		case yaml.DocumentNode, yaml.SequenceNode:
			for i, c := range n.Content {
				p := path
				if n.Kind == yaml.SequenceNode {
					p = append(path[:len(path):len(path)], i)
				}
				walk(c, p)
			}
		case yaml.MappingNode:
			for i := 0; i+1 < len(n.Content); i += 2 {
				walk(n.Content[i+1], append(path[:len(path):len(path)], n.Content[i].Value))
			}
		case yaml.ScalarNode:
			if p := textProblem(n.Value); p != "" {
				l.badText = true
				l.errs = append(l.errs, &yamldoc.Error{File: l.doc.File, Line: n.Line, Field: yamldoc.FieldName(path...), Msg: "text " + p})
			}
		}
	}
	walk(l.doc.Root, nil)
}

// caseVars returns the variables a case's templates see: the suite's vars,
// overridden by the case's own, and "id", the case id. When the suite has
// no vars it returns the case's own map, updated: nothing reads that map
// after the case is built.
func caseVars(suiteVars, own map[string]any, id string) map[string]any {
	var vars map[string]any
	if len(suiteVars) == 0 && own != nil {
		vars = own
	} else {
		vars = make(map[string]any, len(suiteVars)+len(own)+1)
		for k, v := range suiteVars {
			vars[k] = v
		}
		for k, v := range own {
			vars[k] = v
		}
	}
	if v, ok := vars["id"].(string); !ok || v != id {
		vars["id"] = id
	}
	return vars
}

// caseMessages renders the messages a case sends: the system prompt (the
// case's, else the suite's), then the case's messages or prompt, else the
// suite's. It reports false when a template failed: one that does not
// parse is reported once, where it is written; one that fails for this
// case's variables against the row.
func (l *loader) caseMessages(vars map[string]any, r row) ([]eval.Message, bool) {
	f, cs := l.f, &r.spec
	var msgs []eval.Message
	ok := true
	add := func(role, text string, src tmplSrc) {
		out, rendered := l.renderField(vars, r, text, src)
		ok = ok && rendered
		msgs = append(msgs, eval.Message{Role: role, Content: out})
	}
	switch {
	case cs.System != nil && *cs.System != "":
		add(eval.RoleSystem, *cs.System, tmplSrc{own: true, field: "system"})
	case cs.System == nil && f.System != "":
		add(eval.RoleSystem, f.System, tmplSrc{field: "system"})
	}
	switch {
	case len(cs.Messages) > 0:
		for i, m := range cs.Messages {
			if r.path != nil {
				l.checkRole(m.Role, append(slices.Clip(r.path), "messages", i, "role"))
			}
			add(m.Role, m.Content, tmplSrc{own: true, field: "messages", i: i})
		}
	case cs.Prompt != "":
		add(eval.RoleUser, cs.Prompt, tmplSrc{own: true, field: "prompt"})
	case len(f.Messages) > 0:
		for i, m := range f.Messages {
			add(m.Role, m.Content, tmplSrc{field: "messages", i: i})
		}
	default:
		add(eval.RoleUser, f.Prompt, tmplSrc{field: "prompt"})
	}
	return msgs, ok
}

// tmplSrc is where a template a case renders is written: in the case's
// own field (own) or the suite's; for messages, in item i's content.
type tmplSrc struct {
	own   bool
	field string // system, prompt or messages
	i     int
}

// path returns the path of the template in the suite file, for row r.
func (s tmplSrc) path(r row) []any {
	var p []any
	if s.own {
		p = slices.Clip(r.path)
	}
	if s.field == "messages" {
		return append(p, s.field, s.i, "content")
	}
	return append(p, s.field)
}

// renderField renders text, the template of a case's field written at src.
// A template that does not parse is reported once, where it is written;
// one that fails for the case's variables against the row. It reports
// false on a failure. Text without actions is returned as is.
func (l *loader) renderField(vars map[string]any, r row, text string, src tmplSrc) (string, bool) {
	if !strings.Contains(text, "{{") {
		return text, true
	}
	out, err := l.render(text, vars)
	if err == nil {
		return out, true
	}
	var pe *parseError
	p := src.path(r)
	switch _, limited := asLimitError(err); {
	case errors.As(err, &pe):
		l.parseErrorAt(yamldoc.Lookup(l.doc.Root, p...), yamldoc.FieldName(p...), pe)
	case limited || r.path == nil:
		// The template's fault, or a dataset's rows: once, at the template.
		l.reportForRows(&yamldoc.Error{File: l.doc.File, Line: yamldoc.Lookup(l.doc.Root, p...).Line,
			Field: yamldoc.FieldName(p...), Msg: err.Error()}, r, limited)
	default:
		l.rowErrorf(r, src.field, "%v", err)
	}
	return out, false
}

// rowGroup is an error that several cases make alike, reported once.
type rowGroup struct {
	err        *yamldoc.Error
	file       string
	line, more int
}

// reportForRows reports e, the error of a template that case r made, once
// for every case that makes it: at the template, naming the first such
// case and how many more (see finishGroups). A limit error is counted
// once: the template is not run again for the other cases.
func (l *loader) reportForRows(e *yamldoc.Error, r row, limited bool) {
	key := e.Error()
	if g, ok := l.groups[key]; ok {
		if !limited {
			g.more++
		}
		return
	}
	if l.groups == nil {
		l.groups = map[string]*rowGroup{}
	}
	l.groups[key] = &rowGroup{err: e, file: r.file, line: r.line}
	l.errs = append(l.errs, e)
}

// finishGroups adds to each grouped error the case that made it first.
func (l *loader) finishGroups() {
	for _, g := range l.groups {
		where := fmt.Sprintf("%s:%d", g.file, g.line)
		if g.file == l.doc.File {
			where = fmt.Sprintf("line %d", g.line)
		}
		if g.more == 0 {
			g.err.Msg += fmt.Sprintf(" (for the case at %s)", where)
		} else {
			g.err.Msg += fmt.Sprintf(" (for the case at %s and %d more)", where, g.more)
		}
	}
}

// parseErrorAt reports pe, the error of the template in the scalar n at
// field, at the line of the template where it is known, once: a template
// that does not parse fails alike for every case.
func (l *loader) parseErrorAt(n *yaml.Node, field string, pe *parseError) {
	line, msg := n.Line, pe.Error()
	switch {
	case pe.line <= 1:
	case n.Style&yaml.LiteralStyle != 0:
		// A literal block keeps its lines: the template's first is the
		// one after the indicator.
		line += pe.line
	default:
		msg += fmt.Sprintf(" (line %d of the template)", pe.line)
	}
	l.reportOnce(&yamldoc.Error{File: l.doc.File, Line: line, Field: field, Msg: msg})
}

// reportOnce adds e to the errors unless the same error was reported
// already: a problem of the suite's own text is the same for every case.
func (l *loader) reportOnce(e *yamldoc.Error) {
	key := e.Error()
	if l.reported[key] {
		return
	}
	if l.reported == nil {
		l.reported = map[string]bool{}
	}
	l.reported[key] = true
	l.errs = append(l.errs, e)
}

// caseChecks compiles a case's checks, the suite's first, into the
// checkers its samples run: one per check, or with a threshold a single
// weighted checker over all of them. The JSON of their specs, for the
// content hash, goes into l.sbuf, each ending at an offset in l.offs. It
// reports false when a check failed; the failure is reported now or, for
// a suite-level check that fails alike for every case, was reported once.
func (l *loader) caseChecks(vars map[string]any, r row, threshold *float64) ([]eval.Checker, bool) {
	suiteChecks, ownChecks := l.f.Checks, r.spec.Checks
	l.sbuf.Reset()
	l.offs = l.offs[:0]
	if l.senc == nil {
		l.senc = json.NewEncoder(&l.sbuf)
	}
	nChecks := len(suiteChecks) + len(ownChecks)
	if nChecks == 0 {
		return nil, true
	}
	// Every check either builds or fails the case, so the slices end up
	// full.
	checks := make([]eval.Checker, 0, nChecks)
	var weights []float64 // with a threshold
	if threshold != nil {
		weights = make([]float64, 0, nChecks)
	}
	ok := true
	for i := range nChecks {
		var node *yaml.Node
		if i < len(suiteChecks) {
			node = &suiteChecks[i]
		} else {
			node = &ownChecks[i-len(suiteChecks)]
		}
		c, weight, built := l.caseCheck(node, i, vars, r)
		if !built {
			ok = false
			continue
		}
		checks = append(checks, c)
		if threshold != nil {
			weights = append(weights, weight)
		}
	}
	if threshold != nil && len(checks) > 0 {
		ws := make([]check.WeightedCheck, len(checks))
		for i, c := range checks {
			ws[i] = check.WeightedCheck{Check: c, Weight: weights[i]}
		}
		checks = []eval.Checker{check.Weighted(ws, *threshold)}
	}
	return checks, ok
}

// caseCheck builds check i of a case, whose YAML is node: as l.plans says
// for a suite-level check, else by rendering and decoding the node. It
// appends the JSON of the check's spec to l.sbuf and returns the check and
// its weight, or reports false when it failed (see caseChecks).
func (l *loader) caseCheck(node *yaml.Node, i int, vars map[string]any, r row) (eval.Checker, float64, bool) {
	var kind planKind // planSlow for a case's own check
	if i < len(l.plans) {
		kind = l.plans[i].kind
	}
	var (
		spec check.Spec
		ok   bool
	)
	chk := checkAt{n: node, suite: i < len(l.f.Checks), i: i, casePath: r.path}
	if !chk.suite {
		chk.i -= len(l.f.Checks)
	}
	switch kind {
	case planLiteral:
		return l.literalCheck(&l.plans[i], node, i, r)
	case planFill:
		spec, ok = l.fill(&l.plans[i], vars, r, chk)
	default:
		spec, ok = l.decodeCheck(vars, r, chk)
	}
	if !ok {
		return nil, 0, false // a template failed: the spec is incomplete
	}
	c, err := check.New(spec, l.opts.Check)
	if err != nil {
		l.checkError(r, *node, i < len(l.f.Checks), i, err)
		return nil, 0, false
	}
	// json.Marshal's bytes, and a newline (contentHash drops it).
	l.sspec = spec
	_ = l.senc.Encode(&l.sspec)
	l.offs = append(l.offs, l.sbuf.Len()-1)
	return c, spec.Weight, true
}

// literalCheck is caseCheck for suite-level check i, which has no
// templates: plan built it once for every case.
func (l *loader) literalCheck(p *checkPlan, node *yaml.Node, i int, r row) (eval.Checker, float64, bool) {
	switch {
	case p.decodeErrs != nil:
		for _, e := range p.decodeErrs {
			l.reportOnce(e)
		}
		return nil, 0, false
	case p.newErr != nil:
		l.checkError(r, *node, true, i, p.newErr)
		return nil, 0, false
	}
	l.sbuf.Write(p.json)
	l.offs = append(l.offs, l.sbuf.Len())
	return p.check, p.weight, true
}

// caseExtractor returns the extractor of a case: its own, else the suite's.
func (l *loader) caseExtractor(r row, suiteEx eval.Extractor) eval.Extractor {
	if r.spec.Extract == nil {
		return suiteEx
	}
	ex, err := extract.New(*r.spec.Extract)
	if err != nil {
		l.rowErrorf(r, "extract", "%v", err)
	}
	return ex
}

// contentHash returns a case's content hash, 16 hex digits of the SHA-256
// of its hashInput's JSON. The specs of its checks (when it has any) are
// the JSON caseChecks left in l.sbuf. The hash is of the bytes one Encode
// call writes (a reused buffer and encoder; the same bytes a hash.Hash
// writer would receive): TestContentHashesPinned pins them.
func (l *loader) contentHash(req *eval.Request, hasChecks bool, exSpec any, threshold *float64) string {
	if l.henc == nil {
		l.henc = json.NewEncoder(&l.hbuf)
	}
	var specsJSON []json.RawMessage // nil without checks: null in the hash
	if hasChecks {
		l.specs = l.specs[:0]
		sb, start := l.sbuf.Bytes(), 0
		for _, end := range l.offs {
			l.specs = append(l.specs, sb[start:end])
			start = end
			if start < len(sb) && sb[start] == '\n' {
				start++
			}
		}
		specsJSON = l.specs
	}
	l.hbuf.Reset()
	l.hin = hashInput{req, specsJSON, exSpec, threshold}
	_ = l.henc.Encode(&l.hin)
	l.hin = hashInput{}
	sum := sha256.Sum256(l.hbuf.Bytes())
	return hex.EncodeToString(sum[:8]) // 16 hex digits
}

// hashInput is what a case's content hash covers, JSON-encoded.
type hashInput struct {
	Req     *eval.Request
	Checks  []json.RawMessage
	Extract any
	T       *float64
}

// fill returns the spec of a planFill check for a case: the decoded spec
// with its templated strings rendered. It reports template failures as
// decodeCheck does.
func (l *loader) fill(p *checkPlan, vars map[string]any, r row, chk checkAt) (check.Spec, bool) {
	spec := p.base
	if p.values {
		spec.Values = slices.Clone(p.base.Values)
	}
	failed := false
	for _, sl := range p.slots {
		v, ok := l.renderScalar(sl.n, vars, r, chk)
		if !ok {
			failed = true
			continue
		}
		switch sl.field {
		case "type":
			spec.Type = v
		case "value":
			spec.Value = v
		case "path":
			spec.Path = v
		case "ref":
			spec.Ref = v
		case "values":
			spec.Values[sl.index] = v
		}
	}
	return spec, !failed
}

// decodeCheck renders the check chk and decodes it, reporting failures,
// each at the line and field of the bad value. An error that the check's
// own text makes is reported once; one that its rendered templates make
// names the case (a dataset row: is reported at the row).
func (l *loader) decodeCheck(vars map[string]any, r row, chk checkAt) (check.Spec, bool) {
	var spec check.Spec
	n, ok := l.renderNode(chk.n, vars, r, chk)
	if !ok {
		return spec, false // a template failed: the spec is incomplete
	}
	errs := l.doc.DecodeNode(n, &spec, chk.path()...)
	if errs == nil {
		return spec, true
	}
	var written yamldoc.Errors // the errors of the check as written
	if chk.suite && hasTemplate(chk.n) {
		written = l.doc.DecodeNode(chk.n, new(check.Spec), chk.path()...)
	}
	for _, e := range errs {
		switch {
		case !chk.suite || !hasTemplate(chk.n) || slices.ContainsFunc(written, func(w *yamldoc.Error) bool { return *w == *e }):
		case r.path == nil:
			e = &yamldoc.Error{File: r.file, Line: r.line, Field: e.Field,
				Msg: fmt.Sprintf("%s (in the check at %s:%d)", e.Msg, e.File, e.Line)}
		default:
			e.Msg = caseLabel(r.spec.ID) + e.Msg
		}
		l.reportOnce(e)
	}
	return spec, false
}

// checkError reports a check that check.New rejected, at the check's line.
// A suite-level check fails the same way for every case unless its rendered
// templates make the difference, so an error already reported for the same
// check is not repeated. A templated check's error names the first case.
func (l *loader) checkError(r row, n yaml.Node, suiteLevel bool, i int, err error) {
	field := fmt.Sprintf("checks[%d]", i)
	if !suiteLevel {
		field = yamldoc.FieldName(append(append([]any{}, r.path...), "checks", i-len(l.f.Checks))...)
	}
	key := fmt.Sprintf("%d\x00%s\x00%s", n.Line, field, err)
	if l.reported[key] {
		return
	}
	if l.reported == nil {
		l.reported = map[string]bool{}
	}
	l.reported[key] = true
	msg := err.Error()
	if suiteLevel && hasTemplate(&n) {
		msg = caseLabel(r.spec.ID) + msg
	}
	l.errs = append(l.errs, &yamldoc.Error{File: l.doc.File, Line: n.Line, Field: field, Msg: msg})
}

// hasTemplate reports whether any scalar under n contains "{{".
func hasTemplate(n *yaml.Node) bool {
	if n.Kind == yaml.ScalarNode {
		return strings.Contains(n.Value, "{{")
	}
	for _, c := range n.Content {
		if hasTemplate(c) {
			return true
		}
	}
	return false
}

func caseLabel(id string) string {
	if id == "" {
		return ""
	}
	return fmt.Sprintf("case %q: ", id)
}

func extractSpec(f *file, cs caseSpec) any {
	if cs.Extract != nil {
		return cs.Extract
	}
	return f.Extract
}

// caseFunc is what runs for each sample of a YAML case: one call, the checks
// on its output, and the extraction. The request is built once at load.
func caseFunc(req *eval.Request, checks []eval.Checker, ex eval.Extractor) func(*eval.T) {
	return func(t *eval.T) {
		resp := t.ChatRequest(req)
		if len(checks) > 0 {
			t.Check(resp.Text, checks...)
		}
		if ex != nil {
			t.Extract(resp.Text, ex)
		}
	}
}

// compiled is a parsed template and, when it is only text and {{.name}}
// actions, those pieces, which render without text/template's reflection.
type compiled struct {
	t      *template.Template
	pieces []piece
	simple bool
	err    *parseError // the template does not parse
	limit  *limitError // the template went past a limit
}

// piece is literal text, or (key != "") the variable key.
type piece struct{ text, key string }

func compile(t *template.Template) *compiled {
	c := &compiled{t: t}
	if t.Tree == nil || t.Tree.Root == nil || len(t.Templates()) != 1 {
		return c
	}
	actions := 0
	for _, n := range t.Tree.Root.Nodes {
		switch n := n.(type) {
		case *parse.TextNode:
			c.pieces = append(c.pieces, piece{text: string(n.Text)})
		case *parse.ActionNode:
			p := n.Pipe
			if p == nil || len(p.Decl) > 0 || p.IsAssign || len(p.Cmds) != 1 || len(p.Cmds[0].Args) != 1 {
				return c
			}
			f, ok := p.Cmds[0].Args[0].(*parse.FieldNode)
			if !ok || len(f.Ident) != 1 || f.Ident[0] == "" {
				return c
			}
			c.pieces = append(c.pieces, piece{key: f.Ident[0]})
			actions++
		default:
			return c
		}
	}
	c.simple = actions > 0
	return c
}

// appendSimple renders simple pieces as text/template would, or reports
// false for anything but a present string, finite float64, int or bool
// variable (text/template then renders, or reports the error).
func appendSimple(b *bytes.Buffer, ps []piece, vars map[string]any) bool {
	for _, p := range ps {
		if p.key == "" {
			b.WriteString(p.text)
			continue
		}
		switch v := vars[p.key].(type) {
		case string:
			b.WriteString(v)
		case float64: // fmt's %v: shortest 'g'
			if math.IsInf(v, 0) || math.IsNaN(v) {
				return false
			}
			b.Write(strconv.AppendFloat(b.AvailableBuffer(), v, 'g', -1, 64))
		case int:
			b.Write(strconv.AppendInt(b.AvailableBuffer(), int64(v), 10))
		case bool:
			b.Write(strconv.AppendBool(b.AvailableBuffer(), v))
		default: // missing, nil or another type
			return false
		}
	}
	return true
}

// render renders the template text with vars. A template that does not
// parse gives a *parseError (remembered: it is parsed once).
func (l *loader) render(text string, vars map[string]any) (string, error) {
	tm, ok := l.tmpls[text]
	if !ok {
		t, err := template.New("t").Option("missingkey=error").Funcs(l.budget.funcs()).Parse(text)
		if err != nil {
			tm = &compiled{err: newParseError(err)}
		} else {
			tm = compile(t)
			instrument(t)
		}
		l.tmpls[text] = tm
	}
	if tm.err != nil {
		return "", tm.err
	}
	if tm.limit != nil {
		return "", tm.limit // a template past a limit once is not run again
	}
	b := &l.buf
	b.Reset()
	if tm.simple && appendSimple(b, tm.pieces, vars) {
		return b.String(), nil
	}
	b.Reset()
	l.budget.begin()
	err := tm.t.Execute(cappedWriter{b}, vars)
	l.budget.end()
	if le, ok := asLimitError(err); ok {
		tm.limit = le
		return "", le
	}
	if err != nil {
		return "", trimTemplateErr(err)
	}
	return b.String(), nil
}

// parseError is a template that does not parse: wrong wherever it is
// used, whatever the variables.
type parseError struct {
	line int // in the template, 1-based; 0 when unknown
	msg  string
}

func (e *parseError) Error() string { return "template: " + e.msg }

var (
	missingKeyRE = regexp.MustCompile(`map has no entry for key "([^"]+)"`)
	// text/template's errors start "template: NAME:LINE:" (parsing) or
	// "template: NAME:LINE:COL: executing "NAME" at <...>:" (executing).
	parseErrRE = regexp.MustCompile(`^template: t:(\d+): `)
	execErrRE  = regexp.MustCompile(`^template: t:\d+(?::\d+)?: (?:executing "t" )?`)
)

// newParseError makes text/template's parse error readable: without the
// template's internal name and line, which parseErrorAt turns into the
// file's.
func newParseError(err error) *parseError {
	msg := err.Error()
	if m := parseErrRE.FindStringSubmatch(msg); m != nil {
		line, _ := strconv.Atoi(m[1])
		return &parseError{line: line, msg: msg[len(m[0]):]}
	}
	return &parseError{msg: strings.TrimPrefix(msg, "template: ")}
}

// trimTemplateErr makes an execution error readable.
func trimTemplateErr(err error) error {
	msg := err.Error()
	if m := missingKeyRE.FindStringSubmatch(msg); m != nil {
		return fmt.Errorf("template refers to missing variable %q", m[1])
	}
	if m := execErrRE.FindString(msg); m != "" {
		msg = "template: " + msg[len(m):]
	}
	return errors.New(msg)
}

// renderNode returns a copy of n, a node of the check at path chk, whose
// string scalars are rendered as templates. It reports false when a
// template failed (see renderScalar).
func (l *loader) renderNode(n *yaml.Node, vars map[string]any, r row, chk checkAt) (*yaml.Node, bool) {
	c := *n
	ok := true
	switch n.Kind {
	case yaml.ScalarNode:
		if strings.Contains(n.Value, "{{") {
			c.Value, ok = l.renderScalar(n, vars, r, chk)
		}
	case yaml.MappingNode, yaml.SequenceNode:
		c.Content = make([]*yaml.Node, len(n.Content))
		for i, ch := range n.Content {
			var chOK bool
			c.Content[i], chOK = l.renderNode(ch, vars, r, chk)
			ok = ok && chOK
		}
	}
	return &c, ok
}

// checkAt is a check's node and where it is in the suite file.
type checkAt struct {
	n        *yaml.Node
	suite    bool  // a suite-level check, else one of the case's own
	i        int   // its index in the suite's checks or the case's
	casePath []any // the case's path, for its own checks
}

// path returns the path of the check in the suite file.
func (c checkAt) path() []any {
	if c.suite {
		return []any{"checks", c.i}
	}
	return append(slices.Clip(c.casePath), "checks", c.i)
}

// renderScalar renders the templated scalar n of the check chk, reporting
// a failure (and returning false): a template that does not parse once,
// at its field; one that fails for a case's variables against the case.
func (l *loader) renderScalar(n *yaml.Node, vars map[string]any, r row, chk checkAt) (string, bool) {
	v, err := l.render(n.Value, vars)
	if err == nil {
		return v, true
	}
	field := func() string { return yamldoc.FieldName(append(chk.path(), nodePath(chk.n, n)...)...) }
	var pe *parseError
	switch _, limited := asLimitError(err); {
	case errors.As(err, &pe):
		l.parseErrorAt(n, field(), pe)
	case limited || r.path == nil:
		// The template's fault, or a dataset's rows: once, at the template.
		l.reportForRows(&yamldoc.Error{File: l.doc.File, Line: n.Line, Field: field(), Msg: err.Error()}, r, limited)
	default:
		l.errs = append(l.errs, &yamldoc.Error{File: l.doc.File, Line: n.Line, Field: field(), Msg: caseLabel(r.spec.ID) + err.Error()})
	}
	return v, false
}

// nodePath returns the path of the node target under n (the keys and
// indexes from n to it), or nil when it is n or not found.
func nodePath(n, target *yaml.Node) []any {
	if n == target {
		return nil
	}
	switch n.Kind {
	case yaml.MappingNode:
		for i := 0; i+1 < len(n.Content); i += 2 {
			if v := n.Content[i+1]; v == target {
				return []any{n.Content[i].Value}
			} else if p := nodePath(v, target); p != nil {
				return append([]any{n.Content[i].Value}, p...)
			}
		}
	case yaml.SequenceNode:
		for i, v := range n.Content {
			if v == target {
				return []any{i}
			} else if p := nodePath(v, target); p != nil {
				return append([]any{i}, p...)
			}
		}
	}
	return nil
}

// checkPlan is how every case builds one suite-level check.
type checkPlan struct {
	kind planKind
	// planLiteral: the outcome of decoding and building the check.
	decodeErrs yamldoc.Errors
	newErr     error
	check      eval.Checker
	weight     float64
	json       json.RawMessage
	// planFill: the spec decoded from the unrendered node, and the
	// templated scalars (in document order) that replace its fields.
	base   check.Spec
	slots  []slot
	values bool // a slot is in Values
}

type planKind int

const (
	planSlow    planKind = iota // render the node and decode it per case
	planLiteral                 // no templates: build once
	planFill                    // templates only as whole string fields
)

// slot is a templated scalar that decodes to a string field of the spec.
type slot struct {
	n     *yaml.Node
	field string // type, value, path, ref or values
	index int    // in values
}

// plan decides how cases build the suite-level check n. Decoding a
// rendered node gives the spec decoded from the unrendered node with the
// rendered strings in place when each templated scalar is a !!str scalar
// that is the whole of a string (or any) field, or an item of values:
// such a scalar decodes as its text whatever that is.
func (l *loader) plan(n *yaml.Node, i int) checkPlan {
	if !hasTemplate(n) {
		var spec check.Spec
		if errs := l.doc.DecodeNode(n, &spec, "checks", i); errs != nil {
			return checkPlan{kind: planLiteral, decodeErrs: errs}
		}
		c, err := check.New(spec, l.opts.Check)
		if err != nil {
			return checkPlan{kind: planLiteral, newErr: err}
		}
		b, _ := json.Marshal(spec)
		return checkPlan{kind: planLiteral, check: c, weight: spec.Weight, json: b}
	}
	if n.Kind != yaml.MappingNode || hasAlias(n) {
		return checkPlan{}
	}
	p := checkPlan{kind: planFill}
	for j := 0; j+1 < len(n.Content); j += 2 {
		k, v := n.Content[j], n.Content[j+1]
		if k.Kind != yaml.ScalarNode || k.ShortTag() != "!!str" || strings.Contains(k.Value, "{{") {
			return checkPlan{}
		}
		if !hasTemplate(v) {
			continue
		}
		switch k.Value {
		case "type", "value", "path", "ref":
			if !strScalar(v) {
				return checkPlan{}
			}
			p.slots = append(p.slots, slot{n: v, field: k.Value})
		case "values":
			if v.Kind != yaml.SequenceNode {
				return checkPlan{}
			}
			for i, e := range v.Content {
				if !hasTemplate(e) {
					continue
				}
				if !strScalar(e) {
					return checkPlan{}
				}
				p.slots = append(p.slots, slot{n: e, field: "values", index: i})
				p.values = true
			}
		default:
			return checkPlan{}
		}
	}
	if err := n.Decode(&p.base); err != nil {
		return checkPlan{}
	}
	for _, sl := range p.slots {
		if sl.field == "values" && sl.index >= len(p.base.Values) {
			return checkPlan{}
		}
	}
	return p
}

func strScalar(n *yaml.Node) bool {
	return n.Kind == yaml.ScalarNode && n.ShortTag() == "!!str"
}

// hasAlias reports whether n or anything under it is an alias.
func hasAlias(n *yaml.Node) bool {
	if n.Kind == yaml.AliasNode {
		return true
	}
	for _, c := range n.Content {
		if hasAlias(c) {
			return true
		}
	}
	return false
}

func convertTools(ts []tool) ([]eval.Tool, error) {
	var out []eval.Tool
	for _, t := range ts {
		if t.Name == "" {
			return nil, errors.New("a tool needs a name")
		}
		var params json.RawMessage
		if t.Parameters != nil {
			b, err := json.Marshal(normalize(t.Parameters))
			if err != nil {
				return nil, fmt.Errorf("tool %q parameters: %v", t.Name, err)
			}
			params = b
		}
		out = append(out, eval.Tool{Name: t.Name, Description: t.Description, Parameters: params})
	}
	return out, nil
}

// normalize turns yaml's map[string]any trees into JSON-encodable values.
func normalize(v any) any {
	switch x := v.(type) {
	case map[string]any:
		m := make(map[string]any, len(x))
		for k, e := range x {
			m[k] = normalize(e)
		}
		return m
	case map[any]any:
		m := make(map[string]any, len(x))
		for k, e := range x {
			m[fmt.Sprint(k)] = normalize(e)
		}
		return m
	case []any:
		for i := range x {
			x[i] = normalize(x[i])
		}
		return x
	default:
		return v
	}
}

// readDataset reads a JSONL or CSV dataset, named as the suite file
// suiteFile gives it; each row becomes a case whose variables are the row's
// fields. An "id" field names the case. The dataset must be a regular file
// of at most MaxDatasetBytes inside the suite's folder tree (after symbolic
// links are resolved): a link to /etc/shadow, /dev/zero or a FIFO is
// refused, without reading it. Reading stops with ctx's error when ctx
// ends.
func readDataset(ctx context.Context, suiteFile, name string) ([]row, error) {
	path := name
	if !filepath.IsAbs(path) {
		path = filepath.Join(filepath.Dir(suiteFile), path)
	}
	real, err := filepath.EvalSymlinks(path)
	if err != nil {
		if errors.Is(err, fs.ErrNotExist) {
			return nil, fmt.Errorf("dataset file %s not found", path)
		}
		return nil, fmt.Errorf("open dataset: %v", err)
	}
	base, err := filepath.EvalSymlinks(filepath.Dir(suiteFile))
	if err != nil {
		return nil, fmt.Errorf("open dataset: %v", err)
	}
	base, err1 := filepath.Abs(base)
	real, err2 := filepath.Abs(real)
	if err := errors.Join(err1, err2); err != nil {
		return nil, fmt.Errorf("open dataset: %v", err)
	}
	if rel, err := filepath.Rel(base, real); err != nil || rel == ".." || strings.HasPrefix(rel, ".."+string(filepath.Separator)) {
		return nil, fmt.Errorf("dataset %s is %s, outside the suite's folder %s: a dataset must live in the suite's folder or below it", name, real, base)
	}
	fh, err := yamldoc.OpenRegular(real, MaxDatasetBytes)
	if err != nil {
		return nil, fmt.Errorf("dataset %s: %v", name, err)
	}
	defer fh.Close()
	switch strings.ToLower(filepath.Ext(path)) {
	case ".jsonl", ".ndjson":
		return readJSONL(ctx, path, fh)
	case ".csv":
		return readCSV(ctx, path, fh)
	default:
		return nil, fmt.Errorf("dataset %s: unsupported format (want .jsonl or .csv)", path)
	}
}

// datasetCheckEvery is how many rows a dataset reader reads between two
// looks at its ctx.
const datasetCheckEvery = 4096

// stopped returns the error of a dataset read that ctx ended.
func stopped(ctx context.Context, path string) error {
	return fmt.Errorf("read dataset %s: %w", path, context.Cause(ctx))
}

func readJSONL(ctx context.Context, path string, r io.Reader) ([]row, error) {
	var rows []row
	if f, ok := r.(io.ReadSeeker); ok {
		// Count the lines first (cheap) so rows, which are large, grow once.
		if n := countLines(f); n > 0 {
			rows = make([]row, 0, n)
		}
		if _, err := f.Seek(0, io.SeekStart); err != nil {
			return nil, &yamldoc.Error{File: path, Line: 1, Msg: err.Error()}
		}
	}
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 64*1024), 16*1024*1024)
	line := 0
	keys := map[string]string{} // interned keys
	for sc.Scan() {
		line++
		if line%datasetCheckEvery == 0 && ctx.Err() != nil {
			return nil, stopped(ctx, path)
		}
		b := bytes.TrimSpace(sc.Bytes())
		if len(b) == 0 {
			continue
		}
		vars, ok := parseFlatObject(b, keys)
		if id, isStr := vars["id"].(string); ok && isStr && len(b) > 256 {
			// The id outlives the row: do not let it hold a long row.
			vars["id"] = strings.Clone(id)
		}
		if !ok {
			if err := json.Unmarshal(b, &vars); err != nil {
				return nil, &yamldoc.Error{File: path, Line: line, Msg: "invalid JSON: " + err.Error()}
			}
		}
		rows = append(rows, datasetRow(path, line, vars))
	}
	if err := sc.Err(); err != nil {
		return nil, &yamldoc.Error{File: path, Line: line + 1, Msg: err.Error()}
	}
	return rows, nil
}

// countLines counts the lines r holds, stopping at any error.
func countLines(r io.Reader) int {
	buf := make([]byte, 64*1024)
	n := 0
	for {
		k, err := r.Read(buf)
		n += bytes.Count(buf[:k], []byte{'\n'})
		if err != nil {
			return n + 1
		}
	}
}

// parseFlatObject decodes the common JSONL row, a JSON object whose values
// are strings without escapes, numbers, booleans or null, to what
// json.Unmarshal into a map[string]any gives, with one allocation for the
// strings. Anything else (and anything invalid) reports false, for
// json.Unmarshal to decode or to report the error.
func parseFlatObject(b []byte, keys map[string]string) (map[string]any, bool) {
	// Every string value is a slice of one copy of the row.
	var text string
	str := func(i int) (int, int, bool) { // b[i] == '"': the bounds of the content
		for j := i + 1; j < len(b); j++ {
			switch c := b[j]; {
			case c == '"':
				if !utf8.Valid(b[i+1 : j]) {
					return 0, 0, false
				}
				return i + 1, j, true
			case c == '\\' || c < 0x20:
				return 0, 0, false
			}
		}
		return 0, 0, false
	}
	ws := func(i int) int {
		for i < len(b) && (b[i] == ' ' || b[i] == '\t' || b[i] == '\n' || b[i] == '\r') {
			i++
		}
		return i
	}
	i := ws(0)
	if i >= len(b) || b[i] != '{' {
		return nil, false
	}
	m := make(map[string]any, bytes.Count(b, []byte{':'})+1)
	i = ws(i + 1)
	if i < len(b) && b[i] == '}' {
		return m, ws(i+1) == len(b)
	}
	for {
		if i >= len(b) || b[i] != '"' {
			return nil, false
		}
		ks, ke, ok := str(i)
		if !ok {
			return nil, false
		}
		key, ok := keys[string(b[ks:ke])]
		if !ok {
			key = string(b[ks:ke])
			keys[key] = key
		}
		i = ws(ke + 1)
		if i >= len(b) || b[i] != ':' {
			return nil, false
		}
		i = ws(i + 1)
		if i >= len(b) {
			return nil, false
		}
		switch c := b[i]; {
		case c == '"':
			vs, ve, ok := str(i)
			if !ok {
				return nil, false
			}
			if text == "" {
				text = string(b)
			}
			m[key] = text[vs:ve]
			i = ve + 1
		case c == '-' || c >= '0' && c <= '9':
			e := numberEnd(b, i)
			if e < 0 {
				return nil, false
			}
			f, err := strconv.ParseFloat(string(b[i:e]), 64)
			if err != nil {
				return nil, false
			}
			m[key] = f
			i = e
		case bytes.HasPrefix(b[i:], []byte("true")):
			m[key] = true
			i += 4
		case bytes.HasPrefix(b[i:], []byte("false")):
			m[key] = false
			i += 5
		case bytes.HasPrefix(b[i:], []byte("null")):
			m[key] = nil
			i += 4
		default:
			return nil, false
		}
		i = ws(i)
		if i >= len(b) {
			return nil, false
		}
		switch b[i] {
		case ',':
			i = ws(i + 1)
		case '}':
			return m, ws(i+1) == len(b)
		default:
			return nil, false
		}
	}
}

// numberEnd returns the end of the JSON number starting at b[i], or -1.
func numberEnd(b []byte, i int) int {
	digits := func(i int) int {
		for i < len(b) && b[i] >= '0' && b[i] <= '9' {
			i++
		}
		return i
	}
	if b[i] == '-' {
		i++
	}
	switch {
	case i < len(b) && b[i] == '0':
		i++
	case i < len(b) && b[i] >= '1' && b[i] <= '9':
		i = digits(i + 1)
	default:
		return -1
	}
	if i < len(b) && b[i] == '.' {
		j := digits(i + 1)
		if j == i+1 {
			return -1
		}
		i = j
	}
	if i < len(b) && (b[i] == 'e' || b[i] == 'E') {
		i++
		if i < len(b) && (b[i] == '+' || b[i] == '-') {
			i++
		}
		j := digits(i)
		if j == i {
			return -1
		}
		i = j
	}
	return i
}

func readCSV(ctx context.Context, path string, r io.Reader) ([]row, error) {
	cr := csv.NewReader(r)
	header, err := cr.Read()
	if err != nil {
		return nil, &yamldoc.Error{File: path, Line: 1, Msg: "read CSV header: " + err.Error()}
	}
	var rows []row
	for {
		if len(rows)%datasetCheckEvery == 0 && ctx.Err() != nil {
			return nil, stopped(ctx, path)
		}
		rec, err := cr.Read()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			var pe *csv.ParseError
			if errors.As(err, &pe) {
				return nil, &yamldoc.Error{File: path, Line: pe.Line, Msg: "invalid CSV: " + pe.Err.Error()}
			}
			return nil, fmt.Errorf("read %s: %v", path, err)
		}
		line, _ := cr.FieldPos(0)
		vars := make(map[string]any, len(header))
		for i, h := range header {
			if i < len(rec) {
				vars[h] = rec[i]
			}
		}
		rows = append(rows, datasetRow(path, line, vars))
	}
	return rows, nil
}

func datasetRow(path string, line int, vars map[string]any) row {
	cs := caseSpec{Vars: vars}
	if id, ok := vars["id"]; ok {
		switch v := id.(type) {
		case string:
			cs.ID = v
		case float64:
			cs.ID = strconv.FormatFloat(v, 'f', -1, 64)
		default:
			cs.ID = fmt.Sprint(v)
		}
	}
	return row{spec: cs, file: path, line: line}
}
