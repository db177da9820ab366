package drift

// Default settings.
const (
	DefaultAlphaFamily      = 0.01
	DefaultQCase            = 0.10
	DefaultQWarn            = 0.05
	DefaultMinPassDelta     = 0.02
	DefaultMinCaseDelta     = 0.2
	DefaultMinSimilarityGap = 0.1
	DefaultMaxErrorRate     = 0.2
	DefaultMinSamples       = 20
	DefaultPermutations     = 999
	DefaultMonteCarlo       = 10000
	DefaultBootstrap        = 2000
	// DefaultDeterministicNoise is the assumed per-case rate of spontaneous
	// output change when neither side has replicates (k=1 on both sides), so
	// the noise cannot be estimated.
	DefaultDeterministicNoise = 0.01
)

// Effect floors of the behaviour tests. A suite-level test raises DRIFT only
// when it survives Holm and its effect reaches the floor.
const (
	// FloorRate is the floor for the absolute change of a binary behaviour
	// rate (refusal, JSON-valid, code fence, finish reason "length"): five
	// points is a change a user notices; smaller shifts are dashboard warnings.
	FloorRate = 0.05
	// FloorLength is the floor for the relative change of the median output
	// length. Run-to-run length noise at T=0 is commonly 5-10% (tokenizer
	// and sampling jitter), so 15% is a change in verbosity, not noise.
	FloorLength = 0.15
	// FloorAnswer is the floor for the answer-distribution effect: the mean
	// per-case total-variation distance in excess of its permutation (noise)
	// expectation, or, without replicates, the fraction of cases whose
	// answer changed. Three percent of the answer mass moved beyond noise.
	FloorAnswer = 0.03
	// FloorChanged is the floor for the fraction of cases whose normalised
	// output changed when neither side has replicates (k=1 deterministic).
	FloorChanged = 0.03
	// FloorCases is the least change, in cases' worth (the sum of per-case
	// rate changes), for which a behaviour-rate change below FloorRate over
	// the suite may still reach FloorRate over the cases where the
	// behaviour varies (a change concentrated on a group of prompts). Two:
	// one case flipping is never enough on its own.
	FloorCases = 2
)

// Text and permutation limits that bound the cost of a comparison.
const (
	maxTextRunes      = 2000 // runes of an output used for n-grams
	maxTextPerSide    = 32   // outputs per case and side used for MMD
	permWorkBudget    = 5e7  // kernel-entry visits for all permutations
	minPermutations   = 50   // never fewer permutations than this
	normalApproxCases = 30   // permutation p by normal fit from this many cases
)

// WithDefaults returns s with every zero field replaced by its default.
func (s Settings) WithDefaults() Settings {
	if s.AlphaFamily <= 0 {
		s.AlphaFamily = DefaultAlphaFamily
	}
	if s.QCase <= 0 {
		s.QCase = DefaultQCase
	}
	if s.QWarn <= 0 {
		s.QWarn = DefaultQWarn
	}
	if s.MinPassDelta <= 0 {
		s.MinPassDelta = DefaultMinPassDelta
	}
	if s.MinCaseDelta <= 0 {
		s.MinCaseDelta = DefaultMinCaseDelta
	}
	if s.MinSimilarityGap <= 0 {
		s.MinSimilarityGap = DefaultMinSimilarityGap
	}
	if s.MaxErrorRate <= 0 {
		s.MaxErrorRate = DefaultMaxErrorRate
	}
	if s.MinSamples <= 0 {
		s.MinSamples = DefaultMinSamples
	}
	if s.Permutations <= 0 {
		s.Permutations = DefaultPermutations
	}
	if s.MonteCarlo <= 0 {
		s.MonteCarlo = DefaultMonteCarlo
	}
	if s.Bootstrap <= 0 {
		s.Bootstrap = DefaultBootstrap
	}
	if s.DeterministicNoise <= 0 {
		s.DeterministicNoise = DefaultDeterministicNoise
	}
	return s
}
