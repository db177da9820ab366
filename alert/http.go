package alert

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strings"
)

// DeliveryError is a failed delivery, classified for retry. Its message
// never contains the endpoint URL.
type DeliveryError struct {
	// Status is the HTTP status, 0 for transport errors.
	Status int
	// Retry says whether trying again may help.
	Retry bool
	msg   string
	err   error
}

func (e *DeliveryError) Error() string { return e.msg }

// Unwrap returns the redacted cause, when there is one.
func (e *DeliveryError) Unwrap() error { return e.err }

// Retryable reports whether trying again may help.
func (e *DeliveryError) Retryable() bool { return e.Retry }

// Permanent marks err as not worth retrying.
func Permanent(err error) error {
	return &DeliveryError{msg: err.Error(), err: err}
}

// retryable asks err (through errors.As on the Retryable behaviour) whether
// a retry may help; errors that don't say are retried.
func retryable(err error) bool {
	var r interface{ Retryable() bool }
	if errors.As(err, &r) {
		return r.Retryable()
	}
	return true
}

// PostJSONFunc posts body as JSON to url; notifiers hold one as their HTTP
// seam so tests can swap it.
type PostJSONFunc func(ctx context.Context, client *http.Client, url Secret, body []byte, header http.Header) error

// PostJSON posts body to url and classifies the outcome: nil on 2xx; a
// DeliveryError otherwise (429, 5xx and transport errors are retryable,
// other statuses are not). The response body is drained and closed, and the
// URL is redacted from every error, including the *url.Error net/http
// returns, which embeds it.
func PostJSON(ctx context.Context, client *http.Client, u Secret, body []byte, header http.Header) error {
	if client == nil {
		client = http.DefaultClient
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, u.Reveal(), bytes.NewReader(body))
	if err != nil {
		return &DeliveryError{msg: "build request: " + redactURLError(err, u).Error()}
	}
	for k, vs := range header {
		for _, v := range vs {
			req.Header.Add(k, v)
		}
	}
	req.Header.Set("Content-Type", "application/json")
	resp, err := client.Do(req)
	if err != nil {
		rerr := redactURLError(err, u)
		// Transport errors, timeouts and cancellation (shutdown) all retry.
		return &DeliveryError{Retry: true, msg: "post: " + rerr.Error(), err: rerr}
	}
	defer resp.Body.Close()
	snippet, _ := io.ReadAll(io.LimitReader(resp.Body, 512))
	_, _ = io.Copy(io.Discard, io.LimitReader(resp.Body, 1<<20)) // drain for connection reuse
	if resp.StatusCode/100 == 2 {
		return nil
	}
	// An endpoint may echo the request: keep the URL and the header values
	// (tokens) out of the error, redacting before the cut so no prefix of
	// a secret survives it.
	text := strings.TrimSpace(string(bytes.ToValidUTF8(snippet, []byte("?"))))
	text = TruncateRunes(redactHeaders(redactURL(text, u), header), 200)
	msg := fmt.Sprintf("unexpected status %d", resp.StatusCode)
	if text != "" {
		msg += ": " + text
	}
	return &DeliveryError{Status: resp.StatusCode, Retry: resp.StatusCode == http.StatusTooManyRequests || resp.StatusCode >= 500, msg: msg}
}

// redactHeaders replaces every header value in text.
func redactHeaders(text string, header http.Header) string {
	for _, vs := range header {
		for _, v := range vs {
			if v != "" {
				text = strings.ReplaceAll(text, v, Redacted)
			}
		}
	}
	return text
}

// IsHTTPURL reports whether s is an absolute http or https URL, without
// revealing it.
func (s Secret) IsHTTPURL() bool {
	u, err := url.Parse(s.v)
	return err == nil && (u.Scheme == "https" || u.Scheme == "http") && u.Host != ""
}

// redactURLError replaces the URL inside a *url.Error and any other copy of
// the secret in err's text.
func redactURLError(err error, u Secret) error {
	var ue *url.Error
	if errors.As(err, &ue) {
		err = &url.Error{Op: ue.Op, URL: Redacted, Err: ue.Err}
	}
	return &redactedError{msg: redactURL(err.Error(), u), err: ue}
}

// redactURL replaces the URL in text, and its path on its own: the path of
// an incoming webhook is the credential.
func redactURL(text string, u Secret) string {
	text = u.Redact(text)
	if parsed, err := url.Parse(u.Reveal()); err == nil && parsed.Path != "" && parsed.Path != "/" {
		text = strings.ReplaceAll(text, parsed.Path, "/"+Redacted)
	}
	return text
}

type redactedError struct {
	msg string
	err *url.Error
}

func (e *redactedError) Error() string { return e.msg }

// Timeout reports whether the transport timed out.
func (e *redactedError) Timeout() bool { return e.err != nil && e.err.Timeout() }
