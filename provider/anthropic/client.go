// Package anthropic is the eval.Target for Anthropic's native Messages API
// (POST /v1/messages), plain and streaming (server-sent events), with the
// retry policy, timeouts, identity capture and cost shared by all
// providers. It is a small net/http client: the official SDK would add a
// large dependency for one endpoint.
package anthropic

import (
	"bufio"
	"bytes"
	"cmp"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"strings"
	"time"

	"github.com/driftwatch/driftwatch/eval"
	"github.com/driftwatch/driftwatch/provider"
)

// Defaults.
const (
	BaseURLDefault    = "https://api.anthropic.com"
	VersionDefault    = "2023-06-01"
	MaxTokensDefault  = 1024
	TimeoutDefault    = 60 * time.Second
	providerNameFixed = "anthropic"
)

// Config configures one Anthropic target. Zero values mean default.
type Config struct {
	// Name labels the target in identities, errors and logs. Default
	// "anthropic".
	Name string `json:"name,omitempty" yaml:"name"`
	// BaseURL is the API root, without /v1. Default BaseURLDefault.
	BaseURL string `json:"base_url,omitempty" yaml:"base_url"`
	// Model is the requested model. Required.
	Model string `json:"model" yaml:"model"`
	// APIKey is sent as x-api-key. Required. Never printed.
	APIKey provider.Secret `json:"api_key,omitempty" yaml:"api_key"`
	// APIVersion is the anthropic-version header. Default VersionDefault.
	APIVersion string `json:"api_version,omitempty" yaml:"api_version"`
	// MaxTokens is sent when a request sets none (the API requires it).
	// Default 1024.
	MaxTokens int `json:"max_tokens,omitempty" yaml:"max_tokens"`
	// Headers are added to every request (anthropic-beta, ...).
	Headers map[string]string `json:"headers,omitempty" yaml:"headers"`
	// Timeout bounds each HTTP attempt (streams included). Default 60s.
	Timeout time.Duration `json:"timeout,omitempty" yaml:"timeout"`
	// Retry is the retry policy; zero fields take provider.Retry defaults.
	Retry provider.Retry `json:"retry,omitempty" yaml:"retry"`
	// Prices overrides or extends provider.DefaultPrices. Nil: defaults.
	Prices *provider.Prices `json:"prices,omitempty" yaml:"prices"`
	// MaxIdleConnsPerHost sizes the connection pool. Default
	// provider.MaxIdleConnsPerHostDefault. Ignored with WithHTTPClient.
	MaxIdleConnsPerHost int `json:"max_idle_conns_per_host,omitempty" yaml:"max_idle_conns_per_host"`
}

// WithDefaults returns a copy of c with zero fields filled in.
func (c Config) WithDefaults() Config {
	c.Name = cmp.Or(c.Name, providerNameFixed)
	c.BaseURL = strings.TrimSuffix(strings.TrimRight(cmp.Or(c.BaseURL, BaseURLDefault), "/"), "/v1")
	c.APIVersion = cmp.Or(c.APIVersion, VersionDefault)
	c.MaxTokens = cmp.Or(c.MaxTokens, MaxTokensDefault)
	c.Timeout = cmp.Or(c.Timeout, TimeoutDefault)
	c.Retry = c.Retry.WithDefaults()
	return c
}

func (c Config) validate() error {
	switch {
	case !strings.HasPrefix(c.BaseURL, "http://") && !strings.HasPrefix(c.BaseURL, "https://"):
		return fmt.Errorf("base_url %q: must start with http:// or https://", c.BaseURL)
	case c.Model == "":
		return errors.New("model: required (e.g. claude-sonnet-4-20250514)")
	case c.APIKey == "" && c.BaseURL == strings.TrimSuffix(BaseURLDefault, "/"):
		// api.anthropic.com needs a key; a gateway or a local server may not.
		return errors.New("api_key: required (e.g. api_key: ${ANTHROPIC_API_KEY})")
	case c.MaxTokens < 0:
		return errors.New("max_tokens: must not be negative")
	case c.Timeout < 0:
		return errors.New("timeout: must not be negative")
	}
	return c.Retry.Validate()
}

// DoFunc sends one HTTP request: the client's HTTP boundary.
type DoFunc func(*http.Request) (*http.Response, error)

// Option adjusts a Client.
type Option func(*Client)

