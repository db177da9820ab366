package sim

import (
	"bytes"
	"cmp"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"time"

	"gopkg.in/yaml.v3"
)

// Defaults applied by Config.WithDefaults.
const (
	// RetryAfterDefault is the Retry-After a simulated 429 carries.
	RetryAfterDefault = time.Second
	// HangForDefault bounds how long a simulated hang holds a request when
	// neither the client nor the server gives up first.
	HangForDefault = 2 * time.Minute
	// MaxTrackedPromptsDefault bounds the per-prompt counters kept for Stats.
	MaxTrackedPromptsDefault = 1 << 20
)

// Config describes a simulator: its seed, its simulated models and the
// checks its endpoints apply. The zero value of every field means its
// default. Config is plain data so a scenario can live in a YAML or JSON file
// (see LoadConfig).
type Config struct {
	// Seed makes a simulation reproducible: the same seed and the same
	// request sequence give the same outputs. Zero is a valid seed.
	Seed int64 `json:"seed" yaml:"seed"`
	// Models are the simulated models. At least one is required; names must
	// be unique.
	Models []Model `json:"models" yaml:"models"`
	// Latency applies to models whose profile sets no latency. Zero (the
	// default) is fast mode: responses are written without any delay.
	Latency Latency `json:"latency" yaml:"latency"`
	// APIKey, when set, is required on every generation and model-listing
	// endpoint: "Authorization: Bearer KEY" for OpenAI-style endpoints and
	// "x-api-key: KEY" (or the Bearer form) for Anthropic's. A mismatch is a
	// 401. Empty (the default) disables the check. The /sim/* endpoints are
	// never checked.
	APIKey string `json:"api_key" yaml:"api_key"`
	// RequireAnthropicVersion makes POST /v1/messages answer 400 when the
	// anthropic-version header is missing, as Anthropic's API does. Default
	// false.
	RequireAnthropicVersion bool `json:"require_anthropic_version" yaml:"require_anthropic_version"`
	// MaxTrackedPrompts bounds the distinct (model, prompt) counters kept for
	// Stats.PerPrompt; prompts beyond the bound are counted in
	// Stats.UntrackedPrompts only. Default MaxTrackedPromptsDefault; negative
	// disables per-prompt tracking.
	MaxTrackedPrompts int `json:"max_tracked_prompts" yaml:"max_tracked_prompts"`
	// RateLimit, when set, is enforced on the generation endpoints with
	// 429s and real rate-limit headers (see RateLimit). Default: none.
	RateLimit RateLimit `json:"rate_limit" yaml:"rate_limit"`
}

// Model is one simulated model: a name clients request, the identity the
// endpoints report, a behaviour profile, and silent updates that change the
// profile and/or identity mid-simulation.
type Model struct {
	// Name is what clients put in the request's model field. Required.
	Name string `json:"name" yaml:"name"`
	// Identity is what the endpoints report about the model.
	Identity Identity `json:"identity" yaml:"identity"`
	// Profile is the model's behaviour until the first update applies.
	Profile Profile `json:"profile" yaml:"profile"`
	// Updates are applied in order; each takes effect once its trigger
	// fires (see Update). Later updates wait for earlier ones.
	Updates []Update `json:"updates" yaml:"updates"`
}

// ServerLlamaCPP is Identity.Server for a model served by llama.cpp.
const ServerLlamaCPP = "llamacpp"

