package storage_test

import (
	"context"
	"encoding/json"
	"fmt"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/driftwatch/driftwatch/storage"
)

// A reply with a NUL byte, one with a raw 0xff byte and one whose endpoint
// reported absurd usage are stored with the 497 ordinary samples of their
// batch: no reply content can fail a write. The exact bytes of the odd
// replies and response bodies are kept; the text columns hold cleaned
// copies.
func TestSampleWriterStoresEveryReplyWhateverItsBytes(t *testing.T) {
	t.Parallel()
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	b := setup(t)
	run := b.newRun(t)

	const n = 500
	nulOut, nulRaw := "before\x00after", `{"choices":[{"message":{"content":"before\u0000after"}}]}`
	ffOut, ffRaw := "caf\xff!", "{\"choices\":[{\"message\":{\"content\":\"caf\xff!\"}}]}"
	escaped := `{"content":"a backslash then u0000: \\u0000"}` // valid for jsonb, kept as is
	w := b.store.NewSampleWriter(ctx, run.ID, storage.SampleWriterOpts{BatchSize: 40})
	for i := range n {
		s := sample(run.ID, fmt.Sprintf("case-%03d", i), 0, "fine", "")
		s.Raw = json.RawMessage(`{"ok":true}`)
		switch i {
		case 17:
			s.Output, s.Raw = nulOut, json.RawMessage(nulRaw)
			a := "x\x00y"
			s.Answer = &a
		case 42:
			s.Output, s.Raw = ffOut, json.RawMessage(ffRaw)
			s.Error = "server said \xff\x00"
		case 99:
			s.InputTokens, s.OutputTokens = 1_000_000_000_000, -5
			s.CostUSD = -300
		case 123:
			s.Raw = json.RawMessage(escaped)
		}
		require.NoError(t, w.Write(s))
	}
	require.NoError(t, w.Close(ctx))

	var stored int
	require.NoError(t, b.store.Pool().QueryRow(ctx, `SELECT count(*) FROM samples WHERE run_id = $1`, run.ID).Scan(&stored))
	require.Equal(t, n, stored)

	type row struct {
		output              string
		outputBytes, rawB   []byte
		raw                 *string
		in, out             int64
		cost                float64
		estimated           bool
		errText, answerText *string
	}
	get := func(key string) row {
		t.Helper()
		var r row
		require.NoError(t, b.store.Pool().QueryRow(ctx, `
			SELECT output, output_bytes, raw_bytes, raw::text, input_tokens, output_tokens, cost_usd,
				usage_estimated, error, answer
			FROM samples WHERE run_id = $1 AND case_key = $2`, run.ID, key).
			Scan(&r.output, &r.outputBytes, &r.rawB, &r.raw, &r.in, &r.out, &r.cost, &r.estimated, &r.errText, &r.answerText))
		return r
	}

	nul := get("case-017")
	require.Equal(t, "before\uFFFDafter", nul.output)
	require.Equal(t, []byte(nulOut), nul.outputBytes)
	require.Equal(t, []byte(nulRaw), nul.rawB)
	require.NotNil(t, nul.raw)
	require.Contains(t, *nul.raw, "before\uFFFDafter")
	require.Equal(t, "x\uFFFDy", *nul.answerText)

	ff := get("case-042")
	require.Equal(t, "caf\uFFFD!", ff.output)
	require.Equal(t, []byte(ffOut), ff.outputBytes)
	require.Equal(t, []byte(ffRaw), ff.rawB)
	require.Equal(t, "server said \uFFFD\uFFFD", *ff.errText)

	big := get("case-099")
	require.Equal(t, int64(1_000_000_000_000), big.in, "token counts are 64-bit")
	require.Equal(t, int64(0), big.out)
	require.True(t, big.estimated)
	require.Zero(t, big.cost, "a cost is never negative")

	esc := get("case-123")
	require.Nil(t, esc.rawB, "valid jsonb is stored as sent")
	require.Nil(t, esc.outputBytes)
	require.JSONEq(t, escaped, *esc.raw)

	plain := get("case-000")
	require.Equal(t, "fine", plain.output)
	require.Nil(t, plain.outputBytes)
	require.Nil(t, plain.rawB)
	require.False(t, plain.estimated)
}

// WriteSamples (the synchronous path) cleans samples the same way and leaves
// the caller's slice untouched.
func TestWriteSamplesStoresNULReplies(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	b := setup(t)
	run := b.newRun(t)
	in := []storage.Sample{sample(run.ID, "a", 0, "x\x00", ""), sample(run.ID, "b", 0, "ok", "")}
	in[0].Raw = json.RawMessage(`{"t":"\u0000"}`)
	require.NoError(t, b.store.WriteSamples(ctx, in))
	require.Equal(t, "x\x00", in[0].Output)
	got, err := b.store.ListSamples(ctx, run.ID, "")
	require.NoError(t, err)
	require.Len(t, got, 2)
	require.Equal(t, "x\uFFFD", got[0].Output)
	require.JSONEq(t, `{"t":"\ufffd"}`, string(got[0].Raw))
}
