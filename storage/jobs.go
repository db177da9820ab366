package storage

import (
	"context"
	"fmt"
	"hash/fnv"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"
)

// Pool returns the connection pool, for the job queue (River) that shares
// this database. Everything else goes through Store methods.
func (s *Store) Pool() *pgxpool.Pool { return s.pool }

// WithAdvisoryLock runs fn while holding a session advisory lock named by
// name, so that concurrent processes (several serve replicas starting at
// once) serialise, e.g. around the job queue's migrations.
func (s *Store) WithAdvisoryLock(ctx context.Context, name string, fn func(ctx context.Context) error) error {
	conn, err := s.pool.Acquire(ctx)
	if err != nil {
		return fmt.Errorf("advisory lock %s: acquire connection: %w", name, translate(err))
	}
	defer conn.Release()
	h := fnv.New64a()
	h.Write([]byte(name))
	key := int64(h.Sum64())
	if _, err := conn.Exec(ctx, "SELECT pg_advisory_lock($1)", key); err != nil {
		return fmt.Errorf("advisory lock %s: %w", name, translate(err))
	}
	defer conn.Exec(context.WithoutCancel(ctx), "SELECT pg_advisory_unlock($1)", key) //nolint:errcheck // the session ends with the connection otherwise
	return fn(ctx)
}

// CreateRunKeyed returns the run with the given key, creating it from nr
// when none exists. created reports whether this call inserted it. A job
// that is retried after a crash finds the run its first attempt created.
func (s *Store) CreateRunKeyed(ctx context.Context, key string, nr NewRun) (run Run, created bool, err error) {
	if nr.SamplesPerCase <= 0 {
		nr.SamplesPerCase = 1
	}
	var started any
	if !nr.StartedAt.IsZero() {
		started = nr.StartedAt
	}
	rows, _ := s.pool.Query(ctx, `
		INSERT INTO runs (suite_id, target_id, trigger, schedule, samples_per_case, config, harness_version, started_at, run_key)
		VALUES ($1, $2, $3, nullif($4, ''), $5, coalesce($6::jsonb, '{}'::jsonb), $7, coalesce($8::timestamptz, now()), $9)
		ON CONFLICT (run_key) DO NOTHING
		RETURNING `+runColumns,
		nr.SuiteID, nr.TargetID, nr.Trigger, nr.Schedule, nr.SamplesPerCase, jsonArg(nr.Config), nr.HarnessVersion, started, key)
	runs, err := pgx.CollectRows(rows, pgx.RowToStructByName[Run])
	if err != nil {
		return Run{}, false, fmt.Errorf("insert run %q: %w", key, translate(err))
	}
	if len(runs) == 1 {
		return runs[0], true, nil
	}
	run, err = s.RunByKey(ctx, key)
	return run, false, err
}

// RunByKey returns the run created with the given key.
func (s *Store) RunByKey(ctx context.Context, key string) (Run, error) {
	rows, _ := s.pool.Query(ctx, `SELECT `+runColumns+` FROM runs WHERE run_key = $1`, key)
	run, err := pgx.CollectExactlyOneRow(rows, pgx.RowToStructByName[Run])
	if err != nil {
		return Run{}, fmt.Errorf("get run %q: %w", key, translate(err))
	}
	return run, nil
}

// KeyedRun is a run created by a job, with its key.
type KeyedRun struct {
	ID      int64  `db:"id"`
	Key     string `db:"run_key"`
	Status  string `db:"status"`
	Verdict string `db:"verdict"`
}

// ListKeyedRuns returns the runs whose key starts with prefix, oldest first.
func (s *Store) ListKeyedRuns(ctx context.Context, prefix string) ([]KeyedRun, error) {
	rows, _ := s.pool.Query(ctx, `
		SELECT id, run_key, status, coalesce(verdict, '') AS verdict FROM runs
		WHERE run_key IS NOT NULL AND starts_with(run_key, $1) ORDER BY id`, prefix)
	out, err := pgx.CollectRows(rows, pgx.RowToStructByName[KeyedRun])
	if err != nil {
		return nil, fmt.Errorf("list keyed runs %q: %w", prefix, translate(err))
	}
	return out, nil
}

