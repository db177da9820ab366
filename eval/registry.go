package eval

import (
	"errors"
	"fmt"
	"runtime"
	"slices"
	"sync"
)

// Registry holds suites by name. Suites are added explicitly (typically by
// one function in the suites package); there is no init-time registration.
// A Registry is safe for concurrent use.
type Registry struct {
	mu     sync.RWMutex
	suites map[string]Suite
}

// NewRegistry returns an empty Registry.
func NewRegistry() *Registry {
	return &Registry{suites: make(map[string]Suite)}
}

// Register adds s. It panics if s has an empty name or one already
// registered: both are programming errors found at startup. Use
// RegisterSafely to get an error instead.
func (r *Registry) Register(s Suite) {
	if err := r.RegisterSafely(s); err != nil {
		panic(err)
	}
}

// RegisterSafely adds s, or returns an error if s is nil, its name is empty
// or a suite of that name is already registered.
func (r *Registry) RegisterSafely(s Suite) error {
	if s == nil {
		return errors.New("eval: register nil suite")
	}
	name := s.Name()
	if name == "" {
		return errors.New("eval: register suite with empty name")
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	if _, dup := r.suites[name]; dup {
		return fmt.Errorf("eval: suite %q registered twice", name)
	}
	r.suites[name] = s
	return nil
}

// Get returns the suite called name.
func (r *Registry) Get(name string) (Suite, bool) {
	r.mu.RLock()
	defer r.mu.RUnlock()
	s, ok := r.suites[name]
	return s, ok
}

// Names returns the registered suite names, sorted.
func (r *Registry) Names() []string {
	r.mu.RLock()
	names := make([]string, 0, len(r.suites))
	for n := range r.suites {
		names = append(names, n)
	}
	r.mu.RUnlock()
	slices.Sort(names)
	return names
}

// Suites returns the registered suites sorted by name.
func (r *Registry) Suites() []Suite {
	names := r.Names()
	out := make([]Suite, 0, len(names))
	r.mu.RLock()
	defer r.mu.RUnlock()
	for _, n := range names {
		if s, ok := r.suites[n]; ok {
			out = append(out, s)
		}
	}
	return out
}

// SuiteOpts are a suite's optional run defaults.
type SuiteOpts struct {
	// Samples is the default k (samples per case); 0 means the run's
	// default (RunParams.Samples, else 1).
	Samples int
	// Description is shown in listings and reports.
	Description string
	// Version is mixed into the hash of cases that have no Hash of their
	// own: bump it when a Go case changes what it sends or checks, so that
	// history is not compared across the change. Optional for suites that
	// driftwatch run or build finds in a module (package gosuite): their
	// case hashes already cover the suite's source.
	Version string
	// Params are the default sampling parameters of every case's T.
	Params Params
	// System is the default system prompt of every case's T; empty means
	// none.
	System string
}

// SuiteOptions is implemented by suites that carry SuiteOpts. The runner and
// evaltest apply them when present.
type SuiteOptions interface {
	SuiteOpts() SuiteOpts
}

// SuiteDefaults is embedded in a suite struct to provide default
// implementations of the optional suite methods (SuiteInfo, SuiteOptions).
// Override the methods you need.
type SuiteDefaults struct{}

// Samples returns 0: the run's default.
func (SuiteDefaults) Samples() int { return 0 }

// SuiteOpts returns the zero SuiteOpts.
func (SuiteDefaults) SuiteOpts() SuiteOpts { return SuiteOpts{} }

// NewSuite returns a Suite with the given name, options and cases. The
// result also implements SuiteInfo and SuiteOptions.
func NewSuite(name string, opts SuiteOpts, cases ...Case) Suite {
	return &basicSuite{name: name, opts: opts, cases: slices.Clip(cases)}
}

// SuiteFunc adapts a name and a list of cases (typically built with
// CaseFunc) to a Suite with default options.
func SuiteFunc(name string, cases ...Case) Suite {
	return NewSuite(name, SuiteOpts{}, cases...)
}

type basicSuite struct {
	name  string
	opts  SuiteOpts
	cases []Case
}

func (s *basicSuite) Name() string         { return s.name }
func (s *basicSuite) Cases() []Case        { return s.cases }
func (s *basicSuite) Samples() int         { return s.opts.Samples }
func (s *basicSuite) SuiteOpts() SuiteOpts { return s.opts }

// CaseFunc returns a Case with the given ID running f, located at the file
// and line of the CaseFunc call so that failures point at the suite source.
func CaseFunc(id string, f func(t *T)) Case {
	_, file, line, _ := runtime.Caller(1)
	return Case{ID: id, File: file, Line: line, Func: f}
}
