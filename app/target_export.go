package app

import "github.com/driftwatch/driftwatch/eval"

// CallTarget returns the config's target called name, ready to call as a run
// calls it: the provider's client with the target's key, base URL, default
// params, streaming, retries and rate limits. It opens no database and sends
// nothing. evaltest.FromConfig uses it so that a go test can run a suite on
// a target of driftwatch.yaml.
func (a *App) CallTarget(name string) (eval.Target, error) {
	refs, err := a.targets([]string{name})
	if err != nil {
		return nil, err
	}
	return refs[0].target, nil
}
