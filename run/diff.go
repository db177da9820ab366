package run

import (
	"context"

	"github.com/driftwatch/driftwatch/report"
	"github.com/driftwatch/driftwatch/storage"
)

// Diff compares run b with run a as if a were b's baseline (`driftwatch
// diff`): nothing is stored.
func (l *Lifecycle) Diff(ctx context.Context, a, b storage.Run) (*report.Report, error) {
	rep := l.newReport(b)
	rep.BaselineRunIDs = []int64{a.ID}
	if b.FinishedAt != nil {
		rep.FinishedAt = *b.FinishedAt
	}
	res, cur, err := l.compare(ctx, b.ID, b.Config, []int64{a.ID}, comparison{decide: compareFixed})
	if err != nil {
		return nil, err
	}
	fillReport(rep, res, cur, b.SamplesPerCase)
	if a.SuiteID != b.SuiteID {
		rep.Reason += " (note: the runs are of different suites)"
	}
	if a.TargetID != b.TargetID {
		rep.Reason += " (note: the runs are of different targets: a comparison of two models)"
	}
	if id, err := l.runIdentity(ctx, a.TargetID, []int64{a.ID}); err == nil && id != nil {
		rep.BaselineIdentity = ReportIdentity(*id)
	}
	if id, err := l.runIdentity(ctx, b.TargetID, []int64{b.ID}); err == nil && id != nil {
		rep.Identity = ReportIdentity(*id)
	}
	return rep, nil
}
