package run

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"slices"

	"github.com/driftwatch/driftwatch/drift"
	"github.com/driftwatch/driftwatch/report"
	"github.com/driftwatch/driftwatch/storage"
)

// A night's sampling (package drift's staged design): the plan is fixed in
// Start, before the first sample, from the configured plan and the active
// baseline pool, and recorded (storage.RecordSampling); every later step
// reads it back. A staged night sends its samples in stages: stage j sends
// the sample indexes below Upto(j) of every case; after each stage but the
// last, Advance takes the look (drift.Look, recorded with
// storage.RecordLook) and either stops the night as STABLE (drift.Stopped)
// or goes on; after the last stage it takes the fixed-K test (drift.Final).
// A fixed night has one stage (drift.Compare). A recorded look is final: a
// resumed or retried night never takes it again.

// night is a run's recorded plan with the looks taken so far.
type night struct {
	plan drift.Plan
	// hash is the suite content the night samples ("" for a run recorded
	// before sampling plans: it never joins a pool).
	hash  string
	looks []storage.Look
}

// night reads run row's recorded plan; a run without one (started before
// staged sampling) is a fixed night at its samples per case.
func (l *Lifecycle) night(ctx context.Context, row storage.Run) (night, error) {
	rs, looks, err := l.store.Sampling(ctx, row.ID)
	if errors.Is(err, storage.ErrNotFound) {
		return night{plan: drift.Plan{Mode: drift.ModeFixed, K: row.SamplesPerCase}}, nil
	}
	if err != nil {
		return night{}, err
	}
	p := drift.Plan{Mode: drift.Mode(rs.Mode), K: rs.K, Bounds: rs.Bounds}
	for _, n := range rs.Looks {
		p.Looks = append(p.Looks, int(n))
	}
	return night{plan: p, hash: rs.SuiteHash, looks: looks}, nil
}

// Stages is the number of stages of the night: the looks plus the last.
func (n night) stages() int {
	if n.plan.Mode != drift.ModeStaged {
		return 1
	}
	return len(n.plan.Looks) + 1
}

// upto is the sample bound of stage j: every case's samples with an index
// below it are sent by the end of the stage.
func (n night) upto(stage int) int {
	if n.plan.Mode == drift.ModeStaged && stage < len(n.plan.Looks) {
		return n.plan.Looks[stage]
	}
	return n.plan.K
}

// stage is the stage a resumed night is at: after the looks recorded as
// continuing (a look recorded as stopping leaves the night at its own
// stage, which Advance then finishes).
func (n night) stage() int {
	s := 0
	for _, lk := range n.looks {
		if int(lk.Look) != s+1 || !lk.Continued {
			break
		}
		s++
	}
	return min(s, n.stages()-1)
}

// recorded is look number look as recorded, if it is.
func (n night) recorded(look int) (drift.LookResult, bool) {
	i := slices.IndexFunc(n.looks, func(lk storage.Look) bool { return int(lk.Look) == look })
	if i < 0 {
		return drift.LookResult{}, false
	}
	lk := n.looks[i]
	return drift.LookResult{Look: look, Looks: len(n.plan.Looks), SamplesPerCase: int(lk.SamplesPerCase), Bound: lk.Bound,
		PCMH: lk.PCMH, PSparse: lk.PSparse, Z: lk.Z, MDE: lk.MDE, Shifts: lk.Shifts, Continue: lk.Continued, Reason: lk.Reason}, true
}

// staged is the night's sampling for its report: the looks taken, and the
// look that stopped it (0: it reached K).
func (n night) staged(stoppedAt int) *drift.Staged {
	st := &drift.Staged{Mode: n.plan.Mode, K: n.plan.K, SamplesPerCase: n.plan.K, StoppedAt: stoppedAt}
	for _, lk := range n.looks {
		lr, _ := n.recorded(int(lk.Look))
		st.Looks = append(st.Looks, lr)
		if int(lk.Look) == stoppedAt {
			st.SamplesPerCase = lr.SamplesPerCase
			break
		}
	}
	return st
}

// planNight fixes the plan of a new night before its first sample. An
// explicit K (the command line, a schedule, the suite or the config's
// samples:) and a confirmation run are fixed nights at that K. Otherwise
// the configured plan applies to the active baseline pool of this suite
// content: a pool of another content is rebuilt from the runs of this one
// (when there are none, the old pool stays and the night plans as without
// a baseline), and the night is staged only once the pool is complete. A
// baseline from before pools (unknown content) stays until a night that
// reached K converts it (growPool).
func (l *Lifecycle) planNight(ctx context.Context, suiteID, targetID int64, hash string, sp Spec) (drift.Plan, error) {
	pool := drift.Pool{Runs: l.policy.BaselineRuns}
	if sp.K > 0 || sp.ConfirmOf != 0 {
		return drift.Plan{Mode: drift.ModeFixed, K: cmp.Or(sp.K, l.policy.Sampling.WithDefaults(pool).K)}, nil
	}
	pooled := 0
	bl, err := l.store.ActivePool(ctx, suiteID, targetID)
	switch {
	case errors.Is(err, storage.ErrNotFound):
	case err != nil:
		return drift.Plan{}, err
	case bl.SuiteHash != "" && bl.SuiteHash != hash:
		rebuilt, err := l.store.RebuildBaseline(ctx, storage.RebuildBaseline{SuiteID: suiteID, TargetID: targetID, SuiteHash: hash,
			PoolSize: l.policy.BaselineRuns, AcceptedBy: "driftwatch", Note: "the suite's content changed: pooled the runs of its new content"})
		if err != nil && !errors.Is(err, storage.ErrNotFound) {
			return drift.Plan{}, err
		}
		if err == nil {
			bl = rebuilt
		}
	}
	if err == nil && bl.SuiteHash == hash && bl.Complete() {
		pooled = len(bl.RunIDs)
	}
	return l.policy.Sampling.Night(pool, pooled), nil
}

