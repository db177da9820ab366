package check

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"reflect"
	"strings"

	"github.com/driftwatch/driftwatch/eval"
	"github.com/ohler55/ojg/jp"
	"github.com/santhosh-tekuri/jsonschema/v6"
)

// JSONValid reports whether text is one JSON value, optionally wrapped in a
// single fenced code block (```json ... ``` or ``` ... ```). Surrounding
// whitespace is ignored.
func JSONValid(text string) bool {
	t := strings.TrimSpace(unfence(text))
	if t == "" || !strings.ContainsRune(`{["-0123456789tfn`, rune(t[0])) {
		return false // cannot start a JSON value: skip the parser
	}
	return json.Valid([]byte(t))
}

// HasCodeFence reports whether text contains a Markdown fenced code block
// (a line starting with ``` or ~~~).
func HasCodeFence(text string) bool {
	for line := range strings.Lines(text) {
		t := strings.TrimLeft(line, " \t")
		if strings.HasPrefix(t, "```") || strings.HasPrefix(t, "~~~") {
			return true
		}
	}
	return false
}

// unfence returns the body of text when text (trimmed) is exactly one fenced
// code block, and text otherwise.
func unfence(text string) string {
	t := strings.TrimSpace(text)
	if !strings.HasPrefix(t, "```") || !strings.HasSuffix(t, "```") || len(t) < 6 {
		return text
	}
	body := t[3 : len(t)-3]
	nl := strings.IndexByte(body, '\n')
	if nl < 0 {
		return text
	}
	if info := strings.TrimSpace(body[:nl]); info != "" && strings.ContainsAny(info, " {[\"") {
		return text // the first line is content, not an info string
	}
	body = body[nl+1:]
	if strings.Contains(body, "```") {
		return text // more than one block
	}
	return body
}

// parseJSON decodes text (after unfence) as exactly one JSON value, keeping
// numbers as json.Number.
func parseJSON(text string) (any, error) {
	dec := json.NewDecoder(strings.NewReader(unfence(text)))
	dec.UseNumber()
	var v any
	if err := dec.Decode(&v); err != nil {
		return nil, err
	}
	if _, err := dec.Token(); err == nil {
		return nil, errors.New("unexpected data after the JSON value")
	}
	return v, nil
}

// IsJSON passes when the output is valid JSON (see JSONValid).
func IsJSON() eval.Checker {
	return newChecker("is-json", func(_ context.Context, in eval.CheckInput) (bool, float64, string) {
		if _, err := parseJSON(in.Output); err != nil {
			return false, 0, fmt.Sprintf("output is not valid JSON: %v", err)
		}
		return true, 1, "output is valid JSON"
	})
}

// ContainsJSON passes when some {...} or [...] span of the output is valid
// JSON (for answers that wrap JSON in prose).
func ContainsJSON() eval.Checker {
	return newChecker("contains-json", func(_ context.Context, in eval.CheckInput) (bool, float64, string) {
		out, cut := bound(in.Output)
		if _, ok := findJSON(out); ok {
			return true, 1, "output contains a JSON value" + cutNote(cut)
		}
		return false, 0, "output contains no JSON object or array" + cutNote(cut)
	})
}

// findJSON returns the first JSON object or array embedded in s. It tries at
// most 64 start positions so adversarial input stays cheap.
func findJSON(s string) (any, bool) {
	if v, err := parseJSON(s); err == nil {
		return v, true
	}
	tries := 0
	for i := 0; i < len(s) && tries < 64; i++ {
		if s[i] != '{' && s[i] != '[' {
			continue
		}
		tries++
		dec := json.NewDecoder(strings.NewReader(s[i:]))
		dec.UseNumber()
		var v any
		if err := dec.Decode(&v); err == nil {
			return v, true
		}
	}
	return nil, false
}

// noLoader refuses to load remote or file schemas referenced by $ref: a check
// must not touch the network or disk.
type noLoader struct{}

func (noLoader) Load(url string) (any, error) {
	return nil, fmt.Errorf("loading %q is not allowed; inline referenced schemas", url)
}

