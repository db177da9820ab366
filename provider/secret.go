package provider

import (
	"log/slog"
	"net/url"
	"strings"
)

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

// urlSecretWords are words that mark a query parameter as secret by its
// name.
var urlSecretWords = []string{"key", "token", "secret", "sig", "password", "auth", "credential"}

// minSecretLen is the shortest configured secret RedactURL looks for:
// shorter values would match ordinary text.
const minSecretLen = 6

// RedactURL returns u fit to store or show: its user information, the
// values of query parameters named like secrets (key,
// token, secret, signature, password, auth, credential), and every
// occurrence of one of secrets (the configured keys, whatever the
// parameter, path segment or fragment holding it) become xxxxx. Text that
// does not parse as a URL is not shown at all.
func RedactURL(u string, secrets ...string) string {
	if u == "" {
		return ""
	}
	p, err := url.Parse(u)
	if err != nil {
		return "(unparsable URL, not shown)"
	}
	if p.User != nil {
		p.User = url.User("xxxxx") // a user name alone may be a token
	}
	if p.RawQuery != "" {
		q := p.Query()
		for k, vs := range q {
			lk := strings.ToLower(k)
			for _, w := range urlSecretWords {
				if strings.Contains(lk, w) {
					vs = []string{"xxxxx"}
				}
			}
			for i := range vs {
				vs[i] = redactSecrets(vs[i], secrets)
			}
			q[k] = vs
		}
		p.RawQuery = q.Encode()
	}
	p.Path = redactSecrets(p.Path, secrets)
	p.RawPath = ""
	p.Fragment = redactSecrets(p.Fragment, secrets)
	p.RawFragment = ""
	out := p.String()
	return redactSecrets(out, secrets) // in any other spelling that survived
}

func redactSecrets(s string, secrets []string) string {
	for _, sec := range secrets {
		if len(sec) < minSecretLen {
			continue
		}
		for _, form := range []string{sec, url.QueryEscape(sec), url.PathEscape(sec)} {
			s = strings.ReplaceAll(s, form, "xxxxx")
		}
	}
	return s
}
