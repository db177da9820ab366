package storage

import (
	"context"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5"
)

// DefaultProject is the project of runs stored before projects existed,
// and of configs that name none and have no folder to name them after.
const DefaultProject = "default"

// EnsureProject returns the id of the project called name, creating it if
// needed.
func (s *Store) EnsureProject(ctx context.Context, name string) (int64, error) {
	var id int64
	err := s.pool.QueryRow(ctx, `
		INSERT INTO projects (name) VALUES ($1)
		ON CONFLICT (name) DO UPDATE SET name = EXCLUDED.name
		RETURNING id`, name).Scan(&id)
	if err != nil {
		return 0, fmt.Errorf("ensure project %q: %w", name, translate(err))
	}
	return id, nil
}

// EnsureTarget returns the id of the project's target called name,
// creating it or updating its provider and model.
func (s *Store) EnsureTarget(ctx context.Context, projectID int64, name, provider, model string) (int64, error) {
	var id int64
	err := s.pool.QueryRow(ctx, `
		INSERT INTO targets (project_id, name, provider, model) VALUES ($1, $2, $3, $4)
		ON CONFLICT (project_id, name) DO UPDATE SET provider = EXCLUDED.provider, model = EXCLUDED.model
		RETURNING id`, projectID, name, provider, model).Scan(&id)
	if err != nil {
		return 0, fmt.Errorf("ensure target %q: %w", name, translate(err))
	}
	return id, nil
}

// EnsureSuite returns the id of the project's suite called name, creating
// it if needed.
func (s *Store) EnsureSuite(ctx context.Context, projectID int64, name string) (int64, error) {
	var id int64
	err := s.pool.QueryRow(ctx, `
		INSERT INTO suites (project_id, name) VALUES ($1, $2)
		ON CONFLICT (project_id, name) DO UPDATE SET name = EXCLUDED.name
		RETURNING id`, projectID, name).Scan(&id)
	if err != nil {
		return 0, fmt.Errorf("ensure suite %q: %w", name, translate(err))
	}
	return id, nil
}

// UpsertCases records case versions for a suite. Versions already recorded
// (same key and content hash) are left untouched.
func (s *Store) UpsertCases(ctx context.Context, suiteID int64, cases []Case) error {
	if len(cases) == 0 {
		return nil
	}
	keys := make([]string, len(cases))
	hashes := make([]string, len(cases))
	specs := make([]*string, len(cases))
	for i, c := range cases {
		keys[i], hashes[i] = c.Key, c.ContentHash
		if len(c.Spec) > 0 {
			spec := string(c.Spec)
			specs[i] = &spec
		}
	}
	_, err := s.pool.Exec(ctx, `
		INSERT INTO cases (suite_id, key, content_hash, spec)
		SELECT $1, k, h, coalesce(sp::jsonb, '{}'::jsonb)
		FROM unnest($2::text[], $3::text[], $4::text[]) AS u(k, h, sp)
		ON CONFLICT (suite_id, key, content_hash) DO NOTHING`, suiteID, keys, hashes, specs)
	if err != nil {
		return fmt.Errorf("upsert %d cases for suite %d: %w", len(cases), suiteID, translate(err))
	}
	return nil
}

const runColumns = `id, suite_id, target_id, trigger, coalesce(schedule, '') AS schedule, status,
	coalesce(verdict, '') AS verdict, verdict_reason, samples_per_case, started_at, finished_at,
	config, harness_version, summary, baseline_run_ids, error, cost_usd`

