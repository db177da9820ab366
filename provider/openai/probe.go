package openai

import (
	"bytes"
	"cmp"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"maps"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/driftwatch/driftwatch/eval"
	"github.com/driftwatch/driftwatch/provider"
)

// Probe asks the server which artifact it serves and returns the identity
// every sample should carry. It is the one definition of an open server's
// identity: once Probe has succeeded, every response of the client
// carries that identity (with the response's system fingerprint), whatever
// the response's model field says, since open servers only echo the
// requested name there (a client that was never probed probes before its
// first completion). The identity is, for Ollama the digest, quantization and size
// (/api/show, falling back to /api/tags for the digest); for vLLM the served
// model, its root and max_model_len (/v1/models; the digest is the
// Hugging Face revision in root, else a hash of both); for llama.cpp see
// probeLlamaCPP; for TGI model_id, model_sha and dtype (/info). Closed APIs
// have no such endpoint: their identity comes from responses (resolved
// model and system fingerprint), and Probe returns only provider and
// requested model (ProbeRequest checks one response).
//
// The probe endpoints of open servers sit at the server root, so Probe
// strips a trailing /v1 from BaseURL.
func (c *Client) Probe(ctx context.Context) (eval.Identity, error) {
	id := eval.Identity{Provider: c.cfg.Flavor, RequestedModel: c.model, Extra: map[string]string{}}
	var err error
	switch c.fl.Probe {
	case ProbeOllama:
		err = c.probeOllama(ctx, &id)
	case ProbeVLLM:
		err = c.probeVLLM(ctx, &id)
	case ProbeLlamaCPP:
		err = c.probeLlamaCPP(ctx, &id)
	case ProbeTGI:
		err = c.probeTGI(ctx, &id)
	default:
		id.Extra = nil
		return id, nil
	}
	if err != nil {
		return id, c.fail(1, err)
	}
	for k, v := range id.Extra {
		if v == "" {
			delete(id.Extra, k)
		}
	}
	if len(id.Extra) == 0 {
		id.Extra = nil
	}
	stored := id
	stored.Extra = maps.Clone(id.Extra)
	c.probed.Store(&stored)
	return id, nil
}

// probeRetryAfter spaces the probes a client makes on its own after a
// failed one.
const probeRetryAfter = 30 * time.Second

// ensureProbed probes an open server once before its first completion
// when nobody called Probe: every response must carry the probed identity.
// A failed probe is retried at most every probeRetryAfter; meanwhile
// responses carry what they say themselves.
func (c *Client) ensureProbed(ctx context.Context) {
	if c.fl.Probe == ProbeNone || c.probed.Load() != nil {
		return
	}
	c.probeMu.Lock()
	defer c.probeMu.Unlock()
	if c.probed.Load() != nil || (!c.probeFailed.IsZero() && time.Since(c.probeFailed) < probeRetryAfter) {
		return
	}
	if _, err := c.Probe(ctx); err != nil {
		c.probeFailed = time.Now()
		c.logger.Warn("identity probe failed; responses carry their own identity until it works", slog.String("error", err.Error()))
	}
}

// probedIdentity is the identity of every response of an open server: the
// probed one (a copy), with the response's fingerprint. ok is false when
// the server was never probed successfully.
func (c *Client) probedIdentity(fingerprint string) (eval.Identity, bool) {
	p := c.probed.Load()
	if p == nil {
		return eval.Identity{}, false
	}
	id := *p
	id.Extra = maps.Clone(p.Extra)
	id.Fingerprint = fingerprint
	return id, true
}

// serverRoot is BaseURL without its OpenAI-compatible /v1 suffix.
func (c *Client) serverRoot() string {
	u := strings.TrimRight(c.cfg.BaseURL, "/")
	return strings.TrimSuffix(u, "/v1")
}

// getJSON sends one probe request (retried like completions) and decodes
// the JSON answer into v.
func (c *Client) getJSON(ctx context.Context, method, url string, body any, v any) error {
	var payload []byte
	if body != nil {
		var err error
		if payload, err = json.Marshal(body); err != nil {
			return fmt.Errorf("encode probe request: %w", err)
		}
	}
	// Probes go through the client's control like completions: paced, and
	// cut short by the breaker when the server never answers.
	_, err := c.cfg.Retry.DoPaced(ctx, func(ctx context.Context, _ int) error {
		return c.ctl.Attempt(ctx, 0, func(parent context.Context) (provider.AttemptResult, error) {
			return c.probeAttempt(parent, method, url, payload, v)
		})
	}, c.ctl.OnRetry)
	return err
}

