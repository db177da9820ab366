package run

import (
	"context"
	"encoding/json"

	"github.com/driftwatch/driftwatch/storage"
)

// Store is what the lifecycle reads and writes. *storage.Store implements
// it; the groups below say which step needs what.
type Store interface {
	runs
	samples
	baselines
	sampling
	identities
	findings
}

// runs: Start, Stop, Analyze.
type runs interface {
	EnsureProject(ctx context.Context, name string) (int64, error)
	EnsureSuite(ctx context.Context, projectID int64, name string) (int64, error)
	EnsureTarget(ctx context.Context, projectID int64, name, provider, model string) (int64, error)
	UpsertCases(ctx context.Context, suiteID int64, cases []storage.Case) error
	CreateRun(ctx context.Context, nr storage.NewRun) (storage.Run, error)
	CreateRunKeyed(ctx context.Context, key string, nr storage.NewRun) (storage.Run, bool, error)
	GetRun(ctx context.Context, id int64) (storage.Run, error)
	FinishRun(ctx context.Context, id int64, f storage.FinishRun) error
	RunTotals(ctx context.Context, runID int64) (storage.RunTotals, error)
	RefreshRunCost(ctx context.Context, runID int64) error
	PassZHistory(ctx context.Context, suiteID, targetID int64, baselineRunIDs []int64, except int64) ([]float64, error)
	PassCountHistory(ctx context.Context, suiteID, targetID, except int64, limit int) ([]storage.RunPassCount, error)
	// WithAdvisoryLock runs fn while holding a lock named name, across
	// processes: concurrent first runs agree on one baseline.
	WithAdvisoryLock(ctx context.Context, name string, fn func(ctx context.Context) error) error
}

// samples: Execute and Analyze.
type samples interface {
	NewSampleWriter(ctx context.Context, runID int64, opts storage.SampleWriterOpts) *storage.SampleWriter
	ReplayJournal(ctx context.Context, j storage.Journal) (int, error)
	DoneSamples(ctx context.Context, runID int64) (map[storage.SampleKey]struct{}, error)
	DoneSamplesOf(ctx context.Context, runID int64, caseKeys []string) (map[storage.SampleKey]struct{}, error)
	StreamSamples(ctx context.Context, runIDs []int64, fn func(storage.Sample) error) error
	ListSamples(ctx context.Context, runID int64, caseKey string) ([]storage.Sample, error)
}

// baselines: Preflight and Analyze.
type baselines interface {
	ActivePool(ctx context.Context, suiteID, targetID int64) (storage.Pool, error)
	AcceptBaseline(ctx context.Context, a storage.AcceptBaseline) (storage.Baseline, error)
	AcceptFirstBaseline(ctx context.Context, a storage.AcceptBaseline) (storage.Baseline, bool, error)
	GrowBaseline(ctx context.Context, g storage.GrowBaseline) (storage.Pool, error)
	RebuildBaseline(ctx context.Context, r storage.RebuildBaseline) (storage.Pool, error)
}

// sampling: Start (the night's plan), Advance (the looks) and Analyze.
type sampling interface {
	RecordSampling(ctx context.Context, p storage.RunSampling) (storage.RunSampling, error)
	RecordLook(ctx context.Context, l storage.Look) error
	Sampling(ctx context.Context, runID int64) (storage.RunSampling, []storage.Look, error)
}

// identities: Preflight, Execute and Analyze.
type identities interface {
	RecordIdentity(ctx context.Context, targetID, runID int64, hash string, identity json.RawMessage) error
	IdentityHistory(ctx context.Context, targetID int64) ([]storage.Identity, error)
	DominantIdentity(ctx context.Context, targetID int64, runIDs []int64) (storage.Identity, error)
}

// findings: Analyze, Stop and Confirm.
type findings interface {
	InsertFindings(ctx context.Context, runID int64, findings []storage.Finding) ([]int64, error)
	DeleteFindings(ctx context.Context, runID int64) error
}

var _ Store = (*storage.Store)(nil)
