package promptfoo

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"reflect"
	"regexp"
	"strconv"
	"strings"

	"github.com/driftwatch/driftwatch/eval"
	"github.com/driftwatch/driftwatch/eval/check"
)

// result is one assertion's outcome.
type result struct {
	pass   bool
	score  float64
	reason string
}

// gradeInput is what an assertion sees: the output (after the test's
// transform), the response and request it came from, the test's vars and
// the rendered prompt.
type gradeInput struct {
	output any // a string, or what a transform returned
	resp   *eval.Response
	req    *eval.Request
	vars   map[string]any
	prompt string
}

func (in *gradeInput) text() string { return outputText(in.output) }

// outputText is the text of an output: a string as is, anything else as
// JSON.
func outputText(v any) string {
	if s, ok := v.(string); ok {
		return s
	}
	b, err := json.Marshal(v)
	if err != nil {
		return fmt.Sprint(v)
	}
	return string(b)
}

// compiled is an assertion ready to grade a case's outputs.
type compiled struct {
	typ       string
	metric    string
	weight    float64
	transform *script
	spec      map[string]any // for the content hash
	grade     func(ctx context.Context, in *gradeInput) result
}

// catalogue are the promptfoo types eval/check implements with
// promptfoo's semantics; their not- forms too.
var catalogue = map[string]bool{
	"contains": true, "icontains": true, "contains-any": true, "contains-all": true,
	"icontains-any": true, "icontains-all": true, "starts-with": true, "regex": true,
	"is-json": true, "contains-json": true, "finish-reason": true, "latency": true, "cost": true,
	"is-refusal": true,
}

// rubrics are the model-graded types and how each asks the judge.
var rubrics = map[string]struct {
	rubric    func(value string, in map[string]any, prompt string) string
	threshold float64
}{
	"llm-rubric": {rubric: func(v string, _ map[string]any, _ string) string { return v }},
	"model-graded-closedqa": {rubric: func(v string, _ map[string]any, _ string) string {
		return "The output meets this criterion: " + v
	}},
	"factuality": {rubric: func(v string, _ map[string]any, _ string) string {
		return "The output must be factually consistent with this reference answer: " + v +
			"\nPass when the output agrees with the reference (it may be a subset or a superset of it, or differ in ways that do not affect factuality); fail when it contradicts it."
	}},
	"model-graded-factuality": {rubric: func(v string, _ map[string]any, _ string) string {
		return "The output must be factually consistent with this reference answer: " + v +
			"\nPass when the output agrees with the reference (it may be a subset or a superset of it, or differ in ways that do not affect factuality); fail when it contradicts it."
	}},
	"g-eval": {threshold: 0.7, rubric: func(v string, _ map[string]any, _ string) string {
		return "Score the output from 0 to 1 against these evaluation criteria, step by step: " + v
	}},
	"answer-relevance": {threshold: 0.7, rubric: func(v string, vars map[string]any, prompt string) string {
		q := prompt
		if s, ok := vars["query"].(string); ok && s != "" {
			q = s
		}
		return "The output is a relevant, direct answer to this question: " + q
	}},
}

// unsupportedTypes are promptfoo assertion types Driftwatch does not run,
// and why.
var unsupportedTypes = map[string]string{
	"perplexity":                    "needs token logprobs, which Driftwatch's targets do not return",
	"perplexity-score":              "needs token logprobs, which Driftwatch's targets do not return",
	"select-best":                   "compares the outputs of several prompts in one row; a Driftwatch case has one output",
	"max-score":                     "compares the outputs of several prompts in one row; a Driftwatch case has one output",
	"assert-set":                    "assertion sets are not supported",
	"webhook":                       "webhook assertions are not supported (no network calls from checks)",
	"classifier":                    "classifier assertions need a Hugging Face classifier",
	"moderation":                    "moderation assertions need a moderation API",
	"rouge-n":                       "not implemented",
	"bleu":                          "not implemented",
	"gleu":                          "not implemented",
	"meteor":                        "not implemented",
	"is-sql":                        "not implemented",
	"contains-sql":                  "not implemented",
	"is-xml":                        "not implemented",
	"contains-xml":                  "not implemented",
	"is-html":                       "not implemented",
	"contains-html":                 "not implemented",
	"context-faithfulness":          "RAG context assertions are not supported",
	"context-recall":                "RAG context assertions are not supported",
	"context-relevance":             "RAG context assertions are not supported",
	"conversation-relevance":        "multi-turn assertions are not supported",
	"pi":                            "Pi scorer assertions are not supported",
	"ruby":                          "ruby assertions are not supported",
	"guardrails":                    "guardrail assertions are not supported",
	"word-count":                    "not implemented",
	"is-valid-function-call":        "function-call assertions need the provider's function definitions",
	"is-valid-openai-function-call": "legacy function-call assertions are not supported; use is-valid-openai-tools-call",
	"trace-span-count":              "trace assertions are not supported",
	"trace-span-duration":           "trace assertions are not supported",
	"trace-error-spans":             "trace assertions are not supported",
	"tool-call-f1":                  "not implemented",
}

