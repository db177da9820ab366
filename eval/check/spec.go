package check

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"reflect"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/driftwatch/driftwatch/eval"
	"github.com/santhosh-tekuri/jsonschema/v6"
)

// Spec declares a check in a YAML (or JSON) suite. Field names follow
// promptfoo's assertions. Which fields a type reads is listed in the
// package documentation; setting a field the type does not read is an
// error, so typos in suites surface at load time.
type Spec struct {
	// Type is the check type, e.g. "contains" or "json-schema"; "not-"
	// before any type except the refusal ones negates it. See Types.
	Type string `yaml:"type" json:"type"`
	// Value is the type's main argument: the text for contains, the
	// pattern for regex, the expected value for equals and json-path, the
	// rubric for llm-rubric, the tool name for tool-call, a schema for
	// json-schema.
	Value any `yaml:"value,omitempty" json:"value,omitempty"`
	// Values lists texts for contains-any/-all and finish reasons.
	Values []string `yaml:"values,omitempty" json:"values,omitempty"`
	// Weight of the check in the sample's weighted score; 0 means 1.
	Weight float64 `yaml:"weight,omitempty" json:"weight,omitempty"`
	// Threshold is the minimum score for similarity and llm-rubric checks,
	// and the maximum for latency (milliseconds) and cost (USD).
	Threshold *float64 `yaml:"threshold,omitempty" json:"threshold,omitempty"`
	// Path is the JSONPath for json-path.
	Path string `yaml:"path,omitempty" json:"path,omitempty"`
	// Min and Max bound length (characters), tokens, latency
	// (milliseconds, Max only) and cost (USD, Max only).
	Min *float64 `yaml:"min,omitempty" json:"min,omitempty"`
	Max *float64 `yaml:"max,omitempty" json:"max,omitempty"`
	// Ref is the reference text for similarity checks (Value also works).
	Ref string `yaml:"ref,omitempty" json:"ref,omitempty"`
	// Schema is a JSON Schema (an object, or JSON text) for json-schema,
	// is-json, contains-json and tool-call arguments.
	Schema any `yaml:"schema,omitempty" json:"schema,omitempty"`
}

// Options carry what some declarative checks need from their environment.
type Options struct {
	// Judge grades llm-rubric checks. Nil makes llm-rubric an error.
	Judge eval.Target
	// Embedder serves embedding-similar checks. Nil makes it an error.
	Embedder Embedder
}

// Default thresholds for similarity checks without a threshold.
const (
	LevenshteinDefault = 0.8
	RougeLDefault      = 0.75
	SimilarDefault     = 0.75
	EmbeddingDefault   = 0.8
)

type field uint16

const (
	fValue field = 1 << iota
	fValues
	fThreshold
	fPath
	fMin
	fMax
	fRef
	fSchema
)

var fieldNames = []struct {
	f    field
	name string
}{
	{fValue, "value"}, {fValues, "values"}, {fThreshold, "threshold"}, {fPath, "path"},
	{fMin, "min"}, {fMax, "max"}, {fRef, "ref"}, {fSchema, "schema"},
}

type specType struct {
	fields field
	build  func(s Spec, o Options) (eval.Checker, error)
	// negatable is false for types that have an explicit opposite.
	noNegation bool
}