// compileSchema compiles a JSON Schema document.
func compileSchema(schemaJSON []byte) (*jsonschema.Schema, error) {
	doc, err := jsonschema.UnmarshalJSON(bytes.NewReader(schemaJSON))
	if err != nil {
		return nil, fmt.Errorf("json-schema: schema is not valid JSON: %w", err)
	}
	c := jsonschema.NewCompiler()
	c.UseLoader(noLoader{})
	const loc = "mem://schema.json"
	if err := c.AddResource(loc, doc); err != nil {
		return nil, fmt.Errorf("json-schema: %w", err)
	}
	s, err := c.Compile(loc)
	if err != nil {
		return nil, fmt.Errorf("json-schema: %w", err)
	}
	return s, nil
}

// validate checks a decoded value (json.Number numbers are fine) against s
// and returns a one-line error.
func validate(s *jsonschema.Schema, v any) error {
	if err := s.Validate(v); err != nil {
		var ve *jsonschema.ValidationError
		if errors.As(err, &ve) {
			return errors.New(schemaErr(ve))
		}
		return err
	}
	return nil
}

// schemaErr flattens a validation error to its first few lines, e.g.
// "at '/answer': got string, want integer; at ”: missing property 'id'".
func schemaErr(ve *jsonschema.ValidationError) string {
	lines := strings.Split(ve.Error(), "\n")
	var out []string
	for _, l := range lines[1:] {
		l = strings.TrimPrefix(strings.TrimSpace(l), "- ")
		if l == "" {
			continue
		}
		if len(out) == 4 {
			out = append(out, fmt.Sprintf("and %d more", len(lines)-1-len(out)))
			break
		}
		out = append(out, l)
	}
	if len(out) == 0 {
		return ve.Error()
	}
	return strings.Join(out, "; ")
}

// JSONSchema passes when the output is valid JSON (see JSONValid) that
// validates against schemaJSON. $ref to other documents is not resolved.
func JSONSchema(schemaJSON string) (eval.Checker, error) {
	s, err := compileSchema([]byte(schemaJSON))
	if err != nil {
		return nil, err
	}
	return newChecker("json-schema", func(_ context.Context, in eval.CheckInput) (bool, float64, string) {
		v, err := parseJSON(in.Output)
		if err != nil {
			return false, 0, fmt.Sprintf("output is not valid JSON: %v", err)
		}
		if err := validate(s, v); err != nil {
			return false, 0, "output does not match the schema: " + err.Error()
		}
		return true, 1, "output matches the schema"
	}), nil
}

// MustJSONSchema is JSONSchema that panics on an invalid schema.
func MustJSONSchema(schemaJSON string) eval.Checker {
	c, err := JSONSchema(schemaJSON)
	if err != nil {
		panic(err)
	}
	return c
}

// JSONPathEquals passes when the output is valid JSON and the first value
// at path (JSONPath, e.g. "$.answer" or "$.items[0].id") equals want. Values
// are compared as JSON: numbers by value (1 equals 1.0), objects by content.
func JSONPathEquals(path string, want any) (eval.Checker, error) {
	x, err := jp.ParseString(path)
	if err != nil {
		return nil, fmt.Errorf("json-path: %q: %w", path, err)
	}
	w, err := normJSON(want)
	if err != nil {
		return nil, fmt.Errorf("json-path: value: %w", err)
	}
	wantText, _ := json.Marshal(w)
	return newChecker(name("json-path", path), func(_ context.Context, in eval.CheckInput) (bool, float64, string) {
		v, err := parseJSON(in.Output)
		if err != nil {
			return false, 0, fmt.Sprintf("output is not valid JSON: %v", err)
		}
		got, ok := x.FirstFound(v)
		if !ok {
			return false, 0, fmt.Sprintf("%s not found in output", path)
		}
		g, err := normJSON(got)
		if err != nil {
			return false, 0, fmt.Sprintf("%s: %v", path, err)
		}
		gotText, _ := json.Marshal(g)
		if reflect.DeepEqual(g, w) {
			return true, 1, fmt.Sprintf("%s = %s", path, clip(string(gotText), snippetRunes))
		}
		return false, 0, fmt.Sprintf("%s = %s, want %s", path, clip(string(gotText), snippetRunes), clip(string(wantText), snippetRunes))
	}), nil
}

// normJSON round-trips v through JSON so values compare by content: all
// numbers become float64, all objects map[string]any.
func normJSON(v any) (any, error) {
	b, err := json.Marshal(v)
	if err != nil {
		return nil, err
	}
	var out any
	if err := json.Unmarshal(b, &out); err != nil {
		return nil, err
	}
	return out, nil
}
