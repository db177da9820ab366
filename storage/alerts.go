package storage

import (
	"context"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5"
)

const alertColumns = `id, finding_id, run_id, channel, dedup_key, status, attempts, last_error,
	payload, created_at, sent_at, next_attempt_at`

// EnqueueAlert adds a pending alert to the outbox.
func (s *Store) EnqueueAlert(ctx context.Context, a NewAlert) (Alert, error) {
	var next any
	if !a.NextAttemptAt.IsZero() {
		next = a.NextAttemptAt
	}
	rows, _ := s.pool.Query(ctx, `
		INSERT INTO alerts (finding_id, run_id, channel, dedup_key, payload, next_attempt_at)
		VALUES ($1, $2, $3, $4, coalesce($5::jsonb, '{}'::jsonb), coalesce($6::timestamptz, now()))
		RETURNING `+alertColumns,
		nullID(a.FindingID), a.RunID, a.Channel, a.DedupKey, jsonArg(a.Payload), next)
	al, err := pgx.CollectExactlyOneRow(rows, pgx.RowToStructByName[Alert])
	if err != nil {
		return Alert{}, fmt.Errorf("enqueue alert %s: %w", a.DedupKey, translate(err))
	}
	return al, nil
}

// PendingAlerts returns up to limit pending alerts due at now, oldest due
// first.
func (s *Store) PendingAlerts(ctx context.Context, now time.Time, limit int) ([]Alert, error) {
	if limit <= 0 {
		limit = 100
	}
	rows, _ := s.pool.Query(ctx, `SELECT `+alertColumns+` FROM alerts
		WHERE status = 'pending' AND next_attempt_at <= $1
		ORDER BY next_attempt_at, id LIMIT $2`, now, limit)
	as, err := pgx.CollectRows(rows, pgx.RowToStructByName[Alert])
	if err != nil {
		return nil, fmt.Errorf("list pending alerts: %w", translate(err))
	}
	return as, nil
}

// MarkAlertSent records a successful delivery.
func (s *Store) MarkAlertSent(ctx context.Context, id int64, sentAt time.Time) error {
	tag, err := s.pool.Exec(ctx, `UPDATE alerts SET status = 'sent', sent_at = $2, attempts = attempts + 1
		WHERE id = $1`, id, sentAt)
	if err != nil {
		return fmt.Errorf("mark alert %d sent: %w", id, translate(err))
	}
	if tag.RowsAffected() == 0 {
		return fmt.Errorf("mark alert %d sent: %w", id, ErrNotFound)
	}
	return nil
}

// MarkAlertFailed records a failed delivery attempt. With a non-zero
// nextAttempt the alert stays pending until then; a zero nextAttempt gives up
// and sets the status to failed.
func (s *Store) MarkAlertFailed(ctx context.Context, id int64, deliveryErr error, nextAttempt time.Time) error {
	msg := ""
	if deliveryErr != nil {
		msg = deliveryErr.Error()
	}
	var next any
	if !nextAttempt.IsZero() {
		next = nextAttempt
	}
	tag, err := s.pool.Exec(ctx, `UPDATE alerts SET attempts = attempts + 1, last_error = $2,
			status = CASE WHEN $3::timestamptz IS NULL THEN 'failed' ELSE 'pending' END,
			next_attempt_at = coalesce($3::timestamptz, next_attempt_at)
		WHERE id = $1`, id, msg, next)
	if err != nil {
		return fmt.Errorf("mark alert %d failed: %w", id, translate(err))
	}
	if tag.RowsAffected() == 0 {
		return fmt.Errorf("mark alert %d failed: %w", id, ErrNotFound)
	}
	return nil
}

// LastAlert returns the newest alert with the given dedup key, or ErrNotFound.
func (s *Store) LastAlert(ctx context.Context, dedupKey string) (Alert, error) {
	rows, _ := s.pool.Query(ctx, `SELECT `+alertColumns+` FROM alerts
		WHERE dedup_key = $1 ORDER BY created_at DESC, id DESC LIMIT 1`, dedupKey)
	al, err := pgx.CollectExactlyOneRow(rows, pgx.RowToStructByName[Alert])
	if err != nil {
		return Alert{}, fmt.Errorf("last alert %s: %w", dedupKey, translate(err))
	}
	return al, nil
}

// EpisodeChannels returns, in name order, the channels that received (or
// are still trying to deliver) a drift alert of the episode opened by run
// firstRunID under dedupKey: the alerts whose payload is a drift event of
// that episode (an alert stored without an episode opened its own, with its
// run) and whose delivery was not given up. A resolution goes to these
// channels only.
func (s *Store) EpisodeChannels(ctx context.Context, dedupKey string, firstRunID int64) ([]string, error) {
	rows, _ := s.pool.Query(ctx, `
		SELECT DISTINCT channel FROM alerts
		WHERE dedup_key = $1 AND status <> 'failed' AND payload->>'kind' = 'drift'
			AND coalesce((payload->'episode'->>'first_run_id')::bigint, run_id) = $2
		ORDER BY channel`, dedupKey, firstRunID)
	chans, err := pgx.CollectRows(rows, pgx.RowTo[string])
	if err != nil {
		return nil, fmt.Errorf("episode channels %s: %w", dedupKey, translate(err))
	}
	return chans, nil
}