var specTypes = map[string]specType{
	"equals":        {fValue, buildEquals, false},
	"contains":      {fValue, textBuilder(Contains), false},
	"icontains":     {fValue, textBuilder(IContains), false},
	"contains-any":  {fValue | fValues, listBuilder(ContainsAny), false},
	"contains-all":  {fValue | fValues, listBuilder(ContainsAll), false},
	"icontains-any": {fValue | fValues, listBuilder(IContainsAny), false},
	"icontains-all": {fValue | fValues, listBuilder(IContainsAll), false},
	"regex": {fValue, func(s Spec, _ Options) (eval.Checker, error) {
		v, err := specString(s, true)
		if err != nil {
			return nil, err
		}
		return Regex(v)
	}, false},
	"starts-with":   {fValue, textBuilder(StartsWith), false},
	"ends-with":     {fValue, textBuilder(EndsWith), false},
	"is-json":       {fValue | fSchema, buildIsJSON(false), false},
	"contains-json": {fValue | fSchema, buildIsJSON(true), false},
	"json-schema": {fValue | fSchema, func(s Spec, _ Options) (eval.Checker, error) {
		sch, err := specSchema(s)
		if err != nil {
			return nil, err
		}
		if sch == nil {
			return nil, errors.New("schema is required (set schema or value)")
		}
		return JSONSchema(string(sch))
	}, false},
	"json-path": {fValue | fPath, func(s Spec, _ Options) (eval.Checker, error) {
		if s.Path == "" {
			return nil, errors.New("path is required, e.g. path: $.answer")
		}
		return JSONPathEquals(s.Path, s.Value)
	}, false},
	"is-refusal":  {0, func(Spec, Options) (eval.Checker, error) { return Refusal(), nil }, true},
	"not-refusal": {0, func(Spec, Options) (eval.Checker, error) { return NotRefusal(), nil }, true},
	"length": {fMin | fMax, func(s Spec, _ Options) (eval.Checker, error) {
		lo, hi, err := specBounds(s)
		return Length{Min: lo, Max: hi}, err
	}, false},
	"tokens": {fMin | fMax, func(s Spec, _ Options) (eval.Checker, error) {
		lo, hi, err := specBounds(s)
		return Tokens{Min: lo, Max: hi}, err
	}, false},
	"finish-reason": {fValue | fValues, func(s Spec, _ Options) (eval.Checker, error) {
		vs, err := specList(s)
		if err != nil {
			return nil, err
		}
		return FinishReason(vs...), nil
	}, false},
	"tool-call":          {fValue | fSchema, buildToolCall, false},
	"is-valid-tool-call": {fValue | fSchema, buildToolCall, false},
	"levenshtein":        {fValue | fRef | fThreshold, simBuilder(Levenshtein, LevenshteinDefault), false},
	"rouge-l":            {fValue | fRef | fThreshold, simBuilder(RougeL, RougeLDefault), false},
	"similar":            {fValue | fRef | fThreshold, simBuilder(NGramCosine, SimilarDefault), false},
	"embedding-similar": {fValue | fRef | fThreshold, func(s Spec, o Options) (eval.Checker, error) {
		if o.Embedder == nil {
			return nil, errors.New("no embedder configured (Options.Embedder)")
		}
		return simBuilder(func(ref string, min float64) eval.Checker { return Embedding(o.Embedder, ref, min) }, EmbeddingDefault)(s, o)
	}, false},
	"llm-rubric": {fValue | fThreshold, func(s Spec, o Options) (eval.Checker, error) {
		if o.Judge == nil {
			return nil, errors.New("no judge configured (Options.Judge)")
		}
		r, err := specString(s, true)
		if err != nil {
			return nil, err
		}
		var th float64
		if s.Threshold != nil {
			if th = *s.Threshold; th < 0 || th > 1 {
				return nil, fmt.Errorf("threshold %g is outside [0,1]", th)
			}
		}
		return Rubric(o.Judge, r, RubricOpts{Threshold: th}), nil
	}, false},
	"latency": {fThreshold | fMax, func(s Spec, _ Options) (eval.Checker, error) {
		ms, err := specMax(s, "milliseconds")
		if err != nil {
			return nil, err
		}
		return Latency(time.Duration(ms * float64(time.Millisecond))), nil
	}, false},
	"cost": {fThreshold | fMax, func(s Spec, _ Options) (eval.Checker, error) {
		usd, err := specMax(s, "USD")
		if err != nil {
			return nil, err
		}
		return Cost(usd), nil
	}, false},
}

// Types lists every check type New accepts, sorted, including the "not-"
// negations.
func Types() []string {
	var ts []string
	for k, t := range specTypes {
		ts = append(ts, k)
		if !t.noNegation {
			ts = append(ts, "not-"+k)
		}
	}
	slices.Sort(ts)
	return ts
}

// New builds the check spec declares. Errors name the type and the field
// at fault, and suggest the nearest type for an unknown one.
func New(spec Spec, opts Options) (eval.Checker, error) {
	typ := strings.ReplaceAll(strings.ToLower(strings.TrimSpace(spec.Type)), "_", "-")
	if typ == "" {
		return nil, errors.New("check type is required")
	}
	base, neg := typ, false
	t, ok := specTypes[typ]
	if !ok && strings.HasPrefix(typ, "not-") {
		base, neg = typ[4:], true
		t, ok = specTypes[base]
		ok = ok && !t.noNegation
	}
	if !ok {
		if s := suggest(typ); s != "" {
			return nil, fmt.Errorf("unknown check type %q (did you mean %q?)", spec.Type, s)
		}
		return nil, fmt.Errorf("unknown check type %q (see check.Types)", spec.Type)
	}
	if extra := setFields(spec) &^ t.fields; extra != 0 {
		for _, fn := range fieldNames {
			if extra&fn.f != 0 {
				return nil, fmt.Errorf("%s: field %q is not used by this check type", typ, fn.name)
			}
		}
	}
	if spec.Weight < 0 || math.IsNaN(spec.Weight) || math.IsInf(spec.Weight, 0) {
		return nil, fmt.Errorf("%s: weight %g must be a finite number >= 0", typ, spec.Weight)
	}
	c, err := t.build(spec, opts)
	if err != nil {
		if strings.HasPrefix(err.Error(), base+":") {
			return nil, err
		}
		return nil, fmt.Errorf("%s: %w", typ, err)
	}
	if neg {
		c = Not(c)
	}
	if spec.Weight != 0 {
		c = WithWeight(c, spec.Weight)
	}
	return c, nil
}

