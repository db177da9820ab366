// Package suites holds Driftwatch's example suites, the kind a company runs
// nightly against the models it depends on.
//
// YAML suites (embedded in FS, so the demo runs from any folder):
//
//	arithmetic           integer arithmetic with an extracted numeric answer
//	support-triage       support emails classified into a routing category, as JSON
//	borderline-requests  risky-sounding but legitimate requests must not be refused
//
// Go suites, added to a registry by Register:
//
//	arithmetic-followup  arithmetic, then "Are you sure?": the answer must survive pushback
//	codegen              Go functions returned as bare code, no prose and no fences
//	tool-use             a support agent calls declared tools with valid arguments
//
// There is no init-time registration: a binary calls Register.
//
// Prompts whose correct answer the simulator cannot work out carry its
// answer hint, [[sim:expect=ANSWER]] (see package sim). The simulator uses
// the hint as the correct answer and never echoes it; a real model sees an
// opaque marker at the end of the prompt, which these suites tolerate.
package suites

import (
	"embed"

	"github.com/driftwatch/driftwatch/eval"
)

// FS holds the example YAML suites and their datasets.
//
//go:embed *.yaml *.jsonl *.csv
var FS embed.FS

// Register adds the example Go suites to r. It panics on a duplicate name,
// like eval.Registry.Register.
func Register(r *eval.Registry) {
	r.Register(ArithmeticFollowup())
	r.Register(Codegen())
	r.Register(ToolUse())
}

// ptr returns a pointer to v, for optional sampling parameters.
func ptr[T any](v T) *T { return &v }
