package storage

import (
	"encoding/json"
	"time"
)

// Run statuses.
const (
	RunRunning   = "running"
	RunCompleted = "completed"
	RunFailed    = "failed"
	RunStopped   = "stopped"
)

// Run triggers.
const (
	TriggerCLI      = "cli"
	TriggerSchedule = "schedule"
	TriggerConfirm  = "confirm"
	TriggerAPI      = "api"
)

// Sample outcomes.
const (
	OutcomePassed  = "passed"
	OutcomeFailed  = "failed"
	OutcomeErrored = "errored"
	OutcomeSkipped = "skipped"
)

// Alert statuses.
const (
	AlertPending = "pending"
	AlertSent    = "sent"
	AlertFailed  = "failed"
)

// Case is one suite case version, identified by its key and content hash.
type Case struct {
	Key         string
	ContentHash string
	Spec        json.RawMessage // optional; NULL/empty stored as {}
}

// NewRun holds the inputs for CreateRun.
type NewRun struct {
	SuiteID        int64
	TargetID       int64
	Trigger        string          // one of the Trigger* constants
	Schedule       string          // optional cron spec or schedule name
	SamplesPerCase int             // default 1
	Config         json.RawMessage // redacted config snapshot; default {}
	HarnessVersion string
	StartedAt      time.Time // default now()
}

// FinishRun holds the inputs for Store.FinishRun.
type FinishRun struct {
	Status         string // one of RunCompleted, RunFailed, RunStopped
	Verdict        string // optional
	Reason         string
	Summary        json.RawMessage // the report; nil keeps the stored one
	BaselineRunIDs []int64
	Error          string
	CostUSD        float64
	FinishedAt     time.Time // default now()
}

// Run is a row of the runs table. Empty strings stand for NULL.
type Run struct {
	ID             int64           `db:"id"`
	SuiteID        int64           `db:"suite_id"`
	TargetID       int64           `db:"target_id"`
	Trigger        string          `db:"trigger"`
	Schedule       string          `db:"schedule"`
	Status         string          `db:"status"`
	Verdict        string          `db:"verdict"`
	VerdictReason  string          `db:"verdict_reason"`
	SamplesPerCase int             `db:"samples_per_case"`
	StartedAt      time.Time       `db:"started_at"`
	FinishedAt     *time.Time      `db:"finished_at"`
	Config         json.RawMessage `db:"config"`
	HarnessVersion string          `db:"harness_version"`
	Summary        json.RawMessage `db:"summary"`
	BaselineRunIDs []int64         `db:"baseline_run_ids"`
	Error          string          `db:"error"`
	CostUSD        float64         `db:"cost_usd"`
}

// RunFilter selects runs for ListRuns. Zero fields do not filter.
type RunFilter struct {
	// Project filters by project name ("": every project).
	Project  string
	SuiteID  int64
	TargetID int64
	Status   string
	Limit    int // page size; default 50, max 1000
	Offset   int // rows to skip, for the next page
}

// SampleKey identifies a sample within a run.
type SampleKey struct {
	CaseKey   string
	SampleIdx int
}

// Sample is one model output for one case of one run. Error is empty for a
// sample that completed (stored as NULL); Score and Answer are nil when absent.
type Sample struct {
	ID           int64           `db:"id"`
	RunID        int64           `db:"run_id"`
	CaseKey      string          `db:"case_key"`
	CaseHash     string          `db:"case_hash"`
	SampleIdx    int             `db:"sample_idx"`
	Request      json.RawMessage `db:"request"`
	Output       string          `db:"output"`
	Raw          json.RawMessage `db:"raw"`
	Identity     json.RawMessage `db:"identity"`
	IdentityHash string          `db:"identity_hash"`
	InputTokens  int             `db:"input_tokens"`
	OutputTokens int             `db:"output_tokens"`
	LatencyMS    float64         `db:"latency_ms"`
	CostUSD      float64         `db:"cost_usd"`
	Error        string          `db:"error"`
	ErrorKind    string          `db:"error_kind"`
	Outcome      string          `db:"outcome"` // one of the Outcome* constants; default derived
	Passed       bool            `db:"passed"`
	Score        *float64        `db:"score"`
	Checks       json.RawMessage `db:"checks"`
	Answer       *string         `db:"answer"`
	Refused      bool            `db:"refused"`
	JSONValid    bool            `db:"json_valid"`
	CodeFence    bool            `db:"code_fence"`
	FinishReason string          `db:"finish_reason"`
	CreatedAt    time.Time       `db:"created_at"`
	// UsageEstimated says the token counts are estimates: the endpoint
	// reported implausible ones (eval.Usage.Estimated).
	UsageEstimated bool `db:"-"`
	// OutputBytes and RawBytes are set by the writer, not by callers: the
	// exact bytes of Output and Raw when they held what PostgreSQL text or
	// jsonb cannot store (a NUL, invalid UTF-8); Output and Raw are then
	// stored cleaned (see NewSampleWriter).
	OutputBytes []byte `db:"-"`
	RawBytes    []byte `db:"-"`
}

