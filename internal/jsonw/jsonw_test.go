package jsonw

import (
	"encoding/json"
	"testing"

	"github.com/stretchr/testify/require"
)

func TestAppendStringMatchesEncodingJSON(t *testing.T) {
	t.Parallel()
	for _, s := range []string{"", "plain", "quote \" and \\ backslash", "tab\tnl\ncr\r\b\f\x01\x1f",
		"<script>&amp;</script>", "line\u2028sep\u2029", "bad \xff utf8 \xc3", "unicode: é 中文 🙂"} {
		want, err := json.Marshal(s)
		require.NoError(t, err)
		require.Equal(t, string(want), string(AppendString(nil, s)), "%q", s)
	}
}
