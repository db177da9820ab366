package alert

import (
	"fmt"
	"log/slog"
	"strings"
)

// Redacted replaces secrets in logs, errors and marshalled config.
const Redacted = "<redacted>"

// Secret holds a value that must never be logged, stored or echoed, such as
// a Slack incoming-webhook URL (its path is the credential). Every way of
// printing or marshalling it yields Redacted; Reveal returns the value for
// the one place that needs it.
type Secret struct{ v string }

// NewSecret wraps v.
func NewSecret(v string) Secret { return Secret{v: v} }

// Reveal returns the secret value. Call it only to use the value.
func (s Secret) Reveal() string { return s.v }

// IsZero reports whether the secret is empty.
func (s Secret) IsZero() bool { return s.v == "" }

// String returns Redacted (or "" for an empty secret).
func (s Secret) String() string {
	if s.v == "" {
		return ""
	}
	return Redacted
}

// GoString keeps %#v from printing the value.
func (s Secret) GoString() string { return "alert.Secret(" + s.String() + ")" }

// Format keeps every fmt verb from printing the value.
func (s Secret) Format(f fmt.State, _ rune) {
	_, _ = f.Write([]byte(s.String()))
}

// LogValue redacts the secret in slog output.
func (s Secret) LogValue() slog.Value { return slog.StringValue(s.String()) }

// MarshalText redacts the secret in JSON, YAML and other encodings; a
// redacted value can't be read back.
func (s Secret) MarshalText() ([]byte, error) { return []byte(s.String()), nil }

// Redact replaces every occurrence of the secret in text.
func (s Secret) Redact(text string) string {
	if s.v == "" {
		return text
	}
	return strings.ReplaceAll(text, s.v, Redacted)
}
