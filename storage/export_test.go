package storage

import "context"

// WriteSamplesUnnest exposes the unnest-based write path to benchmarks.
func (s *Store) WriteSamplesUnnest(ctx context.Context, samples []Sample) error {
	return s.writeSamplesUnnest(ctx, dedupeSamples(samples))
}

// CopyFromBaseline is a bare pgx CopyFrom of samples into the samples table,
// with no staging or conflict handling: the upper bound for benchmarks.
func (s *Store) CopyFromBaseline(ctx context.Context, samples []Sample) error {
	_, err := s.pool.CopyFrom(ctx, []string{"samples"}, sampleWriteColumns, copyRows(samples))
	return err
}
