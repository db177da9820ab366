package storage

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"slices"
	"sort"

	"github.com/jackc/pgx/v5"
)

const baselineColumns = `id, suite_id, target_id, run_ids, accepted_by, note, accepted_at, active`

// poolColumns are a Pool's columns: the baseline's and its pooling state.
const poolColumns = baselineColumns + `, pool_size, suite_hash`

// Pool is a baseline with its pooling state: how many runs it pools once
// complete and the suite content its runs sampled.
type Pool struct {
	Baseline
	// PoolSize is how many runs the baseline pools once complete (1 for a
	// baseline accepted before pools).
	PoolSize int `db:"pool_size"`
	// SuiteHash identifies the suite's content the pooled runs sampled
	// (SuiteHash); "" when unknown (a baseline accepted before pools).
	SuiteHash string `db:"suite_hash"`
}

// Complete reports whether the baseline pools all its runs: a complete
// pool is frozen until it is rebuilt.
func (p Pool) Complete() bool { return len(p.RunIDs) >= p.PoolSize }

// ActiveBaseline returns the active baseline of a suite on a target, or
// ErrNotFound.
func (s *Store) ActiveBaseline(ctx context.Context, suiteID, targetID int64) (Baseline, error) {
	p, err := s.ActivePool(ctx, suiteID, targetID)
	return p.Baseline, err
}

// ActivePool returns the active baseline of a suite on a target with its
// pooling state, or ErrNotFound.
func (s *Store) ActivePool(ctx context.Context, suiteID, targetID int64) (Pool, error) {
	rows, _ := s.pool.Query(ctx, `SELECT `+poolColumns+` FROM baselines
		WHERE suite_id = $1 AND target_id = $2 AND active`, suiteID, targetID)
	p, err := pgx.CollectExactlyOneRow(rows, pgx.RowToStructByName[Pool])
	if err != nil {
		return Pool{}, fmt.Errorf("active baseline of suite %d on target %d: %w", suiteID, targetID, translate(err))
	}
	return p, nil
}

// AcceptBaseline makes a new baseline the active one for its (suite, target),
// deactivating the previous one in the same transaction.
func (s *Store) AcceptBaseline(ctx context.Context, a AcceptBaseline) (Baseline, error) {
	if len(a.RunIDs) == 0 {
		return Baseline{}, fmt.Errorf("accept baseline for suite %d on target %d: no runs given", a.SuiteID, a.TargetID)
	}
	var p Pool
	err := s.withTx(ctx, func(tx pgx.Tx) error {
		var err error
		p, err = replaceBaseline(ctx, tx, a)
		return err
	})
	if err != nil {
		return Baseline{}, fmt.Errorf("accept baseline for suite %d on target %d: %w", a.SuiteID, a.TargetID, translate(err))
	}
	return p.Baseline, nil
}

// replaceBaseline deactivates the active baseline of a's (suite, target)
// and inserts a as the active one, under the pair's advisory lock.
func replaceBaseline(ctx context.Context, tx pgx.Tx, a AcceptBaseline) (Pool, error) {
	// Serialise concurrent accepts for the same pair; the partial unique
	// index would otherwise turn the race into an ErrConflict.
	if err := lockBaseline(ctx, tx, a.SuiteID, a.TargetID); err != nil {
		return Pool{}, err
	}
	if _, err := tx.Exec(ctx, `UPDATE baselines SET active = false
		WHERE suite_id = $1 AND target_id = $2 AND active`, a.SuiteID, a.TargetID); err != nil {
		return Pool{}, err
	}
	rows, _ := tx.Query(ctx, `
		INSERT INTO baselines (suite_id, target_id, run_ids, accepted_by, note, pool_size, suite_hash)
		VALUES ($1, $2, $3, $4, $5, $6, $7)
		RETURNING `+poolColumns, a.SuiteID, a.TargetID, a.RunIDs, a.AcceptedBy, a.Note,
		max(a.PoolSize, len(a.RunIDs), 1), a.SuiteHash)
	return pgx.CollectExactlyOneRow(rows, pgx.RowToStructByName[Pool])
}

