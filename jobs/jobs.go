// Package jobs defines Driftwatch's durable jobs on River (riverqueue/river,
// on the same PostgreSQL as the results) and works them: job arguments and
// their uniqueness, River's migrations, the workers (Client) with their
// Prometheus metrics, and the cluster-wide rate limit and budget. A serve or
// worker process provides its config's suites, targets and alerting
// through Process.
//
// A scheduled run flows through four kinds of jobs:
//
//	trigger (schedule, fire time)          unique per (schedule, fire time)
//	  └─ run (key, suite, target, ...)     unique per run key; creates the run row once
//	       └─ batch (run id, batch)        unique per (run, batch); 50–200 cases each
//	            └─ analyze (run id)        unique per run; inserted by the last batch
//	                 └─ alert (run id)     unique per run
//
// Every step is idempotent: a job retried after a crash finds the run by its
// key, a batch skips the samples already stored, analysis replaces its
// findings, so a process killed at any point loses nothing but the samples
// in flight (which the retried batch runs again).
package jobs

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/riverqueue/river"
	"github.com/riverqueue/river/riverdriver/riverpgxv5"
	"github.com/riverqueue/river/rivermigrate"
	"github.com/riverqueue/river/rivertype"
)

// Queues. Batches run on their own queue so the short control jobs (trigger,
// run, analyze, alert) never wait behind long batches.
const (
	QueueControl = "driftwatch_control"
	QueueBatch   = "driftwatch_batch"
)

// ProjectQueues are the queues of one project's jobs: a process works only
// its own project's queues, so projects that share a database never run
// each other's jobs. The default project keeps the plain queue names.
type ProjectQueues struct {
	Control, Batch string
}

// Queues returns project's queues (River queue names: lower-case letters
// and digits separated by single '_' or '-', at most 64 characters).
func Queues(project string) ProjectQueues {
	if project == "" || project == "default" {
		return ProjectQueues{Control: QueueControl, Batch: QueueBatch}
	}
	var b strings.Builder
	sep := true
	for _, r := range project {
		switch {
		case r >= 'a' && r <= 'z', r >= '0' && r <= '9':
			b.WriteRune(r)
			sep = false
		case !sep:
			b.WriteByte('-')
			sep = true
		}
	}
	name := strings.TrimRight(b.String(), "-")
	if len(name) > 40 || name != project {
		// Names that had to change carry a hash, so two projects never
		// map to one queue.
		sum := sha256.Sum256([]byte(project))
		name = strings.TrimRight(name[:min(len(name), 30)], "-") + "-" + hex.EncodeToString(sum[:4])
	}
	return ProjectQueues{Control: QueueControl + "_" + name, Batch: QueueBatch + "_" + name}
}

// KeySuffix is what project's run keys end with ("" for the default
// project), so that runs.run_key stays unique across projects.
func KeySuffix(project string) string {
	if project == "" || project == "default" {
		return ""
	}
	return "#" + project
}

// Job kinds (stored in river_job.kind; never rename).
const (
	KindTrigger = "driftwatch.trigger"
	KindRun     = "driftwatch.run"
	KindBatch   = "driftwatch.batch"
	KindAnalyze = "driftwatch.analyze"
	KindAlert   = "driftwatch.alert"
)

// MaxAttemptsDefault bounds retries of every job kind.
const MaxAttemptsDefault = 25

func uniqueOpts(queue string) river.InsertOpts {
	return river.InsertOpts{Queue: queue, MaxAttempts: MaxAttemptsDefault, UniqueOpts: river.UniqueOpts{ByArgs: true}}
}

// TriggerArgs is one firing of a schedule. Replicas that fire the same
// schedule at the same time insert the same args, and River keeps one.
type TriggerArgs struct {
	// Project makes firings of same-named schedules of two projects two
	// jobs.
	Project  string    `json:"project,omitempty"`
	Schedule string    `json:"schedule"`
	FireTime time.Time `json:"fire_time"`
}

func (TriggerArgs) Kind() string                 { return KindTrigger }
func (TriggerArgs) InsertOpts() river.InsertOpts { return uniqueOpts(QueueControl) }

