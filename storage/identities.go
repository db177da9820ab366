package storage

import (
	"context"
	"encoding/json"
	"fmt"

	"github.com/jackc/pgx/v5"
)

// RecordIdentity notes that target produced identity (keyed by hash) in run:
// the first sighting inserts it, later ones move last_seen and last_run_id.
func (s *Store) RecordIdentity(ctx context.Context, targetID, runID int64, hash string, identity json.RawMessage) error {
	_, err := s.pool.Exec(ctx, `
		INSERT INTO identities (target_id, identity_hash, identity, first_run_id, last_run_id)
		VALUES ($1, $2, coalesce($3::jsonb, '{}'::jsonb), $4, $4)
		ON CONFLICT (target_id, identity_hash) DO UPDATE SET
			last_seen = greatest(identities.last_seen, now()), last_run_id = EXCLUDED.last_run_id`,
		targetID, hash, jsonArg(identity), nullID(runID))
	if err != nil {
		return fmt.Errorf("record identity %s of target %d: %w", hash, targetID, translate(err))
	}
	return nil
}

// IdentityHistory returns every identity seen for a target, oldest first.
func (s *Store) IdentityHistory(ctx context.Context, targetID int64) ([]Identity, error) {
	rows, _ := s.pool.Query(ctx, `
		SELECT id, target_id, identity_hash, identity, first_seen, last_seen, first_run_id, last_run_id
		FROM identities WHERE target_id = $1 ORDER BY first_seen, id`, targetID)
	ids, err := pgx.CollectRows(rows, pgx.RowToStructByName[Identity])
	if err != nil {
		return nil, fmt.Errorf("identity history of target %d: %w", targetID, translate(err))
	}
	return ids, nil
}

// DominantIdentity returns the identity of target that answered most of the
// samples of runIDs (ties: the lowest hash), or ErrNotFound when none of
// them recorded one. It reads the samples, not the identities' first and
// last runs, so it finds the identity of any run in an identity's range.
func (s *Store) DominantIdentity(ctx context.Context, targetID int64, runIDs []int64) (Identity, error) {
	rows, _ := s.pool.Query(ctx, `
		SELECT i.id, i.target_id, i.identity_hash, i.identity, i.first_seen, i.last_seen, i.first_run_id, i.last_run_id
		FROM (
			SELECT identity_hash, count(*) AS n FROM samples
			WHERE run_id = ANY($2::bigint[]) AND identity_hash <> ''
			GROUP BY identity_hash
		) AS d
		JOIN identities AS i ON i.target_id = $1 AND i.identity_hash = d.identity_hash
		ORDER BY d.n DESC, d.identity_hash
		LIMIT 1`, targetID, runIDs)
	id, err := pgx.CollectExactlyOneRow(rows, pgx.RowToStructByName[Identity])
	if err != nil {
		return Identity{}, fmt.Errorf("dominant identity of runs %v: %w", runIDs, translate(err))
	}
	return id, nil
}

func nullID(id int64) any {
	if id == 0 {
		return nil
	}
	return id
}
