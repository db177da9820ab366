// Package drift decides whether a run of an eval suite against a model
// behaves differently from its baseline. It is pure statistics: samples in,
// Result out; no I/O, no clock, and all randomness comes from Settings.Seed
// (PCG streams per procedure), so the same inputs give the same Result.
//
// # Design (DRIFT_METHOD.md section 4.7)
//
// Samples are grouped by case. The baseline is usually pooled from several
// accepted runs, so the sample counts per case may differ between the sides;
// every test conditions on them. Errored samples are never compared; they
// count towards the error rate. Cases present on one side only are ignored.
//
// Suite-level alarm family (each one p-value; Holm at AlphaFamily, and a
// test raises DRIFT only when it also reaches its effect floor):
//
//   - pass_rate: one-sided Cochran-Mantel-Haenszel test stratified by case
//     (hypergeometric mean and variance of the current pass count given the
//     case totals, any n0, n1), combined by min-p with Bonferroni
//     (p = min(1, 2 min(p_cmh, p_sparse))) with the sparse-collapse statistic
//     S = sum max(0, -z_i)^2, calibrated by Monte Carlo from the exact
//     per-case hypergeometric null (MonteCarlo draws, sequential early stop
//     when p is clearly large). Effect: mean per-case pass rate difference
//     with a 95% case bootstrap CI. Floor: a drop of MinPassDelta, or at
//     least one localised case (DRIFT_METHOD 4.3: "2 pp for the suite or 0.2
//     for a case"). The improvement direction is reported as the metric
//     pass_rate_improvement, never an alarm. Result.PassZ is the CMH z, the
//     input of CUSUM across runs.
//   - refusal_rate, json_valid_rate, code_fence_rate and
//     finish_reason_length_rate: two-sided CMH; floor FloorRate (5 points)
//     over the suite, or FloorRate over the cases where the behaviour
//     varies (the CMH-informative strata) when the change amounts to at
//     least FloorCases cases' worth: a change confined to a group of prompts
//     of a mixed suite (fences on 15% of its JSON prompts, refusals up on
//     some of its sensitive ones) moves the suite mean by a fraction of its
//     size. A change spread thinly over every case passes this route only
//     when the rate moves by about 0.1*k times its level.
//   - output_length: two-sided Wilcoxon signed-rank test across cases on the
//     log ratio of per-case median token counts; effect = relative change of
//     the summed per-case medians; floor FloorLength (15%: above T=0 length
//     jitter).
//   - answer_distribution (samples with HasAnswer): sum over cases of the
//     total-variation distance between the two answer distributions, null by
//     permuting labels within each case; effect = the observed mean distance
//     minus its permutation mean (the within-version noise); floor
//     FloorAnswer (0.03).
//   - output_text: per-case biased MMD^2 with the cosine kernel of hashed
//     character 3-5-gram count vectors (first 2,000 runes; up to 32 outputs
//     per case and side), summed over cases, within-case permutation null;
//     floor: within-version similarity minus cross-version similarity of at
//     least MinSimilarityGap.
//
// Permutation tests are capped by a work budget (never fewer than 50
// permutations); with 30 or more cases the p-value comes from a normal fit
// to the permutation null (a sum of many independent case statistics),
// otherwise it is the add-one permutation p-value.
//
// Deterministic endpoints: when no case has more than one comparable sample
// on either side (k=1, single-run baseline), the within-version noise cannot
// be estimated. The answer and text tests then count the cases whose answer
// (or whitespace-normalised output) changed and test the count against a
// binomial with the assumed spontaneous change rate DeterministicNoise (1%);
// the floor is 3% of cases. Identical outputs give STABLE; a changed answer on
// 5% of 200 cases gives DRIFT. Use k >= 2 or a pooled baseline for endpoints
// that are not deterministic.
//
// Error rate is a metric and an INCONCLUSIVE trigger (above MaxErrorRate, or
// fewer than MinSamples comparable current samples), never a drift alarm.
// Identity changes (a current Sample.Identity absent from the baseline) set
// Result.IdentityChanged and add an IDENTITY_CHANGED finding, never DRIFT.
//
// Localisation: Boschloo's one-sided test per case on the pass counts, BH at
// QCase; cases with q <= QCase and a drop >= MinCaseDelta are DriftedCases
// and get case-scope findings (at most 50). Suite tests that do not raise
// DRIFT but have BH q <= QWarn over the family become WARN findings.
//
// MDE is the minimum detectable pass-rate drop at 80% power and one-sided
// AlphaFamily for the run's cases and samples per side, with v-bar estimated
// from the baseline (p(1-p) of the suite mean when there are no replicates).
//
// Measured calibration (simulated suite of 200 cases, k=5, baseline pooled
// from 3 runs; see calibration_test.go and BENCHMARKS.md): false alarms and
// detection rates are asserted by TestCalibration; run with -drift.long for
// 500 trials per scenario.
package drift