// WithHTTPClient sends requests through hc instead of a tuned default.
func WithHTTPClient(hc *http.Client) Option { return func(c *Client) { c.do = hc.Do } }

// WithDoFunc sends requests through f (tests, recorders).
func WithDoFunc(f DoFunc) Option { return func(c *Client) { c.do = f } }

// WithControl sends every attempt through ctl (pacing, circuit breaker,
// retry log) instead of a control of the client's own.
func WithControl(ctl *provider.Control) Option { return func(c *Client) { c.ctl = ctl } }

// WithBudget makes every call reserve its estimated cost from b first.
func WithBudget(b *provider.Budget) Option { return func(c *Client) { c.budget = b } }

// Client is an eval.Target for one Anthropic model. It is safe for
// concurrent use.
type Client struct {
	cfg      Config
	url      string
	do       DoFunc
	logger   *slog.Logger
	prices   provider.Prices
	budget   *provider.Budget
	estimate provider.EstimateFunc
	ctl      *provider.Control
}

// New returns a Client for cfg. logger may be nil.
func New(cfg Config, logger *slog.Logger, opts ...Option) (*Client, error) {
	cfg = cfg.WithDefaults()
	if err := cfg.validate(); err != nil {
		return nil, fmt.Errorf("anthropic target %q: %w", cfg.Name, err)
	}
	if logger == nil {
		logger = slog.New(slog.DiscardHandler)
	}
	c := &Client{
		cfg:    cfg,
		url:    cfg.BaseURL + "/v1/messages",
		logger: logger.With(slog.String("component", "provider/anthropic"), slog.String("target", cfg.Name), slog.String("model", cfg.Model)),
		prices: provider.DefaultPrices(),
	}
	if cfg.Prices != nil {
		c.prices = c.prices.With(*cfg.Prices)
	}
	c.estimate = c.prices.Estimator(cfg.Model, cfg.MaxTokens)
	for _, o := range opts {
		o(c)
	}
	if c.do == nil {
		c.do = (&http.Client{Transport: provider.NewTransport(cfg.MaxIdleConnsPerHost)}).Do
	}
	if c.ctl == nil {
		silence := max(provider.BreakerSilenceDefault, cfg.Timeout*2/3)
		c.ctl = provider.NewControl(provider.ControlConfig{Breaker: provider.BreakerConfig{Silence: silence}}, c.logger)
	}
	return c, nil
}

// Control returns the client's attempt control: its pacer statistics
// (time throttled), its breaker (Err says why it tripped).
func (c *Client) Control() *provider.Control { return c.ctl }

// Probe returns the identity known before any call: Anthropic exposes no
// identity endpoint, the resolved model comes with each response.
func (c *Client) Probe(context.Context) (eval.Identity, error) {
	return eval.Identity{Provider: "anthropic", RequestedModel: c.cfg.Model}, nil
}

// ProbeRequest returns the identity of one small completion (at most 16
// output tokens, through the client's budget, pacer and breaker): the
// resolved model a run's samples will carry, checked before the run fans
// out so that a pin mismatch stops it after one request.
func (c *Client) ProbeRequest(ctx context.Context) (eval.Identity, error) {
	resp, err := c.Complete(ctx, &eval.Request{
		Messages: []eval.Message{{Role: eval.RoleUser, Content: "Reply with the word OK."}},
		Params:   eval.Params{MaxTokens: 16},
	})
	if err != nil {
		return eval.Identity{Provider: "anthropic", RequestedModel: c.cfg.Model}, err
	}
	return resp.Identity, nil
}

// Wire types of the Messages API.

type contentBlock struct {
	Type      string          `json:"type"`
	Text      string          `json:"text,omitempty"`
	ID        string          `json:"id,omitempty"`
	Name      string          `json:"name,omitempty"`
	Input     json.RawMessage `json:"input,omitempty"`
	ToolUseID string          `json:"tool_use_id,omitempty"`
	Content   string          `json:"content,omitempty"`
}

type message struct {
	Role    string         `json:"role"`
	Content []contentBlock `json:"content"`
}

type tool struct {
	Name        string          `json:"name"`
	Description string          `json:"description,omitempty"`
	InputSchema json.RawMessage `json:"input_schema"`
}

