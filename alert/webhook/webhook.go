// Package webhook delivers alert events as JSON to a generic HTTP endpoint:
// the body is the alert.Event JSON (its field names are stable).
package webhook

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net/http"

	"github.com/driftwatch/driftwatch/alert"
)

// Config is one JSON webhook.
type Config struct {
	// URL of the endpoint: a secret (it often carries a token). Required.
	URL alert.Secret `json:"url" yaml:"url"`
	// Headers added to every request, e.g. Authorization; values are
	// secrets.
	Headers map[string]alert.Secret `json:"headers,omitempty" yaml:"headers"`
}

// Notifier posts events as JSON.
type Notifier struct {
	cfg          Config
	client       *http.Client
	logger       *slog.Logger
	postJSONFunc alert.PostJSONFunc
}

// New returns a Notifier. client nil means http.DefaultClient; logger nil
// discards.
func New(cfg Config, client *http.Client, logger *slog.Logger) (*Notifier, error) {
	if cfg.URL.IsZero() {
		return nil, errors.New("webhook: url is empty: set alerts.webhook.url")
	}
	if !cfg.URL.IsHTTPURL() {
		return nil, errors.New("webhook: url is not an http(s) URL")
	}
	if logger == nil {
		logger = slog.New(slog.DiscardHandler)
	}
	return &Notifier{cfg: cfg, client: client, logger: logger.With("component", "alert_webhook"), postJSONFunc: alert.PostJSON}, nil
}

// Notify posts ev's JSON.
func (n *Notifier) Notify(ctx context.Context, ev *alert.Event) error {
	body, err := json.Marshal(ev)
	if err != nil {
		return alert.Permanent(fmt.Errorf("webhook: encode event: %w", err))
	}
	h := http.Header{}
	for k, v := range n.cfg.Headers {
		h.Set(k, v.Reveal())
	}
	if err := n.postJSONFunc(ctx, n.client, n.cfg.URL, body, h); err != nil {
		return fmt.Errorf("webhook: %w", err)
	}
	n.logger.DebugContext(ctx, "webhook posted", "dedup_key", ev.DedupKey)
	return nil
}
