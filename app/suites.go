package app

import (
	"context"
	"fmt"

	"github.com/driftwatch/driftwatch/eval/check"
	"github.com/driftwatch/driftwatch/eval/suiteload"
)

// Catalog is the suites the config offers; their checks get the config's
// judge and embedder.
func (a *App) Catalog() *suiteload.Catalog {
	return &suiteload.Catalog{Config: a.cfg, Registry: a.registry, Check: a.checkOptions}
}

// checkOptions gives checks their judge and embedder targets.
func (a *App) checkOptions() (check.Options, error) {
	var opts check.Options
	if a.cfg.Judge != "" {
		ts, err := a.targets([]string{a.cfg.Judge})
		if err != nil {
			return opts, err
		}
		opts.Judge = ts[0].Call
	}
	if a.cfg.Embedder != "" {
		ts, err := a.targets([]string{a.cfg.Embedder})
		if err != nil {
			return opts, err
		}
		e, ok := ts[0].Client.(check.Embedder)
		if !ok {
			return opts, fmt.Errorf("%s: embedder: target %q (provider %s) has no embeddings API; use an OpenAI-compatible provider", a.cfg.File, a.cfg.Embedder, ts[0].Provider)
		}
		opts.Embedder = e
	}
	return opts, nil
}

// CheckSchedules loads every suite and reports schedules whose suites: name
// unknown suites, with file:line. serve calls it at start, so a typo fails
// at once rather than at the first fire (or never, silently).
func (a *App) CheckSchedules(ctx context.Context) error { return a.Catalog().CheckSchedules(ctx) }