type messagesRequest struct {
	Model         string    `json:"model"`
	MaxTokens     int       `json:"max_tokens"`
	System        string    `json:"system,omitempty"`
	Messages      []message `json:"messages"`
	Temperature   *float64  `json:"temperature,omitempty"`
	TopP          *float64  `json:"top_p,omitempty"`
	StopSequences []string  `json:"stop_sequences,omitempty"`
	Tools         []tool    `json:"tools,omitempty"`
	Stream        bool      `json:"stream,omitempty"`
}

type usage struct {
	InputTokens              int `json:"input_tokens"`
	OutputTokens             int `json:"output_tokens"`
	CacheCreationInputTokens int `json:"cache_creation_input_tokens,omitempty"`
	CacheReadInputTokens     int `json:"cache_read_input_tokens,omitempty"`
}

type messagesResponse struct {
	ID           string         `json:"id"`
	Type         string         `json:"type"`
	Role         string         `json:"role"`
	Model        string         `json:"model"`
	Content      []contentBlock `json:"content"`
	StopReason   string         `json:"stop_reason"`
	StopSequence *string        `json:"stop_sequence"`
	Usage        usage          `json:"usage"`
}

type errorBody struct {
	Type  string `json:"type"`
	Error struct {
		Type    string `json:"type"`
		Message string `json:"message"`
	} `json:"error"`
}

var emptySchema = json.RawMessage(`{"type":"object","properties":{}}`)

func (c *Client) buildBody(req *eval.Request) ([]byte, error) {
	mr := messagesRequest{
		Model:         c.cfg.Model,
		MaxTokens:     cmp.Or(req.Params.MaxTokens, c.cfg.MaxTokens),
		Temperature:   req.Params.Temperature,
		TopP:          req.Params.TopP,
		StopSequences: req.Params.Stop,
		Stream:        req.Stream,
	}
	var system []string
	for _, m := range req.Messages {
		switch m.Role {
		case eval.RoleSystem:
			system = append(system, m.Content)
		case eval.RoleTool:
			// Tool results travel in a user turn; consecutive ones share it.
			b := contentBlock{Type: "tool_result", ToolUseID: m.ToolCallID, Content: m.Content}
			if n := len(mr.Messages); n > 0 && mr.Messages[n-1].Role == eval.RoleUser && mr.Messages[n-1].Content[0].Type == "tool_result" {
				mr.Messages[n-1].Content = append(mr.Messages[n-1].Content, b)
			} else {
				mr.Messages = append(mr.Messages, message{Role: eval.RoleUser, Content: []contentBlock{b}})
			}
		default:
			msg := message{Role: m.Role}
			if m.Content != "" {
				msg.Content = append(msg.Content, contentBlock{Type: "text", Text: m.Content})
			}
			for _, tc := range m.ToolCalls {
				in := json.RawMessage(tc.Arguments)
				if !json.Valid(in) {
					in = json.RawMessage(`{}`)
				}
				msg.Content = append(msg.Content, contentBlock{Type: "tool_use", ID: tc.ID, Name: tc.Name, Input: in})
			}
			if len(msg.Content) == 0 {
				msg.Content = []contentBlock{{Type: "text", Text: ""}}
			}
			mr.Messages = append(mr.Messages, msg)
		}
	}
	mr.System = strings.Join(system, "\n\n")
	for _, t := range req.Tools {
		schema := t.Parameters
		if len(schema) == 0 {
			schema = emptySchema
		}
		mr.Tools = append(mr.Tools, tool{Name: t.Name, Description: t.Description, InputSchema: schema})
	}
	return json.Marshal(mr)
}

