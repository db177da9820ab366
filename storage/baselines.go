package storage

import (
	"context"
	"fmt"

	"github.com/jackc/pgx/v5"
)

const baselineColumns = `id, suite_id, target_id, run_ids, accepted_by, note, accepted_at, active`

// ActiveBaseline returns the active baseline of a suite on a target, or
// ErrNotFound.
func (s *Store) ActiveBaseline(ctx context.Context, suiteID, targetID int64) (Baseline, error) {
	rows, _ := s.pool.Query(ctx, `SELECT `+baselineColumns+` FROM baselines
		WHERE suite_id = $1 AND target_id = $2 AND active`, suiteID, targetID)
	b, err := pgx.CollectExactlyOneRow(rows, pgx.RowToStructByName[Baseline])
	if err != nil {
		return Baseline{}, fmt.Errorf("active baseline of suite %d on target %d: %w", suiteID, targetID, translate(err))
	}
	return b, nil
}

// AcceptBaseline makes a new baseline the active one for its (suite, target),
// deactivating the previous one in the same transaction.
func (s *Store) AcceptBaseline(ctx context.Context, a AcceptBaseline) (Baseline, error) {
	if len(a.RunIDs) == 0 {
		return Baseline{}, fmt.Errorf("accept baseline for suite %d on target %d: no runs given", a.SuiteID, a.TargetID)
	}
	var b Baseline
	err := s.withTx(ctx, func(tx pgx.Tx) error {
		// Serialise concurrent accepts for the same pair; the partial unique
		// index would otherwise turn the race into an ErrConflict.
		if _, err := tx.Exec(ctx, `SELECT pg_advisory_xact_lock(hashtextextended('driftwatch.baseline', $1 * 1000003 + $2))`,
			a.SuiteID, a.TargetID); err != nil {
			return err
		}
		if _, err := tx.Exec(ctx, `UPDATE baselines SET active = false
			WHERE suite_id = $1 AND target_id = $2 AND active`, a.SuiteID, a.TargetID); err != nil {
			return err
		}
		rows, _ := tx.Query(ctx, `
			INSERT INTO baselines (suite_id, target_id, run_ids, accepted_by, note)
			VALUES ($1, $2, $3, $4, $5)
			RETURNING `+baselineColumns, a.SuiteID, a.TargetID, a.RunIDs, a.AcceptedBy, a.Note)
		var err error
		b, err = pgx.CollectExactlyOneRow(rows, pgx.RowToStructByName[Baseline])
		return err
	})
	if err != nil {
		return Baseline{}, fmt.Errorf("accept baseline for suite %d on target %d: %w", a.SuiteID, a.TargetID, translate(err))
	}
	return b, nil
}

// AcceptFirstBaseline makes a the baseline of its (suite, target) only when
// the pair has none: of concurrent first runs, exactly one becomes the
// baseline. accepted is false, with the baseline that won, otherwise.
func (s *Store) AcceptFirstBaseline(ctx context.Context, a AcceptBaseline) (b Baseline, accepted bool, err error) {
	if len(a.RunIDs) == 0 {
		return Baseline{}, false, fmt.Errorf("accept baseline for suite %d on target %d: no runs given", a.SuiteID, a.TargetID)
	}
	err = s.withTx(ctx, func(tx pgx.Tx) error {
		if _, err := tx.Exec(ctx, `SELECT pg_advisory_xact_lock(hashtextextended('driftwatch.baseline', $1 * 1000003 + $2))`,
			a.SuiteID, a.TargetID); err != nil {
			return err
		}
		rows, _ := tx.Query(ctx, `
			INSERT INTO baselines (suite_id, target_id, run_ids, accepted_by, note)
			SELECT $1, $2, $3, $4, $5
			WHERE NOT EXISTS (SELECT 1 FROM baselines WHERE suite_id = $1 AND target_id = $2 AND active)
			RETURNING `+baselineColumns, a.SuiteID, a.TargetID, a.RunIDs, a.AcceptedBy, a.Note)
		got, err := pgx.CollectRows(rows, pgx.RowToStructByName[Baseline])
		if err != nil {
			return err
		}
		if len(got) == 1 {
			b, accepted = got[0], true
			return nil
		}
		rows, _ = tx.Query(ctx, `SELECT `+baselineColumns+` FROM baselines
			WHERE suite_id = $1 AND target_id = $2 AND active`, a.SuiteID, a.TargetID)
		b, err = pgx.CollectExactlyOneRow(rows, pgx.RowToStructByName[Baseline])
		return err
	})
	if err != nil {
		return Baseline{}, false, fmt.Errorf("accept first baseline for suite %d on target %d: %w", a.SuiteID, a.TargetID, translate(err))
	}
	return b, accepted, nil
}