// Identity is what the simulator reports about a model on the various
// vendors' endpoints. Empty fields are omitted or get a simulator-flavoured
// default.
type Identity struct {
	// ResolvedModel is the response's model field (OpenAI, Anthropic).
	// Default: the model's Name.
	ResolvedModel string `json:"resolved_model" yaml:"resolved_model"`
	// SystemFingerprint is OpenAI's system_fingerprint. Empty: omitted.
	SystemFingerprint string `json:"system_fingerprint" yaml:"system_fingerprint"`
	// Digest is the Ollama digest (hex, as /api/tags reports it).
	Digest string `json:"digest" yaml:"digest"`
	// Family is the Ollama details.family. Default "sim".
	Family string `json:"family" yaml:"family"`
	// Quantization is Ollama's details.quantization_level (e.g. "Q4_K_M").
	Quantization string `json:"quantization" yaml:"quantization"`
	// ParameterSize is Ollama's details.parameter_size (e.g. "8.0B").
	ParameterSize string `json:"parameter_size" yaml:"parameter_size"`
	// Root is vLLM's /v1/models root. Default: ResolvedModel.
	Root string `json:"root" yaml:"root"`
	// MaxModelLen is vLLM's /v1/models max_model_len. Default 8192.
	MaxModelLen int `json:"max_model_len" yaml:"max_model_len"`
	// Server "llamacpp" makes the model behave as one llama.cpp's
	// llama-server serves: the chat response's model field echoes the
	// request's, and GET /v1/models lists it in llama.cpp's shape (id,
	// owned_by "llamacpp", meta). Empty: the generic (vLLM-like) shape.
	Server string `json:"server" yaml:"server"`
	// ModelPath is llama.cpp's /props model_path (default: the name).
	ModelPath string `json:"model_path" yaml:"model_path"`
	// Alias is llama-server's -a alias: the /v1/models id instead of
	// ModelPath.
	Alias string `json:"alias" yaml:"alias"`
	// BuildInfo is llama.cpp's /props build_info and system_fingerprint.
	// Default "b4748-c392e5094" (the recorded server's).
	BuildInfo string `json:"build_info" yaml:"build_info"`
	// ChatTemplate is llama.cpp's /props chat_template. Default the
	// recorded server's ChatML template.
	ChatTemplate string `json:"chat_template" yaml:"chat_template"`
	// Size, NParams, NVocab, NEmbd and NCtxTrain are llama.cpp's
	// /v1/models meta (the GGUF file's size in bytes and the model's
	// shape). Defaults: the recorded tiny model's.
	Size      int64 `json:"size" yaml:"size"`
	NParams   int64 `json:"n_params" yaml:"n_params"`
	NVocab    int   `json:"n_vocab" yaml:"n_vocab"`
	NEmbd     int   `json:"n_embd" yaml:"n_embd"`
	NCtxTrain int   `json:"n_ctx_train" yaml:"n_ctx_train"`
	// ModelHash stands for the GGUF file's content: when set, it is mixed
	// into the default Size, so changing it changes the file llama.cpp
	// reports. (Real llama.cpp exposes no hash, and neither does the
	// simulator.)
	ModelHash string `json:"model_hash" yaml:"model_hash"`
	// ModelID is TGI's /info model_id. Default: ResolvedModel.
	ModelID string `json:"model_id" yaml:"model_id"`
	// ModelSHA is TGI's /info model_sha.
	ModelSHA string `json:"model_sha" yaml:"model_sha"`
	// DType is TGI's /info model_dtype (e.g. "torch.float16").
	DType string `json:"dtype" yaml:"dtype"`
}

// merge returns id with every non-empty field of o overriding id's.
func (id Identity) merge(o Identity) Identity {
	id.ResolvedModel = cmp.Or(o.ResolvedModel, id.ResolvedModel)
	id.SystemFingerprint = cmp.Or(o.SystemFingerprint, id.SystemFingerprint)
	id.Digest = cmp.Or(o.Digest, id.Digest)
	id.Family = cmp.Or(o.Family, id.Family)
	id.Quantization = cmp.Or(o.Quantization, id.Quantization)
	id.ParameterSize = cmp.Or(o.ParameterSize, id.ParameterSize)
	id.Root = cmp.Or(o.Root, id.Root)
	id.MaxModelLen = cmp.Or(o.MaxModelLen, id.MaxModelLen)
	id.Server = cmp.Or(o.Server, id.Server)
	id.ModelPath = cmp.Or(o.ModelPath, id.ModelPath)
	id.Alias = cmp.Or(o.Alias, id.Alias)
	id.BuildInfo = cmp.Or(o.BuildInfo, id.BuildInfo)
	id.ChatTemplate = cmp.Or(o.ChatTemplate, id.ChatTemplate)
	id.Size = cmp.Or(o.Size, id.Size)
	id.NParams = cmp.Or(o.NParams, id.NParams)
	id.NVocab = cmp.Or(o.NVocab, id.NVocab)
	id.NEmbd = cmp.Or(o.NEmbd, id.NEmbd)
	id.NCtxTrain = cmp.Or(o.NCtxTrain, id.NCtxTrain)
	id.ModelHash = cmp.Or(o.ModelHash, id.ModelHash)
	id.ModelID = cmp.Or(o.ModelID, id.ModelID)
	id.ModelSHA = cmp.Or(o.ModelSHA, id.ModelSHA)
	id.DType = cmp.Or(o.DType, id.DType)
	return id
}

func (id Identity) withDefaults(name string) Identity {
	id.ResolvedModel = cmp.Or(id.ResolvedModel, name)
	id.Family = cmp.Or(id.Family, "sim")
	id.Root = cmp.Or(id.Root, id.ResolvedModel)
	id.MaxModelLen = cmp.Or(id.MaxModelLen, 8192)
	id.ModelID = cmp.Or(id.ModelID, id.ResolvedModel)
	return id
}

