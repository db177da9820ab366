package extract

import (
	"encoding/json"
	"fmt"
	"math"
	"regexp"
	"strconv"
	"strings"
	"unicode/utf8"

	"github.com/driftwatch/driftwatch/eval"
	"github.com/ohler55/ojg/jp"
)

// JSONPath extracts the first value at path from output that is one JSON
// value (optionally inside a single ``` fence). Strings come out as they
// are, numbers normalised (see NormalizeNumber), other values as compact
// JSON with sorted keys.
func JSONPath(path string) (eval.Extractor, error) {
	x, err := jp.ParseString(path)
	if err != nil {
		return nil, fmt.Errorf("json-path: %q: %w", path, err)
	}
	return Func(func(out string) (string, bool) {
		dec := json.NewDecoder(strings.NewReader(unfence(bound(out))))
		dec.UseNumber()
		var v any
		if err := dec.Decode(&v); err != nil {
			return "", false
		}
		got, ok := x.FirstFound(v)
		if !ok {
			return "", false
		}
		switch g := got.(type) {
		case string:
			return nonEmpty(g)
		case json.Number:
			return NormalizeNumber(g.String())
		case nil:
			return "null", true
		}
		b, err := json.Marshal(got)
		if err != nil {
			return "", false
		}
		return string(b), true
	}), nil
}

// unfence returns the body of a single fenced code block, else s.
func unfence(s string) string {
	t := strings.TrimSpace(s)
	if !strings.HasPrefix(t, "```") || !strings.HasSuffix(t, "```") || len(t) < 6 {
		return s
	}
	body := t[3 : len(t)-3]
	nl := strings.IndexByte(body, '\n')
	if nl < 0 || strings.Contains(body[nl:], "```") {
		return s
	}
	return body[nl+1:]
}

var (
	// choiceAnswerRe finds "answer is (C)", "Answer: B", "final answer - **D**".
	choiceAnswerRe = regexp.MustCompile(`(?i)\banswer\b(?:\s+is|\s+would\s+be|\s+should\s+be)?\s*(?:[:\-=]\s*)?(?:option\s+|choice\s+)?\**\s*(\()?([a-z])\b(\))?`)
	// choiceLeadRe finds a letter that opens the output: "B", "(B)", "B) Paris", "B. Paris", "**B**".
	choiceLeadRe = regexp.MustCompile(`^\W{0,3}\(?([A-Z])(?:\)|\.|:|\*\*|$|\s*$|\s+-\s)`)
	// choiceParenRe finds "(X)" anywhere.
	choiceParenRe = regexp.MustCompile(`\(([A-Z])\)`)
)

// Choice extracts a multiple-choice letter A–Z, upper-cased. In order: the
// last "answer is X" / "Answer: X" statement (a lower-case letter counts
// only in parentheses or before punctuation, so "the answer is a bit" is
// not "A"); a letter opening the output ("B", "(B)", "B) Paris"); the only
// distinct "(X)" in the output.
func Choice() eval.Extractor {
	return Func(func(out string) (string, bool) {
		s := bound(out)
		ms := choiceAnswerRe.FindAllStringSubmatchIndex(s, -1)
		for i := len(ms) - 1; i >= 0; i-- {
			m := ms[i]
			letter := s[m[4]:m[5]]
			paren := m[2] >= 0 && m[6] >= 0
			if letter == strings.ToLower(letter) && !paren {
				rest := s[m[5]:]
				if rest != "" && !strings.ContainsAny(rest[:1], ".,;:!)*") {
					continue
				}
			}
			if letter == "I" || letter == "A" {
				// "the answer is I think ..." / "answer is A bit": require a
				// delimiter after capital I/A too.
				rest := s[m[5]:]
				if !paren && rest != "" && !strings.ContainsAny(rest[:1], ".,;:!)*\n") {
					if len(rest) > 1 && rest[0] == ' ' && isLetter(rest[1]) {
						continue
					}
				}
			}
			return strings.ToUpper(letter), true
		}
		if m := choiceLeadRe.FindStringSubmatch(strings.TrimSpace(s)); m != nil {
			return m[1], true
		}
		seen := ""
		for _, m := range choiceParenRe.FindAllStringSubmatch(s, -1) {
			if seen != "" && seen != m[1] {
				return "", false
			}
			seen = m[1]
		}
		return seen, seen != ""
	})
}

func isLetter(b byte) bool { return b >= 'a' && b <= 'z' || b >= 'A' && b <= 'Z' }

// Boxed extracts the content of the last \boxed{...} (nested braces
// allowed), without surrounding $ or spaces; a number is normalised (see
// NormalizeNumber), and \dfrac/\tfrac become \frac.
func Boxed() eval.Extractor {
	return Func(func(out string) (string, bool) {
		s := bound(out)
		i := strings.LastIndex(s, `\boxed{`)
		if i < 0 {
			i = strings.LastIndex(s, `\boxed {`)
			if i < 0 {
				return "", false
			}
		}
		start := strings.IndexByte(s[i:], '{') + i + 1
		depth := 1
		end := -1
		for j := start; j < len(s); j++ {
			switch s[j] {
			case '{':
				depth++
			case '}':
				depth--
			}
			if depth == 0 {
				end = j
				break
			}
		}
		if end < 0 {
			return "", false
		}
		v := strings.Trim(strings.TrimSpace(s[start:end]), "$ ")
		v = strings.NewReplacer(`\dfrac`, `\frac`, `\tfrac`, `\frac`, `\!`, "", `\,`, "").Replace(v)
		if n, ok := NormalizeNumber(v); ok {
			return n, true
		}
		return nonEmpty(v)
	})
}

