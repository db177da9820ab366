// Package run is the lifecycle of one run of a suite on a target, the same
// for every way a run starts (`driftwatch run`, a schedule's jobs under
// `serve` and `worker`, the dashboard's "run now", the demo):
//
//	Start     create the run (or load the run to resume), with its cases and
//	          its sampling plan (staged or fixed, K), fixed before any call
//	Preflight read the target's identity and check the pin before any call
//	Execute   send one stage's samples (all, or one batch), storing each as
//	          it comes
//	Stop      end a run that cannot go on: pin, budget, interrupt, unusable target
//	Advance   after a stage: take the look (recorded; final on resume) and go
//	          on to the next stage, or end the night through Analyze
//	Analyze   compare with the baseline (or become it), pool the baseline,
//	          CUSUM, change point, verdict (drift.Decide), findings, finish
//	Confirm   settle a DRIFT with the verdict of a fresh confirmation run
//
// A caller only decides where the work runs: all of it in this process
// (the CLI), or as batches on River (package jobs). The lifecycle depends on
// the small Store interface declared here, not on a database type.
package run

import (
	"cmp"
	"context"
	"fmt"
	"io"
	"log/slog"

	"github.com/driftwatch/driftwatch/drift"
	"github.com/driftwatch/driftwatch/eval"
	"github.com/driftwatch/driftwatch/provider"
	"github.com/driftwatch/driftwatch/storage"
)

// Policy is what the configuration says about every run.
type Policy struct {
	// Project is the project every run belongs to. Default "default".
	Project string
	// Drift are the statistics' settings; Seed 0 seeds each run with its id
	// so that a stored verdict can be recomputed exactly.
	Drift drift.Settings
	// BaselineRuns is how many stable runs that reached K are pooled into
	// a baseline. Default drift.DefaultBaselineRuns.
	BaselineRuns int
	// Sampling is the configured sampling plan (zero: the defaults); each
	// night's plan is fixed from it in Start (drift.Plan.Night).
	Sampling drift.Plan
	// MaxCostUSD caps one run's spend; 0: no cap.
	MaxCostUSD float64
	// HarnessVersion is stored with every run.
	HarnessVersion string
	// ResumeCommand is the command that finishes run id, ready to paste.
	ResumeCommand func(id int64) string
	// WriterRetries is how often a failed flush of samples is retried
	// (backoff 0.1 s·n²). Default WriterRetriesDefault.
	WriterRetries int
	// Journal is a local folder where each execution keeps the samples it
	// has received and not stored yet (storage.Journal), so that a
	// process killed before storing them loses none: resuming the run (or
	// retrying its batch) on this machine stores them instead of sending
	// their calls again. "": no journal.
	Journal string
}

// WriterRetriesDefault retries a failed flush of samples for about 65 s in
// all: enough to ride out a PostgreSQL restart without losing a sample that
// was paid for.
const WriterRetriesDefault = 12

// Target is a configured target as the lifecycle drives it.
type Target struct {
	Name     string
	Provider string
	Model    string
	// BaseURL is stored with the run (without credentials).
	BaseURL       string
	Params        eval.Params
	Deterministic bool
	// Concurrency bounds the samples in flight.
	Concurrency int
	// Call sends a request; a caller may wrap the provider's client (a
	// process-wide bound, a cluster-wide rate limit or budget).
	Call eval.Target
	// Probe reads an open server's identity before any case is sent; nil
	// when the target cannot be probed.
	Probe func(ctx context.Context) (*eval.Identity, error)
	// CheckPin compares an identity with the target's pin (and the
	// baseline's identity for a baseline pin); nil: no pin.
	CheckPin func(id eval.Identity, baseline *eval.Identity) error
	// PinWarn says a pin mismatch only warns: the run goes on and its
	// report carries the change.
	PinWarn bool
	// Estimate prices a request before it is sent, for the budget.
	Estimate provider.EstimateFunc
}

func (t *Target) checkPin(id eval.Identity, baseline *eval.Identity) error {
	if t.CheckPin == nil {
		return nil
	}
	return t.CheckPin(id, baseline)
}

// Lifecycle runs runs. It is safe for concurrent use.
type Lifecycle struct {
	store   Store
	policy  Policy
	logger  *slog.Logger
	notices io.Writer
}

// New returns a Lifecycle. Notices ("run 12 stopped: ...") go to notices;
// nil discards them.
func New(store Store, policy Policy, logger *slog.Logger, notices io.Writer) *Lifecycle {
	if logger == nil {
		logger = slog.New(slog.NewTextHandler(io.Discard, nil))
	}
	if notices == nil {
		notices = io.Discard
	}
	policy.Project = cmp.Or(policy.Project, storage.DefaultProject)
	policy.BaselineRuns = cmp.Or(policy.BaselineRuns, drift.DefaultBaselineRuns)
	policy.WriterRetries = cmp.Or(policy.WriterRetries, WriterRetriesDefault)
	if policy.ResumeCommand == nil {
		policy.ResumeCommand = func(id int64) string { return fmt.Sprintf("driftwatch run --resume %d", id) }
	}
	return &Lifecycle{store: store, policy: policy, logger: logger, notices: notices}
}

// settings are the drift settings of run id.
func (l *Lifecycle) settings(runID int64) drift.Settings {
	s := l.policy.Drift
	s.Seed = cmp.Or(s.Seed, uint64(runID))
	return s.WithDefaults()
}