// Complete sends req to the Messages API. It retries 429, 5xx (529
// overloaded included), transport errors and per-attempt timeouts under
// cfg.Retry. Errors are *eval.TargetError.
func (c *Client) Complete(ctx context.Context, req *eval.Request) (*eval.Response, error) {
	if req == nil || len(req.Messages) == 0 {
		return nil, c.fail(1, &provider.AttemptError{Kind: eval.ErrBadRequest, Err: errors.New("request has no messages")})
	}
	var res *provider.Reservation
	if c.budget != nil {
		r, err := c.budget.Reserve(c.estimate(req))
		if err != nil {
			return nil, c.fail(0, err)
		}
		res = r
	}
	body, err := c.buildBody(req)
	if err != nil {
		return nil, c.fail(1, &provider.AttemptError{Kind: eval.ErrBadRequest, Err: fmt.Errorf("encode request: %w", err)})
	}
	var out *eval.Response
	est := provider.EstimateRequestTokens(req) + cmp.Or(req.Params.MaxTokens, c.cfg.MaxTokens)
	attempts, err := c.cfg.Retry.DoPaced(ctx, func(ctx context.Context, _ int) error {
		return c.ctl.Attempt(ctx, est, func(ctx context.Context) (provider.AttemptResult, error) {
			r, res, err := c.attempt(ctx, body, req)
			out = r
			if r != nil {
				res.UsedTokens = r.Usage.InputTokens + r.Usage.OutputTokens
			}
			return res, err
		})
	}, c.ctl.OnRetry)
	if err != nil {
		res.Settle(0)
		return nil, c.fail(attempts, err)
	}
	out.Attempts = attempts
	res.Settle(out.CostUSD)
	if attempts == 1 {
		c.logger.Debug("completion", slog.Duration("latency", out.Latency), slog.Int("output_tokens", out.Usage.OutputTokens))
	}
	return out, nil
}

func (c *Client) fail(attempts int, err error) *eval.TargetError {
	te := provider.NewTargetError(c.cfg.Name, c.cfg.Model, attempts, err)
	te.Provider, te.Model = c.cfg.Name, c.cfg.Model
	return te
}

func (c *Client) attempt(parent context.Context, body []byte, req *eval.Request) (*eval.Response, provider.AttemptResult, error) {
	var res provider.AttemptResult
	ctx, cancel := context.WithTimeout(parent, c.cfg.Timeout)
	defer cancel()
	start := time.Now()
	hr, err := http.NewRequestWithContext(ctx, http.MethodPost, c.url, bytes.NewReader(body))
	if err != nil {
		return nil, res, &provider.AttemptError{Kind: eval.ErrBadRequest, Err: err}
	}
	hr.Header.Set("Content-Type", "application/json")
	hr.Header.Set("x-api-key", c.cfg.APIKey.Reveal())
	hr.Header.Set("anthropic-version", c.cfg.APIVersion)
	if req.Stream {
		hr.Header.Set("Accept", "text/event-stream")
	} else {
		hr.Header.Set("Accept", "application/json")
	}
	for k, v := range c.cfg.Headers {
		hr.Header.Set(k, v)
	}
	resp, err := c.do(hr)
	if err != nil {
		return nil, res, c.transportErr(ctx, parent, 0, err, req)
	}
	res.Status, res.Header = resp.StatusCode, resp.Header
	defer resp.Body.Close()
	if resp.StatusCode >= 300 || !req.Stream {
		raw, err := provider.ReadBody(resp.Body, resp.ContentLength)
		if err != nil {
			return nil, res, c.transportErr(ctx, parent, resp.StatusCode, err, req)
		}
		if resp.StatusCode >= 300 {
			return nil, res, &provider.AttemptError{
				Kind:       provider.KindForStatus(resp.StatusCode),
				Status:     resp.StatusCode,
				RetryAfter: provider.RetryAfter(resp.Header, time.Now()),
				Err:        errors.New(c.errorMessage(resp.StatusCode, raw, req)),
			}
		}
		var mr messagesResponse
		if err := json.Unmarshal(raw, &mr); err != nil {
			return nil, res, &provider.AttemptError{Kind: eval.ErrMalformed, Status: resp.StatusCode,
				Err: fmt.Errorf("malformed JSON response body (%d bytes): %s", len(raw), provider.SafeMessage(err.Error(), req, c.cfg.APIKey))}
		}
		if mr.Type == "error" {
			return nil, res, c.bodyError(resp.StatusCode, raw, req)
		}
		out := c.response(&mr, raw, req)
		out.Latency = time.Since(start)
		return out, res, nil
	}
	out, err := c.readStream(resp, req)
	if err != nil {
		var ae *provider.AttemptError
		if errors.As(err, &ae) {
			return nil, res, ae
		}
		return nil, res, c.transportErr(ctx, parent, resp.StatusCode, err, req)
	}
	out.Latency = time.Since(start)
	return out, res, nil
}