// assertTypes is every type the CSV __expected syntax recognizes, longest
// first so that a prefix never shadows a longer name.
var assertTypes = func() []string {
	ts := []string{"equals", "levenshtein", "javascript", "python", "similar", "is-valid-openai-tools-call"}
	for k := range catalogue {
		ts = append(ts, k)
	}
	for k := range rubrics {
		ts = append(ts, k)
	}
	for k := range unsupportedTypes {
		ts = append(ts, k)
	}
	sortByLenDesc(ts)
	return ts
}()

func sortByLenDesc(ts []string) {
	for i := 1; i < len(ts); i++ {
		for j := i; j > 0 && (len(ts[j]) > len(ts[j-1]) || len(ts[j]) == len(ts[j-1]) && ts[j] < ts[j-1]); j-- {
			ts[j], ts[j-1] = ts[j-1], ts[j]
		}
	}
}

var assertionRE = regexp.MustCompile(`^(not-)?(` + strings.Join(quoteAll(assertTypes), "|") + `)(?:\((\d+(?:\.\d+)?)\))?(?::([\s\S]*))?$`)

func quoteAll(ss []string) []string {
	out := make([]string, len(ss))
	for i, s := range ss {
		out[i] = regexp.QuoteMeta(s)
	}
	return out
}

// thresholdTypes take a threshold in the CSV syntax "type(0.9):value";
// similar defaults to 0.8 there, the others to 0.75.
var thresholdTypes = map[string]bool{
	"answer-relevance": true, "classifier": true, "context-faithfulness": true, "context-recall": true,
	"context-relevance": true, "cost": true, "latency": true, "levenshtein": true, "perplexity-score": true,
	"perplexity": true, "rouge-n": true, "similar": true, "starts-with": true,
}

// assertionFromString parses a CSV __expected cell as promptfoo does:
// "type:value", "not-type:value", "type(threshold):value", the legacy
// javascript:/fn:/eval:/grade:/python: prefixes and file:// scripts;
// anything else is an equals assertion.
func assertionFromString(s string) *assertion {
	for _, p := range []string{"javascript:", "fn:", "eval:"} {
		if strings.HasPrefix(s, p) {
			return &assertion{typ: "javascript", value: strings.TrimSpace(s[len(p):])}
		}
	}
	for _, p := range []string{"grade:", "llm-rubric:"} {
		if strings.HasPrefix(s, p) {
			return &assertion{typ: "llm-rubric", value: s[len(p):]}
		}
	}
	if strings.HasPrefix(s, "python:") {
		return &assertion{typ: "python", value: strings.TrimSpace(s[len("python:"):])}
	}
	if strings.HasPrefix(s, "file://") {
		switch {
		case strings.HasSuffix(s, ".py") || strings.Contains(s, ".py:"):
			return &assertion{typ: "python", value: s}
		case strings.HasSuffix(s, ".js") || strings.Contains(s, ".js:"):
			return &assertion{typ: "javascript", value: s}
		}
	}
	m := assertionRE.FindStringSubmatch(s)
	if m == nil {
		return &assertion{typ: "equals", value: s}
	}
	typ := m[1] + m[2]
	a := &assertion{typ: typ, value: m[4]}
	switch {
	case strings.HasSuffix(m[2], "-any") || strings.HasSuffix(m[2], "-all"):
		var vs []any
		for _, v := range strings.Split(m[4], ",") {
			vs = append(vs, strings.TrimSpace(v))
		}
		a.value = vs
	case thresholdTypes[m[2]]:
		th, _ := strconv.ParseFloat(m[3], 64)
		if th == 0 {
			th = 0.75
			if m[2] == "similar" {
				th = 0.8
			}
		}
		a.threshold = &th
	}
	return a
}

