// Package app wires Driftwatch together: config, suites, targets, storage,
// the runner, the drift engine and the reports. cmd/driftwatch only parses
// flags and calls into it; users who build their own binary with their own Go
// suites call Main with their registry.
package app

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"os"
	"sync"
	"time"

	"github.com/driftwatch/driftwatch/config"
	"github.com/driftwatch/driftwatch/eval"
	"github.com/driftwatch/driftwatch/run"
	"github.com/driftwatch/driftwatch/storage"
	"github.com/driftwatch/driftwatch/storage/pglocal"
)

// Version is the harness version stored with every run.
var Version = "0.1.0-dev"

// Options configure an App.
type Options struct {
	// Registry holds Go suites; nil means none.
	Registry *eval.Registry
	Logger   *slog.Logger
	// Stderr receives progress and summaries; default os.Stderr.
	Stderr io.Writer
	// DataDir overrides the config's data_dir (the --data-dir flag).
	DataDir string
}

// App is one configured Driftwatch process.
type App struct {
	cfg      *config.Config
	opts     Options
	logger   *slog.Logger
	stderr   io.Writer
	store    *storage.Store
	cluster  *pglocal.Cluster
	registry *eval.Registry
	life     *run.Lifecycle
	lifeOnce sync.Once
	// closers stop what the App started besides the store (the built-in
	// simulator of provider: sim targets).
	closers []func(context.Context) error
	simOnce sync.Once
	simURL  string
	simErr  error
}

// New returns an App for cfg. It opens nothing until a command needs it,
// and does not modify cfg (opts.DataDir applies to a copy).
func New(cfg *config.Config, opts Options) *App {
	if opts.DataDir != "" {
		c := *cfg
		c.DataDir = opts.DataDir
		cfg = &c
	}
	a := &App{cfg: cfg, opts: opts, logger: opts.Logger, stderr: opts.Stderr, registry: opts.Registry}
	if a.logger == nil {
		a.logger = slog.New(slog.NewTextHandler(io.Discard, nil))
	}
	if a.stderr == nil {
		a.stderr = os.Stderr
	}
	if a.registry == nil {
		a.registry = eval.NewRegistry()
	}
	return a
}

// Store opens (once) the database: DATABASE_URL from the config or the
// environment, else the embedded cluster; and applies migrations.
func (a *App) Store(ctx context.Context) (*storage.Store, error) {
	if a.store != nil {
		return a.store, nil
	}
	url := a.cfg.DatabaseURL
	if url == "" {
		url = os.Getenv("DATABASE_URL")
	}
	if url == "" {
		cl, err := pglocal.Start(ctx, pglocal.Config{DataDir: a.cfg.ResolvedDataDir(), Logger: a.logger})
		if err != nil {
			return nil, fmt.Errorf("start the embedded PostgreSQL: %w", err)
		}
		a.cluster = cl
		url = cl.URL()
	}
	st, err := storage.Open(ctx, url, storage.WithLogger(a.logger))
	if err != nil {
		return nil, err
	}
	if err := st.Migrate(ctx); err != nil {
		st.Close()
		return nil, fmt.Errorf("migrate: %w", err)
	}
	a.store = st
	return st, nil
}

// Close releases the database and stops the embedded cluster if this process
// started it.
func (a *App) Close() error {
	for _, c := range a.closers {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		_ = c(ctx) // a simulator that cannot stop in time dies with the process
		cancel()
	}
	a.closers = nil
	if a.store != nil {
		a.store.Close()
		a.store = nil
	}
	if a.cluster != nil {
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		err := a.cluster.Stop(ctx)
		a.cluster = nil
		return err
	}
	return nil
}
