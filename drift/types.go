package drift

// Verdict is the outcome of comparing a run with its baseline.
type Verdict string

// Verdicts. IDENTITY_CHANGED is a separate signal carried next to the verdict
// (Result.IdentityChanged); it is a Verdict value only on findings.
const (
	Stable          Verdict = "STABLE"
	Drift           Verdict = "DRIFT"
	Inconclusive    Verdict = "INCONCLUSIVE"
	Baseline        Verdict = "BASELINE"
	IdentityChanged Verdict = "IDENTITY_CHANGED"
	// Warn marks a finding that is significant at the warning level (BH
	// q=0.05 over the metric family) but did not survive Holm: dashboard only.
	Warn Verdict = "WARN"
)

// Sample is one stored sample as the drift engine sees it: one (case, sample
// index) of one run, already scored. The engine never sees prompts.
type Sample struct {
	Case   string  // stable case key (suite-unique)
	Index  int     // sample index within the case, 0..k-1
	Score  float64 // weighted check score in [0,1]
	Output string
	// Answer is the extracted answer category; HasAnswer is false when the
	// suite has no extractor or extraction failed ("" is a valid answer).
	Answer string
	Tokens int // output length in tokens (provider usage, or an estimate)
	// FinishReason as the provider reported it ("stop", "length", ...).
	FinishReason string
	// Identity is a stable digest of the sample's identity (resolved model,
	// fingerprint, digest); "" when unknown.
	Identity string
	// Errored samples (target or transport failure, panic) are never
	// compared; they only count towards the error rate.
	Errored   bool
	Passed    bool
	Refused   bool
	HasAnswer bool
	JSONValid bool // output parses as JSON (whole output, fences stripped off)
	CodeFence bool // output contains a ``` fence
	// Run identifies the baseline run a baseline sample came from (any
	// stable small integer, such as the run's index among the pooled
	// runs); 0 for every sample when unknown. With three or more distinct
	// runs Compare estimates the A/A inflation factor lambda (Calibration).
	// Ignored on current samples.
	Run int
}

// Settings are the knobs of a comparison. The zero value means "defaults"
// (package documentation); use WithDefaults to see them filled in.
type Settings struct {
	// Seed makes permutations, bootstraps and Monte Carlo draws
	// reproducible. The same inputs and seed give the same Result.
	Seed uint64
	// AlphaFamily is the Holm family-wise level for alarms. Default 0.01.
	AlphaFamily float64
	// QCase is the Benjamini-Hochberg level for per-case localisation.
	// Default 0.10.
	QCase float64
	// QWarn is the BH level for dashboard warnings over the metric family.
	// Default 0.05.
	QWarn float64
	// MinPassDelta is the suite pass-rate effect floor (absolute). Default 0.02.
	MinPassDelta float64
	// MinCaseDelta is the per-case pass-rate effect floor. Default 0.2.
	MinCaseDelta float64
	// MinSimilarityGap is the free-text effect floor (within-version minus
	// cross-version similarity). Default 0.1.
	MinSimilarityGap float64
	// MaxErrorRate above which the verdict is INCONCLUSIVE. Default 0.2.
	MaxErrorRate float64
	// MinSamples is the fewest comparable current samples needed for a
	// verdict. Default 20.
	MinSamples int
	// Permutations for MMD tests (default 999), MonteCarlo draws for the
	// sparse-collapse null (default 10000), Bootstrap resamples (default 2000).
	Permutations int
	MonteCarlo   int
	Bootstrap    int
	// DeterministicNoise is the assumed per-case probability that an output
	// changes between runs when neither side has replicates (k=1 on both
	// sides), used to calibrate the changed-output count. Default 0.01.
	DeterministicNoise float64
	// Stochastic says the outputs are sampled (temperature above 0, or the
	// provider's default): with one sample per case on both sides a changed
	// answer or output is then expected noise, so the k=1 answer and text
	// change tests are skipped (the pass-rate test still runs). False (the
	// default) trusts k=1 outputs to be deterministic.
	Stochastic bool
	// CMHMonteCarlo calibrates the pass-rate CMH statistic by Monte Carlo
	// from the same draws of the exact per-case null as the sparse-collapse
	// statistic, instead of the normal approximation. The staged design
	// (Look, Final) sets it: with one or two current samples per case the
	// normal p is slightly liberal. False keeps the normal p.
	CMHMonteCarlo bool
}

