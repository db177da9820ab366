package provider

import (
	"strings"

	"github.com/driftwatch/driftwatch/eval"
)

// Price is what a model costs in USD per one million tokens.
type Price struct {
	Input  float64 `json:"input" yaml:"input"`
	Output float64 `json:"output" yaml:"output"`
}

// Prices maps a model name, or a prefix of one, to its price. Lookups take
// the longest matching prefix, so "gpt-4o" prices "gpt-4o-2024-08-06" while
// "gpt-4o-mini" keeps its own row. Models with no row cost 0 (local models).
//
// The defaults are list prices at the time of writing; override them in
// config: they change without notice.
type Prices map[string]Price

// DefaultPrices returns a fresh copy of the built-in table.
func DefaultPrices() Prices {
	return Prices{
		// OpenAI.
		"gpt-4o":        {2.50, 10.00},
		"gpt-4o-mini":   {0.15, 0.60},
		"gpt-4.1":       {2.00, 8.00},
		"gpt-4.1-mini":  {0.40, 1.60},
		"gpt-4.1-nano":  {0.10, 0.40},
		"gpt-4-turbo":   {10.00, 30.00},
		"gpt-3.5-turbo": {0.50, 1.50},
		"o1":            {15.00, 60.00},
		"o1-mini":       {1.10, 4.40},
		"o3":            {2.00, 8.00},
		"o3-mini":       {1.10, 4.40},
		"o4-mini":       {1.10, 4.40},
		// Anthropic.
		"claude-3-5-sonnet": {3.00, 15.00},
		"claude-3-7-sonnet": {3.00, 15.00},
		"claude-sonnet-4":   {3.00, 15.00},
		"claude-3-5-haiku":  {0.80, 4.00},
		"claude-3-haiku":    {0.25, 1.25},
		"claude-3-opus":     {15.00, 75.00},
		"claude-opus-4":     {15.00, 75.00},
		// Google.
		"gemini-1.5-flash":      {0.075, 0.30},
		"gemini-1.5-pro":        {1.25, 5.00},
		"gemini-2.0-flash":      {0.10, 0.40},
		"gemini-2.0-flash-lite": {0.075, 0.30},
		"gemini-2.5-flash":      {0.30, 2.50},
		"gemini-2.5-pro":        {1.25, 10.00},
		// Mistral.
		"mistral-large": {2.00, 6.00},
		"mistral-small": {0.20, 0.60},
		// Llama on Groq.
		"llama-3.3-70b-versatile": {0.59, 0.79},
		"llama-3.1-8b-instant":    {0.05, 0.08},
		"llama3-70b-8192":         {0.59, 0.79},
		"llama3-8b-8192":          {0.05, 0.08},
	}
}

// With returns a copy of p with o's rows added or replaced.
func (p Prices) With(o Prices) Prices {
	out := make(Prices, len(p)+len(o))
	for k, v := range p {
		out[k] = v
	}
	for k, v := range o {
		out[k] = v
	}
	return out
}

// Lookup returns the price of model: an exact row, else the longest row that
// is a prefix of it, else the same after dropping a vendor prefix such as
// "openai/" (OpenRouter) or "models/" (Gemini).
func (p Prices) Lookup(model string) (Price, bool) {
	for {
		if pr, ok := p[model]; ok {
			return pr, true
		}
		best, bestLen := Price{}, 0
		for k, v := range p {
			if len(k) > bestLen && strings.HasPrefix(model, k) {
				best, bestLen = v, len(k)
			}
		}
		if bestLen > 0 {
			return best, true
		}
		i := strings.LastIndexByte(model, '/')
		if i < 0 {
			return Price{}, false
		}
		model = model[i+1:]
	}
}

// Cost returns the USD cost of usage on model, 0 for unknown models. It is
// never negative: negative counts and prices count as 0, so no response can
// give money back to a budget.
func (p Prices) Cost(model string, u eval.Usage) float64 {
	pr, ok := p.Lookup(model)
	if !ok {
		return 0
	}
	c := (float64(max(u.InputTokens, 0))*max(pr.Input, 0) + float64(max(u.OutputTokens, 0))*max(pr.Output, 0)) / 1e6
	if !(c >= 0) { // NaN from a NaN price
		return 0
	}
	return c
}

// Cost prices usage on model with the default table.
func Cost(model string, u eval.Usage) float64 { return DefaultPrices().Cost(model, u) }
