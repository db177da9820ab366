// Package storage persists Driftwatch runs, samples, identities, baselines,
// findings and alerts in PostgreSQL. All SQL lives here.
//
// A *Store wraps a pgxpool.Pool. Errors crossing the package boundary are
// wrapped with the operation and translated: a missing row is ErrNotFound and a
// unique violation is ErrConflict, so callers never import pgx.
//
// Sample writes are idempotent: (run, case, sample index) is unique. Rewriting a
// sample whose stored copy has an error replaces it; rewriting a sample stored
// without error is a no-op. A resumed run therefore never pays twice for a
// sample (see DoneSamples).
package storage

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/url"
	"runtime"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
	"github.com/jackc/pgx/v5/pgxpool"
)

// ErrNotFound is returned (wrapped) when a requested row does not exist, or when
// a write references a row that does not exist.
var ErrNotFound = errors.New("not found")

// ErrConflict is returned (wrapped) when a write violates a unique constraint.
var ErrConflict = errors.New("conflict")

// Store is the PostgreSQL-backed storage for Driftwatch. It is safe for
// concurrent use.
type Store struct {
	pool   *pgxpool.Pool
	logger *slog.Logger
}

// Option configures Open.
type Option func(*openConfig)

type openConfig struct {
	maxConns       int32
	connectTimeout time.Duration
	logger         *slog.Logger
}

// WithMaxConns sets the pool size. The default is max(4, 2*GOMAXPROCS) capped
// at 16, unless the URL sets pool_max_conns.
func WithMaxConns(n int32) Option { return func(c *openConfig) { c.maxConns = n } }

// WithConnectTimeout bounds each connection attempt. The default is 10s unless
// the URL sets connect_timeout.
func WithConnectTimeout(d time.Duration) Option {
	return func(c *openConfig) { c.connectTimeout = d }
}

// WithLogger sets the logger. The default discards.
func WithLogger(l *slog.Logger) Option { return func(c *openConfig) { c.logger = l } }

// Open connects to the database at databaseURL (a postgres:// URL or a libpq
// keyword/value string) and pings it. The returned error never contains the
// password.
func Open(ctx context.Context, databaseURL string, opts ...Option) (*Store, error) {
	oc := openConfig{}
	for _, o := range opts {
		o(&oc)
	}
	if oc.logger == nil {
		oc.logger = slog.New(slog.DiscardHandler)
	}
	cfg, err := pgxpool.ParseConfig(databaseURL)
	if err != nil {
		// The value may be anything (an API key put there by mistake):
		// never echo it, not even in part.
		return nil, redact(fmt.Errorf("parse database url: %w", err), databaseURL, databaseURL)
	}
	password := cfg.ConnConfig.Password
	switch {
	case oc.maxConns > 0:
		cfg.MaxConns = oc.maxConns
	case !strings.Contains(databaseURL, "pool_max_conns"):
		cfg.MaxConns = int32(min(max(4, 2*runtime.GOMAXPROCS(0)), 16))
	}
	switch {
	case oc.connectTimeout > 0:
		cfg.ConnConfig.ConnectTimeout = oc.connectTimeout
	case cfg.ConnConfig.ConnectTimeout == 0:
		cfg.ConnConfig.ConnectTimeout = 10 * time.Second
	}
	where := fmt.Sprintf("%s@%s:%d/%s", cfg.ConnConfig.User, cfg.ConnConfig.Host, cfg.ConnConfig.Port, cfg.ConnConfig.Database)

	pool, err := pgxpool.NewWithConfig(ctx, cfg)
	if err != nil {
		return nil, redact(fmt.Errorf("open database %s: %w", where, err), databaseURL, password)
	}
	if err := pool.Ping(ctx); err != nil {
		pool.Close()
		return nil, redact(fmt.Errorf("connect to database %s (check DATABASE_URL and that PostgreSQL is running): %w", where, err), databaseURL, password)
	}
	return &Store{pool: pool, logger: oc.logger}, nil
}

// Close closes all connections. It blocks until connections in use are
// returned.
func (s *Store) Close() { s.pool.Close() }

// Ping checks that the database is reachable.
func (s *Store) Ping(ctx context.Context) error {
	if err := s.pool.Ping(ctx); err != nil {
		return fmt.Errorf("ping database: %w", translate(err))
	}
	return nil
}

// withTx runs fn in a transaction, committing if fn returns nil.
func (s *Store) withTx(ctx context.Context, fn func(pgx.Tx) error) error {
	return pgx.BeginFunc(ctx, s.pool, fn)
}

// redactedError hides a password inside an error message while keeping the
// chain for errors.Is (e.g. context.DeadlineExceeded).
type redactedError struct {
	msg string
	err error
}

func (e *redactedError) Error() string { return e.msg }
func (e *redactedError) Unwrap() error { return e.err }

func redact(err error, rawURL, password string) error {
	msg := err.Error()
	if password == "" {
		if u, perr := url.Parse(rawURL); perr == nil && u.User != nil {
			password, _ = u.User.Password()
		}
	}
	if password == rawURL && rawURL != "" {
		// What pgx could not parse: say what was wrong with it, not what it was.
		return &redactedError{msg: "parse database url: not a PostgreSQL URL (postgres://user:password@host:port/database) " +
			"or keyword=value string; the value is not shown", err: nil}
	}
	if password != "" {
		msg = strings.ReplaceAll(msg, password, "xxxxx")
		msg = strings.ReplaceAll(msg, url.QueryEscape(password), "xxxxx")
		msg = strings.ReplaceAll(msg, url.PathEscape(password), "xxxxx")
	}
	// The cause's own text still holds the password: keep only causes that
	// callers branch on and that carry no connection details.
	var cause error
	for _, sentinel := range []error{context.Canceled, context.DeadlineExceeded} {
		if errors.Is(err, sentinel) {
			cause = sentinel
		}
	}
	return &redactedError{msg: msg, err: cause}
}

// translate maps pgx errors to storage sentinels so pgx types never escape.
func translate(err error) error {
	if err == nil {
		return nil
	}
	if errors.Is(err, pgx.ErrNoRows) {
		return ErrNotFound
	}
	var pgErr *pgconn.PgError
	if errors.As(err, &pgErr) {
		switch pgErr.Code {
		case "23505": // unique_violation
			return fmt.Errorf("%w: %s", ErrConflict, pgErr.ConstraintName)
		case "23503": // foreign_key_violation
			return fmt.Errorf("%w: referenced row missing (%s)", ErrNotFound, pgErr.ConstraintName)
		}
		return &dbError{code: pgErr.Code, msg: pgErr.Message}
	}
	return err
}

// dbError is a PostgreSQL error without pgx types.
type dbError struct{ code, msg string }

func (e *dbError) Error() string { return fmt.Sprintf("postgres: %s (SQLSTATE %s)", e.msg, e.code) }

// permanent reports errors that retrying the same statement cannot fix: data
// exceptions (22), integrity violations (23) and syntax/access errors (42).
func (e *dbError) permanent() bool {
	return strings.HasPrefix(e.code, "22") || strings.HasPrefix(e.code, "23") || strings.HasPrefix(e.code, "42")
}

func isPermanent(err error) bool {
	var de *dbError
	return errors.Is(err, ErrNotFound) || errors.Is(err, ErrConflict) || (errors.As(err, &de) && de.permanent())
}