// CountRunningKeyed counts the running runs whose key starts with prefix and
// ends with suffix (a pair's runs of one kind of key, e.g. those started
// from the dashboard).
func (s *Store) CountRunningKeyed(ctx context.Context, prefix, suffix string) (int, error) {
	var n int
	err := s.pool.QueryRow(ctx, `
		SELECT count(*) FROM runs
		WHERE status = $3 AND run_key IS NOT NULL AND starts_with(run_key, $1)
			AND right(run_key, length($2)) = $2`, prefix, suffix, RunRunning).Scan(&n)
	if err != nil {
		return 0, fmt.Errorf("count running runs %q…%q: %w", prefix, suffix, translate(err))
	}
	return n, nil
}

// AddRunBatches records a run's case batches (batch i holds batches[i]).
// Batches already recorded are kept as they are, so a retried planner is
// harmless.
func (s *Store) AddRunBatches(ctx context.Context, runID int64, batches [][]string) error {
	b := &pgx.Batch{}
	for i, keys := range batches {
		b.Queue(`INSERT INTO run_batches (run_id, batch, case_keys) VALUES ($1, $2, $3) ON CONFLICT DO NOTHING`, runID, i, keys)
	}
	if err := s.pool.SendBatch(ctx, b).Close(); err != nil {
		return fmt.Errorf("add %d batches to run %d: %w", len(batches), runID, translate(err))
	}
	return nil
}

// StageBatches is the stride between the batch numbers of a run's stages:
// batch i of stage s is run_batches row s*StageBatches+i.
const StageBatches = 1 << 20

// OpenStage opens stage stage (from 1) of a staged run: a copy of each of
// the run's first-stage batches, numbered stage*StageBatches+i, not done.
// It returns the stage's batch numbers. Opening a stage again (a retried
// analysis) adds nothing and returns the same numbers; the done flags of
// the stage's batches are kept, so a batch that finished stays finished.
func (s *Store) OpenStage(ctx context.Context, runID int64, stage int) ([]int, error) {
	if stage < 1 {
		return nil, fmt.Errorf("open stage %d of run %d: stages after the first start at 1", stage, runID)
	}
	rows, _ := s.pool.Query(ctx, `
		WITH ins AS (
			INSERT INTO run_batches (run_id, batch, case_keys)
			SELECT run_id, batch + $2::int * $3::int, case_keys FROM run_batches WHERE run_id = $1 AND batch < $3::int
			ON CONFLICT DO NOTHING)
		SELECT batch + $2::int * $3::int FROM run_batches WHERE run_id = $1 AND batch < $3::int ORDER BY batch`, runID, stage, StageBatches)
	batches, err := pgx.CollectRows(rows, pgx.RowTo[int])
	if err != nil {
		return nil, fmt.Errorf("open stage %d of run %d: %w", stage, runID, translate(err))
	}
	return batches, nil
}

// RunBatch returns the case keys of one batch of a run and whether it is done.
func (s *Store) RunBatch(ctx context.Context, runID int64, batch int) (keys []string, done bool, err error) {
	var doneAt *time.Time
	err = s.pool.QueryRow(ctx, `SELECT case_keys, done_at FROM run_batches WHERE run_id = $1 AND batch = $2`, runID, batch).Scan(&keys, &doneAt)
	if err != nil {
		return nil, false, fmt.Errorf("get batch %d of run %d: %w", batch, runID, translate(err))
	}
	return keys, doneAt != nil, nil
}

