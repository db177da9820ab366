package promptfoo

import (
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"path/filepath"
	"regexp"
	"sort"
	"strconv"
	"strings"
	"sync"

	"gopkg.in/yaml.v3"

	"github.com/driftwatch/driftwatch/eval"
	"github.com/driftwatch/driftwatch/eval/check"
	"github.com/driftwatch/driftwatch/internal/yamldoc"
)

// Suite is a loaded promptfoo config: one eval.Suite whose cases are the
// config's (test × prompt) pairs.
type Suite struct {
	name        string
	File        string
	Description string
	samples     int
	cases       []eval.Case
	infos       []*Case
	warnings    yamldoc.Errors
	parts       []string

	reqOnce  sync.Once
	requests map[string]*eval.Request
}

// Name implements eval.Suite.
func (s *Suite) Name() string { return s.name }

// Cases implements eval.Suite.
func (s *Suite) Cases() []eval.Case { return s.cases }

// Samples implements eval.SuiteInfo: the config's evaluateOptions.repeat,
// else 0 (the run's default).
func (s *Suite) Samples() int { return s.samples }

// Warnings lists what the config uses that Driftwatch ignores or does not
// support, each at its file and line. Cases that depend on an unsupported
// feature are skipped with the reason; ignored features (providers,
// output options) change nothing a case checks.
func (s *Suite) Warnings() yamldoc.Errors { return s.warnings }

// Parts lists the files the config reads (prompt, test, vars, defaultTest
// and assertion files): they belong to the config and are not suites of
// their own.
func (s *Suite) Parts() []string { return s.parts }

// Details returns every case with what it sends and checks, in the order
// of Cases.
func (s *Suite) Details() []*Case { return s.infos }

// Request returns the request a case sends (nil for an unknown id). Dry
// runs use it to estimate tokens and cost.
func (s *Suite) Request(caseID string) *eval.Request {
	s.reqOnce.Do(func() {
		s.requests = make(map[string]*eval.Request, len(s.infos))
		for _, c := range s.infos {
			s.requests[c.ID] = c.Request
		}
	})
	return s.requests[caseID]
}

// Case is one (test × prompt) pair of a config.
type Case struct {
	// ID is the case id: the test's key and the prompt's, "test/prompt".
	ID string
	// TestIndex and PromptIndex are promptfoo's testIdx (the row, after
	// scenarios and var expansion) and promptIdx.
	TestIndex, PromptIndex int
	Description            string
	PromptLabel            string
	Vars                   map[string]any
	Request                *eval.Request
	// SkipReason, when set, is why the case is skipped: a feature it
	// depends on is not supported.
	SkipReason string
	// Threshold is the test's threshold (0: every assertion must pass).
	Threshold float64
	Asserts   []AssertInfo
	File      string
	Line      int

	asserts   []*compiled
	transform *script // the test's options.transform
	env       *runtimeEnv
}

// AssertInfo describes one assertion of a case.
type AssertInfo struct {
	Type   string
	Metric string
	Weight float64
}

// Options are what the checks of a config need from their environment.
type Options struct {
	// Check carries the judge (model-graded assertions) and the embedder
	// (similar). Without them those assertions' cases are skipped.
	Check check.Options
	// Python is the Python interpreter for python assertions; empty means
	// python3 on PATH. Where there is none, their cases are skipped.
	Python string
	// Limits bound javascript and python assertions; zero values take the
	// defaults.
	Limits Limits
}

// Load reads the promptfoo config at path into a suite. The error, if any,
// is a yamldoc.Errors listing every problem, each with file:line.
func Load(path string, opts Options) (*Suite, error) {
	doc, err := yamldoc.ReadFile(path)
	if err != nil {
		return nil, err
	}
	l := &loader{doc: doc, dir: filepath.Dir(path)}
	s := l.load(opts)
	if err := l.errs.Err(); err != nil {
		return nil, err
	}
	return s, nil
}

