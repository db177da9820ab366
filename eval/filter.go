package eval

import (
	"fmt"
	"regexp"
	"strings"
)

// Filter is a compiled -run style case pattern, as RunParams.Filter takes
// it. Callers parse a user's pattern first to report a bad one, or one that
// selects no case, before a run starts.
type Filter struct{ f filter }

// ParseFilter compiles pattern (see RunParams.Filter). The empty pattern
// matches every case.
func ParseFilter(pattern string) (Filter, error) {
	f, err := parseFilter(pattern)
	return Filter{f: f}, err
}

// Match reports whether the case with this ID runs under the pattern. A
// pattern with more elements than the ID matches when the ID's elements do:
// its subcases are filtered as they run.
func (f Filter) Match(caseID string) bool { return f.f.match(caseID) }

// filter is a compiled -run style pattern: one regexp per slash-separated
// element. A nil filter matches everything.
type filter []*regexp.Regexp

// parseFilter compiles pattern as go test's -run does: it is split on slashes
// that are not inside brackets or parentheses, and each element is an
// unanchored regexp matched against the corresponding element of a case name
// ("case/variant").
func parseFilter(pattern string) (filter, error) {
	if pattern == "" {
		return nil, nil
	}
	var f filter
	for _, e := range splitPattern(pattern) {
		re, err := regexp.Compile(e)
		if err != nil {
			return nil, fmt.Errorf("eval: filter %q: element %q: %w", pattern, e, err)
		}
		f = append(f, re)
	}
	return f, nil
}

func splitPattern(s string) []string {
	var out []string
	depth, start := 0, 0
	for i := 0; i < len(s); i++ {
		switch s[i] {
		case '[', '(':
			depth++
		case ']', ')':
			if depth > 0 {
				depth--
			}
		case '\\':
			i++
		case '/':
			if depth == 0 {
				out = append(out, s[start:i])
				start = i + 1
			}
		}
	}
	return append(out, s[start:])
}

// match reports whether name may run: each of its elements matches the
// pattern element at the same depth. Names with fewer elements than the
// pattern match (their subcases are filtered when they run), as with -run.
func (f filter) match(name string) bool {
	for _, re := range f {
		elem, rest, found := strings.Cut(name, "/")
		if !re.MatchString(elem) {
			return false
		}
		if !found {
			return true
		}
		name = rest
	}
	return true
}