// Update is a silent update: once its trigger fires, the model's profile
// and/or identity change. An update with neither AfterRequests nor After is
// manual: only (*Server).Update or POST /sim/update applies it. Manual
// triggers also apply an automatic update early.
type Update struct {
	// Name labels the update in Stats and logs. Optional.
	Name string `json:"name" yaml:"name"`
	// AfterRequests applies the update once the model has received this many
	// requests in total (counted from server start, errors included): request
	// AfterRequests+1 is the first one served by the new profile.
	AfterRequests int64 `json:"after_requests" yaml:"after_requests"`
	// After applies the update once this much wall-clock time has passed
	// since New. Checked lazily on each request to the model.
	After Duration `json:"after" yaml:"after"`
	// Profile replaces the model's profile. Nil keeps the current one.
	Profile *Profile `json:"profile" yaml:"profile"`
	// Identity fields that are non-empty replace the current identity's.
	// Nil keeps the current identity.
	Identity *Identity `json:"identity" yaml:"identity"`
}

// Profile is a model's behaviour. Probabilities are in [0, 1]; zero means
// "never".
//
// The true pass probability of a case is drawn once per (Config.Seed,
// Profile.Seed, normalized prompt): from Mixture when it is non-empty,
// otherwise it is Accuracy. Then the CollapseFraction of cases (chosen by
// the same hash) lose CollapseBy, every case loses Drop, and the result is
// clamped to [0, 1]. An update that keeps Seed therefore degrades the same
// cases; one that changes Seed models a different model.
type Profile struct {
	// Seed is the profile's contribution to the per-case draw.
	Seed int64 `json:"seed" yaml:"seed"`
	// Accuracy is the pass probability of every case when Mixture is empty.
	// Zero means every sample is wrong.
	Accuracy float64 `json:"accuracy" yaml:"accuracy"`
	// Mixture, when non-empty, draws each case's pass probability from a
	// weighted mixture of components.
	Mixture []Component `json:"mixture" yaml:"mixture"`
	// CollapseFraction of cases have their probability lowered by
	// CollapseBy: a sparse, severe regression.
	CollapseFraction float64 `json:"collapse_fraction" yaml:"collapse_fraction"`
	CollapseBy       float64 `json:"collapse_by" yaml:"collapse_by"`
	// Drop lowers every case's probability: a uniform regression.
	Drop float64 `json:"drop" yaml:"drop"`
	// Refusal is the probability that a sample is a refusal.
	Refusal float64 `json:"refusal" yaml:"refusal"`
	// Verbosity is the mean number of filler sentences appended to an
	// answer (the integer part always, the fraction with that probability).
	Verbosity float64 `json:"verbosity" yaml:"verbosity"`
	// CodeFence is the probability an answer is wrapped in a Markdown code
	// fence.
	CodeFence float64 `json:"code_fence" yaml:"code_fence"`
	// JSONHabit is the probability an answer is a JSON object although none
	// was asked for.
	JSONHabit float64 `json:"json_habit" yaml:"json_habit"`
	// BrokenJSON is the probability that a JSON answer (asked for or by
	// habit) is not valid JSON.
	BrokenJSON float64 `json:"broken_json" yaml:"broken_json"`
	// Deterministic models a temperature-0 endpoint: the same prompt gives
	// the same output (and the same error draw) every time.
	Deterministic bool `json:"deterministic" yaml:"deterministic"`
	// LengthRate is the probability that the output is cut short with
	// finish reason "length" (Anthropic: "max_tokens").
	LengthRate float64 `json:"length_rate" yaml:"length_rate"`
	// ContentFilterRate is the probability of an empty output with finish
	// reason "content_filter" (Anthropic: stop_reason "refusal").
	ContentFilterRate float64 `json:"content_filter_rate" yaml:"content_filter_rate"`
	// Latency of a response. Zero: Config.Latency.
	Latency Latency `json:"latency" yaml:"latency"`
	// Errors are injected failures.
	Errors Errors `json:"errors" yaml:"errors"`
}

// Component is one part of an accuracy mixture: Weight of the cases have
// pass probability P, or, when Max > Min, one drawn uniformly from
// [Min, Max).
type Component struct {
	Weight float64 `json:"weight" yaml:"weight"`
	P      float64 `json:"p" yaml:"p"`
	Min    float64 `json:"min" yaml:"min"`
	Max    float64 `json:"max" yaml:"max"`
}

