package drift

import "math"

// Power80 is the power used by MDE in Compare and by Power.
const Power80 = 0.8

// CUSUM defaults: k = 0.5, h = 5 gives an in-control
// average run length of about 900 runs and detects a sustained 1-sigma drop
// in about 10 runs.
const (
	DefaultCUSUMK = 0.5
	DefaultCUSUMH = 5.0
)

// CUSUMState is the path of a one-sided (downward) CUSUM.
type CUSUMState struct {
	// Path holds S_t for every input z_t.
	Path []float64 `json:"path"`
	// Alarm is the index of the first t with S_t > h, or -1.
	Alarm int `json:"alarm"`
	// Last is the final S_t (0 for no input): the state to carry forward.
	Last float64 `json:"last"`
}

// CUSUM runs Page's one-sided CUSUM on -z: S_t = max(0, S_{t-1} - z_t - k),
// alarm when S_t > h. z are per-run standardised statistics such as
// Result.PassZ (negative = drop).
func CUSUM(z []float64, k, h float64) CUSUMState {
	st := CUSUMState{Path: make([]float64, len(z)), Alarm: -1}
	s := 0.0
	for t, v := range z {
		s = max(0, s-v-k)
		st.Path[t] = s
		if st.Alarm < 0 && s > h {
			st.Alarm = t
		}
	}
	st.Last = s
	return st
}

// MDE returns the minimum detectable drop of the suite pass rate (absolute)
// for a paired design with cases cases and k samples per case and side,
// one-sided level alpha, at the given power, where vbar is the mean of
// p_i(1-p_i) over cases: (z_alpha + z_beta) * sqrt(2 vbar / (cases k)).
func MDE(vbar float64, cases, k int, alpha, power float64) float64 {
	if cases <= 0 || k <= 0 || alpha <= 0 || alpha >= 1 || power <= 0 || power >= 1 {
		return math.NaN()
	}
	zz := normQuantile(1-alpha) + normQuantile(power)
	return zz * math.Sqrt(2*max(vbar, 0)/float64(cases*k))
}

// Power returns the samples per case k that give 80% power to detect a
// uniform drop of the pass rate from p0 to p1 over cases cases at one-sided
// level alpha (paired design, v-bar = p0(1-p0); when p0 is 0 or 1 the
// variance under the alternative, p1(1-p1), is used). It returns 0 when
// p1 >= p0 or the inputs are invalid, and math.MaxInt32 when the drop is
// too small to be detectable at any practical k.
func Power(p0, p1 float64, cases int, alpha float64) int {
	delta := p0 - p1
	if delta <= 0 || cases <= 0 || alpha <= 0 || alpha >= 1 || p0 < 0 || p0 > 1 || p1 < 0 {
		return 0
	}
	v := p0 * (1 - p0)
	if v == 0 {
		v = p1 * (1 - p1)
	}
	zz := normQuantile(1-alpha) + normQuantile(Power80)
	k := math.Ceil(2 * v * zz * zz / (delta * delta * float64(cases)))
	if math.IsNaN(k) || k > math.MaxInt32 {
		return math.MaxInt32 // not reachable: callers cap and say so
	}
	return max(1, int(k))
}

// MDEOf is the minimum detectable pass-rate drop of a later run with the
// same cases and samples per case compared with samples as its baseline: a
// BASELINE run's MDE, as Compare computes it for a comparison (v-bar from
// the per-case pass rates with replicates, else the suite rate's upper
// bound). Errored samples are left out; NaN without a comparable sample.
func MDEOf(samples []Sample, alpha float64) float64 {
	type counts struct{ n, pass int }
	byCase := map[string]*counts{}
	for i := range samples {
		s := &samples[i]
		if s.Errored {
			continue
		}
		c := byCase[s.Case]
		if c == nil {
			c = &counts{}
			byCase[s.Case] = c
		}
		c.n++
		if s.Passed {
			c.pass++
		}
	}
	if len(byCase) == 0 {
		return math.NaN()
	}
	var noise passNoise
	for _, c := range byCase {
		noise.add(float64(c.pass)/float64(c.n), c.n)
	}
	return MDE(noise.vbar()/(noise.k/float64(noise.cases)), noise.cases, 1, alpha, Power80)
}
