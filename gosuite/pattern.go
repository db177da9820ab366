package gosuite

import (
	"os"
	"path/filepath"
	"slices"
	"strings"

	"github.com/driftwatch/driftwatch/eval"
)

// IsPattern reports whether arg, a run or build argument or an entry of the
// config's suites: list, names Go packages rather than YAML suites or a
// registered suite. Relative args are read from dir. The rule:
//
//   - arg ends in "/..." (or is "..."): always Go packages, as in go test
//     ./evals/...;
//   - arg is a local path (".", "..", starting with "./" or "../", or
//     absolute) to a folder that holds .go files (other than _test.go) and
//     no YAML suite files (*.yaml, *.yml): that Go package;
//   - anything else is not a pattern: a YAML file or folder, or the name of
//     a registered Go suite. Write ./shout, not shout, to name the Go package
//     in folder shout.
func IsPattern(dir, arg string) bool {
	s := filepath.ToSlash(arg)
	if s == "..." || strings.HasSuffix(s, "/...") {
		return true
	}
	local := s == "." || s == ".." || strings.HasPrefix(s, "./") || strings.HasPrefix(s, "../") || filepath.IsAbs(arg)
	if !local {
		return false
	}
	p := arg
	if !filepath.IsAbs(p) {
		p = filepath.Join(dir, arg)
	}
	entries, err := os.ReadDir(p)
	if err != nil {
		return false
	}
	var goFiles bool
	for _, e := range entries {
		n := e.Name()
		switch {
		case e.IsDir():
		case strings.HasSuffix(n, ".yaml"), strings.HasSuffix(n, ".yml"):
			return false
		case strings.HasSuffix(n, ".go") && !strings.HasSuffix(n, "_test.go"):
			goFiles = true
		}
	}
	return goFiles
}

// Args prepares a built binary's command line, which may still name the
// patterns it was built from (driftwatch run ./evals/... passes its
// arguments on unchanged). Arguments equal to one of those patterns are
// removed; for the run command, unless --suite is given, a --suite flag is
// added for every suite the removed patterns built, so that exactly their
// suites run, as go test ./evals/... runs exactly those tests. Other
// arguments are kept in order.
func Args(args []string, reg *eval.Registry) []string {
	out := make([]string, 0, len(args))
	var suites []string
	for _, a := range args {
		names := SuitesOf(reg, ".", a)
		if len(names) == 0 || strings.HasPrefix(a, "-") {
			out = append(out, a)
			continue
		}
		for _, n := range names {
			if !slices.Contains(suites, n) {
				suites = append(suites, n)
			}
		}
	}
	if len(suites) == 0 || Command(out) != "run" || slices.ContainsFunc(out, isSuiteFlag) {
		return out
	}
	for _, n := range suites {
		out = append(out, "--suite", n)
	}
	return out
}

func isSuiteFlag(a string) bool { return a == "--suite" || strings.HasPrefix(a, "--suite=") }

// globalValueFlags are the driftwatch root flags that take a value.
var globalValueFlags = []string{"--config", "--data-dir"}

// Command returns the driftwatch subcommand args name ("run", "build",
// "serve", ...): the first argument that is neither a flag nor the value of
// a root flag. "" when there is none.
func Command(args []string) string {
	for i := 0; i < len(args); i++ {
		a := args[i]
		switch {
		case a == "--":
			return ""
		case slices.Contains(globalValueFlags, a):
			i++ // its value
		case strings.HasPrefix(a, "-"):
		default:
			return a
		}
	}
	return ""
}