// Metric names used in findings and metrics. They are part of the --json
// contract: keep them stable.
const (
	MetricPassRate  = "pass_rate"
	MetricRefusal   = "refusal_rate"
	MetricJSONValid = "json_valid_rate"
	MetricCodeFence = "code_fence_rate"
	MetricAnswer    = "answer_distribution"
	MetricLength    = "output_length"
	MetricFinish    = "finish_reason"
	MetricErrorRate = "error_rate"
	MetricText      = "output_text"
	MetricIdentity  = "identity"
	MetricCUSUM     = "pass_rate_cusum"
	MetricCasePass  = "case_pass_rate"
	// MetricPassRateUp is the one-sided test for a pass-rate improvement:
	// reported as a Metric, never an alarm.
	MetricPassRateUp = "pass_rate_improvement"
	// MetricFinishLength is the rate of finish reason "length" (truncation).
	MetricFinishLength = "finish_reason_length_rate"
	// MetricCalibration is the A/A calibration warning (lambda above
	// LambdaWarn): a hint about the baseline, never an alarm.
	MetricCalibration = "pass_rate_calibration"
	ScopeSuite        = "suite"
	ScopeCasePrefix   = "case:"
)

// Interval is a two-sided confidence interval.
type Interval struct {
	Low  float64 `json:"low"`
	High float64 `json:"high"`
}

// Metric is one suite-level number of the current run next to the baseline.
type Metric struct {
	Name     string    `json:"name"`
	Baseline float64   `json:"baseline"`
	Current  float64   `json:"current"`
	Delta    float64   `json:"delta"`
	CI       *Interval `json:"ci,omitempty"` // CI of Delta (95%)
	P        *float64  `json:"p,omitempty"`
}

// Example is a before/after output pair that illustrates a finding.
type Example struct {
	Case     string `json:"case"`
	Baseline string `json:"baseline"`
	Current  string `json:"current"`
}

// Finding is one significant (or reported) difference.
type Finding struct {
	Metric    string    `json:"metric"`
	Scope     string    `json:"scope"` // "suite" or "case:<key>"
	Statistic string    `json:"statistic"`
	Baseline  float64   `json:"baseline"`
	Current   float64   `json:"current"`
	Effect    float64   `json:"effect"`
	CI        *Interval `json:"ci,omitempty"`
	P         float64   `json:"p"`
	Q         float64   `json:"q"` // Holm-adjusted p for suite scope, BH q for cases
	Verdict   Verdict   `json:"verdict"`
	Reason    string    `json:"reason"`
	Examples  []Example `json:"examples,omitempty"`
}

// Result is the comparison of one run with its baseline.
type Result struct {
	Verdict Verdict `json:"verdict"`
	// Reason explains the verdict in one sentence (for INCONCLUSIVE: which
	// condition failed, error rate or sample count).
	Reason   string    `json:"reason"`
	Metrics  []Metric  `json:"metrics"`
	Findings []Finding `json:"findings"`
	// DriftedCases are the case keys localised as drifted (BH q over cases).
	DriftedCases []string `json:"drifted_cases"`
	// ChangedCases are keys present in both runs whose content hash differs;
	// the caller fills it, they are excluded from the comparison.
	ChangedCases []string `json:"changed_cases,omitempty"`
	// IdentityChanged is set when the set of sample identities differs.
	IdentityChanged bool `json:"identity_changed"`
	// MDE is the minimum detectable pass-rate drop (absolute) at 80% power
	// for this suite's n and k, estimated from the baseline's noise.
	MDE float64 `json:"mde"`
	// Counts.
	Cases           int `json:"cases"`
	BaselineSamples int `json:"baseline_samples"`
	CurrentSamples  int `json:"current_samples"`
	Errors          int `json:"errors"`
	// PassZ is the standardised CMH pass-rate statistic of this run against
	// the baseline (negative: drop), divided by the square root of the A/A
	// inflation factor when Calibration applies it. Feed the history of
	// PassZ to CUSUM.
	PassZ float64 `json:"pass_z"`
	// Calibration is the A/A calibration of the pass-rate test from the
	// pairs of baseline runs; nil when the baseline has fewer than three
	// distinct runs (Sample.Run) or no pair is informative.
	Calibration *Calibration `json:"calibration,omitempty"`
	// Sampling is how a staged night sampled: its looks, and where it
	// stopped; nil for a plain comparison (RunNight and the run lifecycle
	// set it).
	Sampling *Staged `json:"sampling,omitempty"`
}

// Calibration is the A/A (genomic-control) calibration of the pass-rate test
// from every pair of baseline runs. Under pure
// sampling noise both factors are about 1; night-to-night variation of the
// endpoint inflates them.
type Calibration struct {
	// Lambda is the mean squared pass-rate CMH z between the pairs of
	// baseline runs, not floored (below 1: no inflation seen). The CMH z
	// (and PassZ) is divided by sqrt(Lambda) when it is above 1.
	Lambda float64 `json:"lambda"`
	// Sparse is the same for the sparse-collapse statistic standardised by
	// its exact null mean and variance (both directions of every pair).
	Sparse float64 `json:"lambda_sparse"`
	// Pairs is the number of informative pairs of baseline runs, Runs the
	// number of baseline runs.
	Pairs int `json:"pairs"`
	Runs  int `json:"runs"`
	// Applied says a correction was made (Lambda or Sparse above 1).
	Applied bool `json:"applied"`
}