// CreateRun inserts a run in status "running".
func (s *Store) CreateRun(ctx context.Context, nr NewRun) (Run, error) {
	if nr.SamplesPerCase <= 0 {
		nr.SamplesPerCase = 1
	}
	var started any
	if !nr.StartedAt.IsZero() {
		started = nr.StartedAt
	}
	rows, _ := s.pool.Query(ctx, `
		INSERT INTO runs (suite_id, target_id, trigger, schedule, samples_per_case, config, harness_version, started_at)
		VALUES ($1, $2, $3, nullif($4, ''), $5, coalesce($6::jsonb, '{}'::jsonb), $7, coalesce($8::timestamptz, now()))
		RETURNING `+runColumns,
		nr.SuiteID, nr.TargetID, nr.Trigger, nr.Schedule, nr.SamplesPerCase, jsonArg(nr.Config), nr.HarnessVersion, started)
	run, err := pgx.CollectExactlyOneRow(rows, pgx.RowToStructByName[Run])
	if err != nil {
		return Run{}, fmt.Errorf("insert run: %w", translate(err))
	}
	return run, nil
}

// FinishRun records a run's final status, verdict and summary. A nil
// f.Summary keeps the stored summary: a later update of the verdict (a
// confirmation run's outcome, say) never erases the report.
func (s *Store) FinishRun(ctx context.Context, id int64, f FinishRun) error {
	var finished *time.Time // nil: the database's clock
	if !f.FinishedAt.IsZero() {
		finished = &f.FinishedAt
	}
	if f.BaselineRunIDs == nil {
		f.BaselineRunIDs = []int64{}
	}
	tag, err := s.pool.Exec(ctx, `
		UPDATE runs SET status = $2, verdict = nullif($3, ''), verdict_reason = $4, summary = coalesce($5::jsonb, summary),
			baseline_run_ids = $6, error = $7, cost_usd = $8,
			finished_at = coalesce($9::timestamptz, now())
		WHERE id = $1`,
		id, f.Status, f.Verdict, f.Reason, jsonArg(f.Summary), f.BaselineRunIDs, f.Error, f.CostUSD, finished)
	if err != nil {
		return fmt.Errorf("finish run %d: %w", id, translate(err))
	}
	if tag.RowsAffected() == 0 {
		return fmt.Errorf("finish run %d: %w", id, ErrNotFound)
	}
	return nil
}

// FailRun marks a run that is still running as failed, with msg as its
// error and reason. A run already finished (or stopped) is left alone, so a
// caller can fail a run on any error path without knowing whether the run
// was finished before the error.
func (s *Store) FailRun(ctx context.Context, id int64, msg string) error {
	_, err := s.pool.Exec(ctx, `
		UPDATE runs SET status = 'failed', verdict_reason = $2, error = $2, finished_at = now()
		WHERE id = $1 AND status = 'running'`, id, msg)
	if err != nil {
		return fmt.Errorf("fail run %d: %w", id, translate(err))
	}
	return nil
}

// RunTotals are the sums over a run's stored samples.
type RunTotals struct {
	// Samples counts the stored samples that are not skipped; Errored and
	// ErrorKinds (by error kind) the errored ones among them.
	Samples    int64
	Errored    int64
	ErrorKinds map[string]int64
	// FirstError is the message of the first stored sample with the most
	// frequent error kind ("" when none errored): what to tell a user.
	FirstError   string
	InputTokens  int64
	OutputTokens int64
	CostUSD      float64
}

