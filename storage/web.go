package storage

import (
	"context"
	"encoding/json"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5"
)

// RunListing is a run with the names of its suite and target, for the
// dashboard. In lists Summary is the stored report without its per-case and
// finding lists (which can be large); GetRunListing returns it whole.
type RunListing struct {
	ID             int64           `db:"id"`
	Project        string          `db:"project"`
	SuiteID        int64           `db:"suite_id"`
	TargetID       int64           `db:"target_id"`
	Suite          string          `db:"suite"`
	Target         string          `db:"target"`
	Trigger        string          `db:"trigger"`
	Status         string          `db:"status"`
	Verdict        string          `db:"verdict"`
	VerdictReason  string          `db:"verdict_reason"`
	SamplesPerCase int             `db:"samples_per_case"`
	StartedAt      time.Time       `db:"started_at"`
	FinishedAt     *time.Time      `db:"finished_at"`
	BaselineRunIDs []int64         `db:"baseline_run_ids"`
	Error          string          `db:"error"`
	CostUSD        float64         `db:"cost_usd"`
	Summary        json.RawMessage `db:"summary"`
}

// listingColumns select a RunListing from runs r joined with suites s,
// targets t and projects p; %s is the summary expression.
const listingColumns = `r.id, p.name AS project, r.suite_id, r.target_id, s.name AS suite, t.name AS target, r.trigger, r.status,
	coalesce(r.verdict, '') AS verdict, r.verdict_reason, r.samples_per_case, r.started_at, r.finished_at,
	r.baseline_run_ids, r.error, r.cost_usd, %s AS summary`

// headSummary drops the report's bulky lists: lists and charts need only the
// verdict, metrics and identity.
const headSummary = `r.summary - 'cases' - 'findings' - 'changed_cases'`

// LatestRunsPerPair returns, for every (suite, target) pair of project
// ("": every project) that has runs, its perPair newest runs: ordered by
// suite and target name, then newest first. Each pair is one index range
// scan of runs_suite_target_started_idx.
func (s *Store) LatestRunsPerPair(ctx context.Context, project string, perPair int) ([]RunListing, error) {
	if perPair <= 0 {
		perPair = 20
	}
	rows, _ := s.pool.Query(ctx, `
		SELECT `+fmt.Sprintf(listingColumns, headSummary)+`
		FROM projects p JOIN suites s ON s.project_id = p.id JOIN targets t ON t.project_id = p.id
		CROSS JOIN LATERAL (
			SELECT * FROM runs
			WHERE suite_id = s.id AND target_id = t.id
			ORDER BY started_at DESC, id DESC
			LIMIT $1) r
		WHERE $2::text = '' OR p.name = $2
		ORDER BY p.name, s.name, t.name, r.started_at DESC, r.id DESC`, perPair, project)
	out, err := pgx.CollectRows(rows, pgx.RowToStructByName[RunListing])
	if err != nil {
		return nil, fmt.Errorf("latest runs per pair: %w", translate(err))
	}
	return out, nil
}

// ListRunListings returns runs matching f, newest first, with names and the
// head of their summary.
func (s *Store) ListRunListings(ctx context.Context, f RunFilter) ([]RunListing, error) {
	if f.Limit <= 0 {
		f.Limit = 50
	}
	f.Limit = min(f.Limit, 1000)
	rows, _ := s.pool.Query(ctx, `
		SELECT `+fmt.Sprintf(listingColumns, headSummary)+`
		FROM runs r JOIN suites s ON s.id = r.suite_id JOIN targets t ON t.id = r.target_id JOIN projects p ON p.id = s.project_id
		WHERE ($1::bigint = 0 OR r.suite_id = $1) AND ($2::bigint = 0 OR r.target_id = $2)
			AND ($3::text = '' OR r.status = $3) AND ($6::text = '' OR p.name = $6)
		ORDER BY r.started_at DESC, r.id DESC
		LIMIT $4 OFFSET $5`, f.SuiteID, f.TargetID, f.Status, f.Limit, max(f.Offset, 0), f.Project)
	out, err := pgx.CollectRows(rows, pgx.RowToStructByName[RunListing])
	if err != nil {
		return nil, fmt.Errorf("list runs: %w", translate(err))
	}
	return out, nil
}

