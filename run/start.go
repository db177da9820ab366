package run

import (
	"cmp"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"time"

	"github.com/driftwatch/driftwatch/drift"
	"github.com/driftwatch/driftwatch/eval"
	"github.com/driftwatch/driftwatch/report"
	"github.com/driftwatch/driftwatch/storage"
)

// Snapshot is the redacted config stored with a run: what it ran and how.
// A resumed run, a batch and the analysis read it back.
type Snapshot struct {
	Project  string      `json:"project,omitempty"`
	Suite    string      `json:"suite"`
	Target   string      `json:"target"`
	Provider string      `json:"provider"`
	Model    string      `json:"model"`
	BaseURL  string      `json:"base_url,omitempty"`
	Samples  int         `json:"samples"`
	Case     string      `json:"case,omitempty"`
	Params   eval.Params `json:"params"`
	// Deterministic is the target's promise that a request always gets
	// the same output.
	Deterministic bool   `json:"deterministic,omitempty"`
	Seed          uint64 `json:"seed"`
	// Confirm: re-run once before a DRIFT verdict is final. ConfirmOf is
	// the run this one confirms.
	Confirm   bool  `json:"confirm,omitempty"`
	ConfirmOf int64 `json:"confirm_of,omitempty"`
	// SuiteHash identifies the suite content the run started with, so
	// that its batches use that content.
	SuiteHash string `json:"suite_hash,omitempty"`
}

// ReadSnapshot decodes the snapshot stored with run.
func ReadSnapshot(run storage.Run) (Snapshot, error) {
	var snap Snapshot
	if err := json.Unmarshal(run.Config, &snap); err != nil || snap.Suite == "" {
		return snap, fmt.Errorf("run %d has no usable config snapshot", run.ID)
	}
	return snap, nil
}

// Spec says what to start.
type Spec struct {
	Suite  eval.Suite
	Target *Target
	// K is samples per case, explicit (the command line, a schedule, the
	// suite, the config's samples:): the night is fixed at K. 0: the
	// policy's sampling plan decides (staged or fixed, and K).
	K int
	// Case is a -run style pattern selecting cases ("": all).
	Case     string
	Trigger  string
	Schedule string
	// Key, when set, makes Start idempotent: a retried job finds the run
	// its first attempt created (storage.CreateRunKeyed).
	Key       string
	SuiteHash string
	Seed      uint64
	Confirm   bool
	ConfirmOf int64
}

// Run is a run that exists in storage, with what the later steps share.
type Run struct {
	Row               storage.Run
	SuiteID, TargetID int64
	Start             time.Time
	// Created says Start inserted the run (false: found by its key).
	Created bool
	// K and Filter are the run's samples per case and --case pattern (a
	// resumed run's own, whatever the command line says).
	K      int
	Filter string
	// Stage is the stage of the night's plan to execute (from 0; a fixed
	// night has one), and Upto its sample bound: the stage sends every
	// case's samples with an index below Upto (Exec.Upto). Advance says
	// whether there is a next stage.
	Stage, Upto int
	// Done holds the samples stored without error: a resume skips them.
	Done map[storage.SampleKey]struct{}
	// Spent is what the stored samples cost: a resumed run's budget starts
	// there.
	Spent float64
}

// Start records the suite, target and cases and creates the run.
func (l *Lifecycle) Start(ctx context.Context, sp Spec) (*Run, error) {
	st, s, t := l.store, sp.Suite, sp.Target
	projectID, err := st.EnsureProject(ctx, l.policy.Project)
	if err != nil {
		return nil, err
	}
	suiteID, err := st.EnsureSuite(ctx, projectID, s.Name())
	if err != nil {
		return nil, err
	}
	targetID, err := st.EnsureTarget(ctx, projectID, t.Name, t.Provider, t.Model)
	if err != nil {
		return nil, err
	}
	rows := caseRows(s.Cases())
	if err := st.UpsertCases(ctx, suiteID, rows); err != nil {
		return nil, err
	}
	hash := storage.SuiteHash(rows)
	plan, err := l.planNight(ctx, suiteID, targetID, hash, sp)
	if err != nil {
		return nil, fmt.Errorf("plan the night: %w", err)
	}
	sp.K = plan.K
	snap, err := json.Marshal(Snapshot{Project: l.policy.Project, Suite: s.Name(), Target: t.Name, Provider: t.Provider, Model: t.Model,
		BaseURL: t.BaseURL, Samples: sp.K, Case: sp.Case, Params: t.Params, Deterministic: t.Deterministic,
		Seed: sp.Seed, Confirm: sp.Confirm, ConfirmOf: sp.ConfirmOf, SuiteHash: sp.SuiteHash})
	if err != nil {
		return nil, fmt.Errorf("encode the run's configuration: %w", err)
	}
	trigger := cmp.Or(sp.Trigger, storage.TriggerCLI)
	if sp.ConfirmOf != 0 {
		trigger = storage.TriggerConfirm
	}
	nr := storage.NewRun{SuiteID: suiteID, TargetID: targetID, Trigger: trigger, Schedule: sp.Schedule,
		SamplesPerCase: sp.K, Config: snap, HarnessVersion: l.policy.HarnessVersion}
	r := &Run{SuiteID: suiteID, TargetID: targetID, Start: time.Now(), K: sp.K, Filter: sp.Case, Created: true}
	if sp.Key != "" {
		r.Row, r.Created, err = st.CreateRunKeyed(ctx, sp.Key, nr)
	} else {
		r.Row, err = st.CreateRun(ctx, nr)
	}
	if err != nil {
		return nil, err
	}
	r.K = r.Row.SamplesPerCase
	if !r.Created && r.Row.SamplesPerCase != plan.K {
		// A run found by its key whose plan was not recorded yet (its first
		// attempt ended in between) keeps its K.
		plan = drift.Plan{Mode: drift.ModeFixed, K: r.K}
	}
	if _, _, err := st.Sampling(ctx, r.Row.ID); errors.Is(err, storage.ErrNotFound) {
		if err := l.recordPlan(ctx, r.Row.ID, plan, hash); err != nil {
			return nil, err
		}
	} else if err != nil {
		return nil, err
	}
	return r, l.at(ctx, r)
}

