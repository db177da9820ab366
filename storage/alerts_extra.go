package storage

import (
	"cmp"
	"context"
	"fmt"
	"slices"
	"time"

	"github.com/jackc/pgx/v5"
)

// ClaimDueAlerts leases up to limit pending alerts of the given channels that
// are due at now: their next_attempt_at moves to leaseUntil, so a concurrent
// dispatcher (another replica, a CLI run next to serve) skips them while this
// one delivers. A dispatcher that dies mid-delivery leaves them pending; they
// are retried once the lease expires. Oldest due first.
func (s *Store) ClaimDueAlerts(ctx context.Context, channels []string, now, leaseUntil time.Time, limit int) ([]Alert, error) {
	if limit <= 0 {
		limit = 100
	}
	rows, _ := s.pool.Query(ctx, `UPDATE alerts SET next_attempt_at = $3
		WHERE id IN (
			SELECT id FROM alerts
			WHERE status = 'pending' AND next_attempt_at <= $2 AND channel = ANY($1)
			ORDER BY next_attempt_at, id
			LIMIT $4
			FOR UPDATE SKIP LOCKED)
		RETURNING `+alertColumns, channels, now, leaseUntil, limit)
	as, err := pgx.CollectRows(rows, pgx.RowToStructByName[Alert])
	if err != nil {
		return nil, fmt.Errorf("claim due alerts: %w", translate(err))
	}
	slices.SortFunc(as, func(a, b Alert) int { return cmp.Compare(a.ID, b.ID) })
	return as, nil
}

// ListRunAlerts returns the alerts raised for a run, oldest first (the
// dashboard's alert log and tests use it).
func (s *Store) ListRunAlerts(ctx context.Context, runID int64) ([]Alert, error) {
	rows, _ := s.pool.Query(ctx, `SELECT `+alertColumns+` FROM alerts WHERE run_id = $1 ORDER BY id`, runID)
	as, err := pgx.CollectRows(rows, pgx.RowToStructByName[Alert])
	if err != nil {
		return nil, fmt.Errorf("list alerts of run %d: %w", runID, translate(err))
	}
	return as, nil
}
