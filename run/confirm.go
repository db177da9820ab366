package run

import (
	"cmp"
	"context"
	"encoding/json"
	"fmt"

	"github.com/driftwatch/driftwatch/drift"
	"github.com/driftwatch/driftwatch/report"
	"github.com/driftwatch/driftwatch/storage"
)

// Confirm settles the drifted run parentID with the report of its
// confirmation run (drift.Confirm): DRIFT again confirms it, STABLE
// overturns it, anything else leaves the DRIFT standing. It stores and
// returns the parent's report; a parent settled before is returned as
// stored (a retried job).
func (l *Lifecycle) Confirm(ctx context.Context, parentID int64, crep *report.Report) (*report.Report, error) {
	parent, err := l.store.GetRun(ctx, parentID)
	if err != nil {
		return nil, err
	}
	var rep report.Report
	if err := json.Unmarshal(parent.Summary, &rep); err != nil {
		return nil, fmt.Errorf("run %d: decode its report: %w", parentID, err)
	}
	if rep.ConfirmRunID != 0 {
		return &rep, nil
	}
	rep.ConfirmRunID = crep.RunID
	outcome := drift.Confirm(drift.Verdict(crep.Verdict))
	switch outcome {
	case drift.Confirmed:
		rep.Reason += fmt.Sprintf(" Confirmed by run %d.", crep.RunID)
	case drift.Unconfirmed:
		rep.Reason += fmt.Sprintf(" Not confirmed: confirmation run %d was %s (%s), so the DRIFT stands.",
			crep.RunID, cmp.Or(crep.Verdict, crep.Status), crep.Reason)
	case drift.Overturned:
		overturn(&rep, crep)
		// The stored findings are the report's: no DRIFT finding is left
		// for the dashboard or the alerts.
		if err := l.store.DeleteFindings(ctx, parentID); err != nil {
			return nil, err
		}
		return &rep, l.finish(ctx, &rep, rep.Status, "")
	}
	return &rep, l.store.FinishRun(ctx, parentID, storage.FinishRun{Status: rep.Status, Verdict: rep.Verdict, Reason: rep.Reason,
		Summary: encodeJSON(rep), BaselineRunIDs: rep.BaselineRunIDs, CostUSD: rep.Metrics.CostUSD})
}

// overturn makes a drifted report STABLE because its confirmation run crep
// did not drift: no case stays drifted (JUnit fails none), and the DRIFT
// findings become WARN (dashboard only), as the drift engine does for an
// INCONCLUSIVE run.
func overturn(rep *report.Report, crep *report.Report) {
	note := fmt.Sprintf("not confirmed by run %d", crep.RunID)
	rep.Verdict = string(drift.Stable)
	rep.Reason = fmt.Sprintf("not confirmed: confirmation run %d was %s (first run said: %s)", crep.RunID, crep.Verdict, rep.Reason)
	rep.DriftedCases = nil
	for i := range rep.Cases {
		rep.Cases[i].Drifted = false
	}
	for i := range rep.Findings {
		if f := &rep.Findings[i]; f.Verdict == drift.Drift {
			f.Verdict = drift.Warn
			f.Reason += "; " + note
		}
	}
}