// at sets r's stage to where its night is: after the looks recorded as
// continuing.
func (l *Lifecycle) at(ctx context.Context, r *Run) error {
	n, err := l.night(ctx, r.Row)
	if err != nil {
		return err
	}
	r.Stage = n.stage()
	r.Upto = n.upto(r.Stage)
	return nil
}

// Resume loads run id to finish its unfinished samples.
func (l *Lifecycle) Resume(ctx context.Context, id int64) (*Run, error) {
	row, err := l.store.GetRun(ctx, id)
	if err != nil {
		return nil, err
	}
	snap, err := ReadSnapshot(row)
	if err != nil {
		return nil, err
	}
	r := &Run{Row: row, SuiteID: row.SuiteID, TargetID: row.TargetID, Start: time.Now(), K: row.SamplesPerCase, Filter: snap.Case}
	l.replayJournal(ctx, row)
	if r.Done, err = l.store.DoneSamples(ctx, id); err != nil {
		return nil, err
	}
	tot, err := l.store.RunTotals(ctx, id)
	if err != nil {
		return nil, err
	}
	r.Spent = tot.CostUSD
	return r, l.at(ctx, r)
}

// replayJournal stores the samples that an execution of row killed on this
// machine left in its journal (Policy.Journal): they count as done, and
// their calls are not sent again. A journal that cannot be stored is
// warned about and left in place: its samples are requested again, as
// without a journal.
func (l *Lifecycle) replayJournal(ctx context.Context, row storage.Run) {
	if l.policy.Journal == "" {
		return
	}
	n, err := l.store.ReplayJournal(ctx, storage.Journal{Dir: l.policy.Journal, Run: row})
	if n > 0 {
		l.logger.Info("stored the samples an interrupted execution left in its journal", "run", row.ID, "samples", n)
	}
	if err != nil {
		l.logger.Warn("sample journal not stored: its samples are requested again", "run", row.ID, "err", err)
	}
}

// Batch loads run row to execute the cases keys in stage stage of its
// night: the samples of those cases that are stored without error are
// skipped.
func (l *Lifecycle) Batch(ctx context.Context, row storage.Run, keys []string, stage int) (*Run, error) {
	snap, err := ReadSnapshot(row)
	if err != nil {
		return nil, err
	}
	r := &Run{Row: row, SuiteID: row.SuiteID, TargetID: row.TargetID, Start: time.Now(), K: row.SamplesPerCase, Filter: snap.Case}
	l.replayJournal(ctx, row)
	if r.Done, err = l.store.DoneSamplesOf(ctx, row.ID, keys); err != nil {
		return nil, err
	}
	n, err := l.night(ctx, row)
	if err != nil {
		return nil, err
	}
	r.Stage, r.Upto = stage, n.upto(stage)
	return r, nil
}

// Preflight reads the target's identity (open servers) and checks it
// against the pin before any case is sent. A violated pin stops the run:
// Preflight then returns its report (and the caller sends nothing).
func (l *Lifecycle) Preflight(ctx context.Context, r *Run, t *Target) (*report.Report, error) {
	if t.Probe == nil {
		return nil, nil
	}
	id, err := t.Probe(ctx)
	if err != nil {
		l.logger.Warn("identity probe failed", "target", t.Name, "err", err)
		return nil, nil
	}
	if id == nil || t.PinWarn || t.CheckPin == nil {
		return nil, nil
	}
	_, baseID, err := l.baselineOf(ctx, r.SuiteID, r.TargetID)
	if err != nil {
		return nil, err
	}
	if perr := t.checkPin(*id, baseID); perr != nil {
		rep, err := l.StopPinned(ctx, r.Row, *id, perr)
		return rep, err
	}
	return nil, nil
}

// baselineOf returns the active baseline and the identity most often seen in
// its samples (nil, nil when there is no baseline).
func (l *Lifecycle) baselineOf(ctx context.Context, suiteID, targetID int64) (*storage.Pool, *eval.Identity, error) {
	bl, err := l.store.ActivePool(ctx, suiteID, targetID)
	if errors.Is(err, storage.ErrNotFound) {
		return nil, nil, nil
	}
	if err != nil {
		return nil, nil, err
	}
	id, err := l.runIdentity(ctx, targetID, bl.RunIDs)
	return &bl, id, err
}

// BaselineIdentity is the identity of the active baseline of a (suite,
// target) (nil when there is none), for the pin checks of a batch.
func (l *Lifecycle) BaselineIdentity(ctx context.Context, suiteID, targetID int64) (*eval.Identity, error) {
	_, id, err := l.baselineOf(ctx, suiteID, targetID)
	return id, err
}

func caseRows(cases []eval.Case) []storage.Case {
	rows := make([]storage.Case, len(cases))
	for i, c := range cases {
		rows[i] = storage.Case{Key: c.ID, ContentHash: c.Hash}
	}
	return rows
}
