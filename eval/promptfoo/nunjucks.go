package promptfoo

import (
	"encoding/json"
	"fmt"
	"maps"
	"strings"
	"sync"

	"github.com/nikolalohinski/gonja/v2/builtins"
	"github.com/nikolalohinski/gonja/v2/config"
	"github.com/nikolalohinski/gonja/v2/exec"
	"github.com/nikolalohinski/gonja/v2/loaders"
)

// templates renders promptfoo's Nunjucks templates with gonja, a Jinja2
// engine: the syntax promptfoo suites use ({{ var }}, member and index
// access, {% for %}, {% if %}, filters with arguments) is common to both.
// Nunjucks' own filters that Jinja lacks (dump) are added, and a
// template's trailing newline is kept, as Nunjucks does. Parsed templates
// are cached; a templates value is safe for concurrent use.
type templates struct {
	env *exec.Environment
	cfg *config.Config

	mu    sync.Mutex
	cache map[string]*compiledTemplate
}

type compiledTemplate struct {
	t   *exec.Template
	err error
}

func newTemplates() *templates {
	filters := maps.Clone(nunjucksFilters())
	env := &exec.Environment{
		Context:           exec.EmptyContext().Update(builtins.GlobalFunctions).Update(builtins.GlobalVariables),
		Filters:           exec.NewFilterSet(filters),
		Tests:             builtins.Tests,
		ControlStructures: builtins.ControlStructures,
		Methods:           builtins.Methods,
	}
	cfg := config.New()
	cfg.KeepTrailingNewline = true
	return &templates{env: env, cfg: cfg, cache: map[string]*compiledTemplate{}}
}

// nunjucksFilters is gonja's filter set plus Nunjucks' dump (JSON text,
// as JSON.stringify writes it).
func nunjucksFilters() map[string]exec.FilterFunction {
	fs := map[string]exec.FilterFunction{}
	for _, name := range filterNames {
		if f, ok := builtins.Filters.Get(name); ok {
			fs[name] = f
		}
	}
	fs["dump"] = func(_ *exec.Evaluator, in *exec.Value, _ *exec.VarArgs) *exec.Value {
		if in.IsError() {
			return in
		}
		b, err := json.Marshal(in.Interface())
		if err != nil {
			return exec.AsValue(fmt.Errorf("dump: %w", err))
		}
		return exec.AsSafeValue(string(b))
	}
	return fs
}

// filterNames are the gonja filters made available (Nunjucks' built-in
// filters that Jinja shares).
var filterNames = []string{
	"abs", "batch", "capitalize", "center", "default", "d", "dictsort", "escape", "e",
	"first", "float", "forceescape", "groupby", "indent", "int", "join", "last",
	"length", "list", "lower", "replace", "reverse", "round", "safe", "slice",
	"sort", "string", "striptags", "sum", "title", "tojson", "trim", "truncate",
	"unique", "upper", "urlencode", "wordcount", "wordwrap", "attr", "map", "reject",
	"rejectattr", "select", "selectattr", "min", "max", "count", "items", "pprint",
}

// hasTemplate reports whether s contains Nunjucks syntax.
func hasTemplate(s string) bool {
	return strings.Contains(s, "{{") || strings.Contains(s, "{%") || strings.Contains(s, "{#")
}

// render renders text with vars. Text without template syntax is returned
// as is.
func (ts *templates) render(text string, vars map[string]any) (string, error) {
	if !hasTemplate(text) {
		return text, nil
	}
	ts.mu.Lock()
	c, ok := ts.cache[text]
	if !ok {
		c = &compiledTemplate{}
		c.t, c.err = ts.parse(text)
		ts.cache[text] = c
	}
	ts.mu.Unlock()
	if c.err != nil {
		return "", c.err
	}
	out, err := c.t.ExecuteToString(exec.NewContext(jsonValues(vars).(map[string]any)))
	if err != nil {
		return "", fmt.Errorf("template: %w", err)
	}
	return out, nil
}

func (ts *templates) parse(text string) (*exec.Template, error) {
	loader, err := loaders.NewFileSystemLoader("")
	if err != nil {
		return nil, err
	}
	root := "template"
	shifted, err := loaders.NewShiftedLoader(root, strings.NewReader(text), loader)
	if err != nil {
		return nil, err
	}
	t, err := exec.NewTemplate(root, ts.cfg, shifted, ts.env)
	if err != nil {
		return nil, fmt.Errorf("template does not parse: %w", err)
	}
	return t, nil
}
