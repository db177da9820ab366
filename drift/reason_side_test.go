package drift

import (
	"testing"

	"github.com/stretchr/testify/require"
)

// TestInconclusiveReasonNamesTheEmptySide: a comparison whose baseline has
// no comparable sample (every one errored) says so, rather than counting
// "0 comparable current samples" when the current side is fine; with the
// sides swapped the reason names the current side, as run's always did.
func TestInconclusiveReasonNamesTheEmptySide(t *testing.T) {
	t.Parallel()
	fast := Settings{Seed: 1, Permutations: 99, MonteCarlo: 500, Bootstrap: 100}
	errored := mk(50, 3, all(true), func(s *Sample) { s.Errored = true })
	ok := mk(50, 3, all(true), nil)

	r := Compare(errored, ok, fast)
	require.Equal(t, Inconclusive, r.Verdict)
	require.Equal(t, "no comparable baseline samples: all 150 baseline samples errored", r.Reason)

	r = Compare(ok, errored, fast)
	require.Equal(t, Inconclusive, r.Verdict)
	require.Equal(t, "current error rate 1.000 (150 of 150 samples errored) exceeds the maximum 0.200", r.Reason)
}
