// Package extract turns model outputs into answer categories (eval.Extractor)
// so the drift engine can compare answer distributions, not only pass rates.
//
// The catalog, with the Spec type name first:
//
//	regex (value)     Regex: the first capture group of the first match, else the whole match
//	json-path (value) JSONPath: the first value at a JSONPath, as text (numbers normalised)
//	first-line        FirstLine: the first non-empty line, without Markdown emphasis or a final period
//	choice            Choice: a multiple-choice letter, upper-cased ("(C)", "Answer: B", "the answer is (C)")
//	boxed             Boxed: the last \boxed{...} content, numbers normalised ("42.0" → "42", "1,000" → "1000")
//	yes-no            YesNo: "yes" or "no"
//	number            Number: the last number, normalised
//
// Every extractor trims surrounding whitespace. Choice upper-cases and YesNo
// lower-cases by definition; Spec.Lower lower-cases any other result. Inputs
// beyond MaxInputBytes are cut before matching.
package extract

import (
	"errors"
	"fmt"
	"regexp"
	"regexp/syntax"
	"strings"
	"unicode/utf8"

	"github.com/driftwatch/driftwatch/eval"
)

// Limits.
const (
	// MaxInputBytes bounds the output an extractor looks at.
	MaxInputBytes = 1 << 20
	// MaxPatternLen bounds a regular expression's length in bytes.
	MaxPatternLen = 4096
	// MaxFirstLineRunes bounds a FirstLine answer: a category, not a text.
	MaxFirstLineRunes = 200
)

// Func adapts a function to eval.Extractor.
type Func func(output string) (string, bool)

// Extract calls f(output).
func (f Func) Extract(output string) (string, bool) { return f(output) }

func bound(s string) string {
	if len(s) <= MaxInputBytes {
		return s
	}
	i := MaxInputBytes
	for i > 0 && !utf8.RuneStart(s[i]) {
		i--
	}
	return s[:i]
}

// nonEmpty reports ok only for a non-empty trimmed answer.
func nonEmpty(s string) (string, bool) {
	s = strings.TrimSpace(s)
	return s, s != ""
}

// Regex extracts the first capture group of the first match of pattern
// (RE2 syntax), or the whole match when the pattern has no group or the
// group did not take part.
func Regex(pattern string) (eval.Extractor, error) {
	if len(pattern) > MaxPatternLen {
		return nil, fmt.Errorf("regex: pattern is %d bytes, the limit is %d", len(pattern), MaxPatternLen)
	}
	re, err := regexp.Compile(pattern)
	if err != nil {
		var se *syntax.Error
		if errors.As(err, &se) {
			return nil, fmt.Errorf("regex: %s in %q", se.Code, se.Expr)
		}
		return nil, fmt.Errorf("regex: %w", err)
	}
	return Func(func(out string) (string, bool) {
		m := re.FindStringSubmatchIndex(bound(out))
		if m == nil {
			return "", false
		}
		s := bound(out)
		if len(m) >= 4 && m[2] >= 0 {
			return nonEmpty(s[m[2]:m[3]])
		}
		return nonEmpty(s[m[0]:m[1]])
	}), nil
}

// MustRegex is Regex that panics on a bad pattern.
func MustRegex(pattern string) eval.Extractor {
	e, err := Regex(pattern)
	if err != nil {
		panic(err)
	}
	return e
}

// FirstLine extracts the first non-empty line, trimmed, without surrounding
// Markdown emphasis (**, __, `, a leading "#"s) or one final period, cut to
// MaxFirstLineRunes.
func FirstLine() eval.Extractor {
	return Func(func(out string) (string, bool) {
		for line := range strings.Lines(bound(out)) {
			l := strings.TrimSpace(line)
			l = strings.TrimSpace(strings.TrimLeft(l, "#"))
			for _, m := range []string{"**", "__", "`", "*", "_"} {
				if len(l) > 2*len(m) && strings.HasPrefix(l, m) && strings.HasSuffix(l, m) {
					l = strings.TrimSpace(l[len(m) : len(l)-len(m)])
				}
			}
			l = strings.TrimSuffix(l, ".")
			if r := []rune(l); len(r) > MaxFirstLineRunes {
				l = strings.TrimSpace(string(r[:MaxFirstLineRunes]))
			}
			if l != "" {
				return l, true
			}
		}
		return "", false
	})
}

// Lower wraps e, lower-casing its answers.
func Lower(e eval.Extractor) eval.Extractor {
	return Func(func(out string) (string, bool) {
		a, ok := e.Extract(out)
		return strings.ToLower(a), ok
	})
}

// Spec declares an extractor in a YAML suite.
type Spec struct {
	// Type is one of Types().
	Type string `yaml:"type" json:"type"`
	// Value is the pattern for regex and the path for json-path.
	Value string `yaml:"value,omitempty" json:"value,omitempty"`
	// Lower lower-cases the answer (for free-text categories).
	Lower bool `yaml:"lower,omitempty" json:"lower,omitempty"`
}

var specTypes = map[string]struct {
	needsValue bool
	build      func(string) (eval.Extractor, error)
}{
	"regex":      {true, Regex},
	"json-path":  {true, JSONPath},
	"first-line": {false, func(string) (eval.Extractor, error) { return FirstLine(), nil }},
	"choice":     {false, func(string) (eval.Extractor, error) { return Choice(), nil }},
	"boxed":      {false, func(string) (eval.Extractor, error) { return Boxed(), nil }},
	"yes-no":     {false, func(string) (eval.Extractor, error) { return YesNo(), nil }},
	"number":     {false, func(string) (eval.Extractor, error) { return Number(), nil }},
}

// Types lists the extractor types New accepts.
func Types() []string {
	return []string{"boxed", "choice", "first-line", "json-path", "number", "regex", "yes-no"}
}

// New builds the extractor spec declares.
func New(spec Spec) (eval.Extractor, error) {
	typ := strings.ReplaceAll(strings.ToLower(strings.TrimSpace(spec.Type)), "_", "-")
	t, ok := specTypes[typ]
	if !ok {
		return nil, fmt.Errorf("unknown extractor type %q (one of %s)", spec.Type, strings.Join(Types(), ", "))
	}
	if t.needsValue && spec.Value == "" {
		return nil, fmt.Errorf("extractor %s: value is required", typ)
	}
	if !t.needsValue && spec.Value != "" {
		return nil, fmt.Errorf("extractor %s: value is not used by this type", typ)
	}
	e, err := t.build(spec.Value)
	if err != nil {
		if strings.HasPrefix(err.Error(), typ+":") {
			return nil, fmt.Errorf("extractor %w", err)
		}
		return nil, fmt.Errorf("extractor %s: %w", typ, err)
	}
	if spec.Lower {
		e = Lower(e)
	}
	return e, nil
}