// probeAttempt sends one probe request and decodes its answer into v.
func (c *Client) probeAttempt(parent context.Context, method, url string, payload []byte, v any) (provider.AttemptResult, error) {
	var res provider.AttemptResult
	ctx, cancel := context.WithTimeout(parent, c.cfg.Timeout)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, method, url, bytes.NewReader(payload))
	if err != nil {
		return res, &provider.AttemptError{Kind: eval.ErrBadRequest, Err: err}
	}
	if payload != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	req.Header.Set("Accept", "application/json")
	if c.cfg.APIKey != "" {
		req.Header.Set("Authorization", "Bearer "+c.cfg.APIKey.Reveal())
	}
	for k, val := range c.cfg.Headers {
		req.Header.Set(k, val)
	}
	resp, err := c.do(req)
	if err != nil {
		if parent.Err() == nil && ctx.Err() != nil {
			return res, &provider.AttemptError{Kind: eval.ErrTimeout, Err: fmt.Errorf("probe %s: no response within %s", req.URL.Path, c.cfg.Timeout)}
		}
		return res, &provider.AttemptError{Kind: eval.ErrTransport, Err: fmt.Errorf("probe %s: %s", req.URL.Path, provider.SafeMessage(err.Error(), nil, c.cfg.APIKey))}
	}
	res.Status, res.Header = resp.StatusCode, resp.Header
	b, err := provider.ReadBody(resp.Body, resp.ContentLength)
	resp.Body.Close()
	if err != nil {
		return res, &provider.AttemptError{Kind: eval.ErrTransport, Err: fmt.Errorf("probe %s: read body: %w", req.URL.Path, err)}
	}
	if resp.StatusCode >= 300 {
		return res, &provider.AttemptError{Kind: provider.KindForStatus(resp.StatusCode), Status: resp.StatusCode,
			RetryAfter: provider.RetryAfter(resp.Header, time.Now()),
			Err:        fmt.Errorf("probe %s: %s", req.URL.Path, provider.SafeMessage(bodyMessage(b), nil, c.cfg.APIKey))}
	}
	if err := json.Unmarshal(b, v); err != nil {
		return res, &provider.AttemptError{Kind: eval.ErrMalformed, Status: resp.StatusCode, Err: fmt.Errorf("probe %s: malformed JSON: %w", req.URL.Path, err)}
	}
	return res, nil
}

type ollamaDetails struct {
	Format            string   `json:"format"`
	Family            string   `json:"family"`
	Families          []string `json:"families"`
	ParameterSize     string   `json:"parameter_size"`
	QuantizationLevel string   `json:"quantization_level"`
	ParentModel       string   `json:"parent_model"`
}

func (c *Client) probeOllama(ctx context.Context, id *eval.Identity) error {
	root := c.serverRoot()
	var show struct {
		Digest     string        `json:"digest"` // not documented; used when present
		Details    ollamaDetails `json:"details"`
		ModifiedAt string        `json:"modified_at"`
		Template   string        `json:"template"`
	}
	if err := c.getJSON(ctx, http.MethodPost, root+"/api/show", map[string]string{"model": c.model}, &show); err != nil {
		return err
	}
	id.Extra["format"] = show.Details.Format
	id.Extra["family"] = show.Details.Family
	id.Extra["parameter_size"] = show.Details.ParameterSize
	id.Extra["quantization_level"] = show.Details.QuantizationLevel
	if show.Template != "" {
		id.Extra["template_sha256"] = shortHash(show.Template)
	}
	// The digest is in /api/tags (/api/show has none in Ollama's API
	// docs; a server that adds one is used only when tags lack it).
	var tags struct {
		Models []struct {
			Name    string        `json:"name"`
			Model   string        `json:"model"`
			Digest  string        `json:"digest"`
			Size    int64         `json:"size"`
			Details ollamaDetails `json:"details"`
		} `json:"models"`
	}
	if err := c.getJSON(ctx, http.MethodGet, root+"/api/tags", nil, &tags); err != nil {
		return err
	}
	want := c.model
	if !strings.Contains(want, ":") {
		want += ":latest"
	}
	for _, m := range tags.Models {
		if m.Name == c.model || m.Model == c.model || m.Name == want || m.Model == want {
			id.Digest = m.Digest
			id.ResolvedModel = m.Name
			if m.Size > 0 {
				id.Extra["size"] = strconv.FormatInt(m.Size, 10)
			}
			break
		}
	}
	id.Digest = cmp.Or(id.Digest, show.Digest)
	if id.ResolvedModel == "" && show.Digest != "" {
		id.ResolvedModel = want
	}
	if id.Digest == "" {
		return &provider.AttemptError{Kind: eval.ErrIdentity, Err: fmt.Errorf("model %q not in /api/tags", c.model)}
	}
	var ver struct {
		Version string `json:"version"`
	}
	if c.getJSON(ctx, http.MethodGet, root+"/api/version", nil, &ver) == nil {
		id.Extra["server_version"] = ver.Version
	}
	return nil
}

