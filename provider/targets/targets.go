// Package targets builds the targets of a config, ready to call: each
// one's provider client (OpenAI-compatible servers, Azure with a key or
// Entra ID, Anthropic, the built-in simulator) with its key, base URL,
// default params and streaming; one pacing control per target (rpm/tpm,
// 429s, the circuit breaker); the identity probe of open servers; the pin
// check; and the cost estimate the run lifecycle budgets with.
package targets

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
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
)

// Options configure Build.
type Options struct {
	// Logger receives the clients' retry and pacing logs; nil discards.
	Logger *slog.Logger
	// StartSim starts the built-in simulator (provider: sim) once and
	// returns its URL; nil refuses sim targets.
	StartSim func() (string, error)
}

// prober is what open-server providers offer: the identity of the served
// model, read before any case is sent.
type prober interface {
	Probe(ctx context.Context) (eval.Identity, error)
}

// requestProber is what closed-API clients offer: their identity, read
// from one small completion.
type requestProber interface {
	ProbeRequest(ctx context.Context) (eval.Identity, error)
}

// Target is a configured target, ready to call.
type Target struct {
	// Config is the target's section of the config.
	Config *config.Target
	// Call sends a request with the target's default params and streaming
	// merged in, and fills what a response does not say of its identity
	// from the probed one.
	Call eval.Target
	// Client is the provider's own client, for its extra APIs (embeddings).
	Client eval.Target
	// Provider is the provider's name (openai when the config says none).
	Provider string
	// Model is the model, or the Azure deployment.
	Model string
	// BaseURL is the base URL as stored with a run: without credentials.
	BaseURL string
	// Control paces the target's attempts and holds its circuit breaker.
	Control *provider.Control

	prices provider.Prices
	probe  prober
	// probed is the identity read from the server before the run; its
	// digest and details are merged into every response's identity.
	probed atomic.Pointer[eval.Identity]
}

// Build builds the named targets of cfg (all when names is empty).
func Build(cfg *config.Config, names []string, opts Options) ([]*Target, error) {
	if len(cfg.Targets) == 0 {
		return nil, fmt.Errorf("config %s defines no targets", cfg.File)
	}
	if len(names) == 0 {
		for _, t := range cfg.Targets {
			names = append(names, t.Name)
		}
	}
	if opts.Logger == nil {
		opts.Logger = slog.New(slog.NewTextHandler(io.Discard, nil))
	}
	prices := Prices(cfg)
	var out []*Target
	for _, n := range names {
		tc, err := cfg.Target(n)
		if err != nil {
			return nil, err
		}
		t, err := build(tc, prices, opts)
		if err != nil {
			if i := slices.IndexFunc(cfg.Targets, func(t config.Target) bool { return t.Name == n }); i >= 0 {
				return nil, cfg.Errorf([]any{"targets", i}, "target %q: %v", n, err)
			}
			return nil, fmt.Errorf("%s: target %q: %w", cfg.File, n, err)
		}
		out = append(out, t)
	}
	return out, nil
}

// Prices are the built-in model prices with the config's prices: added.
func Prices(cfg *config.Config) provider.Prices {
	p := provider.DefaultPrices()
	if len(cfg.Prices) > 0 {
		extra := provider.Prices{}
		for m, pr := range cfg.Prices {
			extra[m] = provider.Price{Input: pr.Input, Output: pr.Output}
		}
		p = p.With(extra)
	}
	return p
}

func build(tc *config.Target, prices provider.Prices, opts Options) (*Target, error) {
	key, err := secretValue(tc.APIKey, tc.APIKeyFile, "api_key_file")
	if err != nil {
		return nil, err
	}
	prov := cmp.Or(tc.Provider, "openai")
	// One control per target paces every HTTP attempt, retries included,
	// to the configured rpm/tpm and to the limits the provider reports,
	// waits out 429s, and stops a target that keeps failing (the breaker).
	timeout := cmp.Or(tc.Timeout, config.TimeoutDefault)
	ctl := provider.NewControl(provider.ControlConfig{
		Pacer:   provider.PacerConfig{RPM: tc.RPM, TPM: tc.TPM},
		Breaker: provider.BreakerConfig{Silence: max(provider.BreakerSilenceDefault, timeout*2/3)},
	}, opts.Logger)
	if prov == "sim" {
		// The built-in simulator, served on a loopback port of this
		// process: the target speaks OpenAI's API to it like any other.
		if opts.StartSim == nil {
			return nil, errors.New("provider sim: the built-in simulator is not available here")
		}
		url, err := opts.StartSim()
		if err != nil {
			return nil, err
		}
		c := *tc
		c.BaseURL = url + "/v1"
		tc = &c
	}
	t := &Target{Config: tc, Provider: prov, Model: cmp.Or(tc.Model, tc.Deployment), Control: ctl, prices: prices}
	client, err := newClient(tc, prov, key, ctl, prices, opts.Logger)
	if err != nil {
		return nil, err
	}
	secrets := []string{key}
	for _, v := range tc.Headers {
		secrets = append(secrets, v, strings.TrimPrefix(v, "Bearer "))
	}
	if tc.AzureAD != nil {
		secrets = append(secrets, tc.AzureAD.ClientSecret)
	}
	t.BaseURL = provider.RedactURL(tc.BaseURL, secrets...)
	t.Client = client
	if p, ok := client.(prober); ok {
		t.probe = p
	}
	params, stream := tc.Params, tc.Stream
	t.Call = eval.TargetFunc(func(ctx context.Context, req *eval.Request) (*eval.Response, error) {
		r := *req
		r.Params = params.Merge(req.Params)
		r.Stream = r.Stream || stream
		resp, err := client.Complete(ctx, &r)
		if resp != nil {
			if id := t.probed.Load(); id != nil {
				mergeIdentity(&resp.Identity, id)
			}
		}
		return resp, err
	})
	return t, nil
}

