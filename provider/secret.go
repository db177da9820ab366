package provider

import "log/slog"

// Redacted is what a non-empty Secret prints as.
const Redacted = "[REDACTED]"

// Secret is a string that must not leak: an API key or token. It prints,
// logs and marshals as [REDACTED] (or "" when empty). Unmarshalling from
// JSON or YAML stores the real value. Use Reveal at the one place the value
// goes on the wire.
type Secret string

// Reveal returns the secret value.
func (s Secret) Reveal() string { return string(s) }

func (s Secret) redacted() string {
	if s == "" {
		return ""
	}
	return Redacted
}

// String implements fmt.Stringer (and so %s, %v, %q).
func (s Secret) String() string { return s.redacted() }

// GoString implements fmt.GoStringer (%#v).
func (s Secret) GoString() string { return `provider.Secret("` + s.redacted() + `")` }

// MarshalJSON marshals the redacted form.
func (s Secret) MarshalJSON() ([]byte, error) { return []byte(`"` + s.redacted() + `"`), nil }

// MarshalText marshals the redacted form (encoding.TextMarshaler, used for
// map keys and by several encoders).
func (s Secret) MarshalText() ([]byte, error) { return []byte(s.redacted()), nil }

// UnmarshalText stores the value: MarshalText alone would make encoders that
// prefer TextUnmarshaler symmetric but lossy.
func (s *Secret) UnmarshalText(b []byte) error { *s = Secret(b); return nil }

// MarshalYAML marshals the redacted form (gopkg.in/yaml.v3 Marshaler).
func (s Secret) MarshalYAML() (any, error) { return s.redacted(), nil }

// LogValue implements slog.LogValuer.
func (s Secret) LogValue() slog.Value { return slog.StringValue(s.redacted()) }
