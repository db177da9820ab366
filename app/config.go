package app

import (
	"cmp"
	"fmt"
	"maps"
	"net/url"
	"os"
	"path/filepath"
	"slices"
	"sort"
	"strings"
	"time"

	"github.com/robfig/cron/v3"
	"gopkg.in/yaml.v3"

	"github.com/driftwatch/driftwatch/drift"
	"github.com/driftwatch/driftwatch/eval"
	"github.com/driftwatch/driftwatch/internal/yamldoc"
	"github.com/driftwatch/driftwatch/storage/pglocal"
)

// Defaults for config fields left empty.
const (
	SamplesDefault     = 5
	ConcurrencyDefault = 8
	TimeoutDefault     = 60 * time.Second
	RetriesDefault     = 4
	ConfigFileDefault  = "driftwatch.yaml"
)

// Config is driftwatch.yaml (DESIGN.md section 13, a contract). Every field
// is optional unless said otherwise; zero means the documented default.
type Config struct {
	// File is where the config was read from; suite paths are relative to
	// its folder.
	File string `yaml:"-"`
	// Unset lists the ${VAR} references whose variable is not set (read as
	// empty), at their lines: the CLI warns about each.
	Unset yamldoc.Errors `yaml:"-"`
	// DatabaseURL of PostgreSQL. Empty: the embedded default cluster in
	// DataDir.
	DatabaseURL string `yaml:"database_url"`
	// DataDir holds the embedded cluster. Default $XDG_DATA_HOME/driftwatch
	// (or ~/.local/share/driftwatch).
	DataDir string `yaml:"data_dir"`
	// Samples is k, samples per case, for suites that set none. Default 5.
	Samples int `yaml:"samples"`
	// Targets are the models under test. Required for run.
	Targets []TargetConfig `yaml:"targets"`
	// Suites lists YAML suite files or folders (searched for *.yaml and
	// *.yml), relative to the config file.
	Suites []string `yaml:"suites"`
	// Baseline says how a baseline is built.
	Baseline BaselineConfig `yaml:"baseline"`
	// Drift tunes the statistics (DRIFT_METHOD.md defaults when zero).
	Drift DriftConfig `yaml:"drift"`
	// MaxCostUSD caps one run's spend; 0 means no cap.
	MaxCostUSD float64 `yaml:"max_cost_usd"`
	// Prices overrides or extends the built-in price table, per model name:
	// USD per 1M input and output tokens.
	Prices map[string]Price `yaml:"prices"`
	// Judge names the target used by llm-rubric checks; Embedder the one used
	// for embedding similarity. Both must be pinned models.
	Judge    string `yaml:"judge"`
	Embedder string `yaml:"embedder"`
	// Schedules for driftwatch serve.
	Schedules []ScheduleConfig `yaml:"schedules"`
	Alerts    AlertsConfig     `yaml:"alerts"`
	Web       WebConfig        `yaml:"web"`

	// doc is the parsed file, to locate errors found after loading.
	doc *yamldoc.Doc
}

// TargetConfig is one model endpoint.
type TargetConfig struct {
	Name string `yaml:"name"`
	// Provider selects the API family: openai, azure, anthropic (native),
	// anthropic-openai, gemini, mistral, groq, together, openrouter, vllm,
	// ollama, llamacpp, tgi, lmstudio. Default openai.
	Provider string `yaml:"provider"`
	// BaseURL of the API; defaults per provider.
	BaseURL string `yaml:"base_url"`
	Model   string `yaml:"model"`
	// APIKey is a secret: write it as ${ENV_VAR}; it is never logged or
	// stored. APIKeyFile reads it from a file instead.
	APIKey     string `yaml:"api_key"`
	APIKeyFile string `yaml:"api_key_file"`
	// APIVersion and Deployment are for Azure OpenAI.
	APIVersion string `yaml:"api_version"`
	Deployment string `yaml:"deployment"`
	// AzureAD authenticates to Azure OpenAI with Microsoft Entra ID (Azure
	// AD) tokens instead of a key.
	AzureAD *AzureADConfig    `yaml:"azure_ad"`
	Headers map[string]string `yaml:"headers"`
	// Concurrency bounds in-flight requests. Default 8.
	Concurrency int `yaml:"concurrency"`
	// RPM and TPM are requests and tokens per minute; 0 means unlimited.
	RPM int `yaml:"rpm"`
	TPM int `yaml:"tpm"`
	// Timeout per call. Default 60s.
	Timeout time.Duration `yaml:"timeout"`
	// Retries after the first attempt on 429/5xx/transport errors: a call
	// makes at most Retries+1 attempts. Nil (absent): RetriesDefault; 0
	// disables retries.
	Retries *int `yaml:"retries"`
	// Params are default sampling parameters; suites and cases override.
	Params eval.Params `yaml:"params"`
	// Stream uses the streaming API.
	Stream bool `yaml:"stream"`
	// Deterministic promises that at temperature 0 the endpoint returns the
	// same output for the same request (vLLM with VLLM_BATCH_INVARIANT=1, a
	// cache, a rules engine). Only then is one sample per case (k=1) read
	// as an exact output whose every change is evidence. Closed APIs and
	// ordinary inference servers vary at temperature 0: leave it false.
	Deterministic bool `yaml:"deterministic"`
	// Pin declares the identity the target must have.
	Pin *PinConfig `yaml:"pin"`
}

