// Package textsafe neutralises text Driftwatch does not control (model
// outputs, model names, fingerprints, endpoint error messages) before it
// reaches a terminal, a Markdown document or a chat message, where it could
// otherwise act: a terminal escape sequence can retitle the window, write
// the clipboard (OSC 52) or clear the screen to show a forged result; a
// backtick and a blank line can end a code span and inject Markdown or HTML.
package textsafe

import (
	"strings"
	"unicode/utf8"
)

const (
	esc = 0x1b
	bel = 0x07
)

// Terminal returns s without anything a terminal would act on: escape
// sequences (CSI, OSC, DCS, SOS, PM and APC strings, and two-character
// escapes) are removed whole, as are C0 control characters other than
// newline and tab (carriage return, backspace and bell included), DEL, C1
// control characters and the Unicode bidirectional controls that reorder
// what is shown. Invalid UTF-8 becomes U+FFFD. Text without any of these is
// returned as is.
func Terminal(s string) string {
	if clean(s) {
		return s
	}
	var b strings.Builder
	b.Grow(len(s))
	for i := 0; i < len(s); {
		r, size := utf8.DecodeRuneInString(s[i:])
		switch {
		case r == esc:
			i = skipEscape(s, i+1)
			continue
		case r == 0x9b: // C1 CSI
			i = skipCSI(s, i+size)
			continue
		case r == 0x9d || r == 0x90 || r == 0x98 || r == 0x9e || r == 0x9f: // C1 OSC, DCS, SOS, PM, APC
			i = skipString(s, i+size)
			continue
		case r == utf8.RuneError && size == 1:
			b.WriteRune(utf8.RuneError)
		case !dropped(r):
			b.WriteString(s[i : i+size])
		}
		i += size
	}
	return b.String()
}

// Line is Terminal for a value shown on one line: newlines and tabs become
// spaces, so the value cannot start a line of its own.
func Line(s string) string {
	s = Terminal(s)
	if strings.ContainsAny(s, "\n\t") {
		s = strings.NewReplacer("\n", " ", "\t", " ").Replace(s)
	}
	return s
}

// markdownSpecial is the ASCII punctuation that starts inline Markdown
// (code, emphasis, links, images, raw HTML, entities, strikethrough, table
// cells), and the backslash itself.
const markdownSpecial = "\\`*_[]<>&!~|"

// Markdown returns s as literal inline Markdown text, on one line (see
// Line): it renders as the characters it holds, never as markup or HTML.
// Each special character gets a backslash, but for an underscore inside a
// word (pass_rate), which Markdown never reads as emphasis.
func Markdown(s string) string {
	s = Line(s)
	if !strings.ContainsAny(s, markdownSpecial) {
		return s
	}
	var b strings.Builder
	for i := 0; i < len(s); i++ {
		c := s[i]
		if strings.IndexByte(markdownSpecial, c) >= 0 && !(c == '_' && i > 0 && i+1 < len(s) && wordByte(s[i-1]) && wordByte(s[i+1])) {
			b.WriteByte('\\')
		}
		b.WriteByte(c)
	}
	return b.String()
}

func wordByte(c byte) bool {
	return c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c >= 0x80
}

// Code returns s as a Markdown inline code span, on one line (see Line):
// the fence is one backtick longer than the longest run of backticks in s,
// so s cannot close it.
func Code(s string) string {
	s = Line(s)
	if s == "" {
		return "` `"
	}
	longest, run := 0, 0
	for i := 0; i < len(s); i++ {
		if s[i] == '`' {
			run++
			longest = max(longest, run)
		} else {
			run = 0
		}
	}
	fence := strings.Repeat("`", longest+1)
	if s[0] == '`' || s[len(s)-1] == '`' || s[0] == ' ' && s[len(s)-1] == ' ' {
		s = " " + s + " "
	}
	return fence + s + fence
}

// clean reports whether s holds nothing Terminal removes or replaces.
func clean(s string) bool {
	for i := 0; i < len(s); i++ {
		c := s[i]
		if c < 0x20 && c != '\n' && c != '\t' || c == 0x7f {
			return false
		}
		if c >= 0x80 {
			for _, r := range s[i:] {
				if r == utf8.RuneError || r == esc || dropped(r) || r >= 0x80 && r <= 0x9f {
					return false
				}
			}
			return true
		}
	}
	return true
}

// dropped reports a character Terminal removes on its own (not part of a
// sequence).
func dropped(r rune) bool {
	switch {
	case r < 0x20:
		return r != '\n' && r != '\t'
	case r == 0x7f, r >= 0x80 && r <= 0x9f:
		return true
	case r == 0x061c, r == 0x200e, r == 0x200f, r >= 0x202a && r <= 0x202e, r >= 0x2066 && r <= 0x2069:
		return true // bidirectional controls
	}
	return false
}

// skipEscape returns the index after the escape sequence whose ESC ends
// just before i.
func skipEscape(s string, i int) int {
	if i >= len(s) {
		return i
	}
	switch s[i] {
	case '[':
		return skipCSI(s, i+1)
	case ']', 'P', 'X', '^', '_':
		return skipString(s, i+1)
	}
	// Two-character escapes (ESC c, ESC 7, ...), and ESC followed by
	// intermediate bytes then a final byte (ESC ( B).
	for i < len(s) && s[i] >= 0x20 && s[i] <= 0x2f {
		i++
	}
	if i < len(s) {
		_, size := utf8.DecodeRuneInString(s[i:])
		i += size
	}
	return i
}

// skipCSI returns the index after a control sequence's final byte
// (0x40–0x7e), its parameters starting at i.
func skipCSI(s string, i int) int {
	for ; i < len(s); i++ {
		if c := s[i]; c >= 0x40 && c <= 0x7e {
			return i + 1
		}
	}
	return i
}

// skipString returns the index after a control string (OSC, DCS, ...)
// starting at i, ended by BEL, ESC \ or the C1 string terminator; an
// unterminated string runs to the end of s.
func skipString(s string, i int) int {
	for i < len(s) {
		switch {
		case s[i] == bel:
			return i + 1
		case s[i] == esc:
			if i+1 < len(s) && s[i+1] == '\\' {
				return i + 2
			}
			return i + 1
		case strings.HasPrefix(s[i:], "\u009c"):
			return i + len("\u009c")
		}
		i++
	}
	return i
}