func lockBaseline(ctx context.Context, tx pgx.Tx, suiteID, targetID int64) error {
	_, err := tx.Exec(ctx, `SELECT pg_advisory_xact_lock(hashtextextended('driftwatch.baseline', $1 * 1000003 + $2))`,
		suiteID, targetID)
	return err
}

// GrowBaseline holds the inputs for Store.GrowBaseline.
type GrowBaseline struct {
	SuiteID    int64
	TargetID   int64
	BaselineID int64 // the active baseline the run was compared with
	RunID      int64 // a stable run that reached K
	AcceptedBy string
	Note       string
}

// GrowBaseline adds a run to the active baseline while its pool is
// incomplete: the new active baseline pools the old one's runs and RunID,
// with the same pool size and suite hash. It returns ErrConflict (wrapped)
// when BaselineID is no longer the active baseline (a concurrent grow,
// accept or rebuild won), when the pool is already complete (frozen), or
// when the run is already pooled: the caller leaves the baseline alone.
func (s *Store) GrowBaseline(ctx context.Context, g GrowBaseline) (Pool, error) {
	var b Pool
	err := s.withTx(ctx, func(tx pgx.Tx) error {
		if err := lockBaseline(ctx, tx, g.SuiteID, g.TargetID); err != nil {
			return err
		}
		rows, _ := tx.Query(ctx, `SELECT `+poolColumns+` FROM baselines
			WHERE suite_id = $1 AND target_id = $2 AND active`, g.SuiteID, g.TargetID)
		cur, err := pgx.CollectExactlyOneRow(rows, pgx.RowToStructByName[Pool])
		if err != nil {
			return err
		}
		switch {
		case cur.ID != g.BaselineID:
			return fmt.Errorf("%w: baseline %d is no longer active (now %d)", ErrConflict, g.BaselineID, cur.ID)
		case cur.Complete():
			return fmt.Errorf("%w: baseline %d pools %d of %d runs: complete, frozen", ErrConflict, cur.ID, len(cur.RunIDs), cur.PoolSize)
		case slices.Contains(cur.RunIDs, g.RunID):
			return fmt.Errorf("%w: run %d is already in baseline %d", ErrConflict, g.RunID, cur.ID)
		}
		b, err = replaceBaseline(ctx, tx, AcceptBaseline{SuiteID: g.SuiteID, TargetID: g.TargetID,
			RunIDs: append(slices.Clone(cur.RunIDs), g.RunID), AcceptedBy: g.AcceptedBy, Note: g.Note,
			PoolSize: cur.PoolSize, SuiteHash: cur.SuiteHash})
		return err
	})
	if err != nil {
		return Pool{}, fmt.Errorf("grow baseline %d with run %d: %w", g.BaselineID, g.RunID, translate(err))
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
		if err := lockBaseline(ctx, tx, a.SuiteID, a.TargetID); err != nil {
			return err
		}
		rows, _ := tx.Query(ctx, `
			INSERT INTO baselines (suite_id, target_id, run_ids, accepted_by, note, pool_size, suite_hash)
			SELECT $1, $2, $3, $4, $5, $6, $7
			WHERE NOT EXISTS (SELECT 1 FROM baselines WHERE suite_id = $1 AND target_id = $2 AND active)
			RETURNING `+baselineColumns, a.SuiteID, a.TargetID, a.RunIDs, a.AcceptedBy, a.Note,
			max(a.PoolSize, len(a.RunIDs), 1), a.SuiteHash)
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

// RebuildBaseline holds the inputs for Store.RebuildBaseline.
type RebuildBaseline struct {
	SuiteID   int64
	TargetID  int64
	SuiteHash string // the suite's content now (SuiteHash)
	PoolSize  int    // runs to pool; default 1
	// AnchorRunID is the run `baseline accept` names (0: none). It is
	// pooled whatever its verdict, and no run before it is.
	AnchorRunID int64
	AcceptedBy  string
	Note        string
}

// RebuildBaseline makes the active baseline the last PoolSize pool-eligible
// runs of the suite on the target: with the anchor run first when given,
// then the newest completed runs after it whose verdict is STABLE or
// BASELINE, that reached K (not stopped at a look) and were sampled from
// SuiteHash. Called on `baseline accept` (anchor: the accepted run) and when
// the suite's content changes (no anchor). Runs recorded without sampling
// (RecordSampling) have no known suite content and are never pooled here.
// It returns ErrNotFound (wrapped) when no run qualifies; the active
// baseline is then left as it was.
func (s *Store) RebuildBaseline(ctx context.Context, r RebuildBaseline) (Pool, error) {
	size := max(r.PoolSize, 1)
	var b Pool
	err := s.withTx(ctx, func(tx pgx.Tx) error {
		if err := lockBaseline(ctx, tx, r.SuiteID, r.TargetID); err != nil {
			return err
		}
		ids, err := poolRuns(ctx, tx, r.SuiteID, r.TargetID, r.SuiteHash, r.AnchorRunID, size)
		if err != nil {
			return err
		}
		if len(ids) == 0 {
			return fmt.Errorf("%w: no stable run that reached K with this suite content", ErrNotFound)
		}
		b, err = replaceBaseline(ctx, tx, AcceptBaseline{SuiteID: r.SuiteID, TargetID: r.TargetID, RunIDs: ids,
			AcceptedBy: r.AcceptedBy, Note: r.Note, PoolSize: size, SuiteHash: r.SuiteHash})
		return err
	})
	if err != nil {
		return Pool{}, fmt.Errorf("rebuild baseline of suite %d on target %d: %w", r.SuiteID, r.TargetID, translate(err))
	}
	return b, nil
}

// poolRuns returns the anchor (when given) and the newest eligible runs
// after it, at most size in all, oldest first.
func poolRuns(ctx context.Context, tx pgx.Tx, suiteID, targetID int64, suiteHash string, anchor int64, size int) ([]int64, error) {
	var ids []int64
	if anchor > 0 {
		var ok bool
		err := tx.QueryRow(ctx, `SELECT EXISTS (SELECT 1 FROM runs WHERE id = $1 AND suite_id = $2 AND target_id = $3 AND status = 'completed')`,
			anchor, suiteID, targetID).Scan(&ok)
		if err != nil {
			return nil, err
		}
		if !ok {
			return nil, fmt.Errorf("%w: run %d is not a completed run of this suite and target", ErrNotFound, anchor)
		}
		ids = append(ids, anchor)
	}
	rows, _ := tx.Query(ctx, `
		SELECT r.id FROM runs r JOIN run_sampling rs ON rs.run_id = r.id
		WHERE r.suite_id = $1 AND r.target_id = $2 AND r.status = 'completed'
			AND r.verdict IN ('STABLE', 'BASELINE') AND rs.stopped_at_look IS NULL
			AND rs.suite_hash = $3 AND r.id > $4
		ORDER BY r.started_at DESC, r.id DESC
		LIMIT $5`, suiteID, targetID, suiteHash, anchor, size-len(ids))
	newer, err := pgx.CollectRows(rows, pgx.RowTo[int64])
	if err != nil {
		return nil, err
	}
	slices.Reverse(newer)
	return append(ids, newer...), nil
}

// SuiteHash identifies a suite's content: a digest of its cases' keys and
// content hashes, in any order. A baseline pools runs of one suite hash; a
// different hash means the content changed and the pool is rebuilt.
func SuiteHash(cases []Case) string {
	lines := make([]string, len(cases))
	for i, c := range cases {
		lines[i] = c.Key + "\x00" + c.ContentHash
	}
	sort.Strings(lines)
	h := sha256.New()
	for _, l := range lines {
		h.Write([]byte(l))
		h.Write([]byte{'\n'})
	}
	return hex.EncodeToString(h.Sum(nil))[:16]
}
