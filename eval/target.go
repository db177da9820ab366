package eval

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"time"
)

// Target is a model endpoint under test. Provider packages (provider/openai,
// provider/anthropic, ...) satisfy it; the runner, eval.T and the checks only
// ever see this interface.
//
// Complete must honour ctx (cancellation and deadline) and must be safe for
// concurrent use. A non-nil error means no usable response was obtained after
// the provider's own retries; it should be (or wrap) a *TargetError so callers
// can classify it.
type Target interface {
	Complete(ctx context.Context, req *Request) (*Response, error)
}

// TargetFunc adapts a function to the Target interface.
type TargetFunc func(ctx context.Context, req *Request) (*Response, error)

// Complete calls f(ctx, req).
func (f TargetFunc) Complete(ctx context.Context, req *Request) (*Response, error) {
	return f(ctx, req)
}

// Roles of chat messages.
const (
	RoleSystem    = "system"
	RoleUser      = "user"
	RoleAssistant = "assistant"
	RoleTool      = "tool"
)

// Message is one chat message.
type Message struct {
	Role    string `json:"role"`
	Content string `json:"content"`
	// ToolCalls are the calls an assistant message made (multi-turn tool use).
	ToolCalls []ToolCall `json:"tool_calls,omitempty"`
	// ToolCallID links a tool-result message to the call it answers.
	ToolCallID string `json:"tool_call_id,omitempty"`
	// Name is the tool name for tool-result messages.
	Name string `json:"name,omitempty"`
}

// Tool is a function the model may call. Parameters is a JSON Schema object.
type Tool struct {
	Name        string          `json:"name"`
	Description string          `json:"description,omitempty"`
	Parameters  json.RawMessage `json:"parameters,omitempty"`
}

// ToolCall is one call the model made. Arguments is the raw JSON text the
// model produced (it may be invalid JSON: checks decide).
type ToolCall struct {
	ID        string `json:"id,omitempty"`
	Name      string `json:"name"`
	Arguments string `json:"arguments"`
}

// Params are sampling parameters. Nil pointers and zero values mean "provider
// default" and are not sent.
type Params struct {
	Temperature *float64 `json:"temperature,omitempty" yaml:"temperature"`
	TopP        *float64 `json:"top_p,omitempty" yaml:"top_p"`
	MaxTokens   int      `json:"max_tokens,omitempty" yaml:"max_tokens"`
	Seed        *int64   `json:"seed,omitempty" yaml:"seed"`
	Stop        []string `json:"stop,omitempty" yaml:"stop"`
}

// Merge returns p with every field that o sets overriding p's.
func (p Params) Merge(o Params) Params {
	if o.Temperature != nil {
		p.Temperature = o.Temperature
	}
	if o.TopP != nil {
		p.TopP = o.TopP
	}
	if o.MaxTokens != 0 {
		p.MaxTokens = o.MaxTokens
	}
	if o.Seed != nil {
		p.Seed = o.Seed
	}
	if o.Stop != nil {
		p.Stop = o.Stop
	}
	return p
}

// Request is one call to a Target.
type Request struct {
	Messages []Message `json:"messages"`
	Params   Params    `json:"params"`
	Tools    []Tool    `json:"tools,omitempty"`
	// Stream asks the provider to use its streaming API where it has one; the
	// response is still returned whole.
	Stream bool `json:"stream,omitempty"`
}

// Usage counts tokens as the provider reported them.
type Usage struct {
	InputTokens  int `json:"input_tokens"`
	OutputTokens int `json:"output_tokens"`
	// Estimated says the provider's reported counts were implausible
	// (negative or absurdly large) and were replaced by estimates.
	Estimated bool `json:"estimated,omitempty"`
}