// GetRunListing returns one run with names and its whole summary.
func (s *Store) GetRunListing(ctx context.Context, id int64) (RunListing, error) {
	rows, _ := s.pool.Query(ctx, `
		SELECT `+fmt.Sprintf(listingColumns, "r.summary")+`
		FROM runs r JOIN suites s ON s.id = r.suite_id JOIN targets t ON t.id = r.target_id JOIN projects p ON p.id = s.project_id
		WHERE r.id = $1`, id)
	out, err := pgx.CollectExactlyOneRow(rows, pgx.RowToStructByName[RunListing])
	if err != nil {
		return RunListing{}, fmt.Errorf("get run %d: %w", id, translate(err))
	}
	return out, nil
}

// PairIDs resolves a suite and a target name of project to their ids, or
// ErrNotFound.
func (s *Store) PairIDs(ctx context.Context, project, suite, target string) (suiteID, targetID int64, err error) {
	err = s.pool.QueryRow(ctx, `
		SELECT s.id, t.id FROM projects p JOIN suites s ON s.project_id = p.id JOIN targets t ON t.project_id = p.id
		WHERE p.name = $1 AND s.name = $2 AND t.name = $3`, project, suite, target).Scan(&suiteID, &targetID)
	if err != nil {
		return 0, 0, fmt.Errorf("suite %q on target %q: %w", suite, target, translate(err))
	}
	return suiteID, targetID, nil
}

// ListBaselines returns every baseline (active or not) of a suite on a
// target, oldest first.
func (s *Store) ListBaselines(ctx context.Context, suiteID, targetID int64) ([]Baseline, error) {
	rows, _ := s.pool.Query(ctx, `SELECT `+baselineColumns+` FROM baselines
		WHERE suite_id = $1 AND target_id = $2 ORDER BY accepted_at, id`, suiteID, targetID)
	out, err := pgx.CollectRows(rows, pgx.RowToStructByName[Baseline])
	if err != nil {
		return nil, fmt.Errorf("list baselines of suite %d on target %d: %w", suiteID, targetID, translate(err))
	}
	return out, nil
}

// SampleFilter selects samples for ListSamplePage.
type SampleFilter struct {
	RunIDs     []int64 // required
	CaseKey    string  // "" for every case
	ErrorsOnly bool    // only samples with an error
	Limit      int     // page size; default 100, max 1000
	Offset     int
	// MaxText, when > 0, bounds what a page loads of each sample: output
	// and error are cut to MaxText+1 characters (so the caller can tell a
	// cut text), and the request is left out when longer than MaxText
	// bytes.
	MaxText int
}

// ListSamplePage returns a page of samples of runs, ordered by run, case and
// sample index. Raw responses are left out (Raw is nil).
func (s *Store) ListSamplePage(ctx context.Context, f SampleFilter) ([]Sample, error) {
	if f.Limit <= 0 {
		f.Limit = 100
	}
	f.Limit = min(f.Limit, 1000)
	rows, _ := s.pool.Query(ctx, `
		SELECT id, run_id, case_key, case_hash, sample_idx,
			CASE WHEN $6 > 0 AND octet_length(request::text) > $6 THEN NULL ELSE request END AS request,
			CASE WHEN $6 > 0 THEN left(output, $6 + 1) ELSE output END AS output,
			NULL::jsonb AS raw, identity, identity_hash,
			input_tokens, output_tokens, latency_ms, cost_usd,
			CASE WHEN $6 > 0 THEN left(coalesce(error, ''), $6 + 1) ELSE coalesce(error, '') END AS error, error_kind,
			outcome, passed, score, checks, answer, refused, json_valid, code_fence, finish_reason, created_at
		FROM samples
		WHERE run_id = ANY($1) AND ($2::text = '' OR case_key = $2) AND (NOT $3 OR error IS NOT NULL)
		ORDER BY run_id, case_key, sample_idx
		LIMIT $4 OFFSET $5`, f.RunIDs, f.CaseKey, f.ErrorsOnly, f.Limit, max(f.Offset, 0), max(f.MaxText, 0))
	out, err := pgx.CollectRows(rows, pgx.RowToStructByName[Sample])
	if err != nil {
		return nil, fmt.Errorf("list samples of runs %v: %w", f.RunIDs, translate(err))
	}
	return out, nil
}

// RunLatencies returns the mean latency in milliseconds of the completed
// (non-errored) samples of each run that has any.
func (s *Store) RunLatencies(ctx context.Context, runIDs []int64) (map[int64]float64, error) {
	rows, err := s.pool.Query(ctx, `
		SELECT run_id, avg(latency_ms) FROM samples
		WHERE run_id = ANY($1) AND error IS NULL
		GROUP BY run_id`, runIDs)
	if err != nil {
		return nil, fmt.Errorf("run latencies: %w", translate(err))
	}
	defer rows.Close()
	out := make(map[int64]float64, len(runIDs))
	for rows.Next() {
		var (
			id int64
			ms float64
		)
		if err := rows.Scan(&id, &ms); err != nil {
			return nil, fmt.Errorf("run latencies: %w", translate(err))
		}
		out[id] = ms
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("run latencies: %w", translate(err))
	}
	return out, nil
}

