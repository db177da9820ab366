// Package storagetest provides real-PostgreSQL helpers for tests: each test
// gets its own database, cloned from a migrated template, and dropped in
// Cleanup.
//
// Tests read TEST_DATABASE_URL (any database on the server; the role must be
// allowed to create databases). `make test` starts a throwaway server and sets
// it. Without it, tests skip under -short and fail otherwise.
package storagetest

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"io/fs"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/stretchr/testify/require"

	"github.com/driftwatch/driftwatch/migrations"
	"github.com/driftwatch/driftwatch/storage"
)

// EnvDatabaseURL names the environment variable tests read.
const EnvDatabaseURL = "TEST_DATABASE_URL"

// DatabaseURL returns TEST_DATABASE_URL. When it is unset the test is skipped
// under -short and fails otherwise, saying how to run the tests.
func DatabaseURL(t testing.TB) string {
	t.Helper()
	u := os.Getenv(EnvDatabaseURL)
	if u != "" {
		return u
	}
	if testing.Short() {
		t.Skip(EnvDatabaseURL + " is not set: skipping PostgreSQL test under -short")
	}
	t.Fatal(EnvDatabaseURL + " is not set: run `make test` (starts a throwaway PostgreSQL), " +
		"or point " + EnvDatabaseURL + " at a server where this role may CREATE DATABASE, " +
		"or use -short to skip database tests")
	return ""
}

// NewStore returns a Store on a fresh, migrated database that is dropped when
// the test ends.
func NewStore(t testing.TB) *storage.Store {
	t.Helper()
	ctx := context.Background()
	st, err := storage.Open(ctx, NewDatabaseURL(t), storage.WithMaxConns(4))
	if err != nil {
		t.Fatalf("open test store: %v", err)
	}
	t.Cleanup(st.Close) // runs before the database drop registered earlier
	return st
}

// NewDatabaseURL returns the URL of a fresh, migrated database that is dropped
// when the test ends. Use it for components that open their own pool.
func NewDatabaseURL(t testing.TB) string {
	t.Helper()
	base := DatabaseURL(t)
	tmpl, err := template(base)
	if err != nil {
		t.Fatalf("prepare template database: %v", err)
	}
	return createDatabase(t, base, tmpl)
}

// NewEmptyDatabaseURL returns the URL of a fresh database without any
// migrations applied, dropped when the test ends.
func NewEmptyDatabaseURL(t testing.TB) string {
	t.Helper()
	return createDatabase(t, DatabaseURL(t), "template0")
}

var dbSeq atomic.Int64

func createDatabase(t testing.TB, base, tmpl string) string {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	name := fmt.Sprintf("dw_test_%d_%d_%d", os.Getpid(), time.Now().UnixNano()%1e6, dbSeq.Add(1))
	err := withAdminConn(ctx, base, func(conn *pgx.Conn) error {
		// FILE_COPY avoids WAL-logging every page of the (small) template.
		_, err := conn.Exec(ctx, "CREATE DATABASE "+name+" TEMPLATE "+tmpl+" STRATEGY FILE_COPY")
		return err
	})
	if err != nil {
		t.Fatalf("create test database from %s: %v", tmpl, err)
	}
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
		defer cancel()
		err := withAdminConn(ctx, base, func(conn *pgx.Conn) error {
			_, err := conn.Exec(ctx, "DROP DATABASE IF EXISTS "+name+" WITH (FORCE)")
			return err
		})
		if err != nil {
			t.Errorf("drop test database %s: %v", name, err)
		}
	})
	return WithDatabase(base, name)
}

// WithDatabase returns databaseURL (URL or keyword/value form) pointing at
// database name.
func WithDatabase(databaseURL, name string) string {
	if strings.Contains(databaseURL, "://") {
		u, err := url.Parse(databaseURL)
		if err == nil {
			u.Path = "/" + name
			return u.String()
		}
	}
	return databaseURL + " dbname=" + name
}