// Identity says exactly which model answered. It is stored with every sample
// and in the identity history; a change is its own finding.
type Identity struct {
	Provider       string `json:"provider"`
	RequestedModel string `json:"requested_model"`
	// ResolvedModel is the model the response names (for example
	// "gpt-4o-2024-08-06" for a request of "gpt-4o").
	ResolvedModel string `json:"resolved_model,omitempty"`
	// Fingerprint is the backend configuration marker (OpenAI's
	// system_fingerprint) where the provider reports one.
	Fingerprint string `json:"fingerprint,omitempty"`
	// Digest pins an open model's weights: an Ollama digest, a TGI model_sha,
	// a vLLM revision, a llama.cpp file hash.
	Digest string `json:"digest,omitempty"`
	// Extra holds further identifying facts (quantization, dtype, API version
	// header, ...). Keys are snake_case.
	Extra map[string]string `json:"extra,omitempty"`
}

// Response is what a Target returns for one Request.
type Response struct {
	Text         string        `json:"text"`
	ToolCalls    []ToolCall    `json:"tool_calls,omitempty"`
	FinishReason string        `json:"finish_reason,omitempty"`
	Usage        Usage         `json:"usage"`
	Latency      time.Duration `json:"latency_ns"`
	CostUSD      float64       `json:"cost_usd,omitempty"`
	Identity     Identity      `json:"identity"`
	// Attempts is how many HTTP attempts the provider made (1 = no retry).
	Attempts int `json:"attempts,omitempty"`
	// Raw is the provider's response body (the last one, for streams the
	// assembled final chunk), kept for audit.
	Raw json.RawMessage `json:"-"`
}

// ErrorKind classifies why a Target call failed.
type ErrorKind string

// Error kinds. Retryable kinds have been retried by the provider before they
// reach the caller.
const (
	ErrRateLimited ErrorKind = "rate_limited" // 429 after retries
	ErrServer      ErrorKind = "server"       // 5xx after retries
	ErrTransport   ErrorKind = "transport"    // connection refused, reset, ...
	ErrTimeout     ErrorKind = "timeout"      // per-call timeout hit
	ErrBadRequest  ErrorKind = "bad_request"  // 4xx other than 429: not retried
	ErrAuth        ErrorKind = "auth"         // 401/403
	ErrMalformed   ErrorKind = "malformed"    // the body did not parse
	ErrIdentity    ErrorKind = "identity"     // a pinned identity did not match
	ErrBudget      ErrorKind = "budget"       // the run's cost cap was reached
	ErrCanceled    ErrorKind = "canceled"     // the run was stopped
	ErrPanic       ErrorKind = "panic"        // suite code panicked
	// ErrCircuitOpen: the target's circuit breaker stopped sending after
	// its recent calls all failed; the call was never sent.
	ErrCircuitOpen ErrorKind = "circuit_open"
)

// TargetError is a classified Target failure. Message never contains secrets
// or full prompts.
type TargetError struct {
	Kind     ErrorKind
	Provider string
	Model    string
	Status   int // HTTP status, 0 when none
	Attempts int
	Err      error
}

func (e *TargetError) Error() string {
	s := fmt.Sprintf("%s %s: %s", e.Provider, e.Model, e.Kind)
	if e.Status != 0 {
		s += fmt.Sprintf(" (HTTP %d)", e.Status)
	}
	if e.Attempts > 1 {
		s += fmt.Sprintf(" after %d attempts", e.Attempts)
	}
	if e.Err != nil {
		s += ": " + e.Err.Error()
	}
	return s
}

func (e *TargetError) Unwrap() error { return e.Err }

// KindOf returns the ErrorKind of err: the kind of a wrapped *TargetError,
// ErrCanceled or ErrTimeout for context errors, and ErrTransport otherwise.
func KindOf(err error) ErrorKind {
	var te *TargetError
	switch {
	case err == nil:
		return ""
	case errors.As(err, &te):
		return te.Kind
	case errors.Is(err, context.DeadlineExceeded):
		return ErrTimeout
	case errors.Is(err, context.Canceled):
		return ErrCanceled
	default:
		return ErrTransport
	}
}