// RunTotals sums the tokens and cost of a run's stored samples and counts
// them, so that a run resumed in several sittings reports all of it.
func (s *Store) RunTotals(ctx context.Context, runID int64) (RunTotals, error) {
	rows, _ := s.pool.Query(ctx, `
		SELECT error_kind,
			count(*) FILTER (WHERE outcome <> 'skipped') AS n,
			count(*) FILTER (WHERE outcome <> 'skipped' AND error IS NOT NULL) AS errored,
			coalesce(sum(input_tokens), 0)::bigint AS input_tokens,
			coalesce(sum(output_tokens), 0)::bigint AS output_tokens,
			coalesce(sum(cost_usd), 0)::float8 AS cost_usd,
			coalesce((array_agg(error ORDER BY created_at, id) FILTER (WHERE error IS NOT NULL))[1], '') AS first_error
		FROM samples WHERE run_id = $1
		GROUP BY error_kind`, runID)
	type group struct {
		ErrorKind    string  `db:"error_kind"`
		N            int64   `db:"n"`
		Errored      int64   `db:"errored"`
		InputTokens  int64   `db:"input_tokens"`
		OutputTokens int64   `db:"output_tokens"`
		CostUSD      float64 `db:"cost_usd"`
		FirstError   string  `db:"first_error"`
	}
	groups, err := pgx.CollectRows(rows, pgx.RowToStructByName[group])
	if err != nil {
		return RunTotals{}, fmt.Errorf("totals of run %d: %w", runID, translate(err))
	}
	t := RunTotals{ErrorKinds: map[string]int64{}}
	var most int64
	for _, g := range groups {
		t.Samples += g.N
		t.Errored += g.Errored
		t.InputTokens += g.InputTokens
		t.OutputTokens += g.OutputTokens
		t.CostUSD += g.CostUSD
		if g.Errored > 0 {
			t.ErrorKinds[g.ErrorKind] += g.Errored
		}
		if g.Errored > most {
			most, t.FirstError = g.Errored, g.FirstError
		}
	}
	return t, nil
}

// GetRun returns the run with the given id.
func (s *Store) GetRun(ctx context.Context, id int64) (Run, error) {
	rows, _ := s.pool.Query(ctx, `SELECT `+runColumns+` FROM runs WHERE id = $1`, id)
	run, err := pgx.CollectExactlyOneRow(rows, pgx.RowToStructByName[Run])
	if err != nil {
		return Run{}, fmt.Errorf("get run %d: %w", id, translate(err))
	}
	return run, nil
}

// ListRuns returns runs matching f, newest first.
func (s *Store) ListRuns(ctx context.Context, f RunFilter) ([]Run, error) {
	if f.Limit <= 0 {
		f.Limit = 50
	}
	f.Limit = min(f.Limit, 1000)
	rows, _ := s.pool.Query(ctx, `
		SELECT `+runColumns+` FROM runs
		WHERE ($1::bigint = 0 OR suite_id = $1) AND ($2::bigint = 0 OR target_id = $2)
			AND ($3::text = '' OR status = $3)
		ORDER BY started_at DESC, id DESC
		LIMIT $4 OFFSET $5`, f.SuiteID, f.TargetID, f.Status, f.Limit, max(f.Offset, 0))
	runs, err := pgx.CollectRows(rows, pgx.RowToStructByName[Run])
	if err != nil {
		return nil, fmt.Errorf("list runs: %w", translate(err))
	}
	return runs, nil
}

// LatestCompletedRun returns the newest completed run of a suite on a target,
// or ErrNotFound.
func (s *Store) LatestCompletedRun(ctx context.Context, suiteID, targetID int64) (Run, error) {
	rows, _ := s.pool.Query(ctx, `
		SELECT `+runColumns+` FROM runs
		WHERE suite_id = $1 AND target_id = $2 AND status = 'completed'
		ORDER BY started_at DESC, id DESC
		LIMIT 1`, suiteID, targetID)
	run, err := pgx.CollectExactlyOneRow(rows, pgx.RowToStructByName[Run])
	if err != nil {
		return Run{}, fmt.Errorf("latest completed run of suite %d on target %d: %w", suiteID, targetID, translate(err))
	}
	return run, nil
}

// jsonArg passes raw JSON as a query argument: nil/empty becomes NULL.
func jsonArg(b []byte) any {
	if len(b) == 0 {
		return nil
	}
	return string(b)
}

// RunPassCount is one completed run's pass count: Passed of Total samples
// that did not error.
type RunPassCount struct {
	RunID  int64
	Passed int
	Total  int
	// Verdict is the run's stored verdict ("" when none).
	Verdict string
}

