// Package openai is the eval.Target for every OpenAI-compatible chat
// completions endpoint: OpenAI, Azure OpenAI, the Gemini and Anthropic
// compatibility endpoints, Mistral, Groq, Together, OpenRouter, and open
// servers (vLLM, Ollama, llama.cpp server, TGI, LM Studio). It speaks the
// wire format through github.com/sashabaranov/go-openai and adds retries,
// per-call timeouts, identity capture and cost.
//
// Open servers also expose the pinned artifact they serve; Probe reads it
// from the server's own endpoint (Ollama /api/show, vLLM /v1/models,
// llama.cpp /props, TGI /info).
package openai

import (
	"bytes"
	"cmp"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"math"
	"net/http"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	goopenai "github.com/sashabaranov/go-openai"
	"golang.org/x/oauth2"

	"github.com/driftwatch/driftwatch/eval"
	"github.com/driftwatch/driftwatch/provider"
)

// TimeoutDefault is the per-attempt timeout when Config sets none.
const TimeoutDefault = 60 * time.Second

// Config configures one OpenAI-compatible target. Zero values mean default.
type Config struct {
	// Name labels the target in identities, errors and logs. Default: the
	// flavor.
	Name string `json:"name,omitempty" yaml:"name"`
	// Flavor is one of Flavors(). Default "openai".
	Flavor string `json:"flavor,omitempty" yaml:"flavor"`
	// BaseURL is the OpenAI-compatible root, usually ending in /v1; for
	// Azure the resource endpoint (https://NAME.openai.azure.com). Default:
	// the flavor's; required for Azure.
	BaseURL string `json:"base_url,omitempty" yaml:"base_url"`
	// Model is the requested model. Required, except for Azure where it
	// defaults to Deployment.
	Model string `json:"model" yaml:"model"`
	// APIKey authenticates; required by closed APIs. Never printed.
	APIKey provider.Secret `json:"api_key,omitempty" yaml:"api_key"`
	// APIVersion is Azure's api-version. Default AzureAPIVersionDefault.
	APIVersion string `json:"api_version,omitempty" yaml:"api_version"`
	// Deployment is the Azure deployment name. Default: Model.
	Deployment string `json:"deployment,omitempty" yaml:"deployment"`
	// Headers are added to every request (OpenRouter's HTTP-Referer, a
	// gateway's routing header, ...). Values are not logged.
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
	// IdentityHeaders are extra response headers to record in
	// Identity.Extra, besides the flavor's.
	IdentityHeaders []string `json:"identity_headers,omitempty" yaml:"identity_headers"`
}

// WithDefaults returns a copy of c with zero fields filled in.
func (c Config) WithDefaults() Config {
	c.Flavor = cmp.Or(c.Flavor, FlavorOpenAI)
	c.Name = cmp.Or(c.Name, c.Flavor)
	if fl, ok := Flavors()[c.Flavor]; ok {
		c.BaseURL = cmp.Or(c.BaseURL, fl.BaseURL)
		if fl.DeploymentInPath {
			c.APIVersion = cmp.Or(c.APIVersion, fl.APIVersion)
			c.Deployment = cmp.Or(c.Deployment, c.Model)
			c.Model = cmp.Or(c.Model, c.Deployment)
		}
	}
	c.Timeout = cmp.Or(c.Timeout, TimeoutDefault)
	c.Retry = c.Retry.WithDefaults()
	return c
}

