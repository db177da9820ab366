// Package migrations holds Driftwatch's PostgreSQL schema as embedded tern migrations.
//
// Files are named NNN_description.sql, with up SQL, then tern's
// "---- create above / drop below ----" marker, then down SQL. The files are Go
// templates to tern, so they must not contain a literal double left brace. A
// migration that has shipped is never edited: add a new file instead.
package migrations

import "embed"

// FS holds every migration file, for storage.Store.Migrate (tern's LoadMigrations).
//
//go:embed *.sql
var FS embed.FS