// IsConfig reports whether the YAML file at path is a promptfoo config: a
// mapping with top-level prompts: and tests: (or scenarios:). Other files,
// and files that cannot be read or parsed, are not.
func IsConfig(path string) bool {
	data, err := yamldoc.ReadRegular(path, yamldoc.MaxFileBytes)
	if err != nil {
		return false
	}
	return isConfigData(data)
}

func isConfigData(data []byte) bool {
	var top map[string]yaml.Node
	if yaml.Unmarshal(data, &top) != nil {
		return false
	}
	_, prompts := top["prompts"]
	_, tests := top["tests"]
	_, scenarios := top["scenarios"]
	return prompts && (tests || scenarios)
}

// SuiteName is the name of the suite a config at path loads as: the
// config's folder for promptfooconfig.yaml (or .yml), else the file name
// without its extension, with characters other than letters, digits, "_",
// "." and "-" replaced by "-".
func SuiteName(path string) string {
	base := filepath.Base(path)
	stem := strings.TrimSuffix(base, filepath.Ext(base))
	if stem == "promptfooconfig" {
		if abs, err := filepath.Abs(path); err == nil {
			stem = filepath.Base(filepath.Dir(abs))
		}
	}
	return nameRE.ReplaceAllString(stem, "-")
}

var nameRE = regexp.MustCompile(`[^A-Za-z0-9_.-]+`)

// knownTop are the top-level fields of a promptfoo config and what
// happens to them: "" for those the loader reads.
var knownTop = map[string]string{
	"description": "", "prompts": "", "tests": "", "scenarios": "", "defaultTest": "",
	"providers":          "providers are not called: the targets the run names (--target or a schedule) answer every case",
	"evaluateOptions":    "",
	"outputPath":         "ignored: results are stored in Driftwatch's database",
	"sharing":            "ignored",
	"tags":               "ignored",
	"metadata":           "ignored",
	"env":                "ignored: set the environment of the driftwatch process instead",
	"writeLatestResults": "ignored",
	"commandLineOptions": "ignored",
	"derivedMetrics":     "derivedMetrics are not computed (named metrics are)",
	"extensions":         "extension hooks are not run",
	"nunjucksFilters":    "custom Nunjucks filters are not supported: cases whose templates use them are skipped",
	"redteam":            "redteam generation is not supported",
}

func (l *loader) load(opts Options) *Suite {
	root := l.doc.Root
	file := l.doc.File
	s := &Suite{name: SuiteName(file), File: file}
	fields := map[string]*yaml.Node{}
	for i := 0; i+1 < len(root.Content); i += 2 {
		k, v := root.Content[i], root.Content[i+1]
		fields[k.Value] = v
		note, known := knownTop[k.Value]
		switch {
		case !known:
			l.warnf(file, k.Line, "field %q is not a promptfoo config field Driftwatch knows: ignored", k.Value)
		case note != "":
			l.warnf(file, k.Line, "%s: %s", k.Value, note)
		}
	}
	if d := fields["description"]; d != nil {
		s.Description = d.Value
	}
	if eo := fields["evaluateOptions"]; eo != nil {
		if r := yamldoc.Lookup(eo, "repeat"); r != eo {
			n, err := strconv.Atoi(r.Value)
			if err != nil || n < 1 {
				l.errorf(file, r.Line, "evaluateOptions.repeat: want a whole number >= 1, got %q", r.Value)
			}
			s.samples = n
		}
	}
	prompts := l.prompts(fields["prompts"])
	tools := l.providerTools(fields["providers"])
	var defaults *test
	if d := fields["defaultTest"]; d != nil {
		switch {
		case d.Kind == yaml.ScalarNode:
			ts := l.testFile(d.Value, file, d.Line, "defaultTest")
			if len(ts) == 1 {
				defaults = ts[0]
			} else if len(ts) > 1 {
				l.errorf(file, d.Line, "defaultTest: the file holds %d tests, want one", len(ts))
			}
		default:
			defaults = l.testNode(d, file, "defaultTest")
		}
	}
	var tests []*test
	for _, t := range l.tests(fields["tests"], "tests") {
		tests = append(tests, mergeDefault(defaults, nil, t))
	}
	tests = append(tests, l.scenarios(fields["scenarios"], defaults)...)
	if len(tests) == 0 && len(l.errs) == 0 {
		l.errorf(file, 1, "tests: a promptfoo config needs tests (or scenarios)")
	}
	b := builder{l: l, opts: opts, env: newRuntimeEnv(opts), tools: tools, customFilters: fields["nunjucksFilters"] != nil}
	s.infos = b.cases(prompts, tests)
	s.cases = make([]eval.Case, len(s.infos))
	for i, c := range s.infos {
		s.cases[i] = eval.Case{ID: c.ID, Hash: c.hash(), File: c.File, Line: c.Line, Func: c.run}
	}
	sort.SliceStable(l.warns, func(i, j int) bool {
		a, b := l.warns[i], l.warns[j]
		if a.File != b.File {
			return a.File == file
		}
		return a.Line < b.Line
	})
	s.warnings = l.warns
	s.parts = l.parts
	return s
}

