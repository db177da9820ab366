package drift

import (
	"math"
	"testing"

	"github.com/stretchr/testify/require"
)

func TestDecideCoversEveryCombination(t *testing.T) {
	set := Settings{MinSamples: 20, MaxErrorRate: 0.2}
	quiet := &CUSUMState{Last: 1.2}
	alarm := &CUSUMState{Last: 6.5}
	stable := Result{Verdict: Stable, Reason: "no change"}
	drifted := Result{Verdict: Drift, Reason: "pass rate fell", Findings: []Finding{{Metric: MetricPassRate, Verdict: Drift}}}
	inconclusive := Result{Verdict: Inconclusive, Reason: "too many errors"}
	cases := []struct {
		name         string
		e            Evidence
		verdict      Verdict
		reason       string
		cusumFinding bool
	}{
		{"first run with enough samples is the baseline", Evidence{Samples: 100, Errors: 5}, Baseline, "first completed run", false},
		{"first run with too many errors is inconclusive", Evidence{Samples: 100, Errors: 30}, Inconclusive, "error rate 30.0% is above 20%", false},
		{"first run with too few samples is inconclusive", Evidence{Samples: 12}, Inconclusive, "only 12 samples without error (at least 20 needed)", false},
		{"first run of nothing is inconclusive", Evidence{}, Inconclusive, "only 0 samples", false},
		{"first run ignores a CUSUM", Evidence{Samples: 100, CUSUM: alarm}, Baseline, "first completed run", false},
		{"stable without CUSUM stays stable", Evidence{HasBaseline: true, Compared: stable}, Stable, "no change", false},
		{"stable with a quiet CUSUM stays stable", Evidence{HasBaseline: true, Compared: stable, CUSUM: quiet}, Stable, "no change", false},
		{"stable with a CUSUM alarm is a slow drift", Evidence{HasBaseline: true, Compared: stable, CUSUM: alarm, CUSUMRuns: 9}, Drift, "slow drift: the pass-rate CUSUM over 9 runs", true},
		{"drift stays drift without CUSUM", Evidence{HasBaseline: true, Compared: drifted}, Drift, "pass rate fell", false},
		{"drift with a CUSUM alarm keeps its own reason", Evidence{HasBaseline: true, Compared: drifted, CUSUM: alarm}, Drift, "pass rate fell", false},
		{"inconclusive is never turned into drift by a CUSUM", Evidence{HasBaseline: true, Compared: inconclusive, CUSUM: alarm}, Inconclusive, "too many errors", false},
		{"a CUSUM exactly at the threshold does not alarm", Evidence{HasBaseline: true, Compared: stable, CUSUM: &CUSUMState{Last: CUSUMH}}, Stable, "no change", false},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			res := Decide(c.e, set)
			require.Equal(t, c.verdict, res.Verdict)
			require.Contains(t, res.Reason, c.reason)
			var found bool
			for _, f := range res.Findings {
				if f.Metric == MetricCUSUM {
					found = true
					require.Equal(t, Drift, f.Verdict)
					require.True(t, math.IsNaN(f.P))
				}
			}
			require.Equal(t, c.cusumFinding, found)
		})
	}
}

func TestConfirmSettlesDriftByTheConfirmationVerdict(t *testing.T) {
	for v, want := range map[Verdict]Confirmation{
		Drift: Confirmed, Stable: Overturned, Inconclusive: Unconfirmed, Baseline: Unconfirmed, IdentityChanged: Unconfirmed, "": Unconfirmed,
	} {
		require.Equal(t, want, Confirm(v), "confirmation %q", v)
	}
}
