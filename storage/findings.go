package storage

import (
	"context"
	"fmt"
	"math"

	"github.com/jackc/pgx/v5"
)

// InsertFindings stores a run's findings (RunID on each finding is ignored)
// and returns their ids in order.
func (s *Store) InsertFindings(ctx context.Context, runID int64, findings []Finding) ([]int64, error) {
	if len(findings) == 0 {
		return nil, nil
	}
	batch := &pgx.Batch{}
	for _, f := range findings {
		if f.BaselineRunIDs == nil {
			f.BaselineRunIDs = []int64{}
		}
		batch.Queue(`
			INSERT INTO findings (run_id, baseline_run_ids, scope, metric, statistic, p, q, effect,
				ci_low, ci_high, baseline_value, current_value, verdict, reason, examples)
			VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15::jsonb)
			RETURNING id`,
			runID, f.BaselineRunIDs, f.Scope, f.Metric, f.Statistic, nanNull(f.P), nanNull(f.Q),
			nanNull(f.Effect), nanNull(f.CILow), nanNull(f.CIHigh), nanNull(f.BaselineValue),
			nanNull(f.CurrentValue), f.Verdict, f.Reason, jsonArg(f.Examples))
	}
	ids := make([]int64, len(findings))
	err := s.withTx(ctx, func(tx pgx.Tx) error {
		br := tx.SendBatch(ctx, batch)
		for i := range findings {
			if err := br.QueryRow().Scan(&ids[i]); err != nil {
				_ = br.Close() // the first error is the one to report
				return err
			}
		}
		return br.Close()
	})
	if err != nil {
		return nil, fmt.Errorf("insert %d findings for run %d: %w", len(findings), runID, translate(err))
	}
	return ids, nil
}

// ListFindings returns a run's findings in insertion order.
func (s *Store) ListFindings(ctx context.Context, runID int64) ([]Finding, error) {
	rows, _ := s.pool.Query(ctx, `
		SELECT id, run_id, baseline_run_ids, scope, metric, statistic,
			coalesce(p, 'NaN') AS p, coalesce(q, 'NaN') AS q, coalesce(effect, 'NaN') AS effect,
			coalesce(ci_low, 'NaN') AS ci_low, coalesce(ci_high, 'NaN') AS ci_high,
			coalesce(baseline_value, 'NaN') AS baseline_value, coalesce(current_value, 'NaN') AS current_value,
			verdict, reason, examples, created_at
		FROM findings WHERE run_id = $1 ORDER BY id`, runID)
	fs, err := pgx.CollectRows(rows, pgx.RowToStructByName[Finding])
	if err != nil {
		return nil, fmt.Errorf("list findings of run %d: %w", runID, translate(err))
	}
	return fs, nil
}

func nanNull(f float64) any {
	if math.IsNaN(f) {
		return nil
	}
	return f
}