// recordPlan records a new night's plan (a retried Start finds the plan
// its first attempt recorded).
func (l *Lifecycle) recordPlan(ctx context.Context, runID int64, p drift.Plan, hash string) error {
	rs := storage.RunSampling{RunID: runID, Mode: string(p.Mode), K: p.K, Bounds: p.Bounds, SuiteHash: hash}
	for _, n := range p.Looks {
		rs.Looks = append(rs.Looks, int32(n))
	}
	_, err := l.store.RecordSampling(ctx, rs)
	return err
}

// Advance takes a night on once its stage (from 0) has stored its samples:
// after a stage with a look it takes the look (or reads it, when it was
// recorded before: a resumed or retried stage never looks again) and
// returns next, the stage to execute, when the night goes on; otherwise it
// analyzes the night (Stopped at a look that stops it, the fixed-K test
// after its last stage) and returns the report. The CLI and serve's
// analysis jobs call it, so a night stops at the same look either way.
func (l *Lifecycle) Advance(ctx context.Context, row storage.Run, t *Target, stage int) (rep *report.Report, next int, err error) {
	n, err := l.night(ctx, row)
	if err != nil {
		return nil, 0, err
	}
	if stage >= n.stages()-1 {
		rep, err := l.analyze(ctx, row, t, n.final())
		return rep, 0, err
	}
	look := stage + 1
	lr, ok := n.recorded(look)
	if !ok {
		if lr, err = l.look(ctx, row, n, look); err != nil {
			return nil, 0, err
		}
		if n, err = l.night(ctx, row); err != nil {
			return nil, 0, err
		}
		if lr, ok = n.recorded(look); !ok { // recorded by a concurrent analysis first
			return nil, 0, fmt.Errorf("run %d: look %d was not recorded", row.ID, look)
		}
	}
	if lr.Continue {
		return nil, stage + 1, nil
	}
	rep, err = l.analyze(ctx, row, t, n.stopped(lr))
	return rep, 0, err
}

// look takes and records interim look number look of a staged night on
// its samples below the look's bound. A night without a baseline to look
// at goes on.
func (l *Lifecycle) look(ctx context.Context, row storage.Run, n night, look int) (drift.LookResult, error) {
	bl, _, err := l.baselineOf(ctx, row.SuiteID, row.TargetID)
	if err != nil {
		return drift.LookResult{}, err
	}
	upto := n.plan.Looks[look-1]
	lr := drift.LookResult{Look: look, Looks: len(n.plan.Looks), SamplesPerCase: upto, Bound: n.plan.Bounds[look-1], PCMH: 1, PSparse: 1,
		Continue: true, Reason: fmt.Sprintf("look %d: no baseline to compare with; the night goes on to K", look)}
	if bl != nil {
		in, err := l.comparable(ctx, row.ID, row.Config, bl.RunIDs, upto)
		if err != nil {
			return drift.LookResult{}, err
		}
		if lr, err = drift.Look(in.base, in.cur, n.plan, look, in.set); err != nil {
			return drift.LookResult{}, fmt.Errorf("run %d: %w", row.ID, err)
		}
	}
	err = l.store.RecordLook(ctx, storage.Look{RunID: row.ID, Look: int32(look), SamplesPerCase: int32(upto), Bound: lr.Bound,
		PCMH: lr.PCMH, PSparse: lr.PSparse, Z: lr.Z, MDE: lr.MDE, Continued: lr.Continue, Shifts: lr.Shifts, Reason: lr.Reason})
	return lr, err
}

// comparison is how Analyze decides a night: the only difference between a
// fixed night, a staged night that reached K and one stopped at a look.
type comparison struct {
	// upto keeps the current samples with an index below it (0: all).
	upto int
	// decide compares the current samples with the baseline's.
	decide func(base, cur []drift.Sample, s drift.Settings) (drift.Result, error)
	// sampling is the report's account of the night's sampling.
	sampling *drift.Staged
	// reachedK: the night sent K samples per case and may join the pool.
	reachedK bool
	hash     string
}