// scenarios reads scenarios: each scenario's tests run once per entry of
// its config, with the entry's vars and assertions merged in.
func (l *loader) scenarios(n *yaml.Node, defaults *test) []*test {
	if n == nil {
		return nil
	}
	file := l.doc.File
	if n.Kind != yaml.SequenceNode {
		l.errorf(file, n.Line, "scenarios: want a list")
		return nil
	}
	var out []*test
	for i, sc := range n.Content {
		if sc.Kind != yaml.MappingNode {
			l.errorf(file, sc.Line, "scenarios[%d]: want a mapping with config and tests", i)
			continue
		}
		cfg := yamldoc.Lookup(sc, "config")
		var datas []*test
		if cfg != sc {
			if cfg.Kind != yaml.SequenceNode {
				l.errorf(file, cfg.Line, "scenarios[%d].config: want a list", i)
				continue
			}
			for _, c := range cfg.Content {
				datas = append(datas, l.testNode(c, file, "scenarios.config"))
			}
		}
		var tests []*test
		if tn := yamldoc.Lookup(sc, "tests"); tn != sc {
			tests = l.tests(tn, "scenarios.tests")
		} else {
			tests = []*test{{vars: newOrdered(), file: file, line: sc.Line}}
		}
		for _, d := range datas {
			for _, t := range tests {
				out = append(out, mergeDefault(defaults, d, t))
			}
		}
	}
	return out
}

// mergeDefault merges a test with the scenario data d (may be nil) and
// the config's defaultTest (may be nil) as promptfoo does: vars, options
// and metadata are merged key by key (the test's win), the assertions are
// defaultTest's, then d's, then the test's, and the test's threshold wins.
func mergeDefault(def, d, t *test) *test {
	out := *t
	out.vars = newOrdered()
	out.asserts = nil
	out.problems = nil
	var layers []*test
	for _, x := range []*test{def, d, t} {
		if x != nil {
			layers = append(layers, x)
		}
	}
	for _, x := range layers {
		out.vars = out.vars.merge(x.vars)
		out.asserts = append(out.asserts, x.asserts...)
		out.problems = append(out.problems, x.problems...)
		if x.description != "" && x != def {
			out.description = x.description
		}
		if x.threshold != nil {
			out.threshold = x.threshold
		}
		if x.options.transform != "" {
			out.options.transform, out.options.transformFile = x.options.transform, x.options.transformFile
		}
		if x.options.prefix != "" {
			out.options.prefix = x.options.prefix
		}
		if x.options.suffix != "" {
			out.options.suffix = x.options.suffix
		}
		out.options.disableVarExpansion = out.options.disableVarExpansion || x.options.disableVarExpansion
		if len(x.metadata) > 0 {
			m := map[string]any{}
			for k, v := range out.metadata {
				m[k] = v
			}
			for k, v := range x.metadata {
				m[k] = v
			}
			out.metadata = m
		}
		if x.prompts != nil {
			out.prompts = x.prompts
		}
	}
	return &out
}

