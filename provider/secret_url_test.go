package provider_test

import (
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/driftwatch/driftwatch/provider"
)

func TestRedactURLHidesConfiguredSecretsWhateverTheParameter(t *testing.T) {
	t.Parallel()
	const key = "sk-live-0123456789abcdef"
	for in, want := range map[string]string{
		"https://api.example.com/v1?q=" + key + "&api-version=2024-02-01": "https://api.example.com/v1?api-version=2024-02-01&q=xxxxx",
		"https://api.example.com/v1?code=" + key:                          "https://api.example.com/v1?code=xxxxx",
		"https://api.example.com/keys/" + key + "/v1":                     "https://api.example.com/keys/xxxxx/v1",
		"https://api.example.com/v1?api_key=short":                        "https://api.example.com/v1?api_key=xxxxx",
		"https://user:pw@api.example.com/v1":                              "https://xxxxx@api.example.com/v1",
		"https://api.example.com/v1#" + key:                               "https://api.example.com/v1#xxxxx",
		"http://127.0.0.1:8000/v1":                                        "http://127.0.0.1:8000/v1",
		"://bad " + key:                                                   "(unparsable URL, not shown)",
	} {
		got := provider.RedactURL(in, key)
		require.Equal(t, want, got, "RedactURL(%q)", in)
		require.NotContains(t, got, "0123456789")
	}
	require.Equal(t, "https://x.example/v1?id=abc", provider.RedactURL("https://x.example/v1?id=abc", "abc"), "secrets shorter than 6 are not searched")
}
