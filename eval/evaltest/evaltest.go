// Package evaltest runs eval suites under go test, and provides the fake and
// recorded targets that let suites be tested offline.
//
// A suite's own test file typically reads:
//
//	func TestArithmetic(t *testing.T) {
//		target := evaltest.Recorded(t, "testdata/arithmetic.jsonl", nil)
//		evaltest.Run(t, suites.ArithmeticFollowup(), target)
//	}
//
// Run each case (and each sample, when k > 1) as a subtest, so go test -run
// selects cases by ID. Recorded replays responses captured earlier with
// go test -record (or DRIFTWATCH_RECORD=1), without touching the network.
// FromConfig returns a live target of driftwatch.yaml, and skips the test
// when its key is not set.
package evaltest

import (
	"fmt"
	"os"
	"strconv"
	"strings"
	"testing"
	"unicode/utf8"

	"github.com/driftwatch/driftwatch/eval"
)

// Option configures Run.
type Option func(*options)

type options struct {
	samples  int
	parallel bool
}

// Samples sets k, the number of samples of each case. The default is the
// suite's (SuiteInfo, SuiteOpts), else 1.
func Samples(k int) Option { return func(o *options) { o.samples = k } }

// Parallel runs the cases' subtests in parallel with each other (t.Parallel).
func Parallel() Option { return func(o *options) { o.parallel = true } }

// Run runs every case of s against target as a subtest named by the case ID
// (with a "sample-N" level below it when k > 1). A Failed sample is reported
// with t.Error, naming the case's file:line and listing its log (which holds
// each failed check's reason); an Errored sample is reported with t.Error and
// its error; a Skipped one skips its subtest.
func Run(t *testing.T, s eval.Suite, target eval.Target, opts ...Option) {
	t.Helper()
	var o options
	for _, opt := range opts {
		opt(&o)
	}
	k := o.samples
	if k == 0 {
		if si, ok := s.(eval.SuiteInfo); ok {
			k = si.Samples()
		}
	}
	if k == 0 {
		if so, ok := s.(eval.SuiteOptions); ok {
			k = so.SuiteOpts().Samples
		}
	}
	k = max(k, 1)
	for _, c := range s.Cases() {
		t.Run(c.ID, func(t *testing.T) {
			if o.parallel {
				t.Parallel()
			}
			if k == 1 {
				report(t, c, eval.RunSample(t.Context(), s, c, 0, target))
				return
			}
			for i := range k {
				t.Run("sample-"+strconv.Itoa(i), func(t *testing.T) {
					report(t, c, eval.RunSample(t.Context(), s, c, i, target))
				})
			}
		})
	}
}

// reporter is the part of testing.TB report uses.
type reporter interface {
	Helper()
	Errorf(format string, args ...any)
	Skip(args ...any)
}

// maxOutputRunes bounds the output quoted in a failure message.
const maxOutputRunes = 200

func report(t reporter, c eval.Case, res eval.SampleResult) {
	t.Helper()
	loc := "case " + c.ID
	if c.File != "" {
		loc = c.File + ":" + strconv.Itoa(c.Line) + ": " + loc
	}
	switch res.Outcome {
	case eval.Failed:
		var b strings.Builder
		fmt.Fprintf(&b, "%s sample %d failed", loc, res.Index)
		for _, l := range res.Logs {
			b.WriteString("\n    ")
			b.WriteString(l)
		}
		for _, cr := range res.Checks {
			if !cr.Pass {
				fmt.Fprintf(&b, "\n    check %s: %s", cr.Name, cr.Reason)
			}
		}
		if res.Calls > 0 {
			fmt.Fprintf(&b, "\n    output: %q", truncate(res.Output, maxOutputRunes))
		}
		t.Errorf("%s", b.String())
	case eval.Errored:
		t.Errorf("%s sample %d errored (%s): %s", loc, res.Index, res.ErrorKind, res.Err)
	case eval.Skipped:
		t.Skip(res.Err)
	}
}

func truncate(s string, n int) string {
	if utf8.RuneCountInString(s) <= n {
		return s
	}
	i := 0
	for range n {
		_, size := utf8.DecodeRuneInString(s[i:])
		i += size
	}
	return s[:i] + "…"
}

// EnvTarget is the environment variable FromEnv reads.
const EnvTarget = "DRIFTWATCH_TARGET"

// Resolver returns the target configured under name (for example from the
// driftwatch configuration file).
type Resolver func(name string) (eval.Target, error)

// FromEnv returns the target named by $DRIFTWATCH_TARGET, resolved with
// resolve. It skips the test when the variable is unset, so suites that need
// a live target do not fail in offline runs, and fails it when resolve does.
func FromEnv(t testing.TB, resolve Resolver) eval.Target {
	t.Helper()
	name := os.Getenv(EnvTarget)
	if name == "" {
		t.Skip(EnvTarget + " is not set: set it to a configured target name to run against a live model")
	}
	target, err := resolve(name)
	if err != nil {
		t.Fatalf("evaltest: resolve target %q from %s: %v", name, EnvTarget, err)
	}
	return target
}