// final is the decision of a night that reached K: the plain fixed-K test
// (drift.Compare) for a fixed night, as calibrated, and drift.Final (its
// CMH p-value by Monte Carlo) for a staged one.
func (n night) final() comparison {
	c := comparison{sampling: n.staged(0), reachedK: true, hash: n.hash, decide: compareFixed}
	if n.plan.Mode == drift.ModeStaged {
		c.decide = func(base, cur []drift.Sample, s drift.Settings) (drift.Result, error) {
			return drift.Final(base, cur, n.plan, s)
		}
	}
	return c
}

// compareFixed is the fixed-K test, as calibrated (drift.Compare).
func compareFixed(base, cur []drift.Sample, s drift.Settings) (drift.Result, error) {
	return drift.Compare(base, cur, s), nil
}

// stopped is the decision of a night stopped as STABLE at look lr.
func (n night) stopped(lr drift.LookResult) comparison {
	return comparison{upto: lr.SamplesPerCase, sampling: n.staged(lr.Look), hash: n.hash,
		decide: func(base, cur []drift.Sample, s drift.Settings) (drift.Result, error) {
			return drift.Stopped(base, cur, lr, s), nil
		}}
}

// growPool pools a STABLE night that reached K into the baseline it was
// compared with: a pool of its suite content that is not complete grows by
// it (a concurrent grow wins harmlessly); a pool of other or unknown
// content (a baseline from before pools, or one kept when the content
// changed) is replaced by a pool of this content that starts with this run
// (and the old pool's last runs, for a baseline from before pools).
func (l *Lifecycle) growPool(ctx context.Context, row storage.Run, bl *storage.Pool, hash string) error {
	size := l.policy.BaselineRuns
	switch {
	case hash == "":
		return nil
	case bl.SuiteHash == hash:
		if bl.Complete() {
			return nil
		}
		_, err := l.store.GrowBaseline(ctx, storage.GrowBaseline{SuiteID: row.SuiteID, TargetID: row.TargetID, BaselineID: bl.ID,
			RunID: row.ID, AcceptedBy: "driftwatch", Note: fmt.Sprintf("pooled: %d of %d baseline runs", len(bl.RunIDs)+1, bl.PoolSize)})
		if errors.Is(err, storage.ErrConflict) {
			return nil
		}
		return err
	}
	ids := []int64{row.ID}
	if bl.SuiteHash == "" {
		keep := bl.RunIDs[max(0, len(bl.RunIDs)-(size-1)):]
		ids = append(slices.Clone(keep), row.ID)
	}
	_, err := l.store.AcceptBaseline(ctx, storage.AcceptBaseline{SuiteID: row.SuiteID, TargetID: row.TargetID, RunIDs: ids,
		AcceptedBy: "driftwatch", Note: fmt.Sprintf("pooled: %d of %d baseline runs of this suite content", len(ids), size),
		PoolSize: size, SuiteHash: hash})
	return err
}

// ErrNotCompleted is why a run that did not complete cannot be a
// baseline.
var ErrNotCompleted = errors.New("only a completed run can be a baseline")

// AcceptBaseline makes run id the anchor of its pair's baseline (`baseline
// accept`): the pool is rebuilt from it and the pool-eligible runs of its
// suite content after it. A run recorded before sampling plans (unknown
// content) becomes a one-run baseline.
func (l *Lifecycle) AcceptBaseline(ctx context.Context, id int64, by, note string) error {
	row, err := l.store.GetRun(ctx, id)
	if err != nil {
		return err
	}
	if row.Status != storage.RunCompleted {
		return fmt.Errorf("run %d has status %s: %w", id, row.Status, ErrNotCompleted)
	}
	n, err := l.night(ctx, row)
	if err != nil {
		return err
	}
	if n.hash == "" {
		_, err = l.store.AcceptBaseline(ctx, storage.AcceptBaseline{SuiteID: row.SuiteID, TargetID: row.TargetID,
			RunIDs: []int64{id}, AcceptedBy: by, Note: note})
		return err
	}
	_, err = l.store.RebuildBaseline(ctx, storage.RebuildBaseline{SuiteID: row.SuiteID, TargetID: row.TargetID, SuiteHash: n.hash,
		PoolSize: l.policy.BaselineRuns, AnchorRunID: id, AcceptedBy: by, Note: note})
	return err
}

// ToStage moves r (executed in this process) on to stage stage of its
// night (Advance's next): it reloads the samples stored so far, which the
// stage skips, and what they cost, where the stage's budget starts.
func (l *Lifecycle) ToStage(ctx context.Context, r *Run, stage int) error {
	n, err := l.night(ctx, r.Row)
	if err != nil {
		return err
	}
	if r.Done, err = l.store.DoneSamples(ctx, r.Row.ID); err != nil {
		return err
	}
	tot, err := l.store.RunTotals(ctx, r.Row.ID)
	if err != nil {
		return err
	}
	r.Spent, r.Stage, r.Upto = tot.CostUSD, stage, n.upto(stage)
	return nil
}