// Key returns the sample's (case, index) key.
func (s *Sample) Key() SampleKey { return SampleKey{CaseKey: s.CaseKey, SampleIdx: s.SampleIdx} }

// Identity is one distinct identity (provider-reported model version,
// fingerprint, sampling parameters...) observed for a target.
type Identity struct {
	ID           int64           `db:"id"`
	TargetID     int64           `db:"target_id"`
	IdentityHash string          `db:"identity_hash"`
	Identity     json.RawMessage `db:"identity"`
	FirstSeen    time.Time       `db:"first_seen"`
	LastSeen     time.Time       `db:"last_seen"`
	FirstRunID   *int64          `db:"first_run_id"`
	LastRunID    *int64          `db:"last_run_id"`
}

// AcceptBaseline holds the inputs for Store.AcceptBaseline.
type AcceptBaseline struct {
	SuiteID    int64
	TargetID   int64
	RunIDs     []int64 // runs pooled into the baseline; at least one
	AcceptedBy string
	Note       string
	// PoolSize is how many runs the baseline pools once complete (default
	// 1, or len(RunIDs) when more); it grows by GrowBaseline until then.
	PoolSize int
	// SuiteHash identifies the suite's content the runs were sampled from
	// (SuiteHash); "" when unknown.
	SuiteHash string
}

// Baseline is the set of runs that later runs of a (suite, target) are compared
// against. At most one is active per (suite, target).
type Baseline struct {
	ID         int64     `db:"id"`
	SuiteID    int64     `db:"suite_id"`
	TargetID   int64     `db:"target_id"`
	RunIDs     []int64   `db:"run_ids"`
	AcceptedBy string    `db:"accepted_by"`
	Note       string    `db:"note"`
	AcceptedAt time.Time `db:"accepted_at"`
	Active     bool      `db:"active"`
}

// Finding is one statistical comparison result. NaN float fields are stored as
// NULL and read back as NaN.
type Finding struct {
	ID             int64           `db:"id"`
	RunID          int64           `db:"run_id"`
	BaselineRunIDs []int64         `db:"baseline_run_ids"`
	Scope          string          `db:"scope"`
	Metric         string          `db:"metric"`
	Statistic      string          `db:"statistic"`
	P              float64         `db:"p"`
	Q              float64         `db:"q"`
	Effect         float64         `db:"effect"`
	CILow          float64         `db:"ci_low"`
	CIHigh         float64         `db:"ci_high"`
	BaselineValue  float64         `db:"baseline_value"`
	CurrentValue   float64         `db:"current_value"`
	Verdict        string          `db:"verdict"`
	Reason         string          `db:"reason"`
	Examples       json.RawMessage `db:"examples"`
	CreatedAt      time.Time       `db:"created_at"`
}

// NewAlert holds the inputs for EnqueueAlert.
type NewAlert struct {
	FindingID     int64 // optional
	RunID         int64
	Channel       string
	DedupKey      string
	Payload       json.RawMessage
	NextAttemptAt time.Time // default now()
}

// Alert is a row of the alerts outbox.
type Alert struct {
	ID            int64           `db:"id"`
	FindingID     *int64          `db:"finding_id"`
	RunID         int64           `db:"run_id"`
	Channel       string          `db:"channel"`
	DedupKey      string          `db:"dedup_key"`
	Status        string          `db:"status"`
	Attempts      int             `db:"attempts"`
	LastError     string          `db:"last_error"`
	Payload       json.RawMessage `db:"payload"`
	CreatedAt     time.Time       `db:"created_at"`
	SentAt        *time.Time      `db:"sent_at"`
	NextAttemptAt time.Time       `db:"next_attempt_at"`
}