func (c *Client) transportErr(ctx, parent context.Context, status int, err error, req *eval.Request) error {
	switch {
	case parent.Err() != nil:
		return &provider.AttemptError{Kind: eval.ErrCanceled, Status: status, Err: err}
	case ctx.Err() != nil:
		return &provider.AttemptError{Kind: eval.ErrTimeout, Status: status, Err: fmt.Errorf("no complete response within %s", c.cfg.Timeout)}
	}
	return &provider.AttemptError{Kind: eval.ErrTransport, Status: status, Err: errors.New(provider.SafeMessage(err.Error(), req, c.cfg.APIKey))}
}

func (c *Client) errorMessage(status int, raw []byte, req *eval.Request) string {
	var eb errorBody
	msg := http.StatusText(status)
	if json.Unmarshal(raw, &eb) == nil && eb.Error.Message != "" {
		msg = eb.Error.Type + ": " + eb.Error.Message
	}
	return provider.SafeMessage(msg, req, c.cfg.APIKey)
}

// errorKinds maps Anthropic error types to kinds, for errors that arrive
// in a 200 body or mid-stream where no status says it.
var errorKinds = map[string]eval.ErrorKind{
	"invalid_request_error": eval.ErrBadRequest,
	"authentication_error":  eval.ErrAuth,
	"permission_error":      eval.ErrAuth,
	"not_found_error":       eval.ErrBadRequest,
	"request_too_large":     eval.ErrBadRequest,
	"rate_limit_error":      eval.ErrRateLimited,
	"api_error":             eval.ErrServer,
	"overloaded_error":      eval.ErrServer,
}

func (c *Client) bodyError(status int, raw []byte, req *eval.Request) *provider.AttemptError {
	var eb errorBody
	_ = json.Unmarshal(raw, &eb) // the caller saw type "error"; fields may be missing
	kind, ok := errorKinds[eb.Error.Type]
	if !ok {
		kind = eval.ErrServer
	}
	return &provider.AttemptError{Kind: kind, Status: status,
		Err: errors.New(provider.SafeMessage(cmp.Or(eb.Error.Type, "error")+": "+eb.Error.Message, req, c.cfg.APIKey))}
}

// finishReasons maps stop_reason to the OpenAI-style finish reasons the
// checks compare; unknown reasons pass through unchanged.
var finishReasons = map[string]string{
	"end_turn":                      "stop",
	"stop_sequence":                 "stop",
	"max_tokens":                    "length",
	"model_context_window_exceeded": "length",
	"tool_use":                      "tool_calls",
	"refusal":                       "content_filter",
}

func (c *Client) response(mr *messagesResponse, raw []byte, req *eval.Request) *eval.Response {
	out := &eval.Response{
		Usage: eval.Usage{
			InputTokens:  mr.Usage.InputTokens + mr.Usage.CacheCreationInputTokens + mr.Usage.CacheReadInputTokens,
			OutputTokens: mr.Usage.OutputTokens,
		},
		Raw: raw,
	}
	var text strings.Builder
	for _, b := range mr.Content {
		switch b.Type {
		case "text":
			text.WriteString(b.Text)
		case "tool_use":
			args := string(b.Input)
			if args == "" {
				args = "{}"
			}
			out.ToolCalls = append(out.ToolCalls, eval.ToolCall{ID: b.ID, Name: b.Name, Arguments: args})
		}
	}
	out.Text = text.String()
	out.FinishReason = cmp.Or(finishReasons[mr.StopReason], mr.StopReason)
	if mr.Usage.InputTokens < 0 || mr.Usage.CacheCreationInputTokens < 0 || mr.Usage.CacheReadInputTokens < 0 {
		out.Usage.InputTokens = -1 // one lying part makes the sum implausible
	}
	out.Usage = provider.SanitizeUsage(out.Usage, req, out.Text, out.ToolCalls)
	out.Identity = eval.Identity{Provider: "anthropic", RequestedModel: c.cfg.Model, ResolvedModel: mr.Model,
		Extra: map[string]string{"anthropic_version": c.cfg.APIVersion}}
	// The original stop_reason stays in Raw: it describes this response,
	// not the model, so it is no part of the identity.
	out.CostUSD = c.prices.Cost(cmp.Or(mr.Model, c.cfg.Model), eval.Usage{InputTokens: out.Usage.InputTokens, OutputTokens: out.Usage.OutputTokens})
	return out
}