// compile renders assertion a for a case (its string values are Nunjucks
// templates over the vars) and builds its grader. problem is set when the
// assertion cannot run here: the case is then skipped.
func (b *builder) compile(a *assertion, vars map[string]any, prompt string) (*compiled, string, error) {
	if a.problem != "" {
		return &compiled{typ: a.typ}, a.problem, nil
	}
	value, err := b.renderValue(a.value, vars)
	if err != nil {
		return nil, "", fmt.Errorf("value: %w", err)
	}
	weight := 1.0
	if a.weight != nil {
		weight = *a.weight
	}
	c := &compiled{typ: a.typ, metric: a.metric, weight: weight}
	c.spec = map[string]any{"type": a.typ, "value": value, "threshold": a.threshold, "weight": weight, "metric": a.metric}
	if a.transform != "" {
		s, err := b.env.loadScript(a.transform, dirOf(a.file))
		if err != nil {
			return nil, "", fmt.Errorf("transform: %w", err)
		}
		c.transform = s
		c.spec["transform"] = s.source
	}
	typ := strings.ToLower(strings.TrimSpace(a.typ))
	base, inverse := typ, false
	if strings.HasPrefix(typ, "not-") {
		base, inverse = typ[4:], true
	}
	if why, ok := unsupportedTypes[base]; ok {
		return c, why, nil
	}
	var g func(ctx context.Context, in *gradeInput) result
	switch {
	case base == "equals":
		g = equalsGrader(value)
	case base == "levenshtein":
		g, err = levenshteinGrader(value, a.threshold)
	case base == "is-valid-openai-tools-call":
		var ch eval.Checker
		ch, err = check.New(check.Spec{Type: "is-valid-tool-call"}, check.Options{})
		g = checkerGrader(ch)
	case catalogue[base]:
		g, err = catalogueGrader(base, value, a.threshold)
	case base == "javascript":
		var s *script
		if s, err = b.env.loadScript(valueString(value), dirOf(a.file)); err == nil {
			c.spec["value"] = s.source
			g = b.env.jsGrader(s, a.threshold, a.config)
		}
	case base == "python":
		if b.env.python == "" {
			return c, "needs python3, which is not installed here", nil
		}
		var s *pyScript
		if s, err = loadPython(valueString(value), dirOf(a.file)); err == nil {
			c.spec["value"] = s.source
			g = b.env.pythonGrader(s, a.threshold, a.config)
		}
	case rubrics[base].rubric != nil:
		if b.opts.Check.Judge == nil {
			return c, "needs a judge: set judge: in the Driftwatch config", nil
		}
		r := rubrics[base]
		th := r.threshold
		if a.threshold != nil {
			th = *a.threshold
		}
		ch := check.Rubric(b.opts.Check.Judge, r.rubric(valueString(value), vars, prompt), check.RubricOpts{Threshold: th, Name: base})
		g = checkerGrader(ch)
	case base == "similar":
		if b.opts.Check.Embedder == nil {
			return c, "needs an embedding model: set embedder: in the Driftwatch config", nil
		}
		th := 0.75
		if a.threshold != nil {
			th = *a.threshold
		}
		var refs []string
		switch v := value.(type) {
		case []any:
			for _, x := range v {
				refs = append(refs, valueString(x))
			}
		default:
			refs = []string{valueString(v)}
		}
		g = similarGrader(b.opts.Check.Embedder, refs, th)
	default:
		return nil, "", fmt.Errorf("unknown assertion type %q", a.typ)
	}
	if err != nil {
		return nil, "", err
	}
	if inverse {
		g = negate(g)
	}
	c.grade = g
	return c, "", nil
}

