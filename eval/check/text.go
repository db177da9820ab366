package check

import (
	"context"
	"errors"
	"fmt"
	"regexp"
	"regexp/syntax"
	"strings"

	"github.com/driftwatch/driftwatch/eval"
)

// Equals passes when the output, with surrounding whitespace trimmed, is
// exactly want (also trimmed).
func Equals(want string) eval.Checker {
	w := strings.TrimSpace(want)
	return newChecker(name("equals", want), func(_ context.Context, in eval.CheckInput) (bool, float64, string) {
		got := strings.TrimSpace(in.Output)
		if got == w {
			return true, 1, "output equals " + snippet(w)
		}
		return false, 0, fmt.Sprintf("output %s does not equal %s", snippet(got), snippet(w))
	})
}

// Contains passes when the output contains s (case-sensitive).
func Contains(s string) eval.Checker {
	return newChecker(name("contains", s), func(_ context.Context, in eval.CheckInput) (bool, float64, string) {
		if strings.Contains(in.Output, s) {
			return true, 1, "output contains " + snippet(s)
		}
		return false, 0, fmt.Sprintf("output %s does not contain %s", snippet(in.Output), snippet(s))
	})
}

// NotContains passes when the output does not contain s (case-sensitive).
func NotContains(s string) eval.Checker {
	return newChecker(name("not-contains", s), func(_ context.Context, in eval.CheckInput) (bool, float64, string) {
		if i := strings.Index(in.Output, s); i >= 0 {
			return false, 0, fmt.Sprintf("output contains %s at byte %d", snippet(s), i)
		}
		return true, 1, "output does not contain " + snippet(s)
	})
}

// IContains passes when the output contains s, ignoring case (Unicode
// simple lower-casing).
func IContains(s string) eval.Checker {
	ls := strings.ToLower(s)
	return newChecker(name("icontains", s), func(_ context.Context, in eval.CheckInput) (bool, float64, string) {
		if strings.Contains(strings.ToLower(in.Output), ls) {
			return true, 1, "output contains (ignoring case) " + snippet(s)
		}
		return false, 0, fmt.Sprintf("output %s does not contain (ignoring case) %s", snippet(in.Output), snippet(s))
	})
}

// NotIContains passes when the output does not contain s, ignoring case.
func NotIContains(s string) eval.Checker {
	return Not(IContains(s))
}

// ContainsAny passes when the output contains at least one of ss.
func ContainsAny(ss ...string) eval.Checker { return containsSet("contains-any", false, false, ss) }

// ContainsAll passes when the output contains every one of ss; the score is
// the fraction found.
func ContainsAll(ss ...string) eval.Checker { return containsSet("contains-all", true, false, ss) }

// IContainsAny is ContainsAny ignoring case.
func IContainsAny(ss ...string) eval.Checker { return containsSet("icontains-any", false, true, ss) }

// IContainsAll is ContainsAll ignoring case.
func IContainsAll(ss ...string) eval.Checker { return containsSet("icontains-all", true, true, ss) }

func containsSet(kind string, all, fold bool, ss []string) eval.Checker {
	needles := make([]string, len(ss))
	for i, s := range ss {
		needles[i] = s
		if fold {
			needles[i] = strings.ToLower(s)
		}
	}
	return newChecker(name(kind, strings.Join(ss, "|")), func(_ context.Context, in eval.CheckInput) (bool, float64, string) {
		out := in.Output
		if fold {
			out = strings.ToLower(out)
		}
		var found, missing []string
		for i, n := range needles {
			if strings.Contains(out, n) {
				found = append(found, ss[i])
			} else {
				missing = append(missing, ss[i])
			}
		}
		if len(ss) == 0 {
			return all, boolScore(all), "no values to look for"
		}
		if all {
			score := float64(len(found)) / float64(len(ss))
			if len(missing) == 0 {
				return true, 1, fmt.Sprintf("output contains all %d values", len(ss))
			}
			return false, score, fmt.Sprintf("output lacks %d of %d values: %s", len(missing), len(ss), quoteList(missing))
		}
		if len(found) > 0 {
			return true, 1, "output contains " + snippet(found[0])
		}
		return false, 0, fmt.Sprintf("output %s contains none of %s", snippet(in.Output), quoteList(ss))
	})
}

func quoteList(ss []string) string {
	q := make([]string, 0, len(ss))
	for i, s := range ss {
		if i == 5 {
			q = append(q, fmt.Sprintf("… (%d more)", len(ss)-i))
			break
		}
		q = append(q, snippet(clip(s, 30)))
	}
	return strings.Join(q, ", ")
}

// StartsWith passes when the output, with leading whitespace trimmed, starts
// with prefix.
func StartsWith(prefix string) eval.Checker {
	return newChecker(name("starts-with", prefix), func(_ context.Context, in eval.CheckInput) (bool, float64, string) {
		if strings.HasPrefix(strings.TrimLeft(in.Output, " \t\r\n"), prefix) {
			return true, 1, "output starts with " + snippet(prefix)
		}
		return false, 0, fmt.Sprintf("output %s does not start with %s", snippet(in.Output), snippet(prefix))
	})
}

// EndsWith passes when the output, with trailing whitespace trimmed, ends
// with suffix.
func EndsWith(suffix string) eval.Checker {
	return newChecker(name("ends-with", suffix), func(_ context.Context, in eval.CheckInput) (bool, float64, string) {
		out := strings.TrimRight(in.Output, " \t\r\n")
		if strings.HasSuffix(out, suffix) {
			return true, 1, "output ends with " + snippet(suffix)
		}
		tail := out
		if r := []rune(lastBytes(out, 400)); len(r) > snippetRunes {
			tail = string(r[len(r)-snippetRunes:])
		}
		return false, 0, fmt.Sprintf("output ending %q does not end with %s", tail, snippet(suffix))
	})
}

// lastBytes returns at most the last n bytes of s, starting on a rune boundary.
func lastBytes(s string, n int) string {
	if len(s) <= n {
		return s
	}
	s = s[len(s)-n:]
	for len(s) > 0 && s[0]&0xC0 == 0x80 {
		s = s[1:]
	}
	return s
}

// Regex passes when the output matches pattern (Go RE2 syntax, linear time).
// Patterns longer than MaxPatternLen are rejected, and only the first
// MaxInputBytes of the output are matched.
func Regex(pattern string) (eval.Checker, error) {
	re, err := compileRegex(pattern)
	if err != nil {
		return nil, err
	}
	return newChecker(name("regex", pattern), func(_ context.Context, in eval.CheckInput) (bool, float64, string) {
		out, cut := bound(in.Output)
		if loc := re.FindStringIndex(out); loc != nil {
			return true, 1, fmt.Sprintf("output matches /%s/ at %s%s", clip(pattern, 60), snippet(out[loc[0]:loc[1]]), cutNote(cut))
		}
		return false, 0, fmt.Sprintf("output %s does not match /%s/%s", snippet(out), clip(pattern, 60), cutNote(cut))
	}), nil
}

// MustRegex is Regex that panics on a bad pattern, for package-level suite
// definitions.
func MustRegex(pattern string) eval.Checker {
	c, err := Regex(pattern)
	if err != nil {
		panic(err)
	}
	return c
}

// compileRegex compiles pattern with a precise, short error.
func compileRegex(pattern string) (*regexp.Regexp, error) {
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
	return re, nil
}