func setFields(s Spec) field {
	var f field
	set := func(b bool, x field) {
		if b {
			f |= x
		}
	}
	set(s.Value != nil, fValue)
	set(s.Values != nil, fValues)
	set(s.Threshold != nil, fThreshold)
	set(s.Path != "", fPath)
	set(s.Min != nil, fMin)
	set(s.Max != nil, fMax)
	set(s.Ref != "", fRef)
	set(s.Schema != nil, fSchema)
	return f
}

// suggest returns the known type nearest to typ, or "" if none is close.
func suggest(typ string) string {
	best, bestD := "", math.MaxInt
	for _, k := range Types() {
		if d := editDistance([]rune(typ), []rune(k)); d < bestD {
			best, bestD = k, d
		}
	}
	if bestD <= max(2, len([]rune(typ))/3) {
		return best
	}
	return ""
}

// scalarString renders a YAML/JSON scalar as text.
func scalarString(v any) (string, bool) {
	switch x := v.(type) {
	case string:
		return x, true
	case bool:
		return strconv.FormatBool(x), true
	case int:
		return strconv.Itoa(x), true
	case int64:
		return strconv.FormatInt(x, 10), true
	case uint64:
		return strconv.FormatUint(x, 10), true
	case float64:
		return strconv.FormatFloat(x, 'f', -1, 64), true
	case json.Number:
		return x.String(), true
	}
	return "", false
}

func specString(s Spec, required bool) (string, error) {
	if s.Value == nil {
		if required {
			return "", errors.New("value is required")
		}
		return "", nil
	}
	v, ok := scalarString(s.Value)
	if !ok {
		return "", fmt.Errorf("value must be a string, got %T", s.Value)
	}
	if required && v == "" {
		return "", errors.New("value must not be empty")
	}
	return v, nil
}

func specList(s Spec) ([]string, error) {
	out := slices.Clone(s.Values)
	switch v := s.Value.(type) {
	case nil:
	case []any:
		for i, x := range v {
			str, ok := scalarString(x)
			if !ok {
				return nil, fmt.Errorf("value[%d] must be a string, got %T", i, x)
			}
			out = append(out, str)
		}
	case []string:
		out = append(out, v...)
	default:
		str, ok := scalarString(v)
		if !ok {
			return nil, fmt.Errorf("value must be a string or a list of strings, got %T", v)
		}
		out = append(out, str)
	}
	if len(out) == 0 {
		return nil, errors.New("values is required (a non-empty list)")
	}
	return out, nil
}

func textBuilder(f func(string) eval.Checker) func(Spec, Options) (eval.Checker, error) {
	return func(s Spec, _ Options) (eval.Checker, error) {
		v, err := specString(s, true)
		if err != nil {
			return nil, err
		}
		return f(v), nil
	}
}

func listBuilder(f func(...string) eval.Checker) func(Spec, Options) (eval.Checker, error) {
	return func(s Spec, _ Options) (eval.Checker, error) {
		vs, err := specList(s)
		if err != nil {
			return nil, err
		}
		return f(vs...), nil
	}
}

func simBuilder(f func(string, float64) eval.Checker, def float64) func(Spec, Options) (eval.Checker, error) {
	return func(s Spec, _ Options) (eval.Checker, error) {
		ref := s.Ref
		if ref == "" {
			v, err := specString(s, false)
			if err != nil {
				return nil, err
			}
			ref = v
		} else if s.Value != nil {
			return nil, errors.New("set ref or value, not both")
		}
		if ref == "" {
			return nil, errors.New("ref is required (the reference text)")
		}
		th := def
		if s.Threshold != nil {
			if th = *s.Threshold; th < 0 || th > 1 || math.IsNaN(th) {
				return nil, fmt.Errorf("threshold %g is outside [0,1]", th)
			}
		}
		return f(ref, th), nil
	}
}

