package drift

import (
	"testing"

	"github.com/stretchr/testify/require"
)

// calibrationSettings keep the short calibration fast; the defaults are
// checked in TestCompareDefaultsSmoke.
var calibrationSettings = Settings{Permutations: 99, MonteCarlo: 2000, Bootstrap: 200}

func TestCalibration(t *testing.T) {
	t.Parallel()
	trials := 40
	if testing.Short() {
		trials = 12
	}
	if raceEnabled {
		// The race detector slows the simulation about tenfold; the rates
		// are asserted by the plain run.
		trials = 3
	}
	if *longCalibration {
		trials = 500
	}
	for _, sc := range scenarios {
		t.Run(sc.name, func(t *testing.T) {
			t.Parallel()
			drift, named, wrong := 0, 0, 0
			for i := range trials {
				r := trial(sc, uint64(1000+i), calibrationSettings)
				names := driftNames(r)
				if r.Verdict == Drift {
					drift++
				}
				if sc.metric != "" && r.Verdict == Drift && names[sc.metric] {
					named++
				}
				if sc.notName != "" && names[sc.notName] {
					wrong++
				}
			}
			rate := float64(drift) / float64(trials)
			t.Logf("%-40s trials=%d DRIFT=%.3f right-metric=%.3f wrong-metric=%.3f",
				sc.name, trials, rate, float64(named)/float64(trials), float64(wrong)/float64(trials))
			if sc.metric == "" {
				// A/A: at most 2% false alarms (one allowed in short runs).
				require.LessOrEqual(t, drift, max(1, trials/50), "false alarm rate")
				return
			}
			require.GreaterOrEqual(t, float64(named)/float64(trials), 0.9, "detection with the right metric")
			require.LessOrEqual(t, wrong, max(1, trials/50), "wrong metric named")
		})
	}
}
