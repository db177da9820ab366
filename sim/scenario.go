package sim

import (
	"fmt"
	"strconv"
	"strings"
	"time"
)

// Scenario names accepted by Scenario.
const (
	ScenarioDefault      = "default"
	ScenarioSilentUpdate = "silent-update"
	ScenarioStable       = "stable"
	ScenarioFlaky        = "flaky"
)

// Scenarios lists the built-in scenario names.
func Scenarios() []string {
	return []string{ScenarioDefault, ScenarioSilentUpdate, ScenarioStable, ScenarioFlaky}
}

// Identities the built-in scenarios use, exported so tests and the demo can
// assert on them.
const (
	GPTName            = "sim-gpt"
	GPTResolved        = "sim-gpt-2024-08-06"
	GPTFingerprint     = "fp_sim_a1b2c3d4"
	GPTResolvedUpdated = "sim-gpt-2024-11-20"
	GPTFingerprintNew  = "fp_sim_e5f6a7b8"
	LlamaName          = "sim-llama"
	LlamaDigest        = "a80c4f17acd55265feec403c7aef86be0c25983ab279d83f3bcd3abbcb5b8b72"
)

// gptProfile is the closed-API-like model: a realistic spread of easy,
// hard and coin-flip cases.
func gptProfile() Profile {
	return Profile{
		Seed: 1,
		Mixture: []Component{
			{Weight: 0.6, P: 0.98},
			{Weight: 0.2, P: 0.05},
			{Weight: 0.2, Min: 0.2, Max: 0.8},
		},
		Refusal:   0.01,
		Verbosity: 0.5,
		CodeFence: 0.02,
	}
}

// gptUpdatedProfile is the same model after a silent update: the same case
// difficulties (same Seed) with 15% of cases collapsing, a small uniform
// drop, more refusals and more words.
func gptUpdatedProfile() Profile {
	p := gptProfile()
	p.CollapseFraction = 0.15
	p.CollapseBy = 0.6
	p.Drop = 0.03
	p.Refusal = 0.05
	p.Verbosity = 1.5
	p.CodeFence = 0.1
	return p
}

func gptModel() Model {
	return Model{
		Name: GPTName,
		Identity: Identity{
			ResolvedModel:     GPTResolved,
			SystemFingerprint: GPTFingerprint,
		},
		Profile: gptProfile(),
	}
}

// llamaModel is a pinned open model served by Ollama: its digest never
// changes and it answers at temperature 0.
func llamaModel() Model {
	return Model{
		Name: LlamaName,
		Identity: Identity{
			ResolvedModel: "sim-llama:8b-instruct-q4_K_M",
			Digest:        LlamaDigest,
			Family:        "llama",
			Quantization:  "Q4_K_M",
			ParameterSize: "8.0B",
			Root:          "sim/Sim-Llama-8B-Instruct",
			MaxModelLen:   8192,
			ModelPath:     "/models/sim-llama-8b-instruct.Q4_K_M.gguf",
			ModelHash:     "sha256:" + LlamaDigest,
			ModelID:       "sim/Sim-Llama-8B-Instruct",
			ModelSHA:      "0e9e39f249a16976918f6564b8830bc894c89659",
			DType:         "torch.bfloat16",
		},
		Profile: Profile{
			Seed: 2,
			Mixture: []Component{
				{Weight: 0.5, P: 0.95},
				{Weight: 0.3, P: 0.1},
				{Weight: 0.2, Min: 0.3, Max: 0.7},
			},
			Refusal:   0.005,
			Verbosity: 1,
		},
	}
}

// Scenario returns a built-in simulator configuration:
//
//   - "default": sim-gpt, a closed-API-like model (resolved model
//     GPTResolved, fingerprint GPTFingerprint, a 60/20/20 easy/hard/coin-flip
//     case mixture), and sim-llama, a pinned open model with an Ollama
//     identity (digest LlamaDigest, Q4_K_M, 8.0B). Nothing ever changes.
//   - "silent-update": as default, but sim-gpt has one manual update
//     ("silent-update") that degrades its profile (15% of cases collapse by
//     0.6, a 0.03 uniform drop, refusals 1%→5%, more verbose) and changes
//     its resolved model to GPTResolvedUpdated and fingerprint to
//     GPTFingerprintNew. Trigger it with (*Server).Update(GPTName) or
//     POST /sim/update?model=sim-gpt. "silent-update@N" makes it fire
//     automatically after N requests to sim-gpt; "silent-update@30s" after
//     that much wall-clock time.
//   - "stable": as default, but each model has a manual no-op update (same
//     profile and identity), so a harness can run the same trigger as for
//     silent-update and measure false alarms.
//   - "flaky": as default, with injected errors on both models: 10% 429
//     (Retry-After 1 s), 5% 500, 2% malformed bodies, 1% hangs of 5 s.
//
// Every scenario uses Seed 42 and fast mode (no latency).
func Scenario(name string) (Config, error) {
	base, arg, _ := strings.Cut(name, "@")
	cfg := Config{Seed: 42, Models: []Model{gptModel(), llamaModel()}}
	switch base {
	case ScenarioDefault:
	case ScenarioSilentUpdate:
		p := gptUpdatedProfile()
		u := Update{
			Name:     "silent-update",
			Profile:  &p,
			Identity: &Identity{ResolvedModel: GPTResolvedUpdated, SystemFingerprint: GPTFingerprintNew},
		}
		if arg != "" {
			if n, err := strconv.ParseInt(arg, 10, 64); err == nil && n > 0 {
				u.AfterRequests = n
			} else if d, err := time.ParseDuration(arg); err == nil && d > 0 {
				u.After = Duration(d)
			} else {
				return Config{}, fmt.Errorf("scenario %q: after @ give a request count or a duration, e.g. silent-update@500 or silent-update@30s", name)
			}
		}
		cfg.Models[0].Updates = []Update{u}
	case ScenarioStable:
		for i := range cfg.Models {
			p := cfg.Models[i].Profile
			cfg.Models[i].Updates = []Update{{Name: "no-op", Profile: &p}}
		}
	case ScenarioFlaky:
		for i := range cfg.Models {
			cfg.Models[i].Profile.Errors = Errors{
				RateLimit:  0.10,
				RetryAfter: Duration(time.Second),
				Server:     0.05,
				Malformed:  0.02,
				Hang:       0.01,
				HangFor:    Duration(5 * time.Second),
			}
		}
	default:
		return Config{}, fmt.Errorf("unknown simulator scenario %q (known: %s)", name, strings.Join(Scenarios(), ", "))
	}
	if arg != "" && base != ScenarioSilentUpdate {
		return Config{}, fmt.Errorf("scenario %q: only silent-update takes an @ trigger", name)
	}
	return cfg, nil
}