var thousandsRe = regexp.MustCompile(`^-?\d{1,3}(?:,\d{3})+(?:\.\d+)?$`)

var numberRe = regexp.MustCompile(`[-−]?(?:\d{1,3}(?:,\d{3})+|\d+)(?:\.\d+)?(?:[eE][-+]?\d+)?|[-−]?\.\d+`)

// NormalizeNumber returns s as a canonical number: thousands commas and a
// leading "+" removed, "−" read as minus, trailing fractional zeros
// dropped ("42.0" → "42", "1,000" → "1000", "0.50" → "0.5"), a final
// "%" kept. ok is false when s is not a number.
func NormalizeNumber(s string) (string, bool) {
	t := strings.TrimSpace(s)
	pct := strings.HasSuffix(t, "%")
	t = strings.TrimSuffix(t, "%")
	t = strings.TrimPrefix(strings.ReplaceAll(t, "−", "-"), "+")
	t = strings.TrimPrefix(t, "$")
	if strings.Contains(t, ",") {
		if !thousandsRe.MatchString(t) {
			return "", false
		}
		t = strings.ReplaceAll(t, ",", "")
	}
	f, err := strconv.ParseFloat(t, 64)
	if err != nil || math.IsInf(f, 0) || math.IsNaN(f) {
		return "", false
	}
	if f == 0 {
		f = 0 // no "-0"
	}
	var out string
	if f == math.Trunc(f) && math.Abs(f) < 1e15 {
		out = strconv.FormatFloat(f, 'f', -1, 64)
	} else {
		out = strconv.FormatFloat(f, 'g', -1, 64)
		if !strings.ContainsAny(out, "e") {
			out = strconv.FormatFloat(f, 'f', -1, 64)
		}
	}
	if pct {
		out += "%"
	}
	return out, true
}

// Number extracts the last number in the output, normalised (see
// NormalizeNumber). A minus sign directly after a letter or digit is a
// hyphen ("2-3" is 3, "GPT-4" is 4).
func Number() eval.Extractor {
	return Func(func(out string) (string, bool) {
		s := bound(out)
		// Look at the tail first: the last number is usually near the end,
		// and scanning a megabyte of numbers is slow.
		if len(s) > 4096 {
			tail := s[len(s)-4096:]
			for len(tail) > 0 && !utf8.RuneStart(tail[0]) {
				tail = tail[1:]
			}
			// Skip a number the cut may have split.
			if i := strings.IndexFunc(tail, func(r rune) bool { return r == ' ' || r == '\n' }); i >= 0 {
				if n, ok := lastNumber(tail[i:]); ok {
					return n, true
				}
			}
		}
		return lastNumber(s)
	})
}

func lastNumber(s string) (string, bool) {
	ms := numberRe.FindAllStringIndex(s, -1)
	for i := len(ms) - 1; i >= 0; i-- {
		a, b := ms[i][0], ms[i][1]
		if a > 0 {
			if p := s[a-1]; isLetter(p) || p >= '0' && p <= '9' {
				switch {
				case s[a] == '-':
					a++
				case strings.HasPrefix(s[a:], "−"):
					a += len("−")
				}
			}
		}
		if a > 0 && (s[a-1] >= '0' && s[a-1] <= '9' || s[a-1] == '.') {
			continue // part of something like "1.2.3" or a version
		}
		if n, ok := NormalizeNumber(s[a:b]); ok {
			return n, true
		}
	}
	return "", false
}

var (
	yesWords   = map[string]bool{"yes": true, "yeah": true, "yep": true, "y": true, "correct": true, "true": true, "affirmative": true, "sí": true, "si": true, "oui": true, "ja": true}
	noWords    = map[string]bool{"no": true, "nope": true, "n": true, "incorrect": true, "false": true, "negative": true, "non": true, "nein": true}
	yesNoAnsRe = regexp.MustCompile(`(?i)\banswer\b(?:\s+is)?\s*[:\-]?\s*\**\s*(yes|no)\b`)
	yesNoRe    = regexp.MustCompile(`(?i)\b(yes|no)\b`)
)

// YesNo extracts "yes" or "no": from the output's first word ("Yes, ...",
// "**No.**", "Correct"), else the last "answer is yes/no", else the only
// one of the words yes/no that appears.
func YesNo() eval.Extractor {
	return Func(func(out string) (string, bool) {
		s := bound(out)
		first := strings.FieldsFunc(strings.ToLower(strings.TrimSpace(s)), func(r rune) bool {
			return r == ' ' || r == ',' || r == '.' || r == '!' || r == '*' || r == '\n' || r == ':' || r == ';' || r == '"' || r == '\'' || r == '`' || r == '#' || r == '\t'
		})
		if len(first) > 0 {
			switch {
			case yesWords[first[0]]:
				return "yes", true
			case noWords[first[0]]:
				return "no", true
			}
		}
		if ms := yesNoAnsRe.FindAllStringSubmatch(s, -1); len(ms) > 0 {
			return strings.ToLower(ms[len(ms)-1][1]), true
		}
		seen := ""
		for _, m := range yesNoRe.FindAllString(s, -1) {
			w := strings.ToLower(m)
			if seen != "" && seen != w {
				return "", false
			}
			seen = w
		}
		return seen, seen != ""
	})
}