// AzureADConfig is an Entra ID app registration whose client credentials
// are exchanged for bearer tokens (OAuth 2.0 client credentials grant).
// Tokens are cached until shortly before they expire.
type AzureADConfig struct {
	TenantID string `yaml:"tenant_id"`
	ClientID string `yaml:"client_id"`
	// ClientSecret is a secret: write it as ${ENV_VAR}; it is never logged
	// or stored. ClientSecretFile reads it from a file instead.
	ClientSecret     string `yaml:"client_secret"`
	ClientSecretFile string `yaml:"client_secret_file"`
	// Scope defaults to AzureADScopeDefault.
	Scope string `yaml:"scope"`
	// TokenURL defaults to the tenant's v2.0 token endpoint on
	// login.microsoftonline.com (set it for sovereign clouds).
	TokenURL string `yaml:"token_url"`
}

// AzureADScopeDefault is the scope of Azure OpenAI (Cognitive Services).
const AzureADScopeDefault = "https://cognitiveservices.azure.com/.default"

// tokenURL returns the token endpoint.
func (c *AzureADConfig) tokenURL() string {
	if c.TokenURL != "" {
		return c.TokenURL
	}
	return "https://login.microsoftonline.com/" + url.PathEscape(c.TenantID) + "/oauth2/v2.0/token"
}

// PinConfig pins a target's identity. In YAML it is either a mapping with the
// fields below or a scalar: `pin: true` (or `strict`) pins to the identity
// seen in the baseline, `pin: warn` does the same but only warns.
type PinConfig struct {
	// Model is the exact resolved model the responses must name.
	Model string `yaml:"model"`
	// Digest is the open model's digest (Ollama digest, TGI sha, ...).
	Digest string `yaml:"digest"`
	// Fingerprints is the set of accepted system_fingerprint values.
	Fingerprints []string `yaml:"fingerprints"`
	// Mode is "fail" (default: stop the run, exit 1) or "warn".
	Mode string `yaml:"mode"`
	// Baseline pins to the identity recorded with the baseline.
	Baseline bool `yaml:"-"`
}

// UnmarshalYAML accepts the scalar and mapping forms.
func (p *PinConfig) UnmarshalYAML(n *yaml.Node) error {
	if n.Kind == yaml.ScalarNode {
		switch strings.ToLower(n.Value) {
		case "true", "strict", "fail", "baseline":
			*p = PinConfig{Baseline: true, Mode: "fail"}
		case "warn":
			*p = PinConfig{Baseline: true, Mode: "warn"}
		case "false", "", "off":
			*p = PinConfig{}
		default:
			return fmt.Errorf("line %d: pin: want true, warn or a mapping {model, digest, fingerprints, mode}, got %q", n.Line, n.Value)
		}
		return nil
	}
	type plain PinConfig
	return n.Decode((*plain)(p))
}

// Warn reports whether a mismatch only warns.
func (p *PinConfig) Warn() bool { return p != nil && p.Mode == "warn" }

// BaselineConfig says how baselines are built.
type BaselineConfig struct {
	// Runs is how many accepted runs a baseline pools once available. Default 1.
	Runs int `yaml:"runs"`
}

// DriftConfig tunes the comparison. Zero fields take DRIFT_METHOD.md defaults.
type DriftConfig struct {
	Alpha        float64 `yaml:"alpha"`
	QCase        float64 `yaml:"q_case"`
	MinPassDelta float64 `yaml:"min_pass_delta"`
	MaxErrorRate float64 `yaml:"max_error_rate"`
	MinSamples   int     `yaml:"min_samples"`
	Seed         uint64  `yaml:"seed"`
	// Confirm re-runs the suite once before a DRIFT verdict is final; the
	// verdict stands only if the confirmation run also drifts.
	Confirm bool `yaml:"confirm"`
}

