// Package config is driftwatch.yaml: its types, loading (with ${VAR}
// expansion before values are typed) and validation, one function per
// section, every error located at file:line:field. It knows nothing of
// suites, targets' clients or the database: package app builds those from
// a Config.
package config

import (
	"cmp"
	"fmt"
	"maps"
	"net/url"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"sort"
	"strconv"
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
	FileDefault        = "driftwatch.yaml"
)

// Config is driftwatch.yaml (the config contract documented in README.md). Every field
// is optional unless said otherwise; zero means the documented default.
type Config struct {
	// File is where the config was read from; suite paths are relative to
	// its folder.
	File string `yaml:"-"`
	// Unset lists the ${VAR} references whose variable is not set (read as
	// empty), at their lines: the CLI warns about each.
	Unset yamldoc.Errors `yaml:"-"`
	// Project names the project the runs belong to: suites, targets,
	// baselines, history, alerts and the dashboard are per project, so
	// several teams share one PostgreSQL. Default: the name of the config
	// file's folder (ProjectName).
	Project string `yaml:"project"`
	// DatabaseURL of PostgreSQL. Empty: the embedded default cluster in
	// DataDir.
	DatabaseURL string `yaml:"database_url"`
	// DataDir holds the embedded cluster. Default $XDG_DATA_HOME/driftwatch
	// (or ~/.local/share/driftwatch).
	DataDir string `yaml:"data_dir"`
	// Samples is k, samples per case, for suites that set none. Set, it
	// is an explicit K: nights then run in fixed mode at that K (as with a
	// suite's samples: or --samples). Default: sampling.k.
	Samples int `yaml:"samples"`
	// Sampling is how a night sends its samples: staged (default: looks
	// after 1 and 2 samples per case, a quiet night stops early) or fixed
	// at K.
	Sampling drift.Plan `yaml:"sampling"`
	// Targets are the models under test. Required for run.
	Targets []Target `yaml:"targets"`
	// Suites lists YAML suite files or folders (searched for *.yaml and
	// *.yml), relative to the config file.
	Suites []string `yaml:"suites"`
	// Baseline says how a baseline is built.
	Baseline Baseline `yaml:"baseline"`
	// Drift tunes the statistics (package drift's defaults when zero).
	Drift Drift `yaml:"drift"`
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
	Schedules []Schedule `yaml:"schedules"`
	Alerts    Alerts     `yaml:"alerts"`
	Web       Web        `yaml:"web"`

	// doc is the parsed file, to locate errors found after loading.
	doc *yamldoc.Doc
}

// Target is one model endpoint.
type Target struct {
	Name string `yaml:"name"`
	// Provider selects the API family: sim (the built-in simulator, run
	// inside driftwatch: no key, no network), openai, azure, anthropic (native),
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
	AzureAD *AzureAD          `yaml:"azure_ad"`
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
	Pin *Pin `yaml:"pin"`
}