func dirOf(file string) string {
	if i := strings.LastIndexAny(file, `/\`); i >= 0 {
		return file[:i]
	}
	return "."
}

// renderValue renders the strings in v as templates over vars.
func (b *builder) renderValue(v any, vars map[string]any) (any, error) {
	switch x := v.(type) {
	case string:
		return b.tm.render(x, vars)
	case []any:
		out := make([]any, len(x))
		for i, e := range x {
			r, err := b.renderValue(e, vars)
			if err != nil {
				return nil, err
			}
			out[i] = r
		}
		return out, nil
	case map[string]any:
		out := make(map[string]any, len(x))
		for k, e := range x {
			r, err := b.renderValue(e, vars)
			if err != nil {
				return nil, err
			}
			out[k] = r
		}
		return out, nil
	}
	return v, nil
}

func valueString(v any) string {
	switch x := v.(type) {
	case nil:
		return ""
	case string:
		return x
	case float64:
		return strconv.FormatFloat(x, 'f', -1, 64)
	case int:
		return strconv.Itoa(x)
	case bool:
		return strconv.FormatBool(x)
	}
	return outputText(v)
}

// negate is promptfoo's not- for the types graded here: pass flips, and so
// does a pass/fail score.
func negate(g func(context.Context, *gradeInput) result) func(context.Context, *gradeInput) result {
	return func(ctx context.Context, in *gradeInput) result {
		r := g(ctx, in)
		r.pass = !r.pass
		if r.score == 0 || r.score == 1 {
			r.score = 1 - r.score
		}
		r.reason = "not: " + r.reason
		return r
	}
}

func checkerGrader(c eval.Checker) func(context.Context, *gradeInput) result {
	return func(ctx context.Context, in *gradeInput) result {
		ci := eval.CheckInput{Output: in.text(), Response: in.resp, Request: in.req}
		r := c.Check(ctx, ci)
		return result{pass: r.Pass, score: r.Score, reason: r.Reason}
	}
}

// catalogueGrader builds an eval/check check: the catalogue follows
// promptfoo's assertion names and semantics for these types.
func catalogueGrader(base string, value any, threshold *float64) (func(context.Context, *gradeInput) result, error) {
	spec := check.Spec{Type: base, Value: value}
	switch base {
	case "contains-any", "contains-all", "icontains-any", "icontains-all":
		if s, ok := value.(string); ok {
			// promptfoo splits a string value on commas.
			var vs []any
			for _, p := range strings.Split(s, ",") {
				vs = append(vs, strings.TrimSpace(p))
			}
			spec.Value = vs
		}
	case "latency", "cost":
		spec.Value, spec.Threshold = nil, threshold
	case "is-refusal":
		spec.Value = nil
	case "is-json", "contains-json":
		if s, ok := value.(string); ok && strings.TrimSpace(s) == "" {
			spec.Value = nil
		}
	}
	c, err := check.New(spec, check.Options{})
	if err != nil {
		return nil, err
	}
	return checkerGrader(c), nil
}

// equalsGrader is promptfoo's equals: the output is exactly the value, or,
// for an object or array value, its JSON equals the value.
func equalsGrader(value any) func(context.Context, *gradeInput) result {
	return func(_ context.Context, in *gradeInput) result {
		switch value.(type) {
		case map[string]any, []any:
			var got any
			if s, ok := in.output.(string); ok {
				if err := json.Unmarshal([]byte(s), &got); err != nil {
					return result{reason: "output is not JSON: " + err.Error()}
				}
			} else {
				b, _ := json.Marshal(in.output)
				_ = json.Unmarshal(b, &got)
			}
			if reflect.DeepEqual(normalizeNumbers(got), normalizeNumbers(value)) {
				return result{pass: true, score: 1, reason: "output equals the expected JSON"}
			}
			return result{reason: "output JSON does not equal the expected JSON"}
		}
		want := valueString(value)
		if in.text() == want {
			return result{pass: true, score: 1, reason: "output equals " + strconv.Quote(clip(want, 60))}
		}
		return result{reason: fmt.Sprintf("expected output %q, got %q", clip(want, 60), clip(in.text(), 60))}
	}
}

func normalizeNumbers(v any) any {
	b, _ := json.Marshal(v)
	var out any
	_ = json.Unmarshal(b, &out)
	return out
}

// levenshteinGrader is promptfoo's levenshtein: the edit distance between
// the output and the value is at most threshold (default 5).
func levenshteinGrader(value any, threshold *float64) (func(context.Context, *gradeInput) result, error) {
	want := valueString(value)
	if want == "" {
		return nil, errors.New("value is required")
	}
	th := 5.0
	if threshold != nil {
		th = *threshold
	}
	return func(_ context.Context, in *gradeInput) result {
		d := check.EditDistance(in.text(), want)
		pass := float64(d) <= th
		return result{pass: pass, score: boolScore(pass), reason: fmt.Sprintf("Levenshtein distance %d, threshold %g", d, th)}
	}, nil
}

func boolScore(b bool) float64 {
	if b {
		return 1
	}
	return 0
}

// similarGrader is promptfoo's similar: the embedding cosine of the output
// and the value (the best of a list of values) is at least threshold.
func similarGrader(e check.Embedder, refs []string, th float64) func(context.Context, *gradeInput) result {
	checks := make([]eval.Checker, len(refs))
	for i, r := range refs {
		checks[i] = check.Embedding(e, r, th)
	}
	return func(ctx context.Context, in *gradeInput) result {
		best := result{score: math.Inf(-1)}
		for _, c := range checks {
			r := checkerGrader(c)(ctx, in)
			if r.pass || r.score > best.score {
				best = r
			}
			if r.pass {
				break
			}
		}
		return best
	}
}
