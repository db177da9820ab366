package textsafe_test

import (
	"strings"
	"testing"
	"unicode/utf8"

	"github.com/stretchr/testify/require"

	"github.com/driftwatch/driftwatch/internal/textsafe"
)

func TestTerminalRemovesWhatATerminalWouldActOn(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct{ name, in, want string }{
		{"plain", "gpt-4o-2024-08-06 ünïcødé 日本 🙂", "gpt-4o-2024-08-06 ünïcødé 日本 🙂"},
		{"newlines and tabs kept", "a\n\tb", "a\n\tb"},
		{"clipboard write (OSC 52)", "m\x1b]52;c;Y3VybCBldmlsLnNoIHwgc2g=\x07odel", "model"},
		{"window title, ST-terminated", "\x1b]0;pwned\x1b\\gpt", "gpt"},
		{"clear screen and forged verdict", "\x1b[2J\x1b[H\x1b[32mALL GOOD\x1b[0m", "ALL GOOD"},
		{"carriage return overwrite", "DRIFT\rSTABLE", "DRIFTSTABLE"},
		{"backspace and bell", "ab\x08\x08ok\x07", "abok"},
		{"C1 CSI", "a\u009b2Jb", "ab"},
		{"C1 OSC", "a\u009d0;t\u009cb", "ab"},
		{"DCS", "a\x1bPq#0;2;0;0;0\x1b\\b", "ab"},
		{"charset escape", "a\x1b(Bb", "ab"},
		{"two-character escape", "a\x1bcb", "ab"},
		{"unterminated OSC", "ok\x1b]52;c;AAAA", "ok"},
		{"trailing ESC", "ok\x1b", "ok"},
		{"bidi override", "abc\u202edcba\u2066x\u2069", "abcdcbax"},
		{"DEL and NUL", "a\x7fb\x00c", "abc"},
		{"invalid UTF-8", "a\xffb", "a\uFFFDb"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			got := textsafe.Terminal(tc.in)
			require.Equal(t, tc.want, got)
			require.True(t, utf8.ValidString(got))
			require.NotContains(t, got, "\x1b")
		})
	}
}

func TestLineKeepsAValueOnOneLine(t *testing.T) {
	t.Parallel()
	require.Equal(t, "model  # ALL GOOD", textsafe.Line("model\n\n# ALL\tGOOD"))
}

func TestMarkdownRendersAsLiteralText(t *testing.T) {
	t.Parallel()
	got := textsafe.Markdown("gpt`\n\n<img src=x onerror=alert(1)>\n# Heading [link](http://x) *b* _i_ ~s~ a|b &amp; \\")
	require.NotContains(t, got, "\n")
	require.Equal(t, "pass_rate \\_x\\_", textsafe.Markdown("pass_rate _x_"), "an underscore inside a word stays")
	require.Equal(t, "gpt\\`  \\<img src=x onerror=alert(1)\\> # Heading \\[link\\](http://x) \\*b\\* \\_i\\_ \\~s\\~ a\\|b \\&amp; \\\\", got)
}

func TestCodeCannotBeClosedByItsContent(t *testing.T) {
	t.Parallel()
	for in, want := range map[string]string{
		"gpt-4o":          "`gpt-4o`",
		"a`b":             "``a`b``",
		"x``\n\n# H\n<b>": "```x``  # H <b>```",
		"`":               "`` ` ``",
		"":                "` `",
	} {
		require.Equal(t, want, textsafe.Code(in), "Code(%q)", in)
	}
	// The longest backtick run inside is always shorter than the fence.
	in := strings.Repeat("`", 7) + "x"
	got := textsafe.Code(in)
	require.True(t, strings.HasPrefix(got, strings.Repeat("`", 8)+" "))
}