// Latency is a response delay: Fixed plus a uniform draw from [0, Jitter).
type Latency struct {
	Fixed  Duration `json:"fixed" yaml:"fixed"`
	Jitter Duration `json:"jitter" yaml:"jitter"`
}

func (l Latency) isZero() bool { return l.Fixed == 0 && l.Jitter == 0 }

// Errors are per-request probabilities of injected failures. They are drawn
// in this order and at most one applies to a request.
type Errors struct {
	// RateLimit answers 429 with a Retry-After header.
	RateLimit float64 `json:"rate_limit" yaml:"rate_limit"`
	// RetryAfter is the 429's Retry-After, rounded up to whole seconds in
	// the header and also sent as retry-after-ms. Default RetryAfterDefault.
	RetryAfter Duration `json:"retry_after" yaml:"retry_after"`
	// Server answers 500 (Anthropic-style requests: 529 overloaded half the
	// time).
	Server float64 `json:"server" yaml:"server"`
	// Malformed answers 200 with a truncated, unparseable JSON body (or a
	// broken SSE chunk when streaming).
	Malformed float64 `json:"malformed" yaml:"malformed"`
	// Hang holds the request without answering until the client gives up,
	// the server stops, or HangFor passes (then 504).
	Hang float64 `json:"hang" yaml:"hang"`
	// HangFor bounds a hang. Default HangForDefault.
	HangFor Duration `json:"hang_for" yaml:"hang_for"`
}

// Duration is a time.Duration that reads and writes as a Go duration string
// ("250ms", "1m") in JSON and YAML. A bare JSON or YAML number is taken as
// nanoseconds.
type Duration time.Duration

// D returns d as a time.Duration.
func (d Duration) D() time.Duration { return time.Duration(d) }

// MarshalText implements encoding.TextMarshaler.
func (d Duration) MarshalText() ([]byte, error) { return []byte(time.Duration(d).String()), nil }

// UnmarshalText implements encoding.TextUnmarshaler.
func (d *Duration) UnmarshalText(b []byte) error {
	s := strings.TrimSpace(string(b))
	if s == "" {
		*d = 0
		return nil
	}
	v, err := time.ParseDuration(s)
	if err != nil {
		var ns int64
		if _, err2 := fmt.Sscan(s, &ns); err2 == nil {
			*d = Duration(ns)
			return nil
		}
		return fmt.Errorf("parse duration %q (want e.g. \"250ms\" or \"2s\"): %w", s, err)
	}
	*d = Duration(v)
	return nil
}

// UnmarshalJSON accepts a duration string or a number of nanoseconds.
func (d *Duration) UnmarshalJSON(b []byte) error {
	b = bytes.TrimSpace(b)
	if len(b) > 0 && b[0] == '"' {
		var s string
		if err := json.Unmarshal(b, &s); err != nil {
			return err
		}
		return d.UnmarshalText([]byte(s))
	}
	return d.UnmarshalText(b)
}

// WithDefaults returns a copy of c with every zero field that has a default
// filled in. Models' slices are copied, so the result shares no mutable
// state with c.
func (c Config) WithDefaults() Config {
	c.MaxTrackedPrompts = cmp.Or(c.MaxTrackedPrompts, MaxTrackedPromptsDefault)
	models := make([]Model, len(c.Models))
	for i, m := range c.Models {
		m.Identity = m.Identity.withDefaults(m.Name)
		m.Profile = m.Profile.withDefaults(c.Latency)
		ups := make([]Update, len(m.Updates))
		for j, u := range m.Updates {
			if u.Profile != nil {
				p := u.Profile.withDefaults(c.Latency)
				u.Profile = &p
			}
			if u.Identity != nil {
				id := *u.Identity
				u.Identity = &id
			}
			ups[j] = u
		}
		m.Updates = ups
		models[i] = m
	}
	c.Models = models
	return c
}

func (p Profile) withDefaults(lat Latency) Profile {
	if p.Latency.isZero() {
		p.Latency = lat
	}
	p.Errors.RetryAfter = cmp.Or(p.Errors.RetryAfter, Duration(RetryAfterDefault))
	p.Errors.HangFor = cmp.Or(p.Errors.HangFor, Duration(HangForDefault))
	p.Mixture = append([]Component(nil), p.Mixture...)
	return p
}

