package storage

import (
	"context"
	"fmt"
	"math"
	"slices"
	"time"

	"github.com/jackc/pgx/v5"
)

// Sampling modes of a run (run_sampling.mode).
const (
	SamplingStaged = "staged"
	SamplingFixed  = "fixed"
)

// RunSampling is a run's sampling plan, fixed before its first sample, and
// where a staged run stopped.
type RunSampling struct {
	RunID  int64     `db:"run_id"`
	Mode   string    `db:"mode"` // SamplingStaged or SamplingFixed
	K      int       `db:"k"`
	Looks  []int32   `db:"looks"`  // cumulative samples per case at each look
	Bounds []float64 `db:"bounds"` // futility bound of each look
	// SuiteHash is the suite's content the run samples (SuiteHash).
	SuiteHash string `db:"suite_hash"`
	// StoppedAtLook is the look at which the run stopped as STABLE; nil
	// when it reached K (or has not finished).
	StoppedAtLook *int32    `db:"stopped_at_look"`
	CreatedAt     time.Time `db:"created_at"`
}

// Look is one interim decision of a staged run.
type Look struct {
	RunID          int64   `db:"run_id"`
	Look           int32   `db:"look"` // from 1
	SamplesPerCase int32   `db:"samples_per_case"`
	Bound          float64 `db:"bound"`
	PCMH           float64 `db:"p_cmh"`
	PSparse        float64 `db:"p_sparse"`
	Z              float64 `db:"z"`
	// MDE is the minimum detectable drop of the samples so far; NaN when
	// unknown (stored as NULL).
	MDE       float64   `db:"mde"`
	Continued bool      `db:"continued"`
	Shifts    []string  `db:"shifts"` // behaviour metrics that moved
	Reason    string    `db:"reason"`
	CreatedAt time.Time `db:"created_at"`
}

const samplingColumns = `run_id, mode, k, looks, bounds, suite_hash, stopped_at_look, created_at`

const lookColumns = `run_id, look, samples_per_case, bound, p_cmh, p_sparse, z, coalesce(mde, 'NaN') AS mde,
	continued, shifts, reason, created_at`

// RecordSampling records a run's sampling plan before its first sample.
// Recording it again (a resumed run) with the same mode, K, looks and bounds
// is a no-op that returns the stored plan; a different plan is ErrConflict
// (wrapped): the plan of a night never changes once it started.
func (s *Store) RecordSampling(ctx context.Context, p RunSampling) (RunSampling, error) {
	if p.Looks == nil {
		p.Looks = []int32{}
	}
	if p.Bounds == nil {
		p.Bounds = []float64{}
	}
	var got RunSampling
	err := s.withTx(ctx, func(tx pgx.Tx) error {
		if _, err := tx.Exec(ctx, `
			INSERT INTO run_sampling (run_id, mode, k, looks, bounds, suite_hash)
			VALUES ($1, $2, $3, $4, $5, $6)
			ON CONFLICT (run_id) DO NOTHING`, p.RunID, p.Mode, p.K, p.Looks, p.Bounds, p.SuiteHash); err != nil {
			return err
		}
		rows, _ := tx.Query(ctx, `SELECT `+samplingColumns+` FROM run_sampling WHERE run_id = $1`, p.RunID)
		var err error
		got, err = pgx.CollectExactlyOneRow(rows, pgx.RowToStructByName[RunSampling])
		if err != nil {
			return err
		}
		if got.Mode != p.Mode || got.K != p.K || !slices.Equal(got.Looks, p.Looks) || !slices.Equal(got.Bounds, p.Bounds) || got.SuiteHash != p.SuiteHash {
			return fmt.Errorf("%w: run %d was planned as %s K=%d looks %v bounds %v; a night's plan never changes once it started",
				ErrConflict, p.RunID, got.Mode, got.K, got.Looks, got.Bounds)
		}
		return nil
	})
	if err != nil {
		return RunSampling{}, fmt.Errorf("record sampling of run %d: %w", p.RunID, translate(err))
	}
	return got, nil
}

// RecordLook records an interim decision of a staged run; a look that does
// not continue also marks the run as stopped at it. Recording a look again
// (a resumed run repeating its deterministic decision) keeps the first
// record. A look of a run without a recorded plan is ErrNotFound (wrapped).
func (s *Store) RecordLook(ctx context.Context, l Look) error {
	if l.Shifts == nil {
		l.Shifts = []string{}
	}
	var mde *float64
	if !math.IsNaN(l.MDE) {
		mde = &l.MDE
	}
	err := s.withTx(ctx, func(tx pgx.Tx) error {
		tag, err := tx.Exec(ctx, `
			INSERT INTO run_looks (run_id, look, samples_per_case, bound, p_cmh, p_sparse, z, mde, continued, shifts, reason)
			SELECT $1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11
			WHERE EXISTS (SELECT 1 FROM run_sampling WHERE run_id = $1)
			ON CONFLICT (run_id, look) DO NOTHING`,
			l.RunID, l.Look, l.SamplesPerCase, l.Bound, l.PCMH, l.PSparse, l.Z, mde, l.Continued, l.Shifts, l.Reason)
		if err != nil {
			return err
		}
		if tag.RowsAffected() == 0 {
			var planned bool
			if err := tx.QueryRow(ctx, `SELECT EXISTS (SELECT 1 FROM run_sampling WHERE run_id = $1)`, l.RunID).Scan(&planned); err != nil {
				return err
			}
			if !planned {
				return fmt.Errorf("%w: run %d has no recorded sampling plan", ErrNotFound, l.RunID)
			}
			return nil // recorded before
		}
		if !l.Continued {
			_, err = tx.Exec(ctx, `UPDATE run_sampling SET stopped_at_look = $2 WHERE run_id = $1 AND stopped_at_look IS NULL`, l.RunID, l.Look)
		}
		return err
	})
	if err != nil {
		return fmt.Errorf("record look %d of run %d: %w", l.Look, l.RunID, translate(err))
	}
	return nil
}

// Sampling returns a run's sampling plan and its looks so far, in order, or
// ErrNotFound (wrapped) when the run has no recorded plan (a run from
// before staged sampling: fixed).
func (s *Store) Sampling(ctx context.Context, runID int64) (RunSampling, []Look, error) {
	rows, _ := s.pool.Query(ctx, `SELECT `+samplingColumns+` FROM run_sampling WHERE run_id = $1`, runID)
	p, err := pgx.CollectExactlyOneRow(rows, pgx.RowToStructByName[RunSampling])
	if err != nil {
		return RunSampling{}, nil, fmt.Errorf("sampling of run %d: %w", runID, translate(err))
	}
	rows, _ = s.pool.Query(ctx, `SELECT `+lookColumns+` FROM run_looks WHERE run_id = $1 ORDER BY look`, runID)
	looks, err := pgx.CollectRows(rows, pgx.RowToStructByName[Look])
	if err != nil {
		return RunSampling{}, nil, fmt.Errorf("looks of run %d: %w", runID, translate(err))
	}
	return p, looks, nil
}
