package app

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"net/http"
	"os"
	"slices"
	"strings"
	"sync/atomic"
	"time"

	"golang.org/x/oauth2"
	"golang.org/x/oauth2/clientcredentials"

	"github.com/driftwatch/driftwatch/config"
	"github.com/driftwatch/driftwatch/eval"
	"github.com/driftwatch/driftwatch/provider"
	"github.com/driftwatch/driftwatch/provider/anthropic"
	"github.com/driftwatch/driftwatch/provider/openai"
	"github.com/driftwatch/driftwatch/run"
	"github.com/driftwatch/driftwatch/sim"
)

// prober is what open-server providers offer: the identity of the served
// model, read before any case is sent.
type prober interface {
	Probe(ctx context.Context) (eval.Identity, error)
}

// targetRef is a configured target, ready to call.
type targetRef struct {
	cfg      *config.Target
	target   eval.Target
	probe    prober
	provider string
	model    string
	baseURL  string
	// probed is the identity read from the server before the run; its
	// digest and details are merged into every response's identity.
	probed atomic.Pointer[eval.Identity]
	// client is the provider's own client, for its extra APIs (embeddings).
	client eval.Target
	// ctl paces the target's attempts and holds its circuit breaker.
	ctl *provider.Control
}

// targets builds the named targets (all when names is empty).
func (a *App) targets(names []string) ([]*targetRef, error) {
	if len(a.cfg.Targets) == 0 {
		return nil, fmt.Errorf("config %s defines no targets", a.cfg.File)
	}
	if len(names) == 0 {
		for _, t := range a.cfg.Targets {
			names = append(names, t.Name)
		}
	}
	var out []*targetRef
	for _, n := range names {
		tc, err := a.cfg.Target(n)
		if err != nil {
			return nil, err
		}
		ref, err := a.buildTarget(tc)
		if err != nil {
			if i := slices.IndexFunc(a.cfg.Targets, func(t config.Target) bool { return t.Name == n }); i >= 0 {
				return nil, a.cfg.Errorf([]any{"targets", i}, "target %q: %v", n, err)
			}
			return nil, fmt.Errorf("%s: target %q: %w", a.cfg.File, n, err)
		}
		out = append(out, ref)
	}
	return out, nil
}

func (a *App) prices() provider.Prices {
	p := provider.DefaultPrices()
	if len(a.cfg.Prices) > 0 {
		extra := provider.Prices{}
		for m, pr := range a.cfg.Prices {
			extra[m] = provider.Price{Input: pr.Input, Output: pr.Output}
		}
		p = p.With(extra)
	}
	return p
}