func (c *Client) probeVLLM(ctx context.Context, id *eval.Identity) error {
	var models struct {
		Data []struct {
			ID          string `json:"id"`
			Root        string `json:"root"`
			Parent      string `json:"parent"`
			MaxModelLen int    `json:"max_model_len"`
		} `json:"data"`
	}
	if err := c.getJSON(ctx, http.MethodGet, strings.TrimRight(c.cfg.BaseURL, "/")+"/models", nil, &models); err != nil {
		return err
	}
	found := false
	for _, m := range models.Data {
		if m.ID != c.model {
			continue
		}
		found = true
		id.ResolvedModel = m.ID
		id.Extra["root"] = m.Root
		id.Extra["parent"] = m.Parent
		if m.MaxModelLen > 0 {
			id.Extra["max_model_len"] = strconv.Itoa(m.MaxModelLen)
		}
		// A root in the Hugging Face cache names the revision:
		// …/models--org--name/snapshots/<commit sha>.
		if _, after, ok := strings.Cut(m.Root, "/snapshots/"); ok {
			id.Digest, _, _ = strings.Cut(after, "/")
		} else {
			// No revision in the path: what was loaded from where, and
			// with which context, is the identity.
			id.Digest = "vllm:" + partsHash(m.Root, strconv.Itoa(m.MaxModelLen))
		}
	}
	if !found {
		return &provider.AttemptError{Kind: eval.ErrIdentity, Err: fmt.Errorf("model %q not served (see /v1/models)", c.model)}
	}
	var ver struct {
		Version string `json:"version"`
	}
	if c.getJSON(ctx, http.MethodGet, c.serverRoot()+"/version", nil, &ver) == nil {
		id.Extra["server_version"] = ver.Version
	}
	return nil
}

// llamaProps is the part of llama.cpp's GET /props the identity reads,
// checked against a recorded llama-server b4748 response
// (testdata/llamacpp/props.http).
type llamaProps struct {
	ModelPath    string `json:"model_path"`
	ChatTemplate string `json:"chat_template"`
	BuildInfo    string `json:"build_info"`
	Settings     struct {
		NCtx int `json:"n_ctx"`
	} `json:"default_generation_settings"`
}

// llamaModels is llama.cpp's GET /v1/models (testdata/llamacpp/models.http):
// one entry, id the model path or the -a alias, meta the GGUF file's facts.
type llamaModels struct {
	Data []struct {
		ID   string `json:"id"`
		Meta *struct {
			VocabType int   `json:"vocab_type"`
			NVocab    int64 `json:"n_vocab"`
			NCtxTrain int64 `json:"n_ctx_train"`
			NEmbd     int64 `json:"n_embd"`
			NParams   int64 `json:"n_params"`
			Size      int64 `json:"size"`
		} `json:"meta"`
	} `json:"data"`
}