func withAdminConn(ctx context.Context, databaseURL string, fn func(*pgx.Conn) error) error {
	conn, err := pgx.Connect(ctx, databaseURL)
	if err != nil {
		return fmt.Errorf("connect to %s: %w", EnvDatabaseURL, err)
	}
	defer conn.Close(context.WithoutCancel(ctx))
	return fn(conn)
}

var (
	templateMu   sync.Mutex
	templateName string
)

// template returns the name of a migrated template database, creating it once
// per migration set. Creation is guarded by an advisory lock because test
// binaries of several packages run at the same time.
func template(base string) (string, error) {
	templateMu.Lock()
	defer templateMu.Unlock()
	if templateName != "" {
		return templateName, nil
	}
	sum, err := migrationsHash()
	if err != nil {
		return "", err
	}
	name := "driftwatch_template_" + sum
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	err = withAdminConn(ctx, base, func(conn *pgx.Conn) error {
		if _, err := conn.Exec(ctx, "SELECT pg_advisory_lock(hashtextextended('driftwatch.storagetest.template', 0))"); err != nil {
			return err
		}
		defer conn.Exec(context.WithoutCancel(ctx), "SELECT pg_advisory_unlock(hashtextextended('driftwatch.storagetest.template', 0))") //nolint:errcheck // the session ends right after
		var exists bool
		if err := conn.QueryRow(ctx, "SELECT EXISTS (SELECT 1 FROM pg_database WHERE datname = $1)", name).Scan(&exists); err != nil {
			return err
		}
		if exists {
			return nil
		}
		// Build under a temporary name and rename when complete, so a crash
		// never leaves a half-migrated template behind.
		building := name + "_building"
		if _, err := conn.Exec(ctx, "DROP DATABASE IF EXISTS "+building+" WITH (FORCE)"); err != nil {
			return err
		}
		if _, err := conn.Exec(ctx, "CREATE DATABASE "+building+" TEMPLATE template0"); err != nil {
			return err
		}
		st, err := storage.Open(ctx, WithDatabase(base, building), storage.WithMaxConns(1))
		if err != nil {
			return err
		}
		err = st.Migrate(ctx)
		st.Close()
		if err != nil {
			return err
		}
		_, err = conn.Exec(ctx, "ALTER DATABASE "+building+" RENAME TO "+name)
		return err
	})
	if err != nil {
		return "", fmt.Errorf("create template database %s: %w", name, err)
	}
	templateName = name
	return name, nil
}

// migrationsHash names the template after the migration files, so a changed
// migration never reuses a stale template.
func migrationsHash() (string, error) {
	h := sha256.New()
	err := fs.WalkDir(migrations.FS, ".", func(path string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		b, err := fs.ReadFile(migrations.FS, path)
		if err != nil {
			return err
		}
		fmt.Fprintf(h, "%s\x00%d\x00", path, len(b))
		h.Write(b)
		return nil
	})
	if err != nil {
		return "", fmt.Errorf("hash migrations: %w", err)
	}
	return hex.EncodeToString(h.Sum(nil))[:12], nil
}

// ProjectID returns the id of the default project of st's database.
func ProjectID(t testing.TB, st *storage.Store) int64 {
	t.Helper()
	id, err := st.EnsureProject(context.Background(), storage.DefaultProject)
	if err != nil {
		t.Fatalf("default project: %v", err)
	}
	return id
}

// ClusterDir returns a folder, not yet created, for an embedded cluster's
// data (pglocal.Config.DataDir) that the unprivileged database user can
// reach when tests run as root: t.TempDir's parent is private to root.
func ClusterDir(t testing.TB) string {
	t.Helper()
	parent, err := os.MkdirTemp("", "driftwatch-cluster-")
	require.NoError(t, err)
	require.NoError(t, os.Chmod(parent, 0o755))
	t.Cleanup(func() { _ = os.RemoveAll(parent) })
	return filepath.Join(parent, "data")
}