// newClient is the provider's client for target tc, with its key, pacing
// control and prices.
func newClient(tc *config.Target, prov, key string, ctl *provider.Control, prices provider.Prices, logger *slog.Logger) (eval.Target, error) {
	retry := provider.Retry{MaxAttempts: tc.MaxAttempts()}
	timeout := cmp.Or(tc.Timeout, config.TimeoutDefault)
	switch prov {
	case "anthropic":
		return anthropic.New(anthropic.Config{
			Name:       tc.Name,
			BaseURL:    tc.BaseURL,
			Model:      tc.Model,
			APIKey:     provider.Secret(key),
			APIVersion: tc.APIVersion,
			MaxTokens:  tc.Params.MaxTokens,
			Headers:    tc.Headers,
			Timeout:    timeout,
			Retry:      retry,
			Prices:     &prices,
		}, logger, anthropic.WithControl(ctl))
	default:
		openaiOpts := []openai.Option{openai.WithControl(ctl)}
		if tc.AzureAD != nil {
			ts, err := azureADTokens(tc.AzureAD)
			if err != nil {
				return nil, err
			}
			openaiOpts = append(openaiOpts, openai.WithTokenSource(ts))
		}
		return openai.New(openai.Config{
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
		}, logger, openaiOpts...)
	}
}

// ProbeIdentity reads an open server's identity; nil when the target cannot
// be probed. Later responses carry what it read (Call).
func (t *Target) ProbeIdentity(ctx context.Context) (*eval.Identity, error) {
	if t.probe == nil {
		return nil, nil
	}
	ctx, cancel := context.WithTimeout(ctx, cmp.Or(t.Config.Timeout, 30*time.Second))
	defer cancel()
	id, err := t.probe.Probe(ctx)
	if err != nil {
		return nil, err
	}
	t.probed.Store(&id)
	return &id, nil
}

// NeedsProbe reports whether the target is an open server whose identity
// has not been read yet.
func (t *Target) NeedsProbe() bool { return t.probe != nil && t.probed.Load() == nil }

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

// CheckPin compares an observed identity with the target's pin. A pin on the
// baseline compares with the baseline's identity (nothing to compare on the
// first run).
func (t *Target) CheckPin(id eval.Identity, baseline *eval.Identity) error {
	pin := t.Config.Pin
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

// Priced reports whether the target's model has a price (a model without
// one costs nothing as far as max_cost_usd knows).
func (t *Target) Priced() bool {
	_, ok := t.prices.Lookup(t.Model)
	return ok
}

// Run is the target as the run lifecycle drives it, calling call (Call, or
// a wrapping of it that bounds or paces it further).
func (t *Target) Run(call eval.Target) *run.Target {
	tc := t.Config
	rt := &run.Target{Name: tc.Name, Provider: t.Provider, Model: t.Model, BaseURL: t.BaseURL, Params: tc.Params,
		Deterministic: tc.Deterministic, Concurrency: cmp.Or(tc.Concurrency, config.ConcurrencyDefault), Call: call,
		PinWarn: tc.Pin.Warn(), Estimate: t.prices.Estimator(t.Model, cmp.Or(tc.Params.MaxTokens, 512))}
	if t.probe != nil {
		rt.Probe = t.ProbeIdentity
	}
	if tc.Pin != nil {
		rt.CheckPin = t.CheckPin
		// A closed API has no identity endpoint: with a stopping pin, one
		// small request reads its identity before the suite fans out.
		if rp, ok := t.Client.(requestProber); ok && rt.Probe == nil && !tc.Pin.Warn() {
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

// clientFlavor is the OpenAI-compatible client flavor of a provider: the
// built-in simulator speaks OpenAI's API.
func clientFlavor(prov string) string {
	if prov == "sim" {
		return "openai"
	}
	return prov
}