// probeLlamaCPP reads llama.cpp's identity. llama.cpp exposes no hash of
// the weights, and the chat response's model field only echoes the
// request, so the identity is what the server says about the file it
// loaded: /props model_path, build_info and chat template, and /v1/models
// meta (file size, parameter count, vocabulary, embedding width, training
// context). The digest hashes all of them: a re-quantized or swapped file
// behind the same name or alias changes it, the same file never does.
func (c *Client) probeLlamaCPP(ctx context.Context, id *eval.Identity) error {
	var props llamaProps
	if err := c.getJSON(ctx, http.MethodGet, c.serverRoot()+"/props", nil, &props); err != nil {
		return err
	}
	if props.ModelPath == "" {
		return &provider.AttemptError{Kind: eval.ErrIdentity, Err: errors.New("/props names no model_path")}
	}
	var models llamaModels
	if err := c.getJSON(ctx, http.MethodGet, strings.TrimRight(c.cfg.BaseURL, "/")+"/models", nil, &models); err != nil {
		return err
	}
	id.ResolvedModel = props.ModelPath
	id.Extra["model_path"] = props.ModelPath
	id.Extra["build_info"] = props.BuildInfo
	if props.Settings.NCtx > 0 {
		id.Extra["n_ctx"] = strconv.Itoa(props.Settings.NCtx)
	}
	if props.ChatTemplate != "" {
		id.Extra["chat_template_sha256"] = shortHash(props.ChatTemplate)
	}
	parts := []string{"llamacpp", props.ModelPath, props.BuildInfo, props.ChatTemplate}
	if len(models.Data) > 0 {
		m := models.Data[0]
		if m.ID != props.ModelPath {
			id.Extra["alias"] = m.ID
		}
		if mt := m.Meta; mt != nil {
			for k, v := range map[string]int64{"size": mt.Size, "n_params": mt.NParams, "n_vocab": mt.NVocab, "n_embd": mt.NEmbd, "n_ctx_train": mt.NCtxTrain} {
				id.Extra[k] = strconv.FormatInt(v, 10)
			}
			parts = append(parts, strconv.FormatInt(mt.Size, 10), strconv.FormatInt(mt.NParams, 10),
				strconv.FormatInt(mt.NVocab, 10), strconv.FormatInt(mt.NEmbd, 10), strconv.FormatInt(mt.NCtxTrain, 10))
		}
	}
	id.Digest = "llamacpp:" + partsHash(parts...)
	return nil
}

// partsHash digests identity facts, each length-prefixed so no two lists
// collide.
func partsHash(parts ...string) string {
	h := sha256.New()
	for _, p := range parts {
		fmt.Fprintf(h, "%d:%s;", len(p), p)
	}
	return hex.EncodeToString(h.Sum(nil))[:32]
}

func (c *Client) probeTGI(ctx context.Context, id *eval.Identity) error {
	var info struct {
		ModelID         string `json:"model_id"`
		ModelSHA        string `json:"model_sha"`
		ModelDtype      string `json:"model_dtype"`
		ModelDeviceType string `json:"model_device_type"`
		MaxTotalTokens  int    `json:"max_total_tokens"`
		Version         string `json:"version"`
		SHA             string `json:"sha"`
	}
	if err := c.getJSON(ctx, http.MethodGet, c.serverRoot()+"/info", nil, &info); err != nil {
		return err
	}
	if info.ModelID == "" {
		return &provider.AttemptError{Kind: eval.ErrIdentity, Err: errors.New("/info names no model_id")}
	}
	id.ResolvedModel = info.ModelID
	id.Digest = info.ModelSHA
	if id.Digest == "" {
		// A local model folder has no revision sha.
		id.Digest = "tgi:" + partsHash(info.ModelID, info.ModelDtype)
	}
	id.Extra["model_dtype"] = info.ModelDtype
	id.Extra["model_device_type"] = info.ModelDeviceType
	id.Extra["server_version"] = info.Version
	if info.SHA != "null" {
		id.Extra["server_sha"] = info.SHA
	}
	if info.MaxTotalTokens > 0 {
		id.Extra["max_total_tokens"] = strconv.Itoa(info.MaxTotalTokens)
	}
	return nil
}

// shortHash fingerprints text that shapes behaviour (a chat template).
func shortHash(s string) string {
	sum := sha256.Sum256([]byte(s))
	return hex.EncodeToString(sum[:8])
}

// probeRequestText is the one request ProbeRequest sends.
const probeRequestText = "Reply with the word OK."

// ProbeRequest returns the identity a run's samples will carry, checked
// before the run fans out: for an open server what Probe reads; for a
// closed API the identity of one small completion (resolved model and
// system fingerprint: 16 output tokens at most, through the client's
// budget, pacer and breaker like any call). A pinned closed API is checked
// with it so that a mismatch stops the run after one request, not after a
// round of concurrent ones.
func (c *Client) ProbeRequest(ctx context.Context) (eval.Identity, error) {
	if c.fl.Probe != ProbeNone {
		return c.Probe(ctx)
	}
	resp, err := c.Complete(ctx, &eval.Request{
		Messages: []eval.Message{{Role: eval.RoleUser, Content: probeRequestText}},
		Params:   eval.Params{MaxTokens: 16},
	})
	if err != nil {
		return eval.Identity{Provider: c.cfg.Flavor, RequestedModel: c.model}, err
	}
	return resp.Identity, nil
}