// PassCountHistory returns the pass counts of the last limit completed runs
// of a suite on a target started before the run except (in started_at, id
// order: a run resumed after later runs completed does not see them), oldest
// first, confirmation runs left out (they are not another night). It reads the counts from the stored reports (metrics.passed,
// metrics.samples and metrics.error_count); runs stored before reports
// carried metrics.passed are left out.
func (s *Store) PassCountHistory(ctx context.Context, suiteID, targetID, except int64, limit int) ([]RunPassCount, error) {
	rows, _ := s.pool.Query(ctx, `
		SELECT id, passed, total, verdict FROM (
			SELECT id, started_at, COALESCE(verdict, '') AS verdict,
				(summary->'metrics'->>'passed')::int AS passed,
				(summary->'metrics'->>'samples')::int - (summary->'metrics'->>'error_count')::int AS total
			FROM runs
			WHERE suite_id = $1 AND target_id = $2 AND status = 'completed' AND trigger <> 'confirm'
				AND (started_at, id) < (SELECT started_at, id FROM runs WHERE id = $3)
				AND jsonb_typeof(summary->'metrics'->'passed') = 'number'
			ORDER BY started_at DESC, id DESC
			LIMIT $4) last
		ORDER BY started_at, id`, suiteID, targetID, except, limit)
	out, err := pgx.CollectRows(rows, pgx.RowToStructByPos[RunPassCount])
	if err != nil {
		return nil, fmt.Errorf("pass count history: %w", translate(err))
	}
	return out, nil
}

// PassZHistory returns the pass_z of the completed runs of a suite on a
// target that were compared with exactly the given baseline runs and
// started before the run except, oldest first, excluding the runs whose
// verdict was DRIFT:
// those already alarmed, and keeping them would carry an abrupt change that
// was rolled back into later runs as "slow drift". It reads one number per
// run, not the stored reports.
func (s *Store) PassZHistory(ctx context.Context, suiteID, targetID int64, baselineRunIDs []int64, except int64) ([]float64, error) {
	rows, _ := s.pool.Query(ctx, `
		SELECT (summary->>'pass_z')::float8 FROM runs
		WHERE suite_id = $1 AND target_id = $2 AND status = 'completed' AND id <> $4
			AND (started_at, id) < (SELECT started_at, id FROM runs WHERE id = $4)
			AND verdict IS DISTINCT FROM 'DRIFT'
			AND baseline_run_ids = $3::bigint[] AND NOT id = ANY($3::bigint[])
			AND jsonb_typeof(summary->'pass_z') = 'number'
		ORDER BY started_at, id`, suiteID, targetID, baselineRunIDs, except)
	z, err := pgx.CollectRows(rows, pgx.RowTo[float64])
	if err != nil {
		return nil, fmt.Errorf("pass z history: %w", translate(err))
	}
	return z, nil
}

// BackdateRuns moves the start and finish times of the given runs back by
// d, and the accepted time of every baseline made of one of them: the demo
// uses it to replay two weeks of nights in a minute, so that the dashboard
// draws them on a real time axis. Run histories (change point, CUSUM) order
// runs by start time: backdate nights in order, before the next one runs.
func (s *Store) BackdateRuns(ctx context.Context, runIDs []int64, d time.Duration) error {
	err := s.withTx(ctx, func(tx pgx.Tx) error {
		if _, err := tx.Exec(ctx, `UPDATE runs SET started_at = started_at - $2::interval,
			finished_at = finished_at - $2::interval WHERE id = ANY($1)`, runIDs, d); err != nil {
			return err
		}
		_, err := tx.Exec(ctx, `UPDATE baselines SET accepted_at = accepted_at - $2::interval WHERE run_ids && $1::bigint[]`, runIDs, d)
		return err
	})
	if err != nil {
		return fmt.Errorf("backdate runs %v: %w", runIDs, translate(err))
	}
	return nil
}
