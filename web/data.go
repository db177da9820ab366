package web

import (
	"context"
	"encoding/json"
	"errors"
	"time"
)

// Errors the Data and Actions implementations return (wrapped) so that the
// dashboard can answer with the right status; see errorStatus.
var (
	// ErrNotFound: the run, pair or case does not exist.
	ErrNotFound = errors.New("not found")
	// ErrInvalid: the request cannot be done as asked (a run that is not
	// completed cannot be a baseline, a bad parameter).
	ErrInvalid = errors.New("invalid request")
	// ErrBusy: a run started from the dashboard is still going.
	ErrBusy = errors.New("busy")
	// ErrForbidden: actions are off, or the token or CSRF check failed.
	ErrForbidden = errors.New("forbidden")
	// ErrTooManyAttempts: too many wrong tokens lately; wait.
	ErrTooManyAttempts = errors.New("too many attempts")
	// ErrUnavailable: the dashboard is too busy to build the page now.
	ErrUnavailable = errors.New("unavailable")
)

// Data is what the dashboard reads. app adapts *storage.Store to it; the
// types below mirror storage's rows field for field so that the adapter
// converts them directly.
type Data interface {
	// LatestRunsPerPair returns the perPair newest runs of every (suite,
	// target), grouped by suite and target name, newest first.
	LatestRunsPerPair(ctx context.Context, perPair int) ([]RunListing, error)
	// ListRunListings returns a page of runs, newest first.
	ListRunListings(ctx context.Context, f RunFilter) ([]RunListing, error)
	// GetRunListing returns one run with its whole stored report.
	GetRunListing(ctx context.Context, id int64) (RunListing, error)
	// PairIDs resolves names to ids.
	PairIDs(ctx context.Context, suite, target string) (suiteID, targetID int64, err error)
	ListBaselines(ctx context.Context, suiteID, targetID int64) ([]Baseline, error)
	ListSamplePage(ctx context.Context, f SampleFilter) ([]Sample, error)
	RunLatencies(ctx context.Context, runIDs []int64) (map[int64]float64, error)
	ListAlerts(ctx context.Context, f AlertFilter) ([]Alert, error)
}

// Actions are the dashboard's writes. Either func may be nil: its form is
// then not shown.
type Actions struct {
	// AcceptBaseline makes run id the active baseline of its pair.
	AcceptBaseline func(ctx context.Context, runID int64, by, note string) error
	// RunNow starts a run of suite on target and returns without waiting for
	// it; ErrBusy when one is already going.
	RunNow func(ctx context.Context, suite, target string) error
}

// RunListing is a run with its suite and target names. Summary is the stored
// report.Report JSON (in lists without its per-case and finding lists).
type RunListing struct {
	ID             int64
	Project        string
	SuiteID        int64
	TargetID       int64
	Suite          string
	Target         string
	Trigger        string
	Status         string
	Verdict        string
	VerdictReason  string
	SamplesPerCase int
	StartedAt      time.Time
	FinishedAt     *time.Time
	BaselineRunIDs []int64
	Error          string
	CostUSD        float64
	Summary        json.RawMessage
}

// RunFilter selects runs. Zero fields do not filter.
type RunFilter struct {
	Project  string
	SuiteID  int64
	TargetID int64
	Status   string
	Limit    int
	Offset   int
}

// SampleFilter selects samples.
type SampleFilter struct {
	RunIDs     []int64
	CaseKey    string
	ErrorsOnly bool
	Limit      int
	Offset     int
	// MaxText, when > 0, bounds what is loaded of each sample: output and
	// error cut to MaxText+1 characters, the request left out when longer
	// than MaxText bytes.
	MaxText int
}

// AlertFilter selects alerts.
type AlertFilter struct {
	Status string
	Limit  int
	Offset int
}

// Sample is one stored model output.
type Sample struct {
	ID           int64
	RunID        int64
	CaseKey      string
	CaseHash     string
	SampleIdx    int
	Request      json.RawMessage
	Output       string
	Raw          json.RawMessage
	Identity     json.RawMessage
	IdentityHash string
	InputTokens  int
	OutputTokens int
	LatencyMS    float64
	CostUSD      float64
	Error        string
	ErrorKind    string
	Outcome      string
	Passed       bool
	Score        *float64
	Checks       json.RawMessage
	Answer       *string
	Refused      bool
	JSONValid    bool
	CodeFence    bool
	FinishReason string
	CreatedAt    time.Time
	// UsageEstimated says the token counts are estimates (the endpoint
	// reported implausible ones).
	UsageEstimated bool
	// OutputBytes and RawBytes are the exact reply and response body when
	// Output and Raw hold cleaned copies (a NUL, invalid UTF-8).
	OutputBytes []byte
	RawBytes    []byte
}

// Baseline is an accepted baseline of a pair.
type Baseline struct {
	ID         int64
	SuiteID    int64
	TargetID   int64
	RunIDs     []int64
	AcceptedBy string
	Note       string
	AcceptedAt time.Time
	Active     bool
}

// Alert is a row of the alert outbox.
type Alert struct {
	ID            int64
	FindingID     *int64
	RunID         int64
	Channel       string
	DedupKey      string
	Status        string
	Attempts      int
	LastError     string
	Payload       json.RawMessage
	CreatedAt     time.Time
	SentAt        *time.Time
	NextAttemptAt time.Time
}
