package openai

import "sort"

// Flavors of OpenAI-compatible endpoints.
const (
	FlavorOpenAI          = "openai"
	FlavorAzure           = "azure"
	FlavorGemini          = "gemini"
	FlavorAnthropicOpenAI = "anthropic-openai"
	FlavorMistral         = "mistral"
	FlavorGroq            = "groq"
	FlavorTogether        = "together"
	FlavorOpenRouter      = "openrouter"
	FlavorVLLM            = "vllm"
	FlavorOllama          = "ollama"
	FlavorLlamaCPP        = "llamacpp"
	FlavorTGI             = "tgi"
	FlavorLMStudio        = "lmstudio"
)

// Auth header styles.
const (
	AuthBearer = "bearer"  // Authorization: Bearer <key>
	AuthAPIKey = "api-key" // api-key: <key> (Azure)
)

// Probe kinds: which identity endpoint an open server exposes.
const (
	ProbeNone     = ""
	ProbeOllama   = "ollama"   // POST /api/show, GET /api/tags
	ProbeVLLM     = "vllm"     // GET /v1/models
	ProbeLlamaCPP = "llamacpp" // GET /props
	ProbeTGI      = "tgi"      // GET /info
)

// FlavorDefaults describes how one OpenAI-compatible endpoint family
// differs from api.openai.com.
type FlavorDefaults struct {
	// BaseURL is the OpenAI-compatible root ("…/v1"); for Azure the
	// resource endpoint, which has no sensible default.
	BaseURL string
	// Auth is AuthBearer or AuthAPIKey.
	Auth string
	// KeyRequired says calls fail without an API key.
	KeyRequired bool
	// DeploymentInPath puts the deployment in the URL
	// (…/openai/deployments/{deployment}/chat/completions) and APIVersion
	// in the api-version query parameter (Azure).
	DeploymentInPath bool
	// APIVersion is the default api-version query parameter.
	APIVersion string
	// StreamUsage sends stream_options.include_usage so streams report
	// token usage.
	StreamUsage bool
	// Probe is the identity endpoint family, ProbeNone for closed APIs
	// whose identity comes from responses only.
	Probe string
	// IdentityHeaders are response headers recorded in Identity.Extra.
	IdentityHeaders []string
}

// AzureAPIVersionDefault is the Azure OpenAI api-version used when Config
// sets none (the GA data-plane version current at the time of writing).
const AzureAPIVersionDefault = "2024-10-21"

// Flavors returns the known flavors and their defaults. The map is fresh:
// callers may modify it.
func Flavors() map[string]FlavorDefaults {
	openaiHeaders := []string{"openai-version"}
	return map[string]FlavorDefaults{
		FlavorOpenAI:          {BaseURL: "https://api.openai.com/v1", Auth: AuthBearer, KeyRequired: true, StreamUsage: true, IdentityHeaders: openaiHeaders},
		FlavorAzure:           {Auth: AuthAPIKey, KeyRequired: true, DeploymentInPath: true, APIVersion: AzureAPIVersionDefault, StreamUsage: true, IdentityHeaders: []string{"openai-version", "x-ms-region", "azureml-model-deployment"}},
		FlavorGemini:          {BaseURL: "https://generativelanguage.googleapis.com/v1beta/openai", Auth: AuthBearer, KeyRequired: true, StreamUsage: true},
		FlavorAnthropicOpenAI: {BaseURL: "https://api.anthropic.com/v1", Auth: AuthBearer, KeyRequired: true, StreamUsage: true, IdentityHeaders: []string{"anthropic-version"}},
		FlavorMistral:         {BaseURL: "https://api.mistral.ai/v1", Auth: AuthBearer, KeyRequired: true},
		FlavorGroq:            {BaseURL: "https://api.groq.com/openai/v1", Auth: AuthBearer, KeyRequired: true, StreamUsage: true, IdentityHeaders: []string{"x-groq-region"}},
		FlavorTogether:        {BaseURL: "https://api.together.xyz/v1", Auth: AuthBearer, KeyRequired: true, StreamUsage: true},
		FlavorOpenRouter:      {BaseURL: "https://openrouter.ai/api/v1", Auth: AuthBearer, KeyRequired: true, StreamUsage: true},
		FlavorVLLM:            {BaseURL: "http://localhost:8000/v1", Auth: AuthBearer, StreamUsage: true, Probe: ProbeVLLM},
		FlavorOllama:          {BaseURL: "http://localhost:11434/v1", Auth: AuthBearer, StreamUsage: true, Probe: ProbeOllama},
		FlavorLlamaCPP:        {BaseURL: "http://localhost:8080/v1", Auth: AuthBearer, Probe: ProbeLlamaCPP},
		FlavorTGI:             {BaseURL: "http://localhost:8080/v1", Auth: AuthBearer, Probe: ProbeTGI},
		FlavorLMStudio:        {BaseURL: "http://localhost:1234/v1", Auth: AuthBearer},
	}
}

func flavorNames() []string {
	fl := Flavors()
	names := make([]string, 0, len(fl))
	for k := range fl {
		names = append(names, k)
	}
	sort.Strings(names)
	return names
}
