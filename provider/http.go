package provider

import (
	"errors"
	"io"
	"net"
	"net/http"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/driftwatch/driftwatch/eval"
)

// MaxIdleConnsPerHostDefault is the idle pool per host of NewTransport: big
// enough that a run pushing thousands of concurrent requests at one endpoint
// reuses connections instead of churning through ephemeral ports.
const MaxIdleConnsPerHostDefault = 512

// NewTransport returns an http.Transport tuned for many concurrent calls to
// few hosts. maxIdlePerHost <= 0 means MaxIdleConnsPerHostDefault.
func NewTransport(maxIdlePerHost int) *http.Transport {
	if maxIdlePerHost <= 0 {
		maxIdlePerHost = MaxIdleConnsPerHostDefault
	}
	return &http.Transport{
		Proxy: http.ProxyFromEnvironment,
		DialContext: (&net.Dialer{
			Timeout:   10 * time.Second,
			KeepAlive: 30 * time.Second,
		}).DialContext,
		ForceAttemptHTTP2:     true,
		MaxIdleConns:          maxIdlePerHost * 4,
		MaxIdleConnsPerHost:   maxIdlePerHost,
		IdleConnTimeout:       90 * time.Second,
		TLSHandshakeTimeout:   10 * time.Second,
		ExpectContinueTimeout: time.Second,
		// Per-call timeouts come from the request context, not from here.
	}
}

// MaxBodyBytes bounds how much of a response body a provider reads.
const MaxBodyBytes = 32 << 20

// ErrBodyTooLarge is returned by ReadBody past MaxBodyBytes.
var ErrBodyTooLarge = errors.New("response body exceeds 32 MiB")

// ReadBody reads r fully, sizing the buffer from contentLength when known.
func ReadBody(r io.Reader, contentLength int64) ([]byte, error) {
	size := 512
	if contentLength > 0 && contentLength <= MaxBodyBytes {
		size = int(contentLength) + 1 // +1 so a correct length needs no regrow to see EOF
	}
	buf := make([]byte, 0, size)
	for {
		if len(buf) == cap(buf) {
			if len(buf) >= MaxBodyBytes {
				return buf, ErrBodyTooLarge
			}
			buf = append(buf, 0)[:len(buf)]
		}
		n, err := r.Read(buf[len(buf):cap(buf)])
		buf = buf[:len(buf)+n]
		if err == io.EOF {
			return buf, nil
		}
		if err != nil {
			return buf, err
		}
	}
}

// maxMessageRunes bounds server error messages carried into errors.
const maxMessageRunes = 300

// minScrubLen is the shortest prompt text SafeMessage looks for: shorter
// strings would redact ordinary words.
const minScrubLen = 12

// SafeMessage prepares a server-supplied message for an error string: the
// secrets and any echoed message content of req are replaced, newlines
// flattened and the result truncated to 300 runes.
func SafeMessage(msg string, req *eval.Request, secrets ...Secret) string {
	for _, s := range secrets {
		if len(s) >= 4 {
			msg = strings.ReplaceAll(msg, string(s), Redacted)
		}
		if len(s) >= 12 {
			// Servers echo masked keys ("sk-proj-abc***wxyz"): drop any word
			// that starts like the key.
			msg = redactPrefixed(msg, string(s[:8]))
		}
	}
	if req != nil {
		for i := range req.Messages {
			c := req.Messages[i].Content
			if len(c) >= minScrubLen && strings.Contains(msg, c) {
				msg = strings.ReplaceAll(msg, c, "[prompt]")
			}
		}
	}
	msg = strings.Join(strings.Fields(msg), " ")
	if utf8.RuneCountInString(msg) > maxMessageRunes {
		r := []rune(msg)
		msg = string(r[:maxMessageRunes]) + "…"
	}
	return msg
}

func redactPrefixed(msg, prefix string) string {
	for {
		i := strings.Index(msg, prefix)
		if i < 0 {
			return msg
		}
		j := i + len(prefix)
		for j < len(msg) && !strings.ContainsRune(" \t\n\"'`,;", rune(msg[j])) {
			j++
		}
		msg = msg[:i] + Redacted + msg[j:]
	}
}

// NewTargetError turns the result of Retry.Do into an *eval.TargetError
// naming the provider and model.
func NewTargetError(providerName, model string, attempts int, err error) *eval.TargetError {
	var te *eval.TargetError
	if errors.As(err, &te) {
		return te
	}
	out := &eval.TargetError{Kind: eval.ErrTransport, Provider: providerName, Model: model, Attempts: attempts, Err: err}
	var ae *AttemptError
	if errors.As(err, &ae) {
		out.Kind, out.Status, out.Err = ae.Kind, ae.Status, ae.Err
	}
	return out
}