func (c Config) validate() error {
	fl, ok := Flavors()[c.Flavor]
	switch {
	case !ok:
		return fmt.Errorf("flavor %q: unknown, want one of %s", c.Flavor, strings.Join(flavorNames(), ", "))
	case c.BaseURL == "":
		return fmt.Errorf("base_url: required for flavor %q (https://RESOURCE.openai.azure.com for azure)", c.Flavor)
	case !strings.HasPrefix(c.BaseURL, "http://") && !strings.HasPrefix(c.BaseURL, "https://"):
		return fmt.Errorf("base_url %q: must start with http:// or https://", c.BaseURL)
	case c.Model == "":
		return errors.New("model: required")
	case fl.KeyRequired && c.APIKey == "" && strings.TrimRight(c.BaseURL, "/") == strings.TrimRight(fl.BaseURL, "/"):
		// The vendor's own endpoint needs a key; a gateway, a proxy or a
		// local replay server at another base URL may not.
		return fmt.Errorf("api_key: required for flavor %q (set it, e.g. api_key: ${API_KEY})", c.Flavor)
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

// WithTokenSource authenticates every request with a bearer token from ts
// instead of the API key: Microsoft Entra ID (Azure AD) tokens for Azure
// OpenAI. ts should cache tokens until they expire (oauth2's token sources
// do); a token that cannot be fetched fails the attempt, which is retried.
func WithTokenSource(ts oauth2.TokenSource) Option { return func(c *Client) { c.tokens = ts } }

// WithControl sends every attempt through ctl (pacing, circuit breaker,
// retry log) instead of a control of the client's own: share one between
// clients of the same target.
func WithControl(ctl *provider.Control) Option { return func(c *Client) { c.ctl = ctl } }

// WithBudget makes every call reserve its estimated cost from b first; once
// b is exhausted calls fail fast with eval.ErrBudget.
func WithBudget(b *provider.Budget) Option { return func(c *Client) { c.budget = b } }

// Client is an eval.Target for one model on one OpenAI-compatible endpoint.
// It is safe for concurrent use.
type Client struct {
	name, model string
	cfg         Config
	fl          FlavorDefaults
	api         *goopenai.Client
	do          DoFunc
	logger      *slog.Logger
	prices      provider.Prices
	budget      *provider.Budget
	tokens      oauth2.TokenSource
	estimate    provider.EstimateFunc
	ctl         *provider.Control
	// probed is the open server's identity once Probe succeeded (see
	// Probe); probeMu and probeFailed pace ensureProbed.
	probed      atomic.Pointer[eval.Identity]
	probeMu     sync.Mutex
	probeFailed time.Time
	idHeaders   []idHeader
	reasoning   bool
	// fast: plain requests skip go-openai (fast.go), to chatURL with auth.
	fast          bool
	chatURL, auth string
}

type idHeader struct{ canonical, key string }

// New returns a Client for cfg. logger may be nil.
func New(cfg Config, logger *slog.Logger, opts ...Option) (*Client, error) {
	cfg = cfg.WithDefaults()
	if err := cfg.validate(); err != nil {
		return nil, fmt.Errorf("openai target %q: %w", cfg.Name, err)
	}
	if logger == nil {
		logger = slog.New(slog.DiscardHandler)
	}
	fl := Flavors()[cfg.Flavor]
	c := &Client{
		name:   cfg.Name,
		model:  cfg.Model,
		cfg:    cfg,
		fl:     fl,
		logger: logger.With(slog.String("component", "provider/openai"), slog.String("target", cfg.Name), slog.String("model", cfg.Model)),
		prices: provider.DefaultPrices(),
	}
	if cfg.Prices != nil {
		c.prices = c.prices.With(*cfg.Prices)
	}
	c.estimate = c.prices.Estimator(cfg.Model, 1024)
	for _, h := range append(append([]string(nil), fl.IdentityHeaders...), cfg.IdentityHeaders...) {
		c.idHeaders = append(c.idHeaders, idHeader{
			canonical: http.CanonicalHeaderKey(h),
			key:       strings.ReplaceAll(strings.ToLower(h), "-", "_"),
		})
	}
	m := strings.ToLower(cfg.Model)
	c.reasoning = strings.HasPrefix(m, "o1") || strings.HasPrefix(m, "o3") || strings.HasPrefix(m, "o4") || strings.HasPrefix(m, "gpt-5")
	c.fast = fastEligible(fl, cfg.Model, c.reasoning)
	c.chatURL = strings.TrimRight(cfg.BaseURL, "/") + "/chat/completions"
	if k := cfg.APIKey.Reveal(); k != "" {
		c.auth = "Bearer " + k
	}
	for _, o := range opts {
		o(c)
	}
	if c.tokens != nil {
		c.fast = false // the fast path sends the static key
	}
	if c.ctl == nil {
		c.ctl = provider.NewControl(provider.ControlConfig{Breaker: provider.BreakerConfig{Silence: silenceFor(cfg.Timeout)}}, c.logger)
	}
	if c.do == nil {
		c.do = (&http.Client{Transport: provider.NewTransport(cfg.MaxIdleConnsPerHost)}).Do
	}

	var oc goopenai.ClientConfig
	if fl.DeploymentInPath {
		oc = goopenai.DefaultAzureConfig(cfg.APIKey.Reveal(), cfg.BaseURL)
		oc.APIVersion = cfg.APIVersion
		deployment := cfg.Deployment
		oc.AzureModelMapperFunc = func(string) string { return deployment }
	} else {
		oc = goopenai.DefaultConfig(cfg.APIKey.Reveal())
		oc.BaseURL = strings.TrimRight(cfg.BaseURL, "/")
	}
	oc.HTTPClient = &doer{do: c.do, headers: cfg.Headers, tokens: c.tokens}
	c.api = goopenai.NewClientWithConfig(oc)
	return c, nil
}

// silenceFor is how long a target may leave every call unanswered before
// its breaker trips: the default, or two thirds of a longer attempt
// timeout.
func silenceFor(timeout time.Duration) time.Duration {
	return max(provider.BreakerSilenceDefault, timeout*2/3)
}

// Control returns the client's attempt control: its pacer statistics
// (time throttled), its breaker (Err says why it tripped).
func (c *Client) Control() *provider.Control { return c.ctl }

// Name returns the target's label.
func (c *Client) Name() string { return c.name }

// Model returns the requested model.
func (c *Client) Model() string { return c.model }

// captureKey carries the per-attempt capture from Complete to the doer,
// through go-openai, which exposes neither the raw body nor the status of a
// response it could not decode.
type captureKey struct{}

type capture struct {
	stream bool
	sent   bool
	status int
	header http.Header
	body   []byte
}

// doer is the go-openai HTTPDoer: it adds configured headers and records
// the status, headers and (for non-streams) the body of each response.
type doer struct {
	do      DoFunc
	headers map[string]string
	tokens  oauth2.TokenSource // nil: the API key authenticates
}

func (d *doer) Do(req *http.Request) (*http.Response, error) {
	for k, v := range d.headers {
		req.Header.Set(k, v)
	}
	if d.tokens != nil {
		tok, err := d.tokens.Token()
		if err != nil {
			return nil, fmt.Errorf("fetch an access token: %w", err)
		}
		req.Header.Del("api-key")
		tok.SetAuthHeader(req)
	}
	cp, _ := req.Context().Value(captureKey{}).(*capture)
	if cp != nil {
		cp.sent = true
	}
	resp, err := d.do(req)
	if err != nil || cp == nil {
		return resp, err
	}
	cp.status, cp.header = resp.StatusCode, resp.Header
	if cp.stream && resp.StatusCode < 300 {
		return resp, nil
	}
	body, err := provider.ReadBody(resp.Body, resp.ContentLength)
	resp.Body.Close()
	if err != nil {
		return nil, fmt.Errorf("read response body: %w", err)
	}
	cp.body = body
	resp.Body = io.NopCloser(bytes.NewReader(body))
	return resp, nil
}

// Complete sends req and returns the first choice. It retries 429, 5xx,
// transport errors and per-attempt timeouts under cfg.Retry. Errors are
// *eval.TargetError.
func (c *Client) Complete(ctx context.Context, req *eval.Request) (*eval.Response, error) {
	if req == nil || len(req.Messages) == 0 {
		return nil, c.fail(1, &provider.AttemptError{Kind: eval.ErrBadRequest, Err: errors.New("request has no messages")})
	}
	c.ensureProbed(ctx)
	var res *provider.Reservation
	if c.budget != nil {
		r, err := c.budget.Reserve(c.estimate(req))
		if err != nil {
			return nil, c.fail(0, err)
		}
		res = r
	}
	var (
		creq goopenai.ChatCompletionRequest
		body []byte
	)
	if c.fastRequest(req) {
		// Not pooled: a transport may read a body after RoundTrip returns.
		body = c.appendRequest(make([]byte, 0, c.bodySize(req)), req)
	} else {
		creq = c.buildRequest(req)
	}
	var out *eval.Response
	est := provider.EstimateRequestTokens(req) + expectedOutput(req)
	attempts, err := c.cfg.Retry.DoPaced(ctx, func(ctx context.Context, n int) error {
		return c.ctl.Attempt(ctx, est, func(ctx context.Context) (provider.AttemptResult, error) {
			r, cp, err := c.attempt(ctx, &creq, body, req)
			out = r
			res := provider.AttemptResult{Status: cp.status, Header: cp.header}
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
	te := provider.NewTargetError(c.name, c.model, attempts, err)
	te.Provider, te.Model = c.name, c.model
	return te
}

// expectedOutput is the output a request is charged against a token rate
// limit before it is sent: its max_tokens, as providers count it (0 when
// unset: the pacer charges what the response used beyond the charge).
func expectedOutput(req *eval.Request) int {
	return max(req.Params.MaxTokens, 0)
}

// attempt sends one try: body (the fast path) if not nil, else creq
// through go-openai.
func (c *Client) attempt(parent context.Context, creq *goopenai.ChatCompletionRequest, body []byte, req *eval.Request) (*eval.Response, *capture, error) {
	ctx, cancel := context.WithTimeout(parent, c.cfg.Timeout)
	defer cancel()
	cp := &capture{stream: creq.Stream}
	if body == nil {
		ctx = context.WithValue(ctx, captureKey{}, cp)
	}
	start := time.Now()
	var (
		out *eval.Response
		err error
	)
	switch {
	case body != nil:
		out, err = c.plainFast(ctx, body, cp, req)
	case creq.Stream:
		out, err = c.stream(ctx, *creq, cp, req)
	default:
		out, err = c.plain(ctx, *creq, cp, req)
	}
	if err != nil {
		return nil, cp, c.classify(ctx, parent, err, cp, req)
	}
	out.Latency = time.Since(start)
	return out, cp, nil
}

// classify turns the error of one attempt into an *provider.AttemptError.
func (c *Client) classify(ctx, parent context.Context, err error, cp *capture, req *eval.Request) error {
	var ae *provider.AttemptError
	switch {
	case errors.As(err, &ae):
		return ae
	case parent.Err() != nil:
		return &provider.AttemptError{Kind: eval.ErrCanceled, Err: err}
	case ctx.Err() != nil:
		return &provider.AttemptError{Kind: eval.ErrTimeout, Status: cp.status,
			Err: fmt.Errorf("no complete response within %s", c.cfg.Timeout)}
	case !cp.sent:
		// go-openai rejected the request before sending it.
		return &provider.AttemptError{Kind: eval.ErrBadRequest, Err: fmt.Errorf("request rejected by client: %w", err)}
	case cp.status == 0:
		return &provider.AttemptError{Kind: eval.ErrTransport, Err: c.scrub(err, req)}
	case cp.status >= 300:
		return &provider.AttemptError{
			Kind:       provider.KindForStatus(cp.status),
			Status:     cp.status,
			RetryAfter: provider.RetryAfter(cp.header, time.Now()),
			Err:        errors.New(c.errorMessage(err, cp, req)),
		}
	}
	// A 2xx whose body go-openai could not use.
	var apiErr *goopenai.APIError
	var syn *json.SyntaxError
	var typ *json.UnmarshalTypeError
	switch {
	case errors.As(err, &apiErr):
		// An error object inside a 200 stream.
		kind := eval.ErrServer
		if apiErr.HTTPStatusCode >= 400 {
			kind = provider.KindForStatus(apiErr.HTTPStatusCode)
		}
		return &provider.AttemptError{Kind: kind, Status: cp.status,
			Err: fmt.Errorf("error in stream: %s", provider.SafeMessage(apiErr.Message, req, c.cfg.APIKey))}
	case cp.stream && !errors.As(err, &syn) && !errors.As(err, &typ) && !errors.Is(err, goopenai.ErrTooManyEmptyStreamMessages):
		return &provider.AttemptError{Kind: eval.ErrTransport, Status: cp.status, Err: fmt.Errorf("read stream: %w", c.scrub(err, req))}
	case cp.stream:
		return &provider.AttemptError{Kind: eval.ErrMalformed, Status: cp.status,
			Err: fmt.Errorf("malformed stream chunk: %s", provider.SafeMessage(err.Error(), req, c.cfg.APIKey))}
	}
	return &provider.AttemptError{Kind: eval.ErrMalformed, Status: cp.status,
		Err: fmt.Errorf("malformed JSON response body (%d bytes): %s", len(cp.body), provider.SafeMessage(err.Error(), req, c.cfg.APIKey))}
}

func (c *Client) scrub(err error, req *eval.Request) error {
	return errors.New(provider.SafeMessage(err.Error(), req, c.cfg.APIKey))
}

// errorMessage extracts the server's explanation from an error response.
func (c *Client) errorMessage(err error, cp *capture, req *eval.Request) string {
	var msg string
	var apiErr *goopenai.APIError
	if errors.As(err, &apiErr) && apiErr.Message != "" {
		msg = apiErr.Message
		if apiErr.Type != "" {
			msg = apiErr.Type + ": " + msg
		}
	} else {
		msg = bodyMessage(cp.body)
	}
	if msg == "" {
		msg = http.StatusText(cp.status)
	}
	return provider.SafeMessage(msg, req, c.cfg.APIKey)
}

// bodyMessage finds a message in the error shapes OpenAI-compatible servers
// use: {"error":{"message":…}}, {"error":"…"} (Ollama, TGI), {"message":…},
// {"detail":…} (vLLM validation errors).
func bodyMessage(body []byte) string {
	var v struct {
		Error   json.RawMessage `json:"error"`
		Message string          `json:"message"`
		Detail  json.RawMessage `json:"detail"`
	}
	if json.Unmarshal(body, &v) != nil {
		if len(body) > 0 && len(body) < 200 && !bytes.ContainsAny(body, "{<") {
			return string(body)
		}
		return ""
	}
	if len(v.Error) > 0 {
		var s string
		if json.Unmarshal(v.Error, &s) == nil {
			return s
		}
		var o struct {
			Message string `json:"message"`
			Type    string `json:"type"`
		}
		if json.Unmarshal(v.Error, &o) == nil && o.Message != "" {
			if o.Type != "" {
				return o.Type + ": " + o.Message
			}
			return o.Message
		}
	}
	if v.Message != "" {
		return v.Message
	}
	if len(v.Detail) > 0 {
		return string(v.Detail)
	}
	return ""
}

func (c *Client) buildRequest(req *eval.Request) goopenai.ChatCompletionRequest {
	msgs := make([]goopenai.ChatCompletionMessage, len(req.Messages))
	for i, m := range req.Messages {
		msgs[i] = goopenai.ChatCompletionMessage{Role: m.Role, Content: m.Content, Name: m.Name, ToolCallID: m.ToolCallID}
		if len(m.ToolCalls) > 0 {
			msgs[i].ToolCalls = make([]goopenai.ToolCall, len(m.ToolCalls))
			for j, tc := range m.ToolCalls {
				msgs[i].ToolCalls[j] = goopenai.ToolCall{ID: tc.ID, Type: goopenai.ToolTypeFunction,
					Function: goopenai.FunctionCall{Name: tc.Name, Arguments: tc.Arguments}}
			}
		}
	}
	cr := goopenai.ChatCompletionRequest{Model: c.model, Messages: msgs, Stream: req.Stream, Stop: req.Params.Stop}
	p := req.Params
	if p.Temperature != nil {
		t := float32(*p.Temperature)
		if t == 0 && !c.reasoning {
			// go-openai omits a zero temperature; the smallest positive
			// float32 is greedy decoding on every server we know.
			t = math.SmallestNonzeroFloat32
		}
		cr.Temperature = t
	}
	if p.TopP != nil {
		cr.TopP = float32(*p.TopP)
	}
	if p.Seed != nil {
		s := int(*p.Seed)
		cr.Seed = &s
	}
	if p.MaxTokens > 0 {
		if c.reasoning {
			cr.MaxCompletionTokens = p.MaxTokens
		} else {
			//lint:ignore SA1019 max_tokens is what OpenAI-compatible servers (vLLM, Ollama, TGI, ...) read
			cr.MaxTokens = p.MaxTokens
		}
	}
	if len(req.Tools) > 0 {
		cr.Tools = make([]goopenai.Tool, len(req.Tools))
		for i, t := range req.Tools {
			fd := &goopenai.FunctionDefinition{Name: t.Name, Description: t.Description}
			if len(t.Parameters) > 0 {
				fd.Parameters = t.Parameters
			}
			cr.Tools[i] = goopenai.Tool{Type: goopenai.ToolTypeFunction, Function: fd}
		}
	}
	if req.Stream && c.fl.StreamUsage {
		cr.StreamOptions = &goopenai.StreamOptions{IncludeUsage: true}
	}
	return cr
}

func (c *Client) plain(ctx context.Context, creq goopenai.ChatCompletionRequest, cp *capture, req *eval.Request) (*eval.Response, error) {
	r, err := c.api.CreateChatCompletion(ctx, creq)
	if err != nil {
		return nil, err
	}
	if len(r.Choices) == 0 {
		return nil, &provider.AttemptError{Kind: eval.ErrMalformed, Status: cp.status, Err: errors.New("response has no choices")}
	}
	ch := r.Choices[0]
	out := &eval.Response{
		Text:         ch.Message.Content,
		FinishReason: string(ch.FinishReason),
		Usage:        eval.Usage{InputTokens: r.Usage.PromptTokens, OutputTokens: r.Usage.CompletionTokens},
		Raw:          cp.body,
	}
	if out.Text == "" && ch.Message.Refusal != "" {
		out.Text = ch.Message.Refusal
	}
	if len(ch.Message.ToolCalls) > 0 {
		out.ToolCalls = make([]eval.ToolCall, len(ch.Message.ToolCalls))
		for i, tc := range ch.Message.ToolCalls {
			out.ToolCalls[i] = eval.ToolCall{ID: tc.ID, Name: tc.Function.Name, Arguments: tc.Function.Arguments}
		}
	}
	c.finish(out, req, r.Model, r.SystemFingerprint, cp.header)
	return out, nil
}

func (c *Client) stream(ctx context.Context, creq goopenai.ChatCompletionRequest, cp *capture, req *eval.Request) (*eval.Response, error) {
	st, err := c.api.CreateChatCompletionStream(ctx, creq)
	if err != nil {
		return nil, err
	}
	defer st.Close()
	var (
		text, refusal strings.Builder
		tools         []goopenai.ToolCall
		final         goopenai.ChatCompletionResponse
		sawChoice     bool
	)
	for {
		chunk, err := st.Recv()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			return nil, err
		}
		final.ID = cmp.Or(final.ID, chunk.ID)
		final.Created = cmp.Or(final.Created, chunk.Created)
		final.Model = cmp.Or(chunk.Model, final.Model)
		final.SystemFingerprint = cmp.Or(chunk.SystemFingerprint, final.SystemFingerprint)
		if chunk.Usage != nil {
			final.Usage = *chunk.Usage
		}
		for _, ch := range chunk.Choices {
			if ch.Index != 0 {
				continue
			}
			sawChoice = true
			text.WriteString(ch.Delta.Content)
			refusal.WriteString(ch.Delta.Refusal)
			if ch.FinishReason != "" {
				final.Choices = []goopenai.ChatCompletionChoice{{FinishReason: ch.FinishReason}}
			}
			for _, d := range ch.Delta.ToolCalls {
				i := len(tools) - 1
				if d.Index != nil {
					i = *d.Index
				} else if d.ID != "" || i < 0 {
					i = len(tools)
				}
				for len(tools) <= i {
					tools = append(tools, goopenai.ToolCall{Type: goopenai.ToolTypeFunction})
				}
				tools[i].ID += d.ID
				tools[i].Function.Name += d.Function.Name
				tools[i].Function.Arguments += d.Function.Arguments
			}
		}
	}
	if !sawChoice {
		return nil, &provider.AttemptError{Kind: eval.ErrMalformed, Status: cp.status, Err: errors.New("stream ended without any choice")}
	}
	if len(final.Choices) == 0 {
		final.Choices = []goopenai.ChatCompletionChoice{{}}
	}
	final.Object = "chat.completion"
	msg := goopenai.ChatCompletionMessage{Role: goopenai.ChatMessageRoleAssistant, Content: text.String(), Refusal: refusal.String(), ToolCalls: tools}
	final.Choices[0].Message = msg
	out := &eval.Response{
		Text:         msg.Content,
		FinishReason: string(final.Choices[0].FinishReason),
		Usage:        eval.Usage{InputTokens: final.Usage.PromptTokens, OutputTokens: final.Usage.CompletionTokens},
	}
	if out.Text == "" && msg.Refusal != "" {
		out.Text = msg.Refusal
	}
	for _, tc := range tools {
		out.ToolCalls = append(out.ToolCalls, eval.ToolCall{ID: tc.ID, Name: tc.Function.Name, Arguments: tc.Function.Arguments})
	}
	if raw, err := json.Marshal(final); err == nil {
		out.Raw = raw
	}
	c.finish(out, req, final.Model, final.SystemFingerprint, cp.header)
	return out, nil
}

// finish sanitises usage and fills identity and cost.
func (c *Client) finish(out *eval.Response, req *eval.Request, resolved, fingerprint string, h http.Header) {
	out.Usage = provider.SanitizeUsage(out.Usage, req, out.Text, out.ToolCalls)
	if id, ok := c.probedIdentity(fingerprint); ok {
		out.Identity = id
	} else {
		out.Identity = eval.Identity{Provider: c.cfg.Flavor, RequestedModel: c.model, ResolvedModel: resolved, Fingerprint: fingerprint}
	}
	for _, ih := range c.idHeaders {
		if v := h.Get(ih.canonical); v != "" {
			if out.Identity.Extra == nil {
				out.Identity.Extra = make(map[string]string, len(c.idHeaders))
			}
			out.Identity.Extra[ih.key] = v
		}
	}
	out.CostUSD = c.prices.Cost(cmp.Or(resolved, c.model), out.Usage)
}