// RunArgs is one (suite, target) run. Key identifies the run row it creates
// (runs.run_key); only Key counts for uniqueness.
type RunArgs struct {
	Key      string    `json:"key" river:"unique"`
	Schedule string    `json:"schedule,omitempty"`
	FireTime time.Time `json:"fire_time"`
	Suite    string    `json:"suite"`
	Target   string    `json:"target"`
	// Samples overrides k; 0 keeps the suite's or config's.
	Samples int `json:"samples,omitempty"`
	// Confirm re-runs once before a DRIFT verdict is final.
	Confirm bool `json:"confirm,omitempty"`
	// ConfirmOf is the run this run confirms (0 for a regular run).
	ConfirmOf int64 `json:"confirm_of,omitempty"`
	// Trigger is the run's trigger (storage.Trigger*); empty means a
	// schedule (or, with ConfirmOf, a confirmation).
	Trigger string `json:"trigger,omitempty"`
}

func (RunArgs) Kind() string                 { return KindRun }
func (RunArgs) InsertOpts() river.InsertOpts { return uniqueOpts(QueueControl) }

// RunKey is the run key of a scheduled (suite, target) run.
func RunKey(project, schedule string, fire time.Time, suite, target string) string {
	return fmt.Sprintf("%s@%s/%s/%s%s", schedule, fire.UTC().Format(time.RFC3339), suite, target, KeySuffix(project))
}

// BatchArgs is one batch of a run's cases (the keys are in run_batches) in
// one stage of its night (from 0; a fixed night has one stage). Every
// stage has its own batches (storage.Store.OpenStage), so a stage's batch
// job is unique and a retried one does not redo another stage's.
type BatchArgs struct {
	RunID int64 `json:"run_id"`
	Batch int   `json:"batch"`
	Stage int   `json:"stage,omitempty"`
}

func (BatchArgs) Kind() string                 { return KindBatch }
func (BatchArgs) InsertOpts() river.InsertOpts { return uniqueOpts(QueueBatch) }

// AnalyzeArgs decides a stage of a run once all its batches are done: the
// stage's look (which opens the next stage's batches) or, after the last
// stage, the verdict. One job per (run, stage).
type AnalyzeArgs struct {
	RunID int64 `json:"run_id"`
	Stage int   `json:"stage,omitempty"`
}

func (AnalyzeArgs) Kind() string                 { return KindAnalyze }
func (AnalyzeArgs) InsertOpts() river.InsertOpts { return uniqueOpts(QueueControl) }

// AlertArgs alerts on a finalised run.
type AlertArgs struct {
	RunID int64 `json:"run_id"`
}

func (AlertArgs) Kind() string                 { return KindAlert }
func (AlertArgs) InsertOpts() river.InsertOpts { return uniqueOpts(QueueControl) }

// Migrate applies River's own migrations to the database behind pool. Run it
// under an advisory lock when several processes may start at once.
func Migrate(ctx context.Context, pool *pgxpool.Pool) error {
	m, err := rivermigrate.New(riverpgxv5.New(pool), nil)
	if err != nil {
		return fmt.Errorf("river migrations: %w", err)
	}
	if _, err := m.Migrate(ctx, rivermigrate.DirectionUp, nil); err != nil {
		return fmt.Errorf("river migrations: %w", err)
	}
	return nil
}

// Worker adapts a function to a River worker with a per-kind timeout.
type Worker[T river.JobArgs] struct {
	river.WorkerDefaults[T]
	// Fn does the work.
	Fn func(ctx context.Context, job *river.Job[T]) error
	// JobTimeout bounds one attempt; 0 keeps the client's default, -1 means
	// none.
	JobTimeout time.Duration
	// OnRetry, if set, is called with the job's kind before every attempt
	// after the first (metrics).
	OnRetry func(kind string)
	// OnCancel, if set, is called when Fn cancels the job (river.JobCancel),
	// which River neither retries nor reports to its ErrorHandler.
	OnCancel func(job *rivertype.JobRow, err error)
}

// Work calls Fn.
func (w *Worker[T]) Work(ctx context.Context, job *river.Job[T]) error {
	if job.Attempt > 1 && w.OnRetry != nil {
		w.OnRetry(job.Kind)
	}
	err := w.Fn(ctx, job)
	var cancel *rivertype.JobCancelError
	if w.OnCancel != nil && errors.As(err, &cancel) {
		w.OnCancel(job.JobRow, err)
	}
	return err
}

// Timeout returns JobTimeout.
func (w *Worker[T]) Timeout(*river.Job[T]) time.Duration { return w.JobTimeout }