// providerTools returns the tools the config's providers declare (OpenAI's
// format, in a provider's config.tools): the cases offer them to the
// target, so tool-call assertions have tools to validate against.
func (l *loader) providerTools(n *yaml.Node) []eval.Tool {
	if n == nil || n.Kind != yaml.SequenceNode {
		return nil
	}
	for _, p := range n.Content {
		tn := yamldoc.Lookup(p, "config", "tools")
		if tn == p || tn.Kind != yaml.SequenceNode {
			continue
		}
		var raw []struct {
			Type     string `yaml:"type"`
			Function struct {
				Name        string         `yaml:"name"`
				Description string         `yaml:"description"`
				Parameters  map[string]any `yaml:"parameters"`
			} `yaml:"function"`
		}
		if err := tn.Decode(&raw); err != nil {
			l.errorf(l.doc.File, tn.Line, "providers: config.tools: %v", err)
			return nil
		}
		var tools []eval.Tool
		for _, t := range raw {
			var params json.RawMessage
			if t.Function.Parameters != nil {
				params, _ = json.Marshal(jsonValues(t.Function.Parameters))
			}
			tools = append(tools, eval.Tool{Name: t.Function.Name, Description: t.Function.Description, Parameters: params})
		}
		return tools
	}
	return nil
}

// builder expands tests into cases.
type builder struct {
	l             *loader
	opts          Options
	env           *runtimeEnv
	tools         []eval.Tool
	customFilters bool
	tm            *templates
	ids           map[string]int
	varFiles      map[string]any // file:// var values, read once
}

func (b *builder) cases(prompts []prompt, tests []*test) []*Case {
	b.tm = newTemplates()
	b.ids = map[string]int{}
	var out []*Case
	row := 0
	for _, t := range tests {
		combos := []*ordered{t.vars}
		if !t.options.disableVarExpansion {
			combos = expand(b.globVars(t))
		}
		for _, vars := range combos {
			testKey := b.testKey(t, vars, len(combos) > 1)
			for pi, p := range prompts {
				if t.prompts != nil && !allowed(p, t.prompts) {
					continue
				}
				c := b.build(t, vars, p, pi, row)
				c.ID = b.unique(testKey + "/" + promptKey(p))
				out = append(out, c)
			}
			row++
		}
	}
	return out
}

func allowed(p prompt, names []string) bool {
	for _, n := range names {
		if n == p.id || n == p.label || (strings.HasSuffix(n, "*") && strings.HasPrefix(p.label, strings.TrimSuffix(n, "*"))) {
			return true
		}
	}
	return false
}

// globVars returns t's vars with each file:// value that has wildcards
// replaced by the list of the files it matches (relative to the config's
// folder), which expand then turns into one row per file, as promptfoo
// does.
func (b *builder) globVars(t *test) *ordered {
	out := newOrdered()
	for _, k := range t.vars.keys {
		v := t.vars.m[k]
		if s, ok := v.(string); ok && strings.HasPrefix(s, "file://") && strings.ContainsAny(s, "*?[") {
			paths, err := glob(resolve(b.l.dir, s))
			if err != nil {
				b.l.errorf(t.file, t.line, "vars.%s: %v", k, err)
			}
			var vals []any
			for _, p := range paths {
				// Relative to the config's folder: case ids hash the vars.
				if rel, err := filepath.Rel(b.l.dir, p); err == nil {
					p = filepath.ToSlash(rel)
				}
				vals = append(vals, "file://"+p)
			}
			if len(vals) > 0 {
				v = vals
			}
		}
		out.set(k, v)
	}
	return out
}

// fileVars returns vars with each file:// value replaced by the file's
// text, as promptfoo renders prompts with it. Scripts (.js, .py) are not
// run: they are reported as problems.
func (b *builder) fileVars(t *test, vars *ordered) (*ordered, []string) {
	var out *ordered
	var problems []string
	for _, k := range vars.keys {
		s, ok := vars.m[k].(string)
		if !ok || !strings.HasPrefix(s, "file://") {
			continue
		}
		if out == nil {
			out = vars.merge(nil)
		}
		p, _ := splitFunction(strings.TrimPrefix(s, "file://"))
		if isCode(p) {
			problems = append(problems, fmt.Sprintf("vars.%s: variables computed by scripts (%s) are not supported", k, s))
			continue
		}
		v, err := b.readVarFile(resolve(b.l.dir, p))
		if err != nil {
			b.l.errorf(t.file, t.line, "vars.%s: %v", k, err)
			continue
		}
		out.set(k, v)
	}
	if out == nil {
		return vars, nil
	}
	return out, problems
}

