package storage

import (
	"context"
	"fmt"

	"github.com/jackc/tern/v2/migrate"

	"github.com/driftwatch/driftwatch/migrations"
)

// VersionTable is the schema-qualified table in which tern records the applied
// migration version. It is separate from tern's default so Driftwatch can share
// a database with other tern users.
const VersionTable = "public.driftwatch_schema_version"

// Migrate applies all pending migrations under tern's advisory lock, so
// concurrent callers (several `serve` processes) are safe.
func (s *Store) Migrate(ctx context.Context) error {
	return s.MigrateTo(ctx, -1)
}

// MigrateTo migrates up or down to version (0 drops everything; -1 means the
// latest).
func (s *Store) MigrateTo(ctx context.Context, version int32) error {
	conn, err := s.pool.Acquire(ctx)
	if err != nil {
		return fmt.Errorf("migrate: acquire connection: %w", translate(err))
	}
	defer conn.Release()

	m, err := migrate.NewMigrator(ctx, conn.Conn(), VersionTable)
	if err != nil {
		return fmt.Errorf("migrate: create version table: %w", translate(err))
	}
	if err := m.LoadMigrations(migrations.FS); err != nil {
		return fmt.Errorf("migrate: load migrations: %w", err)
	}
	if version < 0 {
		version = int32(len(m.Migrations))
	}
	m.OnStart = func(seq int32, name, direction, _ string) {
		s.logger.InfoContext(ctx, "applying migration", "sequence", seq, "name", name, "direction", direction)
	}
	if err := m.MigrateTo(ctx, version); err != nil {
		return fmt.Errorf("migrate to version %d: %w", version, translate(err))
	}
	return nil
}

// SchemaVersion returns the applied migration version (0 when none).
func (s *Store) SchemaVersion(ctx context.Context) (int32, error) {
	var v int32
	err := s.pool.QueryRow(ctx, "SELECT version FROM "+VersionTable).Scan(&v)
	if err != nil {
		return 0, fmt.Errorf("read schema version: %w", translate(err))
	}
	return v, nil
}
