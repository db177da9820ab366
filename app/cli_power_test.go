package app_test

import (
	"testing"

	"github.com/driftwatch/driftwatch/cli"

	"github.com/stretchr/testify/require"
)

func TestPower(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name string
		args []string
		code int
		want string // on stdout for ExitOK, else on stderr
	}{
		{"alpha 0", []string{"--p0", "0.9", "--p1", "0.8", "--alpha", "0"}, cli.ExitConfig, "--alpha 0: want a significance level between 0 and 1 (exclusive)"},
		{"alpha 1", []string{"--p0", "0.9", "--p1", "0.8", "--alpha", "1"}, cli.ExitConfig, "--alpha 1: want a significance level"},
		{"alpha NaN", []string{"--p0", "0.9", "--p1", "0.8", "--alpha", "NaN"}, cli.ExitConfig, "--alpha NaN: want"},
		{"alpha tiny", []string{"--p0", "0.9", "--p1", "0.8", "--alpha", "1e-300"}, cli.ExitConfig, "--alpha 1e-300: too small"},
		{"p0 missing", []string{"--p1", "0.8"}, cli.ExitConfig, `required flag(s) "p0" not set`},
		{"p1 missing", []string{"--p0", "0.9"}, cli.ExitConfig, `required flag(s) "p1" not set`},
		{"p0 zero", []string{"--p0", "0", "--p1", "0"}, cli.ExitConfig, "--p0 0: want the baseline pass rate, in (0, 1]"},
		{"p0 above 1", []string{"--p0", "1.5", "--p1", "0.8"}, cli.ExitConfig, "--p0 1.5: want"},
		{"p0 NaN", []string{"--p0", "NaN", "--p1", "0.8"}, cli.ExitConfig, "--p0 NaN: want"},
		{"p1 not below p0", []string{"--p0", "0.8", "--p1", "0.9"}, cli.ExitConfig, "--p1 0.9: want the pass rate to detect, at least 0 and below --p0 (0.8)"},
		{"p1 negative", []string{"--p0", "0.8", "--p1", "-0.1"}, cli.ExitConfig, "--p1 -0.1: want"},
		{"cases", []string{"--p0", "0.9", "--p1", "0.8", "--cases", "0"}, cli.ExitConfig, "--cases 0: want at least 1"},
		{"reachable", []string{"--p0", "0.9", "--p1", "0.8", "--cases", "200"}, cli.ExitOK, "samples per case (k): 1\n"},
		{"needs a few samples", []string{"--p0", "0.9", "--p1", "0.85", "--cases", "50"}, cli.ExitOK, "samples per case (k): 15\n"},
		{"staged nights", []string{"--p0", "0.9", "--p1", "0.85", "--cases", "50"}, cli.ExitOK, "calls per night at k=15: staged (sampling: {k: 15}) about"},
		{"near-equal rates", []string{"--p0", "0.9", "--p1", "0.8999999", "--cases", "200"}, cli.ExitOK,
			"not reachable with 200 cases (it would take more than 1000 samples per case); add cases\n"},
		{"beyond the cap", []string{"--p0", "0.9", "--p1", "0.89", "--cases", "10"}, cli.ExitOK,
			"not reachable with 10 cases (it would take more than 1000 samples per case); add cases: about 3613 cases at k=5\n"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			r := runCLI(t, append([]string{"power"}, tc.args...)...)
			require.Equal(t, tc.code, r.code, "stdout: %s\nstderr: %s", r.stdout, r.stderr)
			if tc.code == cli.ExitOK {
				require.Contains(t, r.stdout, tc.want)
				return
			}
			require.Contains(t, r.stderr, tc.want)
			require.Empty(t, r.stdout)
		})
	}
}