// Price is USD per million tokens.
type Price struct {
	Input  float64 `yaml:"input"`
	Output float64 `yaml:"output"`
}

// ScheduleConfig is one cron schedule for serve.
type ScheduleConfig struct {
	Name     string   `yaml:"name"`
	Cron     string   `yaml:"cron"`
	Timezone string   `yaml:"timezone"`
	Suites   []string `yaml:"suites"`
	Targets  []string `yaml:"targets"`
	Samples  int      `yaml:"samples"`
	Confirm  bool     `yaml:"confirm"`
}

// AlertsConfig configures notifiers.
type AlertsConfig struct {
	Slack   *SlackConfig   `yaml:"slack"`
	Webhook *WebhookConfig `yaml:"webhook"`
	// RepeatInterval after which an unchanged finding is alerted again.
	// Default 24h.
	RepeatInterval time.Duration `yaml:"repeat_interval"`
}

// SlackConfig is a Slack incoming webhook. The URL is a secret.
type SlackConfig struct {
	WebhookURL string `yaml:"webhook_url"`
	Channel    string `yaml:"channel"`
}

// WebhookConfig is a generic JSON webhook.
type WebhookConfig struct {
	URL     string            `yaml:"url"`
	Headers map[string]string `yaml:"headers"`
}

// WebConfig configures the dashboard.
type WebConfig struct {
	Addr string `yaml:"addr"`
	// Token enables the dashboard's actions (accept baseline, run now).
	// Empty: actions are off.
	Token string `yaml:"token"`
	// URL is the dashboard's public address, used in alert links.
	URL string `yaml:"url"`
}

// knownProviders lists valid provider names.
var knownProviders = []string{"openai", "azure", "anthropic", "anthropic-openai", "gemini", "mistral", "groq", "together", "openrouter", "vllm", "ollama", "llamacpp", "tgi", "lmstudio"}

// LoadConfig reads, expands and validates a config file. Errors name the
// file, line and field.
//
// ${VAR} and ${VAR:-default} in values expand environment variables before
// the values are typed, so `concurrency: ${CONC}` is a number. A ${VAR}
// whose variable is not set reads as empty (DESIGN 13: `database_url:
// ${DATABASE_URL}`, empty or absent: the embedded default) and is listed in
// Config.Unset, so that a misspelt name or a key not exported is warned
// about instead of passing unseen.
func LoadConfig(path string) (*Config, error) {
	return loadConfig(path, os.LookupEnv)
}

// loadConfig is LoadConfig with the environment given by lookup.
func loadConfig(path string, lookup func(string) (string, bool)) (*Config, error) {
	doc, err := yamldoc.ReadFile(path)
	if err != nil {
		return nil, err
	}
	var c Config
	unset, err := doc.DecodeEnv(&c, lookup)
	if err != nil {
		return nil, err
	}
	c.File, c.doc, c.Unset = path, doc, unset
	if err := c.validate(doc); err != nil {
		return nil, err
	}
	return &c, nil
}