func buildEquals(s Spec, _ Options) (eval.Checker, error) {
	if s.Value == nil {
		return nil, errors.New("value is required")
	}
	if v, ok := s.Value.(string); ok {
		return Equals(v), nil
	}
	if v, ok := scalarString(s.Value); ok && !isNumber(s.Value) {
		return Equals(v), nil
	}
	want, err := normJSON(s.Value)
	if err != nil {
		return nil, fmt.Errorf("value: %w", err)
	}
	wantText, _ := json.Marshal(want)
	return newChecker(name("equals", string(wantText)), func(_ context.Context, in eval.CheckInput) (bool, float64, string) {
		v, err := parseJSON(in.Output)
		if err != nil {
			return false, 0, fmt.Sprintf("output is not valid JSON: %v", err)
		}
		got, err := normJSON(v)
		if err == nil && reflect.DeepEqual(got, want) {
			return true, 1, "output equals " + clip(string(wantText), snippetRunes)
		}
		return false, 0, fmt.Sprintf("output %s does not equal %s", snippet(in.Output), clip(string(wantText), snippetRunes))
	}), nil
}

func isNumber(v any) bool {
	switch v.(type) {
	case int, int64, uint64, float64, json.Number:
		return true
	}
	return false
}

// specSchema returns the schema from Schema or Value as JSON text, or nil.
func specSchema(s Spec) ([]byte, error) {
	v := s.Schema
	if v == nil {
		v = s.Value
	} else if s.Value != nil {
		return nil, errors.New("set schema or value, not both")
	}
	switch x := v.(type) {
	case nil:
		return nil, nil
	case string:
		return []byte(x), nil
	case map[string]any:
		b, err := json.Marshal(x)
		if err != nil {
			return nil, fmt.Errorf("schema: %w", err)
		}
		return b, nil
	}
	return nil, fmt.Errorf("schema must be an object or JSON text, got %T", v)
}

func buildIsJSON(contains bool) func(Spec, Options) (eval.Checker, error) {
	return func(s Spec, _ Options) (eval.Checker, error) {
		b, err := specSchema(s)
		if err != nil {
			return nil, err
		}
		if b == nil {
			if contains {
				return ContainsJSON(), nil
			}
			return IsJSON(), nil
		}
		sch, err := compileSchema(b)
		if err != nil {
			return nil, err
		}
		if !contains {
			return JSONSchema(string(b))
		}
		return containsJSONSchema(sch), nil
	}
}

func containsJSONSchema(sch *jsonschema.Schema) eval.Checker {
	return newChecker("contains-json", func(_ context.Context, in eval.CheckInput) (bool, float64, string) {
		out, cut := bound(in.Output)
		v, ok := findJSON(out)
		if !ok {
			return false, 0, "output contains no JSON object or array" + cutNote(cut)
		}
		if err := validate(sch, v); err != nil {
			return false, 0, "embedded JSON does not match the schema: " + err.Error()
		}
		return true, 1, "output contains JSON matching the schema" + cutNote(cut)
	})
}

func buildToolCall(s Spec, _ Options) (eval.Checker, error) {
	n, err := specString(s, false)
	if err != nil {
		return nil, err
	}
	var sch []byte
	if s.Schema != nil {
		if sch, err = specSchema(Spec{Schema: s.Schema}); err != nil {
			return nil, err
		}
	}
	return ToolCall(n, string(sch))
}

func specBounds(s Spec) (lo, hi int, err error) {
	conv := func(p *float64, f string) (int, error) {
		if p == nil {
			return 0, nil
		}
		if *p < 0 || *p != math.Trunc(*p) || *p > math.MaxInt32 {
			return 0, fmt.Errorf("%s %g must be a whole number >= 0", f, *p)
		}
		return int(*p), nil
	}
	if s.Min == nil && s.Max == nil {
		return 0, 0, errors.New("set min and/or max")
	}
	if lo, err = conv(s.Min, "min"); err != nil {
		return 0, 0, err
	}
	if hi, err = conv(s.Max, "max"); err != nil {
		return 0, 0, err
	}
	if s.Max != nil && hi < lo {
		return 0, 0, fmt.Errorf("max %d is below min %d", hi, lo)
	}
	if s.Max != nil && hi == 0 {
		return 0, 0, errors.New("max 0 would allow only empty output; use equals \"\" for that")
	}
	return lo, hi, nil
}

func specMax(s Spec, unit string) (float64, error) {
	p := s.Max
	if p == nil {
		p = s.Threshold
	} else if s.Threshold != nil {
		return 0, errors.New("set max or threshold, not both")
	}
	if p == nil {
		return 0, fmt.Errorf("max is required (in %s)", unit)
	}
	if *p <= 0 || math.IsNaN(*p) || math.IsInf(*p, 0) {
		return 0, fmt.Errorf("max %g must be > 0 (in %s)", *p, unit)
	}
	return *p, nil
}
