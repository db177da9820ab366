package main

import (
	"bytes"
	"testing"

	"github.com/stretchr/testify/require"
)

// The benchmark prints, for every scenario, each design's rate, its paired
// difference from fixed mode today and its calls, from one run.
func TestRunPrintsEveryDesignOnEveryScenario(t *testing.T) {
	t.Parallel()
	var out bytes.Buffer
	require.NoError(t, run(&out, []string{"-aa", "2", "-nights", "1", "-cases", "40", "-mc", "200", "-workers", "2"}))
	s := out.String()
	for _, want := range []string{"A/A (2 nights)", "false alarms", "only middle cases -10 pts (1 nights)", "power",
		"staged 1,2->5, pooled baseline", "staged 1,3->10, 1-run baseline", "expected calls per case on a quiet night"} {
		require.Contains(t, s, want)
	}
	require.Error(t, run(&out, []string{"-nope"}))
}