// validate checks every field that can be checked without the suites. Each
// error names the file, line and field, and says what is allowed.
func (c *Config) validate(doc *yamldoc.Doc) error {
	var errs yamldoc.Errors
	add := func(path []any, format string, args ...any) {
		errs = append(errs, doc.Errorf(path, format, args...))
	}
	// negative reports a negative (or NaN) value of a field where 0 means
	// the default or "none".
	negative := func(path []any, bad bool, got any, zero string) {
		if bad {
			add(path, "must not be negative, got %v (0 means %s)", got, zero)
		}
	}
	// fraction rejects values outside (0, hi) or (0, hi]; 0 means the
	// default.
	fraction := func(path []any, v, dflt float64, hiIncluded bool) {
		switch {
		case v == 0:
		case hiIncluded && !(v > 0 && v <= 1):
			add(path, "must be a fraction in (0, 1], got %v (0 means the default %v)", v, dflt)
		case !hiIncluded && !(v > 0 && v < 1):
			add(path, "must be between 0 and 1 (exclusive), got %v (0 means the default %v)", v, dflt)
		}
	}
	// httpURL rejects a non-empty value that is not an absolute http(s)
	// URL. The value is not quoted: webhook URLs are secrets.
	httpURL := func(path []any, v string) {
		if v == "" {
			return
		}
		if u, err := url.Parse(v); err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
			add(path, "must be an absolute http:// or https:// URL")
		}
	}
	negative([]any{"samples"}, c.Samples < 0, c.Samples, fmt.Sprintf("the default %d", SamplesDefault))
	negative([]any{"baseline", "runs"}, c.Baseline.Runs < 0, c.Baseline.Runs, "the default 1")
	negative([]any{"max_cost_usd"}, !(c.MaxCostUSD >= 0), c.MaxCostUSD, "no cap")
	fraction([]any{"drift", "alpha"}, c.Drift.Alpha, drift.DefaultAlphaFamily, false)
	fraction([]any{"drift", "q_case"}, c.Drift.QCase, drift.DefaultQCase, false)
	fraction([]any{"drift", "min_pass_delta"}, c.Drift.MinPassDelta, drift.DefaultMinPassDelta, false)
	fraction([]any{"drift", "max_error_rate"}, c.Drift.MaxErrorRate, drift.DefaultMaxErrorRate, true)
	negative([]any{"drift", "min_samples"}, c.Drift.MinSamples < 0, c.Drift.MinSamples, fmt.Sprintf("the default %d", drift.DefaultMinSamples))
	negative([]any{"alerts", "repeat_interval"}, c.Alerts.RepeatInterval < 0, c.Alerts.RepeatInterval, "the default 24h")
	for _, m := range slices.Sorted(maps.Keys(c.Prices)) {
		negative([]any{"prices", m, "input"}, !(c.Prices[m].Input >= 0), c.Prices[m].Input, "free")
		negative([]any{"prices", m, "output"}, !(c.Prices[m].Output >= 0), c.Prices[m].Output, "free")
	}
	seen := map[string]bool{}
	for i, t := range c.Targets {
		p := func(f string) []any { return []any{"targets", i, f} }
		switch {
		case t.Name == "":
			add(p("name"), "a target needs a name")
		case seen[t.Name]:
			add(p("name"), "duplicate target name %q", t.Name)
		}
		seen[t.Name] = true
		prov := cmp.Or(t.Provider, "openai")
		if !slices.Contains(knownProviders, prov) {
			add(p("provider"), "unknown provider %q (known: %s)", prov, strings.Join(knownProviders, ", "))
		}
		if t.Model == "" && t.Deployment == "" {
			add(p("model"), "a target needs a model")
		}
		if ad := t.AzureAD; ad != nil {
			switch {
			case prov != "azure":
				add(p("azure_ad"), "azure_ad is for provider azure, not %q", prov)
			case t.APIKey != "" || t.APIKeyFile != "":
				add(p("azure_ad"), "give either api_key or azure_ad, not both")
			case ad.ClientID == "" || (ad.TenantID == "" && ad.TokenURL == ""):
				add(p("azure_ad"), "azure_ad needs client_id and tenant_id (or token_url)")
			case ad.ClientSecret == "" && ad.ClientSecretFile == "":
				add(p("azure_ad"), "azure_ad needs client_secret or client_secret_file")
			}
		}
		negative(p("concurrency"), t.Concurrency < 0, t.Concurrency, fmt.Sprintf("the default %d", ConcurrencyDefault))
		negative(p("rpm"), t.RPM < 0, t.RPM, "unlimited")
		negative(p("tpm"), t.TPM < 0, t.TPM, "unlimited")
		negative(p("timeout"), t.Timeout < 0, t.Timeout, "the default "+TimeoutDefault.String())
		if t.Retries != nil && *t.Retries < 0 {
			add(p("retries"), "must not be negative, got %d (0: no retries; leave it out for the default %d)", *t.Retries, RetriesDefault)
		}
		if t.Pin != nil && t.Pin.Mode != "" && t.Pin.Mode != "fail" && t.Pin.Mode != "warn" {
			add(p("pin"), "mode must be fail or warn, got %q", t.Pin.Mode)
		}
		for _, pp := range t.Params.Problems() {
			add([]any{"targets", i, "params", pp.Field}, "%s", pp.Msg)
		}
		httpURL(p("base_url"), t.BaseURL)
	}
	if c.Alerts.Slack != nil {
		httpURL([]any{"alerts", "slack", "webhook_url"}, c.Alerts.Slack.WebhookURL)
	}
	if c.Alerts.Webhook != nil {
		httpURL([]any{"alerts", "webhook", "url"}, c.Alerts.Webhook.URL)
	}
	httpURL([]any{"web", "url"}, c.Web.URL)
	for _, ref := range []struct{ field, name string }{{"judge", c.Judge}, {"embedder", c.Embedder}} {
		if ref.name != "" && !seen[ref.name] {
			add([]any{ref.field}, "names unknown target %q", ref.name)
		}
	}
	schedules := map[string]int{}
	for i, s := range c.Schedules {
		p := func(f string) []any { return []any{"schedules", i, f} }
		if prev, dup := schedules[s.Name]; dup && s.Name != "" {
			add(p("name"), "duplicate schedule name %q (also schedules[%d], line %d): give each schedule its own name", s.Name, prev, doc.Line("schedules", prev, "name"))
		} else {
			schedules[s.Name] = i
		}
		if s.Name == "" {
			add(p("name"), "a schedule needs a name")
		}
		if _, err := cron.ParseStandard(s.Cron); err != nil {
			add(p("cron"), "schedule %q: invalid cron spec %q: %v", s.Name, s.Cron, err)
		}
		if s.Timezone != "" {
			if _, err := time.LoadLocation(s.Timezone); err != nil {
				add(p("timezone"), "schedule %q: unknown time zone %q", s.Name, s.Timezone)
			}
		}
		for j, tn := range s.Targets {
			if !seen[tn] {
				add([]any{"schedules", i, "targets", j}, "schedule %q names unknown target %q", s.Name, tn)
			}
		}
		negative(p("samples"), s.Samples < 0, s.Samples, "the suite's or config's samples")
	}
	slices.SortStableFunc(errs, func(a, b *yamldoc.Error) int { return cmp.Compare(a.Line, b.Line) })
	return errs.Err()
}