func (a *App) buildTarget(tc *config.Target) (*targetRef, error) {
	key, err := secretValue(tc.APIKey, tc.APIKeyFile, "api_key_file")
	if err != nil {
		return nil, err
	}
	retry := provider.Retry{MaxAttempts: tc.MaxAttempts()}
	prices := a.prices()
	prov := cmp.Or(tc.Provider, "openai")
	// One control per target paces every HTTP attempt, retries included,
	// to the configured rpm/tpm and to the limits the provider reports,
	// waits out 429s, and stops a target that keeps failing (the breaker).
	timeout := cmp.Or(tc.Timeout, config.TimeoutDefault)
	ctl := provider.NewControl(provider.ControlConfig{
		Pacer:   provider.PacerConfig{RPM: tc.RPM, TPM: tc.TPM},
		Breaker: provider.BreakerConfig{Silence: max(provider.BreakerSilenceDefault, timeout*2/3)},
	}, a.logger)
	if prov == "sim" {
		// The built-in simulator, served on a loopback port of this
		// process: the target speaks OpenAI's API to it like any other.
		url, err := a.startSim()
		if err != nil {
			return nil, err
		}
		c := *tc
		c.BaseURL = url + "/v1"
		tc = &c
	}
	ref := &targetRef{cfg: tc, provider: prov, model: cmp.Or(tc.Model, tc.Deployment), ctl: ctl}
	var t eval.Target
	switch prov {
	case "anthropic":
		c, err := newAnthropic(tc, key, retry, prices, a, ctl)
		if err != nil {
			return nil, err
		}
		t = c
	default:
		openaiOpts := []openai.Option{openai.WithControl(ctl)}
		if tc.AzureAD != nil {
			ts, err := azureADTokens(tc.AzureAD)
			if err != nil {
				return nil, err
			}
			openaiOpts = append(openaiOpts, openai.WithTokenSource(ts))
		}
		c, err := openai.New(openai.Config{
			Name:       tc.Name,
			Flavor:     clientFlavor(prov),
			BaseURL:    tc.BaseURL,
			Model:      tc.Model,
			APIKey:     provider.Secret(key),
			APIVersion: tc.APIVersion,
			Deployment: tc.Deployment,
			Headers:    tc.Headers,
			Timeout:    timeout,
			Retry:      retry,
			Prices:     &prices,
		}, a.logger, openaiOpts...)
		if err != nil {
			return nil, err
		}
		t = c
	}
	secrets := []string{key}
	for _, v := range tc.Headers {
		secrets = append(secrets, v, strings.TrimPrefix(v, "Bearer "))
	}
	if tc.AzureAD != nil {
		secrets = append(secrets, tc.AzureAD.ClientSecret)
	}
	ref.baseURL = redactURL(tc.BaseURL, secrets...)
	ref.client = t
	if p, ok := t.(prober); ok {
		ref.probe = p
	}
	params := tc.Params
	stream := tc.Stream
	ref.target = eval.TargetFunc(func(ctx context.Context, req *eval.Request) (*eval.Response, error) {
		r := *req
		r.Params = params.Merge(req.Params)
		r.Stream = r.Stream || stream
		resp, err := t.Complete(ctx, &r)
		if resp != nil {
			if id := ref.probed.Load(); id != nil {
				mergeIdentity(&resp.Identity, id)
			}
		}
		return resp, err
	})
	return ref, nil
}

// probeIdentity reads an open server's identity; nil when the target cannot
// be probed.
func (t *targetRef) probeIdentity(ctx context.Context) (*eval.Identity, error) {
	if t.probe == nil {
		return nil, nil
	}
	ctx, cancel := context.WithTimeout(ctx, cmp.Or(t.cfg.Timeout, 30*time.Second))
	defer cancel()
	id, err := t.probe.Probe(ctx)
	if err != nil {
		return nil, err
	}
	t.probed.Store(&id)
	return &id, nil
}

// mergeIdentity fills what a response does not say from the probed identity.
func mergeIdentity(dst *eval.Identity, probed *eval.Identity) {
	dst.Digest = cmp.Or(dst.Digest, probed.Digest)
	dst.ResolvedModel = cmp.Or(dst.ResolvedModel, probed.ResolvedModel)
	for k, v := range probed.Extra {
		if _, ok := dst.Extra[k]; !ok {
			if dst.Extra == nil {
				dst.Extra = map[string]string{}
			}
			dst.Extra[k] = v
		}
	}
}

// checkPin compares an observed identity with the target's pin. A pin on the
// baseline compares with the baseline's identity (nothing to compare on the
// first run).
func (t *targetRef) checkPin(id eval.Identity, baseline *eval.Identity) error {
	pin := t.cfg.Pin
	if pin == nil {
		return nil
	}
	if pin.Baseline {
		if baseline == nil {
			return nil
		}
		if why := provider.IdentityMismatch(id, *baseline); why != "" {
			return errors.New(why)
		}
		return nil
	}
	switch {
	case pin.Model != "" && id.ResolvedModel != "" && !provider.ModelMatches(id.ResolvedModel, pin.Model):
		return fmt.Errorf("resolved model %s, pinned %s", id.ResolvedModel, pin.Model)
	case pin.Digest != "" && id.Digest != "" && id.Digest != pin.Digest:
		return fmt.Errorf("digest %s, pinned %s", id.Digest, pin.Digest)
	case len(pin.Fingerprints) > 0 && id.Fingerprint != "" && !slices.Contains(pin.Fingerprints, id.Fingerprint):
		return fmt.Errorf("system fingerprint %s, pinned %s", id.Fingerprint, strings.Join(pin.Fingerprints, ", "))
	}
	return nil
}

