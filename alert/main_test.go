package alert_test

import (
	"context"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	"go.uber.org/goleak"

	"github.com/driftwatch/driftwatch/drift"
	"github.com/driftwatch/driftwatch/report"
	"github.com/driftwatch/driftwatch/storage"
	"github.com/driftwatch/driftwatch/storage/storagetest"
)

func TestMain(m *testing.M) {
	goleak.VerifyTestMain(m)
}

// fakeClock is a settable clock for NowFunc fields.
type fakeClock struct {
	mu sync.Mutex
	t  time.Time
}

func newFakeClock() *fakeClock {
	// Near real time: the database compares our times with its own defaults.
	return &fakeClock{t: time.Now().UTC().Truncate(time.Second)}
}

func (c *fakeClock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.t
}

func (c *fakeClock) Advance(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.t = c.t.Add(d)
}

// newRun creates a suite, a target and a run so that alerts have a run_id.
func newRun(t *testing.T, st *storage.Store) int64 {
	t.Helper()
	ctx := context.Background()
	sid, err := st.EnsureSuite(ctx, storagetest.ProjectID(t, st), "prime")
	require.NoError(t, err)
	tid, err := st.EnsureTarget(ctx, storagetest.ProjectID(t, st), "gpt4", "openai", "gpt-4o")
	require.NoError(t, err)
	run, err := st.CreateRun(ctx, storage.NewRun{SuiteID: sid, TargetID: tid, Trigger: storage.TriggerCLI})
	require.NoError(t, err)
	return run.ID
}

func ptr[T any](v T) *T { return &v }

// driftReport is a DRIFT report with suite and case findings.
func driftReport(runID int64) *report.Report {
	return &report.Report{
		Suite: "prime", Target: "gpt4", RunID: runID, BaselineRunIDs: []int64{1, 2},
		Verdict: string(drift.Drift), Status: "completed",
		Reason:           "pass rate dropped by 0.20 (Holm q=0.0001)",
		Identity:         &report.Identity{Provider: "openai", RequestedModel: "gpt-4o", ResolvedModel: "gpt-4o-2024-11-20", Fingerprint: "fp_new"},
		BaselineIdentity: &report.Identity{Provider: "openai", RequestedModel: "gpt-4o", ResolvedModel: "gpt-4o-2024-08-06", Fingerprint: "fp_old"},
		Metrics: report.Metrics{
			PassRate: &report.Value{Value: 0.7, Baseline: ptr(0.9), Delta: ptr(-0.2), CI: &drift.Interval{Low: -0.26, High: -0.14}, P: ptr(1.2e-5)},
			Samples:  200, ErrorCount: 1,
		},
		Findings: []drift.Finding{
			{Metric: drift.MetricPassRate, Scope: drift.ScopeSuite, Statistic: "CMH", Baseline: 0.9, Current: 0.7, Effect: -0.2,
				CI: &drift.Interval{Low: -0.26, High: -0.14}, P: 1.2e-5, Q: 1e-4, Verdict: drift.Drift, Reason: "pass rate dropped"},
			{Metric: drift.MetricRefusal, Scope: drift.ScopeSuite, Statistic: "CMH", Baseline: 0.01, Current: 0.02, Effect: 0.01,
				P: 0.3, Q: 1, Verdict: drift.Stable},
			{Metric: drift.MetricCasePass, Scope: drift.ScopeCasePrefix + "seventeen", Baseline: 1, Current: 0.2, Effect: -0.8,
				P: 0.001, Q: 0.01, Verdict: drift.Warn,
				Examples: []drift.Example{{Case: "seventeen", Baseline: "[Yes] 17 is prime.", Current: "[No] 17 = 3*6-1"}}},
		},
		DriftedCases: []string{"seventeen"},
	}
}

func nanValue() float64 {
	zero := 0.0
	return zero / zero
}

func fmtSprintf(format string, args ...any) string { return fmt.Sprintf(format, args...) }
