// Package suites holds Driftwatch's example suites: YAML suites (embedded in
// FS, so the demo runs from any folder) and Go suites added to a registry by
// Register. There is no init-time registration: a binary calls Register.
package suites

import (
	"embed"

	"github.com/driftwatch/driftwatch/eval"
)

// FS holds the example YAML suites and their datasets.
//
//go:embed *.yaml *.jsonl
var FS embed.FS

// Register adds the example Go suites to r. It panics on a duplicate name,
// like eval.Registry.Register.
func Register(r *eval.Registry) {
	_ = r // Go example suites are added here as they are written.
}
