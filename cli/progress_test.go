package cli

import (
	"bytes"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"
)

func TestProgressBoardOneLine(t *testing.T) {
	t.Parallel()
	var out bytes.Buffer
	b := newProgressBoard(&out)
	gpt := b.add(newProgress(&out, true, "arith@gpt", 100))
	claude := b.add(newProgress(&out, true, "arith@claude", 50))
	quiet := b.add(newProgress(&out, false, "arith@off", 10))
	require.Nil(t, quiet.board, "a run that prints nothing stays off the board")

	gpt.Update(40, 1)
	claude.Update(50, 2) // a finished run always redraws
	gpt.Update(100, 1)
	gpt.Finish()
	claude.Finish()
	b.Finish()

	s := out.String()
	require.True(t, strings.HasSuffix(s, "\n"), "the board ends its line: %q", s)
	frames := strings.Split(strings.TrimSuffix(s, "\n"), "\r")[1:]
	require.NotEmpty(t, frames)
	for _, f := range frames {
		require.NotContains(t, f, "\n", "one line per frame")
	}
	last := frames[len(frames)-1]
	require.True(t, strings.HasPrefix(last, "arith@gpt 100% · arith@claude 100% · 3 errors · "), last)
	require.True(t, strings.HasSuffix(last, " samples/s\x1b[K"), last)
	require.Contains(t, frames[0], "arith@gpt 40% · arith@claude 0% · 1 errors")
}

func TestProgressBoardNil(t *testing.T) {
	t.Parallel()
	var b *progressBoard
	var out bytes.Buffer
	p := b.add(newProgress(&out, true, "arith@gpt", 10))
	require.Nil(t, p.board)
	p.Update(10, 0)
	b.Finish()
	require.Equal(t, "arith@gpt: 10/10 samples (100%), 0 errors\n", out.String())
}