// checkScheduleSuites reports the schedules[].suites entries that name none
// of suites (every suite the config defines, YAML and Go). It is separate
// from validate because suites are known only once they are loaded.
func (c *Config) checkScheduleSuites(suites []string) error {
	var errs yamldoc.Errors
	for i, s := range c.Schedules {
		for j, name := range s.Suites {
			if slices.Contains(suites, name) {
				continue
			}
			path := []any{"schedules", i, "suites", j}
			msg := fmt.Sprintf("schedule %q names unknown suite %q (known: %s)", s.Name, name, strings.Join(slices.Sorted(slices.Values(suites)), ", "))
			if c.doc != nil {
				errs = append(errs, c.doc.Errorf(path, "%s", msg))
			} else {
				errs = append(errs, &yamldoc.Error{File: c.File, Field: yamldoc.FieldName(path...), Msg: msg})
			}
		}
	}
	return errs.Err()
}

// CheckSchedules loads every suite and reports schedules whose suites: name
// unknown suites, with file:line. serve calls it at start, so a typo fails
// at once rather than at the first fire (or never, silently).
func (a *App) CheckSchedules() error {
	if !slices.ContainsFunc(a.cfg.Schedules, func(s ScheduleConfig) bool { return len(s.Suites) > 0 }) {
		return nil
	}
	all, err := a.Suites()
	if err != nil {
		return configError(err)
	}
	names := make([]string, len(all))
	for i, s := range all {
		names[i] = s.Name()
	}
	return configErrorIf(a.cfg.checkScheduleSuites(names))
}

// Target returns the named target config.
func (c *Config) Target(name string) (*TargetConfig, error) {
	for i := range c.Targets {
		if c.Targets[i].Name == name {
			return &c.Targets[i], nil
		}
	}
	names := make([]string, len(c.Targets))
	for i, t := range c.Targets {
		names[i] = t.Name
	}
	sort.Strings(names)
	return nil, fmt.Errorf("unknown target %q (config %s defines: %s)", name, c.File, strings.Join(names, ", "))
}

// SuitePaths resolves the suites entries against the config's folder.
func (c *Config) SuitePaths() []string {
	base := filepath.Dir(c.File)
	out := make([]string, len(c.Suites))
	for i, s := range c.Suites {
		if filepath.IsAbs(s) {
			out[i] = s
		} else {
			out[i] = filepath.Join(base, s)
		}
	}
	return out
}

// ResolvedDataDir returns DataDir or its default.
func (c *Config) ResolvedDataDir() string {
	if c.DataDir != "" {
		return c.DataDir
	}
	return pglocal.DefaultDataDir()
}