// AlertFilter selects alerts for ListAlerts.
type AlertFilter struct {
	Status string // one of the Alert* constants; "" for all
	Limit  int    // default 50, max 1000
	Offset int
}

// ListAlerts returns alerts newest first.
func (s *Store) ListAlerts(ctx context.Context, f AlertFilter) ([]Alert, error) {
	if f.Limit <= 0 {
		f.Limit = 50
	}
	f.Limit = min(f.Limit, 1000)
	rows, _ := s.pool.Query(ctx, `SELECT `+alertColumns+` FROM alerts
		WHERE ($1::text = '' OR status = $1)
		ORDER BY created_at DESC, id DESC LIMIT $2 OFFSET $3`, f.Status, f.Limit, max(f.Offset, 0))
	out, err := pgx.CollectRows(rows, pgx.RowToStructByName[Alert])
	if err != nil {
		return nil, fmt.Errorf("list alerts: %w", translate(err))
	}
	return out, nil
}

// ExplainDashboard returns the EXPLAIN plans of the dashboard's selective
// queries (run page, case page, samples page, trend, errors) for the given
// run, keyed by a short name. Tests assert that they use indexes; nothing is
// executed.
func (s *Store) ExplainDashboard(ctx context.Context, runID, suiteID, targetID int64, caseKey string) (map[string]string, error) {
	queries := map[string]struct {
		sql  string
		args []any
	}{
		"run":        {`SELECT ` + fmt.Sprintf(listingColumns, "r.summary") + ` FROM runs r JOIN suites s ON s.id = r.suite_id JOIN targets t ON t.id = r.target_id JOIN projects p ON p.id = s.project_id WHERE r.id = $1`, []any{runID}},
		"trend runs": {`SELECT r.id FROM runs r WHERE r.suite_id = $1 AND r.target_id = $2 AND r.status = 'completed' ORDER BY r.started_at DESC, r.id DESC LIMIT 200`, []any{suiteID, targetID}},
		"latest per pair": {`SELECT r.id FROM projects p JOIN suites s ON s.project_id = p.id JOIN targets t ON t.project_id = p.id CROSS JOIN LATERAL (SELECT * FROM runs
			WHERE suite_id = s.id AND target_id = t.id ORDER BY started_at DESC, id DESC LIMIT 20) r`, nil},
		"case samples": {`SELECT id, output FROM samples WHERE run_id = ANY($1) AND ($2::text = '' OR case_key = $2) AND (NOT $3 OR error IS NOT NULL)
			ORDER BY run_id, case_key, sample_idx LIMIT 100`, []any{[]int64{runID}, caseKey, false}},
		"sample page": {`SELECT id, output FROM samples WHERE run_id = ANY($1) AND ($2::text = '' OR case_key = $2) AND (NOT $3 OR error IS NOT NULL)
			ORDER BY run_id, case_key, sample_idx LIMIT 100 OFFSET 50`, []any{[]int64{runID}, "", false}},
		"latencies": {`SELECT run_id, avg(latency_ms) FROM samples WHERE run_id = ANY($1) AND error IS NULL GROUP BY run_id`, []any{[]int64{runID}}},
		"alerts":    {`SELECT id FROM alerts WHERE ($1::text = '' OR status = $1) ORDER BY created_at DESC, id DESC LIMIT 50`, []any{""}},
	}
	out := make(map[string]string, len(queries))
	for name, q := range queries {
		rows, err := s.pool.Query(ctx, "EXPLAIN "+q.sql, q.args...)
		if err != nil {
			return nil, fmt.Errorf("explain %s: %w", name, translate(err))
		}
		lines, err := pgx.CollectRows(rows, pgx.RowTo[string])
		if err != nil {
			return nil, fmt.Errorf("explain %s: %w", name, translate(err))
		}
		plan := ""
		for _, l := range lines {
			plan += l + "\n"
		}
		out[name] = plan
	}
	return out, nil
}

// Analyze refreshes the planner's statistics of the tables the dashboard
// reads, for tests and benchmarks that bulk-load before timing queries.
func (s *Store) Analyze(ctx context.Context) error {
	if _, err := s.pool.Exec(ctx, `ANALYZE runs, samples, suites, targets, baselines, alerts`); err != nil {
		return fmt.Errorf("analyze: %w", translate(err))
	}
	return nil
}
