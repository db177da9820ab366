package run_test

import (
	"context"
	"encoding/json"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/driftwatch/driftwatch/drift"
	"github.com/driftwatch/driftwatch/report"
	"github.com/driftwatch/driftwatch/run"
	"github.com/driftwatch/driftwatch/storage"
	"github.com/driftwatch/driftwatch/storage/storagetest"
)

// driftedRun stores a completed DRIFT run with one DRIFT finding and a
// drifted case, as Analyze leaves it.
func driftedRun(t *testing.T, st *storage.Store) storage.Run {
	t.Helper()
	ctx := context.Background()
	pid := storagetest.ProjectID(t, st)
	sid, err := st.EnsureSuite(ctx, pid, "arith")
	require.NoError(t, err)
	tid, err := st.EnsureTarget(ctx, pid, "gpt", "openai", "gpt-4o")
	require.NoError(t, err)
	row, err := st.CreateRun(ctx, storage.NewRun{SuiteID: sid, TargetID: tid, Trigger: storage.TriggerCLI, SamplesPerCase: 5,
		Config: json.RawMessage(`{"suite":"arith","target":"gpt"}`)})
	require.NoError(t, err)
	rep := report.Report{Suite: "arith", Target: "gpt", RunID: row.ID, Verdict: string(drift.Drift), Reason: "pass rate fell",
		Status: storage.RunCompleted, DriftedCases: []string{"c1"}, Cases: []report.Case{{Key: "c1", Drifted: true}},
		Findings: []drift.Finding{{Metric: drift.MetricPassRate, Scope: drift.ScopeSuite, Verdict: drift.Drift, Reason: "fell", P: 0.001, Q: 0.001}}}
	summary, err := json.Marshal(rep)
	require.NoError(t, err)
	_, err = st.InsertFindings(ctx, row.ID, []storage.Finding{{Scope: drift.ScopeSuite, Metric: drift.MetricPassRate, Verdict: "DRIFT", P: 0.001, Q: 0.001}})
	require.NoError(t, err)
	require.NoError(t, st.FinishRun(ctx, row.ID, storage.FinishRun{Status: storage.RunCompleted, Verdict: rep.Verdict, Reason: rep.Reason, Summary: summary}))
	return row
}

func TestConfirmationOverturnsConfirmsOrLeavesADriftStanding(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	st := storagetest.NewStore(t)
	lc := run.New(st, run.Policy{}, nil, nil)
	for _, tc := range []struct {
		confirmation string
		verdict      string
		reason       string
		findings     []string
		drifted      int
	}{
		{"DRIFT", "DRIFT", "Confirmed by run 99.", []string{"DRIFT"}, 1},
		{"STABLE", "STABLE", "not confirmed: confirmation run 99 was STABLE", []string{"WARN"}, 0},
		{"INCONCLUSIVE", "DRIFT", "so the DRIFT stands", []string{"DRIFT"}, 1},
	} {
		t.Run(tc.confirmation, func(t *testing.T) {
			row := driftedRun(t, st)
			rep, err := lc.Confirm(ctx, row.ID, &report.Report{RunID: 99, Verdict: tc.confirmation, Reason: "why"})
			require.NoError(t, err)
			require.Equal(t, tc.verdict, rep.Verdict)
			require.Contains(t, rep.Reason, tc.reason)
			require.Equal(t, int64(99), rep.ConfirmRunID)
			require.Len(t, rep.DriftedCases, tc.drifted)
			var verdicts []string
			for _, f := range rep.Findings {
				verdicts = append(verdicts, string(f.Verdict))
			}
			require.Equal(t, tc.findings, verdicts)
			stored, err := st.GetRun(ctx, row.ID)
			require.NoError(t, err)
			require.Equal(t, tc.verdict, stored.Verdict, "the stored verdict is the settled one")
			fs, err := st.ListFindings(ctx, row.ID)
			require.NoError(t, err)
			require.Len(t, fs, 1)
			require.Equal(t, tc.findings[0], fs[0].Verdict, "the stored findings are the report's")

			// A retried confirmation (a job run twice) changes nothing.
			again, err := lc.Confirm(ctx, row.ID, &report.Report{RunID: 100, Verdict: "STABLE"})
			require.NoError(t, err)
			require.Equal(t, rep.Verdict, again.Verdict)
			require.Equal(t, int64(99), again.ConfirmRunID)
		})
	}
}
