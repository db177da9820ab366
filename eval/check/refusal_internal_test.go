package check

import (
	"bufio"
	"encoding/json"
	"os"
	"testing"

	"github.com/stretchr/testify/require"
)

// TestRefusalPrefilterIsSafe: the keyword prefilter never hides a refusal
// that the rules recognise, on the labelled set and on variants of it.
func TestRefusalPrefilterIsSafe(t *testing.T) {
	t.Parallel()
	f, err := os.Open("testdata/refusal.jsonl")
	require.NoError(t, err)
	defer f.Close()
	sc := bufio.NewScanner(f)
	n := 0
	for sc.Scan() {
		var ex struct {
			Text string `json:"text"`
		}
		require.NoError(t, json.Unmarshal(sc.Bytes(), &ex))
		for _, v := range []string{ex.Text, "  " + ex.Text + "\n", "> quoted\n" + ex.Text} {
			if refusalRules(v) {
				n++
				require.True(t, mayRefuse(v), "prefilter hides a refusal: %q", v)
			}
		}
	}
	require.NoError(t, sc.Err())
	require.Positive(t, n)
	require.False(t, mayRefuse("The answer is 42. Double-checking the work gives the same result."))
}

func BenchmarkIsRefusalOnAnswers(b *testing.B) {
	text := "Working through it step by step, the result is 516. This follows directly from the question as stated."
	for b.Loop() {
		IsRefusal(text)
	}
}