// validate reports every problem in c, naming the field.
func (c Config) validate() error {
	var errs []error
	if len(c.Models) == 0 {
		errs = append(errs, errors.New("models: at least one simulated model is required"))
	}
	if rl := c.RateLimit; rl.RequestsPerSecond < 0 || rl.TokensPerMinute < 0 || rl.Burst < 0 || rl.RequestsPerSecond != rl.RequestsPerSecond {
		errs = append(errs, errors.New("rate_limit: rates and burst must not be negative"))
	}
	seen := make(map[string]bool, len(c.Models))
	for i, m := range c.Models {
		field := fmt.Sprintf("models[%d]", i)
		if m.Name == "" {
			errs = append(errs, fmt.Errorf("%s.name: required", field))
		} else if seen[m.Name] {
			errs = append(errs, fmt.Errorf("%s.name: duplicate model name %q", field, m.Name))
		}
		seen[m.Name] = true
		errs = append(errs, m.Profile.validate(field+".profile"))
		for j, u := range m.Updates {
			uf := fmt.Sprintf("%s.updates[%d]", field, j)
			if u.Profile == nil && u.Identity == nil {
				errs = append(errs, fmt.Errorf("%s: set profile and/or identity, or remove the update", uf))
			}
			if u.AfterRequests < 0 || u.After < 0 {
				errs = append(errs, fmt.Errorf("%s: after_requests and after must not be negative", uf))
			}
			if u.Profile != nil {
				errs = append(errs, u.Profile.validate(uf+".profile"))
			}
		}
	}
	return errors.Join(errs...)
}

func (p Profile) validate(field string) error {
	var errs []error
	prob := func(name string, v float64) {
		if v < 0 || v > 1 || v != v {
			errs = append(errs, fmt.Errorf("%s.%s: %v is not a probability in [0, 1]", field, name, v))
		}
	}
	prob("accuracy", p.Accuracy)
	prob("collapse_fraction", p.CollapseFraction)
	prob("collapse_by", p.CollapseBy)
	prob("drop", p.Drop)
	prob("refusal", p.Refusal)
	prob("code_fence", p.CodeFence)
	prob("json_habit", p.JSONHabit)
	prob("broken_json", p.BrokenJSON)
	prob("length_rate", p.LengthRate)
	prob("content_filter_rate", p.ContentFilterRate)
	prob("errors.rate_limit", p.Errors.RateLimit)
	prob("errors.server", p.Errors.Server)
	prob("errors.malformed", p.Errors.Malformed)
	prob("errors.hang", p.Errors.Hang)
	if sum := p.Errors.RateLimit + p.Errors.Server + p.Errors.Malformed + p.Errors.Hang; sum > 1 {
		errs = append(errs, fmt.Errorf("%s.errors: rates sum to %v, more than 1", field, sum))
	}
	if p.Verbosity < 0 || p.Verbosity > 100 {
		errs = append(errs, fmt.Errorf("%s.verbosity: %v is outside [0, 100]", field, p.Verbosity))
	}
	if p.Latency.Fixed < 0 || p.Latency.Jitter < 0 {
		errs = append(errs, fmt.Errorf("%s.latency: must not be negative", field))
	}
	var total float64
	for i, c := range p.Mixture {
		cf := fmt.Sprintf("%s.mixture[%d]", field, i)
		if c.Weight < 0 {
			errs = append(errs, fmt.Errorf("%s.weight: must not be negative", cf))
		}
		total += c.Weight
		if c.Max > c.Min {
			if c.Min < 0 || c.Max > 1 {
				errs = append(errs, fmt.Errorf("%s: [min, max] must lie in [0, 1]", cf))
			}
		} else if c.P < 0 || c.P > 1 {
			errs = append(errs, fmt.Errorf("%s.p: %v is not a probability in [0, 1]", cf, c.P))
		}
	}
	if len(p.Mixture) > 0 && total <= 0 {
		errs = append(errs, fmt.Errorf("%s.mixture: weights must sum to more than 0", field))
	}
	return errors.Join(errs...)
}

// LoadConfig reads a simulator Config from a YAML or JSON file (JSON is
// chosen by a .json extension; YAML otherwise). Unknown fields are errors so
// a typo in a scenario file does not silently change a simulation.
func LoadConfig(path string) (Config, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return Config{}, fmt.Errorf("load simulator config: %w", err)
	}
	var c Config
	if strings.EqualFold(filepath.Ext(path), ".json") {
		dec := json.NewDecoder(bytes.NewReader(b))
		dec.DisallowUnknownFields()
		err = dec.Decode(&c)
	} else {
		dec := yaml.NewDecoder(bytes.NewReader(b))
		dec.KnownFields(true)
		err = dec.Decode(&c)
	}
	if err != nil {
		return Config{}, fmt.Errorf("load simulator config %s: %w", path, err)
	}
	if err := c.WithDefaults().validate(); err != nil {
		return Config{}, fmt.Errorf("load simulator config %s: %w", path, err)
	}
	return c, nil
}
