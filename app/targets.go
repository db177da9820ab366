package app

import (
	"context"
	"fmt"

	"github.com/driftwatch/driftwatch/eval"
	"github.com/driftwatch/driftwatch/provider/targets"
	"github.com/driftwatch/driftwatch/sim"
)

// targets builds the named targets of the config (all when names is
// empty).
func (a *App) targets(names []string) ([]*targets.Target, error) {
	return targets.Build(a.cfg, names, targets.Options{Logger: a.logger, StartSim: a.startSim})
}

// CallTarget returns the config's target called name, ready to call as a run
// calls it: the provider's client with the target's key, base URL, default
// params, streaming, retries and rate limits. It opens no database and sends
// nothing. evaltest.FromConfig uses it so that a go test can run a suite on
// a target of driftwatch.yaml.
func (a *App) CallTarget(name string) (eval.Target, error) {
	ts, err := a.targets([]string{name})
	if err != nil {
		return nil, err
	}
	return ts[0].Call, nil
}

// startSim starts the built-in simulator (its default scenario) once for
// this App and returns its URL.
func (a *App) startSim() (string, error) {
	a.simOnce.Do(func() {
		cfg, err := sim.Scenario(sim.ScenarioDefault)
		if err != nil {
			a.simErr = err
			return
		}
		srv, err := sim.New(cfg, sim.WithLogger(a.logger))
		if err != nil {
			a.simErr = err
			return
		}
		url, stop, err := srv.Start(context.Background(), "127.0.0.1:0")
		if err != nil {
			a.simErr = fmt.Errorf("start the built-in simulator: %w", err)
			return
		}
		a.simURL = url
		a.closers = append(a.closers, stop)
	})
	return a.simURL, a.simErr
}
