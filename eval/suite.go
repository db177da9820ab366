package eval

import (
	"context"
	"time"
)

// Suite is a named set of cases. Go suites implement it directly (or through
// SuiteFunc); YAML suites are loaded into values that implement it.
type Suite interface {
	// Name is unique in a Registry; it is the first element of every case
	// name ("suite/case/variant").
	Name() string
	// Cases lists the suite's cases. It is called once per run.
	Cases() []Case
}

// SuiteInfo is optional metadata a Suite may provide.
type SuiteInfo interface {
	// Samples is the default k (samples per case) for the suite; 0 means the
	// run's default.
	Samples() int
}

// Case is one unit of behaviour: a function that talks to the target through
// t and records checks. It runs k times per run (one per sample).
type Case struct {
	// ID is stable across runs; with the suite name it forms the case key.
	ID string
	// Hash is a content hash of what the case sends and checks (prompt,
	// params, checks). History is compared only while it is unchanged. Go
	// suites may leave it empty (the runner then hashes the ID and the
	// suite's Version, if any).
	Hash string
	Tags []string
	// File and Line locate the case definition for error messages.
	File string
	Line int
	Func func(t *T)
}

// Checker evaluates one output. Implementations live in eval/check; custom Go
// checks implement it directly (or through CheckFunc).
type Checker interface {
	Check(ctx context.Context, in CheckInput) CheckResult
}

// CheckFunc adapts a function to Checker.
type CheckFunc func(ctx context.Context, in CheckInput) CheckResult

// Check calls f(ctx, in).
func (f CheckFunc) Check(ctx context.Context, in CheckInput) CheckResult { return f(ctx, in) }

// CheckInput is what a check sees.
type CheckInput struct {
	Output   string
	Response *Response // nil when the output did not come from a target call
	Request  *Request  // the request that produced Response, if any
}

// CheckResult is one check's outcome.
type CheckResult struct {
	Name   string  `json:"name"`
	Pass   bool    `json:"pass"`
	Score  float64 `json:"score"` // in [0,1]
	Reason string  `json:"reason,omitempty"`
	// Weight of the check in the weighted score; 0 means 1.
	Weight float64 `json:"weight,omitempty"`
}

// Extractor turns an output into an answer category so the drift engine can
// compare answer distributions. ok is false when nothing was extracted.
type Extractor interface {
	Extract(output string) (answer string, ok bool)
}

// Outcome is a typed case result: failed is not errored is not skipped.
type Outcome string

// Outcomes.
const (
	Passed  Outcome = "passed"
	Failed  Outcome = "failed"
	Errored Outcome = "errored"
	Skipped Outcome = "skipped"
)

// SampleResult is the outcome of one (case, sample) execution, handed by the
// runner to its sink.
type SampleResult struct {
	Suite    string
	Case     string // case key: the case name below the suite, e.g. "seventeen" or "group/variant"
	CaseHash string
	Index    int // sample index, 0..k-1
	Outcome  Outcome
	// Output is the text of the last target response (the one checks ran on).
	Output string
	// Request and Response are the last call's; nil when the case made none.
	Request  *Request
	Response *Response
	Calls    int // target calls the case made
	Checks   []CheckResult
	Score    float64 // weighted check score in [0,1]; 1 when no checks ran
	Answer   string
	// HasAnswer is false when the suite has no extractor or it found nothing.
	HasAnswer bool
	Metrics   map[string]Metric
	Logs      []string
	// Err is the error for Errored (target error, panic with trimmed stack)
	// and the skip reason for Skipped.
	Err       string
	ErrorKind ErrorKind
	Started   time.Time
	Duration  time.Duration
	Usage     Usage   // summed over all calls of the case
	CostUSD   float64 // summed over all calls of the case
	// Subcases lists the subcases the case started with T.Run, in the order
	// they finished. They are part of this one sample: a failed subcase
	// fails the sample.
	Subcases []SubcaseResult
}

// SubcaseResult records one subcase (T.Run) of a sample.
type SubcaseResult struct {
	Name    string  `json:"name"` // "case/variant"
	Outcome Outcome `json:"outcome"`
}

// Metric is a value a case reported with T.ReportMetric.
type Metric struct {
	Value float64 `json:"value"`
	Unit  string  `json:"unit"`
}