func (b *builder) readVarFile(p string) (any, error) {
	if v, ok := b.varFiles[p]; ok {
		return v, nil
	}
	data, err := yamldoc.ReadRegular(p, yamldoc.MaxFileBytes)
	if err != nil {
		return nil, err
	}
	b.l.parts = append(b.l.parts, p)
	var v any = string(data)
	if b.varFiles == nil {
		b.varFiles = map[string]any{}
	}
	b.varFiles[p] = v
	return v, nil
}

// expand returns promptfoo's var combinations: one per element of the
// cartesian product of the vars whose values are arrays of strings, in key
// order. Other arrays (numbers, objects) are passed whole, as promptfoo
// does.
func expand(vars *ordered) []*ordered {
	combos := []*ordered{newOrdered()}
	for _, k := range vars.keys {
		vals := []any{vars.m[k]}
		if arr, ok := vars.m[k].([]any); ok && len(arr) > 0 {
			if _, str := arr[0].(string); str {
				vals = arr
			}
		}
		next := make([]*ordered, 0, len(combos)*len(vals))
		for _, c := range combos {
			for _, v := range vals {
				n := c.merge(nil)
				n.set(k, v)
				next = append(next, n)
			}
		}
		combos = next
	}
	return combos
}

var slugRE = regexp.MustCompile(`[^A-Za-z0-9_.:@+-]+`)

func slug(s string, max int) string {
	s = strings.Trim(slugRE.ReplaceAllString(strings.TrimSpace(s), "-"), "-")
	if len(s) > max {
		s = strings.TrimRight(s[:max], "-")
	}
	return s
}

func shortHash(v any) string {
	b, _ := json.Marshal(v)
	sum := sha256.Sum256(b)
	return hex.EncodeToString(sum[:4])
}

// testKey names a test row: its description (with a hash of its vars when
// the test expands into several rows), else a hash of its vars.
func (b *builder) testKey(t *test, vars *ordered, expanded bool) string {
	if d := slug(t.description, 60); d != "" && !expanded {
		return d
	}
	pairs := make([][2]any, 0, len(vars.keys))
	for _, k := range vars.keys {
		pairs = append(pairs, [2]any{k, vars.m[k]})
	}
	prefix := slug(t.description, 40)
	if prefix == "" {
		prefix = "test"
	}
	return prefix + "-" + shortHash(pairs)
}

// promptKey names a prompt: its explicit id or label, else a hash of its
// text.
func promptKey(p prompt) string {
	if s := slug(p.id, 40); s != "" {
		return s
	}
	return "prompt-" + shortHash(p.raw)
}

func (b *builder) unique(id string) string {
	b.ids[id]++
	if n := b.ids[id]; n > 1 {
		return id + "-" + strconv.Itoa(n)
	}
	return id
}

