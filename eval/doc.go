// Package eval is Driftwatch's suite-authoring API and runner. Suites are
// written like go test tests, run k times per case against a model endpoint
// (a Target), and produce typed, per-sample results that the drift engine
// compares over time.
//
// # Cases
//
// A case is a function that receives a *T, much as a test receives a
// *testing.T:
//
//	eval.CaseFunc("seventeen", func(t *eval.T) {
//		out := t.Ask("What is 10+7? Answer with the number only.")
//		t.Check(out, check.Contains("17"))
//	})
//
// CaseFunc records the file and line of the call, so failures point at the
// suite source. A suite is a value with a name and cases: build one with
// NewSuite (or SuiteFunc), or implement Suite on your own type (embedding
// SuiteDefaults), and add it to a Registry explicitly. There is no init-time
// registration; Register panics on a duplicate name. In your own module,
// driftwatch run ./evals/... needs no registration at all: it finds
// func EvalXxx(t *T) cases and func SuiteXxx() Suite suites in the source
// and builds the binary that links them (package gosuite).
//
// T talks to the target through Ask (one user message), Chat (a message
// list) and ChatRequest (a full Request). SetSystem, SetParams and SetTools
// set what later calls send; the suite's SuiteOpts give their defaults. Usage
// and cost are summed over the calls, and the text of the last response is
// the sample's Output (SetOutput overrides it).
//
// # Subcases
//
// t.Run(name, f) runs f as a subcase called "case/name", in its own goroutine,
// and waits for it. Subcases are part of the case's one sample, not separate
// samples: their checks, calls and metrics count towards it, a failed subcase
// fails the sample, and their names and outcomes are listed in
// SampleResult.Subcases. Fatal or Skip in a subcase ends only the subcase.
// A -run style Filter selects subcases by the part of the pattern after the
// first slash.
//
// # Checks
//
// t.Check(output, checks...) runs each Checker (see eval/check, or write a
// CheckFunc) and records its CheckResult. A failing check fails the case and
// logs its reason, but does not stop it. When output is the text of the last
// response, the checks also see that response and its request (for finish
// reason, latency, cost and tool-call checks). The sample's Score is the
// weighted mean of its check scores. T also satisfies the small interface
// assertion libraries use (Errorf, FailNow, Helper), so helpers written for
// testing.T style APIs work with it.
//
// # Extracting answers
//
// The drift engine compares answer distributions, not only pass rates.
// t.Extract(output, ex) runs an Extractor and records the answer category it
// finds; t.SetAnswer records one directly.
//
// # Outcomes
//
// Every sample ends with one Outcome. Failed means the model's behaviour
// failed a check or an Error/Fatal call. Errored means no verdict could be
// reached: the target returned an error (the case ends at once, and the
// error's ErrorKind is recorded) or the suite code panicked (the panic value
// and a trimmed stack of suite frames are recorded). Errored samples are never
// compared for drift. Skipped means the case called Skip (for example, the
// target lacks tool calling); a case that failed before skipping is Failed.
// Cleanup functions run, last in first out, however the case ends, after
// t.Context() has been cancelled.
//
// # Parallelism
//
// Run executes every (case, sample) pair on a fixed pool of
// RunParams.Concurrency workers, in a seeded random order that interleaves
// cases. Each sample runs in its own goroutine, so samples are already
// parallel; t.Parallel is accepted for familiarity and does nothing. The
// methods that may end the case goroutine (FailNow, Fatal, SkipNow, Skip,
// Run, Chat, ChatRequest, Ask) must be called from it, as with testing.T.
// Cancelling Run's context stops scheduling, cancels the in-flight samples
// and returns the context's error; RunParams.SoftStop stops scheduling and
// lets in-flight samples finish.
//
// # Skipping
//
// t.Skip, t.Skipf and t.SkipNow end the case as Skipped with the message as
// reason. Separately, RunParams.Skip lets a resumed run pass over samples that
// are already stored: they are not executed and make no target call.
//
// # Metrics
//
// t.ReportMetric(value, unit) and t.Metric(name, value, unit) record numbers
// with the sample (latency, token counts, judge scores). As with
// testing.B.ReportMetric, units are non-empty and contain no whitespace
// (Metric panics otherwise, which errors the sample), and the last value
// reported under a name wins.
//
// # Running under go test
//
// Package evaltest runs a suite as go test subtests, one per case (and per
// sample when k > 1), against a live, fake or recorded target:
//
//	func TestArithmetic(t *testing.T) {
//		target := evaltest.Recorded(t, "testdata/arithmetic.jsonl", evaltest.FromEnv(t, resolve))
//		evaltest.Run(t, suites.ArithmeticFollowup(), target)
//	}
//
// With go test -record (or DRIFTWATCH_RECORD=1) the recorded target calls the
// live one and rewrites the file; otherwise it replays it offline.
package eval