// redactURL returns u for storing with a run (see provider.RedactURL):
// credentials, query values named like secrets and every occurrence of one
// of secrets are replaced by xxxxx.
func redactURL(u string, secrets ...string) string { return provider.RedactURL(u, secrets...) }

// secretValue returns value, or the trimmed content of file when set.
func secretValue(value, file, field string) (string, error) {
	if file == "" {
		return value, nil
	}
	b, err := os.ReadFile(file)
	if err != nil {
		return "", fmt.Errorf("%s: %w", field, err)
	}
	return strings.TrimSpace(string(b)), nil
}

// azureADTokenTimeout bounds one token request.
const azureADTokenTimeout = 30 * time.Second

// azureADTokens returns a cached source of Entra ID tokens for the client
// credentials in c. Tokens are fetched on first use and again shortly before
// they expire; concurrent requests share one fetch.
func azureADTokens(c *config.AzureAD) (oauth2.TokenSource, error) {
	secret, err := secretValue(c.ClientSecret, c.ClientSecretFile, "azure_ad.client_secret_file")
	if err != nil {
		return nil, err
	}
	cc := clientcredentials.Config{
		ClientID:     c.ClientID,
		ClientSecret: secret,
		TokenURL:     c.TokenEndpoint(),
		Scopes:       []string{cmp.Or(c.Scope, config.AzureADScopeDefault)},
		AuthStyle:    oauth2.AuthStyleInParams,
	}
	hc := &http.Client{Timeout: azureADTokenTimeout, Transport: provider.NewTransport(0)}
	// The source outlives any one request, so its context only carries the
	// HTTP client; hc's timeout bounds each fetch.
	return cc.TokenSource(context.WithValue(context.Background(), oauth2.HTTPClient, hc)), nil
}

func newAnthropic(tc *config.Target, key string, retry provider.Retry, prices provider.Prices, a *App, ctl *provider.Control) (eval.Target, error) {
	opts := []anthropic.Option{anthropic.WithControl(ctl)}
	return anthropic.New(anthropic.Config{
		Name:       tc.Name,
		BaseURL:    tc.BaseURL,
		Model:      tc.Model,
		APIKey:     provider.Secret(key),
		APIVersion: tc.APIVersion,
		MaxTokens:  tc.Params.MaxTokens,
		Headers:    tc.Headers,
		Timeout:    cmp.Or(tc.Timeout, config.TimeoutDefault),
		Retry:      retry,
		Prices:     &prices,
	}, a.logger, opts...)
}

// runTarget is the target as the run lifecycle drives it, calling call (the
// provider's client, or serve's wrapping of it).
func (t *targetRef) runTarget(a *App, call eval.Target) *run.Target {
	rt := &run.Target{Name: t.cfg.Name, Provider: t.provider, Model: t.model, BaseURL: t.baseURL, Params: t.cfg.Params,
		Deterministic: t.cfg.Deterministic, Concurrency: cmp.Or(t.cfg.Concurrency, config.ConcurrencyDefault), Call: call,
		PinWarn: t.cfg.Pin.Warn(), Estimate: a.prices().Estimator(t.model, cmp.Or(t.cfg.Params.MaxTokens, 512))}
	if t.probe != nil {
		rt.Probe = t.probeIdentity
	}
	if t.cfg.Pin != nil {
		rt.CheckPin = t.checkPin
		// A closed API has no identity endpoint: with a stopping pin, one
		// small request reads its identity before the suite fans out.
		if rp, ok := t.client.(requestProber); ok && rt.Probe == nil && !t.cfg.Pin.Warn() {
			rt.Probe = func(ctx context.Context) (*eval.Identity, error) {
				id, err := rp.ProbeRequest(ctx)
				if err != nil {
					return nil, err
				}
				return &id, nil
			}
		}
	}
	return rt
}

// requestProber is what closed-API clients offer: their identity, read
// from one small completion.
type requestProber interface {
	ProbeRequest(ctx context.Context) (eval.Identity, error)
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

// clientFlavor is the OpenAI-compatible client flavor of a provider: the
// built-in simulator speaks OpenAI's API.
func clientFlavor(prov string) string {
	if prov == "sim" {
		return "openai"
	}
	return prov
}