// build renders one (test row × prompt) case.
func (b *builder) build(t *test, vars *ordered, p prompt, pi, row int) *Case {
	c := &Case{
		TestIndex: row, PromptIndex: pi, Description: t.description, PromptLabel: p.label,
		Vars: vars.m, File: t.file, Line: t.line, env: b.env,
	}
	skip := append([]string{}, t.problems...)
	// Prompts and assertions see a file:// var's text, as in promptfoo.
	promptVars, problems := b.fileVars(t, vars)
	skip = append(skip, problems...)
	c.Vars = promptVars.m
	raw := t.options.prefix + p.raw + t.options.suffix
	text, err := b.tm.render(raw, promptVars.m)
	if err != nil {
		if b.customFilters {
			skip = append(skip, fmt.Sprintf("prompt template: %v", err))
		} else {
			b.l.errorf(p.file, p.line, "prompt %q for the test at %s:%d: %v", clip(p.label, 40), t.file, t.line, err)
		}
	}
	c.Request = &eval.Request{Messages: toMessages(text), Tools: b.tools}
	if t.threshold != nil {
		c.Threshold = *t.threshold
	}
	if t.options.transform != "" {
		s, err := b.env.loadScript(t.options.transform, filepath.Dir(t.options.transformFile))
		if err != nil {
			b.l.errorf(t.file, t.line, "options.transform: %v", err)
		}
		c.transform = s
	}
	for _, a := range t.asserts {
		ca, problem, err := b.compile(a, vars.m, text)
		if err != nil {
			b.l.errorf(a.file, a.line, "assertion %s: %v", a.typ, err)
			continue
		}
		if problem != "" {
			skip = append(skip, a.typ+": "+problem)
			b.l.warnf(a.file, a.line, "assertion %s: %s: the case is skipped", a.typ, problem)
		}
		c.asserts = append(c.asserts, ca)
		c.Asserts = append(c.Asserts, AssertInfo{Type: a.typ, Metric: a.metric, Weight: ca.weight})
	}
	if len(skip) > 0 {
		c.SkipReason = "unsupported promptfoo feature: " + strings.Join(dedupe(skip), "; ")
	}
	return c
}

func dedupe(ss []string) []string {
	seen := map[string]bool{}
	var out []string
	for _, s := range ss {
		if !seen[s] {
			seen[s] = true
			out = append(out, s)
		}
	}
	return out
}

// toMessages turns a rendered prompt into chat messages: a JSON (or YAML)
// list of {role, content} messages is sent as is, anything else as one
// user message.
func toMessages(text string) []eval.Message {
	s := strings.TrimSpace(text)
	var msgs []eval.Message
	switch {
	case strings.HasPrefix(s, "["):
		if json.Unmarshal([]byte(s), &msgs) != nil {
			msgs = nil
		}
	case strings.HasPrefix(s, "- "):
		var ys []struct {
			Role    string `yaml:"role"`
			Content string `yaml:"content"`
		}
		if yaml.Unmarshal([]byte(s), &ys) == nil {
			for _, m := range ys {
				msgs = append(msgs, eval.Message{Role: m.Role, Content: m.Content})
			}
		}
	}
	if len(msgs) > 0 {
		valid := true
		for _, m := range msgs {
			switch m.Role {
			case eval.RoleSystem, eval.RoleUser, eval.RoleAssistant:
			default:
				valid = false
			}
		}
		if valid {
			return msgs
		}
	}
	return []eval.Message{{Role: eval.RoleUser, Content: text}}
}

func clip(s string, n int) string {
	if len(s) <= n {
		return s
	}
	return s[:n] + "…"
}

// hash is the case's content hash: 16 hex digits of the SHA-256 of what it
// sends (the rendered prompt, tools) and checks (the rendered assertions,
// transforms, threshold), so history is compared only while they are
// unchanged.
func (c *Case) hash() string {
	in := struct {
		Req       *eval.Request
		Asserts   []map[string]any
		Threshold float64
		Transform string
		Skip      string
	}{Req: c.Request, Threshold: c.Threshold, Skip: c.SkipReason}
	for _, a := range c.asserts {
		in.Asserts = append(in.Asserts, a.spec)
	}
	if c.transform != nil {
		in.Transform = c.transform.source
	}
	b, _ := json.Marshal(in)
	sum := sha256.Sum256(b)
	return hex.EncodeToString(sum[:8])
}

// run is what each sample of the case does: skip with the reason, or call
// the target once, grade the output as promptfoo would and record every
// assertion's result and the named metrics.
func (c *Case) run(t *eval.T) {
	if c.SkipReason != "" {
		t.Skip(c.SkipReason)
	}
	resp := t.ChatRequest(c.Request)
	g := c.Grade(t.Context(), resp)
	record(t, resp.Text, c.Threshold != 0, g)
}
