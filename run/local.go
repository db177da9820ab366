package run

import (
	"context"
	"fmt"

	"github.com/driftwatch/driftwatch/eval"
	"github.com/driftwatch/driftwatch/report"
)

// Local is how a run is driven in this process (driftwatch run).
type Local struct {
	// Suite is the run's suite.
	Suite eval.Suite
	// NewProgress, if set, shows the progress of each stage.
	NewProgress func(label string, total int) Progress
}

// Complete takes a started run to its verdict in this process: the pin
// check before any call (Preflight), then each stage of its night (Execute
// up to Run.Upto, Settle) and the decision after it (Advance): a look that
// goes on to the next stage (ToStage), or the report. A report before the
// verdict is a run that stopped (a pin, the budget, an unusable target).
func (l *Lifecycle) Complete(ctx context.Context, r *Run, t *Target, x Local) (*report.Report, error) {
	if rep, err := l.Preflight(ctx, r, t); rep != nil || err != nil {
		return rep, err
	}
	for {
		if rep, err := l.executeStage(ctx, r, t, x); rep != nil || err != nil {
			return rep, err
		}
		rep, next, err := l.Advance(ctx, r.Row, t, r.Stage)
		if rep != nil || err != nil {
			return rep, err
		}
		if err := l.ToStage(ctx, r, next); err != nil {
			return nil, err
		}
	}
}

// executeStage sends the samples of r's stage and settles an execution
// that cannot go on (a report or an error).
func (l *Lifecycle) executeStage(ctx context.Context, r *Run, t *Target, x Local) (*report.Report, error) {
	ffAfter := 0
	if len(r.Done) == 0 {
		// Only while nothing of the run has worked: a resumed run with
		// stored samples is known to have a usable target.
		ffAfter = FailFastAfter(t.Concurrency)
	}
	var prog Progress
	if x.NewProgress != nil {
		label := fmt.Sprintf("%s@%s", x.Suite.Name(), t.Name)
		if r.Stage > 0 {
			label += fmt.Sprintf(" stage %d", r.Stage+1)
		}
		prog = x.NewProgress(label, max(0, len(x.Suite.Cases())*r.Upto-len(r.Done)))
	}
	ex := l.Execute(ctx, r, Exec{Suite: x.Suite, Target: t, Upto: r.Upto, LocalBudget: true, FailFastAfter: ffAfter, Progress: prog})
	return l.Settle(ctx, r, t, ex)
}
