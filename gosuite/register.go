package gosuite

import (
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"path"
	"path/filepath"
	"slices"
	"strings"

	"github.com/driftwatch/driftwatch/eval"
)

// Package describes one package a generated main links, for Register. The
// generated main fills it from the parsed source; it is not meant to be
// written by hand.
type Package struct {
	// ImportPath and Name are the package's.
	ImportPath string
	Name       string
	// Patterns are the package patterns that matched it, as given to Build,
	// and AbsPatterns the same resolved against the build folder.
	Patterns    []string
	AbsPatterns []string
	// HelperHash hashes the package's source other than its Eval and Suite
	// functions (helpers, data, EvalOpts) and its embedded files.
	HelperHash string
	// Opts is the package's EvalOpts function; nil when it has none.
	Opts   func() eval.SuiteOpts
	Evals  []Eval
	Suites []SuiteFunc
}

// Eval is one func EvalXxx(t *eval.T): a case of its package's Eval suite.
type Eval struct {
	// Name is the function's name, EvalXxx; the case ID is Xxx.
	Name string
	Func func(t *eval.T)
	File string
	Line int
	// Hash hashes the function's declaration, comments left out.
	Hash string
}

// SuiteFunc is one func SuiteXxx() eval.Suite.
type SuiteFunc struct {
	Name string
	Func func() eval.Suite
	File string
	Line int
	// Hash hashes the function's declaration, comments left out.
	Hash string
}

// Origin says which package a suite of a built binary comes from.
type Origin struct {
	ImportPath  string
	Patterns    []string
	AbsPatterns []string
}

// Sourced is implemented by the suites Register adds. A suite of the binary
// that is not Sourced was registered some other way.
type Sourced interface {
	GoOrigin() Origin
}

// Register adds the suites of pkgs to reg: for each package, one suite named
// after the package holding its Eval functions as cases (when it has any),
// and the suite each of its Suite functions returns. Each case without a
// Hash of its own gets one from the source of what it runs (see the package
// documentation), so an edited case is a changed case, not drift.
func Register(reg *eval.Registry, pkgs ...Package) error {
	for _, p := range pkgs {
		origin := Origin{ImportPath: p.ImportPath, Patterns: p.Patterns, AbsPatterns: p.AbsPatterns}
		if len(p.Evals) > 0 {
			var opts eval.SuiteOpts
			if p.Opts != nil {
				opts = p.Opts()
			}
			cases := make([]eval.Case, len(p.Evals))
			for i, e := range p.Evals {
				id := strings.TrimPrefix(e.Name, "Eval")
				cases[i] = eval.Case{ID: id, File: e.File, Line: e.Line, Func: e.Func,
					Hash: caseHash(p.Name, opts.Version, id, p.HelperHash, e.Hash)}
			}
			s := &source{inner: eval.NewSuite(p.Name, opts, cases...), origin: origin}
			if err := reg.RegisterSafely(s); err != nil {
				return fmt.Errorf("register the Eval functions of package %s as suite %q: %w", p.ImportPath, p.Name, err)
			}
		}
		evalHashes := make([]string, len(p.Evals))
		for i, e := range p.Evals {
			evalHashes[i] = e.Hash
		}
		for _, f := range p.Suites {
			inner := f.Func()
			if inner == nil {
				return fmt.Errorf("%s:%d: %s returned a nil suite", f.File, f.Line, f.Name)
			}
			base := append([]string{p.HelperHash, f.Hash}, evalHashes...)
			if err := reg.RegisterSafely(&source{inner: inner, base: base, origin: origin}); err != nil {
				return fmt.Errorf("%s:%d: register the suite %s returns: %w", f.File, f.Line, f.Name, err)
			}
		}
	}
	return nil
}

// caseHash is the content hash of one case: the suite name, the suite's
// Version, the case ID and the hashes of the source it runs.
func caseHash(suite, version, id string, source ...string) string {
	h := sha256.New()
	for _, s := range append([]string{"gosuite/v1", suite, version, id}, source...) {
		h.Write([]byte(s))
		h.Write([]byte{0})
	}
	return hex.EncodeToString(h.Sum(nil)[:16])
}

// source is a registered suite that knows its package. Cases that have no
// Hash get one from base, the hashes of the source they run; a nil base
// means every case already has one.
type source struct {
	inner  eval.Suite
	base   []string
	origin Origin
}

func (s *source) Name() string { return s.inner.Name() }

func (s *source) Cases() []eval.Case {
	cases := s.inner.Cases()
	if s.base == nil {
		return cases
	}
	out := slices.Clone(cases)
	version := s.SuiteOpts().Version
	for i := range out {
		if out[i].Hash == "" {
			out[i].Hash = caseHash(s.inner.Name(), version, out[i].ID, s.base...)
		}
	}
	return out
}

// Samples forwards the inner suite's SuiteInfo; 0 (the run's default)
// without one.
func (s *source) Samples() int {
	if si, ok := s.inner.(eval.SuiteInfo); ok {
		return si.Samples()
	}
	return 0
}

// SuiteOpts forwards the inner suite's SuiteOptions; zero without one.
func (s *source) SuiteOpts() eval.SuiteOpts {
	if so, ok := s.inner.(eval.SuiteOptions); ok {
		return so.SuiteOpts()
	}
	return eval.SuiteOpts{}
}

func (s *source) GoOrigin() Origin { return s.origin }

// Covers reports whether o's package was matched by pattern, a suites:
// entry or run argument read relative to dir: pattern is one of the
// patterns the binary was built from, as given or resolved.
func (o Origin) Covers(dir, pattern string) bool {
	clean := cleanPattern(pattern)
	if slices.ContainsFunc(o.Patterns, func(p string) bool { return cleanPattern(p) == clean }) {
		return true
	}
	abs := cleanPattern(absPattern(dir, pattern))
	return slices.ContainsFunc(o.AbsPatterns, func(p string) bool { return cleanPattern(p) == abs })
}

// SuitesOf returns the names of reg's suites that were built from pattern,
// read relative to dir; none when the binary was not built from it.
func SuitesOf(reg *eval.Registry, dir, pattern string) []string {
	var names []string
	for _, s := range reg.Suites() {
		if src, ok := s.(Sourced); ok && src.GoOrigin().Covers(dir, pattern) {
			names = append(names, s.Name())
		}
	}
	return names
}

// cleanPattern is a pattern in a canonical form: slashes, no "./", no
// doubled or trailing separators.
func cleanPattern(p string) string {
	p = path.Clean(filepath.ToSlash(p))
	return strings.TrimPrefix(p, "./")
}

// absPattern resolves a local pattern against dir.
func absPattern(dir, pattern string) string {
	if filepath.IsAbs(pattern) {
		return filepath.Clean(pattern)
	}
	if abs, err := filepath.Abs(filepath.Join(dir, pattern)); err == nil {
		return abs
	}
	return pattern
}