// AzureAD is an Entra ID app registration whose client credentials
// are exchanged for bearer tokens (OAuth 2.0 client credentials grant).
// Tokens are cached until shortly before they expire.
type AzureAD struct {
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

// TokenEndpoint returns the token endpoint: TokenURL, or the tenant's.
func (c *AzureAD) TokenEndpoint() string {
	if c.TokenURL != "" {
		return c.TokenURL
	}
	return "https://login.microsoftonline.com/" + url.PathEscape(c.TenantID) + "/oauth2/v2.0/token"
}

// Pin pins a target's identity. In YAML it is either a mapping with the
// fields below or a scalar: `pin: true` (or `strict`) pins to the identity
// seen in the baseline, `pin: warn` does the same but only warns.
type Pin struct {
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
func (p *Pin) UnmarshalYAML(n *yaml.Node) error {
	if n.Kind == yaml.ScalarNode {
		switch strings.ToLower(n.Value) {
		case "true", "strict", "fail", "baseline":
			*p = Pin{Baseline: true, Mode: "fail"}
		case "warn":
			*p = Pin{Baseline: true, Mode: "warn"}
		case "false", "", "off":
			*p = Pin{}
		default:
			return fmt.Errorf("line %d: pin: want true, warn or a mapping {model, digest, fingerprints, mode}, got %q", n.Line, n.Value)
		}
		return nil
	}
	type plain Pin
	return n.Decode((*plain)(p))
}

// Warn reports whether a mismatch only warns.
func (p *Pin) Warn() bool { return p != nil && p.Mode == "warn" }

// Baseline says how baselines are built.
type Baseline struct {
	// Runs is how many accepted stable runs that reached K a baseline
	// pools (drift.Pool). Default 3.
	Runs int `yaml:"runs"`
}

// Pool is the baseline pooling of the config, defaults filled.
func (b Baseline) Pool() drift.Pool { return drift.Pool{Runs: b.Runs}.WithDefaults() }

// Drift tunes the comparison. Zero fields take package drift's defaults.
type Drift struct {
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

// Schedule is one cron schedule for serve.
type Schedule struct {
	Name     string   `yaml:"name"`
	Cron     string   `yaml:"cron"`
	Timezone string   `yaml:"timezone"`
	Suites   []string `yaml:"suites"`
	Targets  []string `yaml:"targets"`
	Samples  int      `yaml:"samples"`
	Confirm  bool     `yaml:"confirm"`
}

// Alerts configures notifiers.
type Alerts struct {
	Slack   *Slack   `yaml:"slack"`
	Webhook *Webhook `yaml:"webhook"`
	// RepeatInterval after which an unchanged finding is alerted again.
	// Default 24h.
	RepeatInterval time.Duration `yaml:"repeat_interval"`
}

// Slack is a Slack incoming webhook. The URL is a secret.
type Slack struct {
	WebhookURL string `yaml:"webhook_url"`
	Channel    string `yaml:"channel"`
}

// Webhook is a generic JSON webhook.
type Webhook struct {
	URL     string            `yaml:"url"`
	Headers map[string]string `yaml:"headers"`
}

// Web configures the dashboard.
type Web struct {
	Addr string `yaml:"addr"`
	// Token enables the dashboard's actions (accept baseline, run now).
	// Empty: actions are off.
	Token string `yaml:"token"`
	// URL is the dashboard's public address, used in alert links.
	URL string `yaml:"url"`
}

// knownProviders lists valid provider names.
var knownProviders = []string{"sim", "openai", "azure", "anthropic", "anthropic-openai", "gemini", "mistral", "groq", "together", "openrouter", "vllm", "ollama", "llamacpp", "tgi", "lmstudio"}

// Load reads, expands and validates a config file. Errors name the
// file, line and field.
//
// ${VAR} and ${VAR:-default} in values expand environment variables before
// the values are typed, so `concurrency: ${CONC}` is a number. A ${VAR}
// whose variable is not set reads as empty (`database_url: ${DATABASE_URL}`:
// empty or absent means the embedded default) and is listed in
// Config.Unset, so that a misspelt name or a key not exported is warned
// about instead of passing unseen.
func Load(path string) (*Config, error) {
	return LoadWith(path, os.LookupEnv)
}

// LoadWith is Load with the environment given by lookup.
func LoadWith(path string, lookup func(string) (string, bool)) (*Config, error) {
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

// validate checks every field that can be checked without the suites, one
// section at a time. Each error names the file, line and field, and says
// what is allowed; errors come in line order.
func (c *Config) validate(doc *yamldoc.Doc) error {
	v := &validator{doc: doc}
	c.validateTop(v)
	targets := c.validateTargets(v)
	c.validateAlerts(v, targets)
	c.validateSchedules(v, targets)
	slices.SortStableFunc(v.errs, func(a, b *yamldoc.Error) int { return cmp.Compare(a.Line, b.Line) })
	return v.errs.Err()
}

// validator collects located errors.
type validator struct {
	doc  *yamldoc.Doc
	errs yamldoc.Errors
}

func (v *validator) add(path []any, format string, args ...any) {
	v.errs = append(v.errs, v.doc.Errorf(path, format, args...))
}

// negative reports a negative (or NaN) value of a field where 0 means the
// default or "none".
func (v *validator) negative(path []any, bad bool, got any, zero string) {
	if bad {
		v.add(path, "must not be negative, got %v (0 means %s)", got, zero)
	}
}

// fraction rejects values outside (0, 1) or (0, 1]; 0 means the default.
func (v *validator) fraction(path []any, x, dflt float64, hiIncluded bool) {
	switch {
	case x == 0:
	case hiIncluded && !(x > 0 && x <= 1):
		v.add(path, "must be a fraction in (0, 1], got %v (0 means the default %v)", x, dflt)
	case !hiIncluded && !(x > 0 && x < 1):
		v.add(path, "must be between 0 and 1 (exclusive), got %v (0 means the default %v)", x, dflt)
	}
}

// httpURL rejects a non-empty value that is not an absolute http(s) URL.
// The value is not quoted: webhook URLs are secrets.
func (v *validator) httpURL(path []any, s string) {
	if s == "" {
		return
	}
	if u, err := url.Parse(s); err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		v.add(path, "must be an absolute http:// or https:// URL")
	}
}

// projectName is what a project may be called: lower-case letters, digits,
// '-', '_' and '.', starting with a letter or digit.
var projectName = regexp.MustCompile(`^[a-z0-9][a-z0-9._-]{0,62}$`)

// ProjectName is the project's name: Project, or one derived from the
// config file's folder (lower-cased, other characters replaced by '-'),
// stable as long as the folder keeps its name; "default" without a folder.
func (c *Config) ProjectName() string {
	if c.Project != "" {
		return c.Project
	}
	if c.File == "" {
		return "default"
	}
	abs, err := filepath.Abs(c.File)
	if err != nil {
		return "default"
	}
	return FolderProject(filepath.Dir(abs))
}

// FolderProject is the project name a config in folder dir gets by
// default: the folder's name, lower-cased, other characters replaced by
// '-'; "default" when nothing usable is left.
func FolderProject(dir string) string {
	var b strings.Builder
	for _, r := range strings.ToLower(filepath.Base(dir)) {
		switch {
		case r >= 'a' && r <= 'z', r >= '0' && r <= '9', r == '.', r == '_', r == '-':
			b.WriteRune(r)
		default:
			b.WriteByte('-')
		}
	}
	name := strings.Trim(b.String(), "-._")
	if len(name) > 63 {
		name = name[:63]
	}
	if !projectName.MatchString(name) {
		return "default"
	}
	return name
}

// validateTop checks the project, samples, baseline, budget, drift and
// prices.
func (c *Config) validateTop(v *validator) {
	if c.Project != "" && !projectName.MatchString(c.Project) {
		v.add([]any{"project"}, "must be 1 to 63 lower-case letters, digits, '-', '_' or '.', starting with a letter or digit, got %q", c.Project)
	}
	v.negative([]any{"samples"}, c.Samples < 0, c.Samples, fmt.Sprintf("the default %d", SamplesDefault))
	v.negative([]any{"baseline", "runs"}, c.Baseline.Runs < 0, c.Baseline.Runs, fmt.Sprintf("the default %d", drift.DefaultBaselineRuns))
	c.validateSampling(v)
	v.negative([]any{"max_cost_usd"}, !(c.MaxCostUSD >= 0), c.MaxCostUSD, "no cap")
	v.fraction([]any{"drift", "alpha"}, c.Drift.Alpha, drift.DefaultAlphaFamily, false)
	v.fraction([]any{"drift", "q_case"}, c.Drift.QCase, drift.DefaultQCase, false)
	v.fraction([]any{"drift", "min_pass_delta"}, c.Drift.MinPassDelta, drift.DefaultMinPassDelta, false)
	v.fraction([]any{"drift", "max_error_rate"}, c.Drift.MaxErrorRate, drift.DefaultMaxErrorRate, true)
	v.negative([]any{"drift", "min_samples"}, c.Drift.MinSamples < 0, c.Drift.MinSamples, fmt.Sprintf("the default %d", drift.DefaultMinSamples))
	for _, m := range slices.Sorted(maps.Keys(c.Prices)) {
		v.negative([]any{"prices", m, "input"}, !(c.Prices[m].Input >= 0), c.Prices[m].Input, "free")
		v.negative([]any{"prices", m, "output"}, !(c.Prices[m].Output >= 0), c.Prices[m].Output, "free")
	}
	v.httpURL([]any{"web", "url"}, c.Web.URL)
	if t := c.Web.Token; t != "" && len(t) < MinWebTokenLength {
		v.add([]any{"web", "token"}, "must be at least %d characters (a short token is guessed): generate one, e.g. openssl rand -hex 16", MinWebTokenLength)
	}
}

// MinWebTokenLength is the shortest web.token the dashboard accepts (it
// refuses a shorter one too).
const MinWebTokenLength = 12

// validateSampling checks sampling: once its defaults are filled for the
// configured pool, each error at the field it is about.
func (c *Config) validateSampling(v *validator) {
	if c.Baseline.Runs < 0 {
		return
	}
	p := c.Sampling.WithDefaults(c.Baseline.Pool())
	if err := p.Validate(); err != nil {
		for _, e := range unjoin(err) {
			field, msg, _ := strings.Cut(e.Error(), ": ")
			v.add(samplingPath(field), "%s", msg)
		}
	}
}

// samplingPath is the config path an error of drift.Plan.Validate names
// (field "sampling.looks[1]"); the error is at the deepest node of the
// path that is in the file.
func samplingPath(field string) []any {
	path := []any{}
	for _, part := range strings.Split(field, ".") {
		name, idx, ok := strings.Cut(part, "[")
		path = append(path, name)
		if ok {
			if i, err := strconv.Atoi(strings.TrimSuffix(idx, "]")); err == nil {
				path = append(path, i)
			}
		}
	}
	return path
}

// unjoin splits an errors.Join error into its errors.
func unjoin(err error) []error {
	if j, ok := err.(interface{ Unwrap() []error }); ok {
		return j.Unwrap()
	}
	return []error{err}
}

// validateTargets checks the targets and returns the set of their names.
func (c *Config) validateTargets(v *validator) map[string]bool {
	seen := map[string]bool{}
	for i, t := range c.Targets {
		p := func(f string) []any { return []any{"targets", i, f} }
		switch {
		case t.Name == "":
			v.add(p("name"), "a target needs a name")
		case seen[t.Name]:
			v.add(p("name"), "duplicate target name %q", t.Name)
		}
		seen[t.Name] = true
		prov := cmp.Or(t.Provider, "openai")
		if !slices.Contains(knownProviders, prov) {
			v.add(p("provider"), "unknown provider %q (known: %s)", prov, strings.Join(knownProviders, ", "))
		}
		if t.Model == "" && t.Deployment == "" {
			v.add(p("model"), "a target needs a model")
		}
		t.validateAzureAD(v, p("azure_ad"), prov)
		v.negative(p("concurrency"), t.Concurrency < 0, t.Concurrency, fmt.Sprintf("the default %d", ConcurrencyDefault))
		v.negative(p("rpm"), t.RPM < 0, t.RPM, "unlimited")
		v.negative(p("tpm"), t.TPM < 0, t.TPM, "unlimited")
		v.negative(p("timeout"), t.Timeout < 0, t.Timeout, "the default "+TimeoutDefault.String())
		if t.Retries != nil && *t.Retries < 0 {
			v.add(p("retries"), "must not be negative, got %d (0: no retries; leave it out for the default %d)", *t.Retries, RetriesDefault)
		}
		if t.Pin != nil && t.Pin.Mode != "" && t.Pin.Mode != "fail" && t.Pin.Mode != "warn" {
			v.add(p("pin"), "mode must be fail or warn, got %q", t.Pin.Mode)
		}
		for _, pp := range t.Params.Problems() {
			v.add([]any{"targets", i, "params", pp.Field}, "%s", pp.Msg)
		}
		v.httpURL(p("base_url"), t.BaseURL)
	}
	return seen
}

func (t *Target) validateAzureAD(v *validator, path []any, prov string) {
	ad := t.AzureAD
	switch {
	case ad == nil:
	case prov != "azure":
		v.add(path, "azure_ad is for provider azure, not %q", prov)
	case t.APIKey != "" || t.APIKeyFile != "":
		v.add(path, "give either api_key or azure_ad, not both")
	case ad.ClientID == "" || (ad.TenantID == "" && ad.TokenURL == ""):
		v.add(path, "azure_ad needs client_id and tenant_id (or token_url)")
	case ad.ClientSecret == "" && ad.ClientSecretFile == "":
		v.add(path, "azure_ad needs client_secret or client_secret_file")
	}
}

// validateAlerts checks the alert channels and the judge and embedder
// targets.
func (c *Config) validateAlerts(v *validator, targets map[string]bool) {
	v.negative([]any{"alerts", "repeat_interval"}, c.Alerts.RepeatInterval < 0, c.Alerts.RepeatInterval, "the default 24h")
	if c.Alerts.Slack != nil {
		v.httpURL([]any{"alerts", "slack", "webhook_url"}, c.Alerts.Slack.WebhookURL)
	}
	if c.Alerts.Webhook != nil {
		v.httpURL([]any{"alerts", "webhook", "url"}, c.Alerts.Webhook.URL)
	}
	for _, ref := range []struct{ field, name string }{{"judge", c.Judge}, {"embedder", c.Embedder}} {
		if ref.name != "" && !targets[ref.name] {
			v.add([]any{ref.field}, "names unknown target %q", ref.name)
		}
	}
}

// validateSchedules checks the schedules (their suites are checked once
// the suites are loaded: CheckScheduleSuites).
func (c *Config) validateSchedules(v *validator, targets map[string]bool) {
	names := map[string]int{}
	for i, s := range c.Schedules {
		p := func(f string) []any { return []any{"schedules", i, f} }
		if prev, dup := names[s.Name]; dup && s.Name != "" {
			v.add(p("name"), "duplicate schedule name %q (also schedules[%d], line %d): give each schedule its own name", s.Name, prev, v.doc.Line("schedules", prev, "name"))
		} else {
			names[s.Name] = i
		}
		if s.Name == "" {
			v.add(p("name"), "a schedule needs a name")
		}
		if _, err := cron.ParseStandard(s.Cron); err != nil {
			v.add(p("cron"), "schedule %q: invalid cron spec %q: %v", s.Name, s.Cron, err)
		}
		if s.Timezone != "" {
			if _, err := time.LoadLocation(s.Timezone); err != nil {
				v.add(p("timezone"), "schedule %q: unknown time zone %q", s.Name, s.Timezone)
			}
		}
		for j, tn := range s.Targets {
			if !targets[tn] {
				v.add([]any{"schedules", i, "targets", j}, "schedule %q names unknown target %q", s.Name, tn)
			}
		}
		v.negative(p("samples"), s.Samples < 0, s.Samples, "the suite's or config's samples")
	}
}

// CheckScheduleSuites reports the schedules[].suites entries that name none
// of suites (every suite the config defines, YAML and Go). It is separate
// from validate because suites are known only once they are loaded.
func (c *Config) CheckScheduleSuites(suites []string) error {
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

// Target returns the named target config.
func (c *Config) Target(name string) (*Target, error) {
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

// ResolvedDataDir returns DataDir or its default (pglocal.DefaultDataDir:
// a private folder of the user's, /var/lib/driftwatch as root).
func (c *Config) ResolvedDataDir() string {
	if c.DataDir != "" {
		return c.DataDir
	}
	return pglocal.DefaultDataDir()
}

// MaxAttempts is the most HTTP attempts one call makes: the first and
// retries (RetriesDefault when the config says nothing).
func (t *Target) MaxAttempts() int {
	retries := RetriesDefault
	if t.Retries != nil {
		retries = *t.Retries
	}
	return retries + 1
}

// Errorf is an error located at path in the config file (file:line:
// field), for problems found after loading.
func (c *Config) Errorf(path []any, format string, args ...any) error {
	if c.doc != nil {
		return c.doc.Errorf(path, format, args...)
	}
	return &yamldoc.Error{File: c.File, Field: yamldoc.FieldName(path...), Msg: fmt.Sprintf(format, args...)}
}