// readStream assembles a streamed message from its server-sent events.
func (c *Client) readStream(resp *http.Response, req *eval.Request) (*eval.Response, error) {
	var (
		mr      messagesResponse
		blocks  []contentBlock
		partial []strings.Builder
		done    bool
		started bool
	)
	sc := bufio.NewScanner(resp.Body)
	sc.Buffer(make([]byte, 0, 64<<10), provider.MaxBodyBytes)
	var data []byte
	dispatch := func() error {
		if len(data) == 0 {
			return nil
		}
		defer func() { data = data[:0] }()
		var ev struct {
			Type         string          `json:"type"`
			Message      json.RawMessage `json:"message"`
			Index        int             `json:"index"`
			ContentBlock contentBlock    `json:"content_block"`
			Delta        struct {
				Type         string  `json:"type"`
				Text         string  `json:"text"`
				PartialJSON  string  `json:"partial_json"`
				StopReason   string  `json:"stop_reason"`
				StopSequence *string `json:"stop_sequence"`
			} `json:"delta"`
			Usage *usage `json:"usage"`
		}
		if err := json.Unmarshal(data, &ev); err != nil {
			return &provider.AttemptError{Kind: eval.ErrMalformed, Status: resp.StatusCode,
				Err: fmt.Errorf("malformed stream event: %s", provider.SafeMessage(err.Error(), req, c.cfg.APIKey))}
		}
		switch ev.Type {
		case "message_start":
			started = true
			if err := json.Unmarshal(ev.Message, &mr); err != nil {
				return &provider.AttemptError{Kind: eval.ErrMalformed, Status: resp.StatusCode, Err: fmt.Errorf("malformed message_start: %w", err)}
			}
		case "content_block_start":
			for len(blocks) <= ev.Index {
				blocks = append(blocks, contentBlock{})
				partial = append(partial, strings.Builder{})
			}
			blocks[ev.Index] = ev.ContentBlock
		case "content_block_delta":
			if ev.Index >= len(blocks) {
				return &provider.AttemptError{Kind: eval.ErrMalformed, Status: resp.StatusCode, Err: fmt.Errorf("delta for unknown content block %d", ev.Index)}
			}
			switch ev.Delta.Type {
			case "text_delta":
				blocks[ev.Index].Text += ev.Delta.Text
			case "input_json_delta":
				partial[ev.Index].WriteString(ev.Delta.PartialJSON)
			}
		case "content_block_stop":
			if ev.Index < len(blocks) && blocks[ev.Index].Type == "tool_use" && partial[ev.Index].Len() > 0 {
				blocks[ev.Index].Input = json.RawMessage(partial[ev.Index].String())
			}
		case "message_delta":
			mr.StopReason = cmp.Or(ev.Delta.StopReason, mr.StopReason)
			mr.StopSequence = ev.Delta.StopSequence
			if ev.Usage != nil {
				mr.Usage.OutputTokens = ev.Usage.OutputTokens
				if ev.Usage.InputTokens > 0 {
					mr.Usage.InputTokens = ev.Usage.InputTokens
				}
			}
		case "message_stop":
			done = true
		case "error":
			return c.bodyError(resp.StatusCode, data, req)
		}
		return nil
	}
	for sc.Scan() {
		line := sc.Bytes()
		switch {
		case len(line) == 0:
			if err := dispatch(); err != nil {
				return nil, err
			}
			if done {
				return c.finishStream(&mr, blocks, req), nil
			}
		case bytes.HasPrefix(line, []byte("data:")):
			data = append(data, bytes.TrimPrefix(bytes.TrimPrefix(line, []byte("data:")), []byte(" "))...)
		}
	}
	if err := sc.Err(); err != nil {
		return nil, err
	}
	if err := dispatch(); err != nil {
		return nil, err
	}
	if !done {
		if !started {
			return nil, &provider.AttemptError{Kind: eval.ErrMalformed, Status: resp.StatusCode, Err: errors.New("stream has no message_start event")}
		}
		return nil, &provider.AttemptError{Kind: eval.ErrTransport, Status: resp.StatusCode, Err: io.ErrUnexpectedEOF}
	}
	return c.finishStream(&mr, blocks, req), nil
}

func (c *Client) finishStream(mr *messagesResponse, blocks []contentBlock, req *eval.Request) *eval.Response {
	mr.Content = blocks
	raw, _ := json.Marshal(mr) // plain structs: cannot fail
	return c.response(mr, raw, req)
}