// FinishRunBatch marks a batch done and returns how many batches of the run
// are not done yet. The last batch to finish sees 0 (two finishing together
// may both see 0, so what follows must be idempotent).
func (s *Store) FinishRunBatch(ctx context.Context, runID int64, batch int) (remaining int, err error) {
	tag, err := s.pool.Exec(ctx, `UPDATE run_batches SET done_at = coalesce(done_at, now()) WHERE run_id = $1 AND batch = $2`, runID, batch)
	if err != nil {
		return 0, fmt.Errorf("finish batch %d of run %d: %w", batch, runID, translate(err))
	}
	if tag.RowsAffected() == 0 {
		return 0, fmt.Errorf("finish batch %d of run %d: %w", batch, runID, ErrNotFound)
	}
	err = s.pool.QueryRow(ctx, `SELECT count(*) FROM run_batches WHERE run_id = $1 AND done_at IS NULL`, runID).Scan(&remaining)
	if err != nil {
		return 0, fmt.Errorf("count open batches of run %d: %w", runID, translate(err))
	}
	return remaining, nil
}

// DeleteFindings removes a run's findings, so a retried analysis does not
// store them twice.
func (s *Store) DeleteFindings(ctx context.Context, runID int64) error {
	if _, err := s.pool.Exec(ctx, `DELETE FROM findings WHERE run_id = $1`, runID); err != nil {
		return fmt.Errorf("delete findings of run %d: %w", runID, translate(err))
	}
	return nil
}

// ReserveTokens takes n tokens from the cluster-wide token bucket key, which
// refills at ratePerSec up to burst, in one atomic statement. The bucket may
// go negative: the result is the balance after the take, and a caller whose
// balance is b must wait until -b tokens have refilled (-b/ratePerSec) before
// using the last token it took. Every process that shares the database
// shares the bucket, so the rate holds for the whole cluster. n may be 0 to
// read the balance, or a charge made after the fact (tokens used by a call).
func (s *Store) ReserveTokens(ctx context.Context, key string, n, ratePerSec, burst float64) (balance float64, err error) {
	err = s.pool.QueryRow(ctx, `
		INSERT INTO rate_buckets AS b (key, tokens, updated_at) VALUES ($1, $4::float8 - $2::float8, clock_timestamp())
		ON CONFLICT (key) DO UPDATE SET
			tokens = least($4::float8, b.tokens + extract(epoch FROM clock_timestamp() - b.updated_at)::float8 * $3::float8) - $2::float8,
			updated_at = clock_timestamp()
		RETURNING tokens`, key, n, ratePerSec, burst).Scan(&balance)
	if err != nil {
		return 0, fmt.Errorf("reserve %g tokens of %s: %w", n, key, translate(err))
	}
	return balance, nil
}

// QueueCount is the number of River jobs in one queue and state.
type QueueCount struct {
	Queue string `db:"queue"`
	State string `db:"state"`
	N     int64  `db:"n"`
}

// QueueCounts counts the job queue's jobs (River's river_job table) by queue
// and state, for the queue-depth metric.
func (s *Store) QueueCounts(ctx context.Context) ([]QueueCount, error) {
	rows, _ := s.pool.Query(ctx, `SELECT queue, state::text AS state, count(*) AS n FROM river_job GROUP BY 1, 2`)
	out, err := pgx.CollectRows(rows, pgx.RowToStructByName[QueueCount])
	if err != nil {
		return nil, fmt.Errorf("count jobs: %w", translate(err))
	}
	return out, nil
}

// RunCost returns the USD cost of a run's stored samples.
func (s *Store) RunCost(ctx context.Context, runID int64) (float64, error) {
	var usd float64
	if err := s.pool.QueryRow(ctx, `SELECT coalesce(sum(cost_usd), 0)::float8 FROM samples WHERE run_id = $1`, runID).Scan(&usd); err != nil {
		return 0, fmt.Errorf("cost of run %d: %w", runID, translate(err))
	}
	return usd, nil
}

// RefreshRunCost sets a run's cost to the sum of its stored samples' costs
// (a stopped run's batches may store the samples they had in flight after
// the run was finished).
func (s *Store) RefreshRunCost(ctx context.Context, runID int64) error {
	if _, err := s.pool.Exec(ctx, `
		UPDATE runs SET cost_usd = (SELECT coalesce(sum(cost_usd), 0) FROM samples WHERE run_id = $1)
		WHERE id = $1`, runID); err != nil {
		return fmt.Errorf("refresh cost of run %d: %w", runID, translate(err))
	}
	return nil
}
