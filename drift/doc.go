// Package drift decides whether a run of an eval suite against a model
// behaves differently from its baseline. It is pure statistics: samples in,
// Result out; no I/O, no clock, and all randomness comes from Settings.Seed
// (PCG streams per procedure), so the same inputs give the same Result.
//
// # Design
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
//     least one localised case ("2 pp for the suite or 0.2
//     for a case"). The improvement direction is reported as the metric
//     pass_rate_improvement, never an alarm. Result.PassZ is the CMH z, the
//     input of CUSUM across runs; both are A/A-calibrated (below).
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
// fewer than MinSamples comparable current samples, or a baseline whose
// every sample errored), never a drift alarm.
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
// # A/A calibration
//
// The tests above take the samples of a case as independent draws. An
// endpoint whose pass probabilities move together from night to night
// (load, a routing or quantisation change, batch effects) violates that:
// the CMH z then has variance lambda > 1 and a plain comparison alarms on
// the night, not on the model. When the baseline pools at least
// MinCalibrationRuns runs told apart by Sample.Run (the app numbers the
// pooled runs), Compare runs the pass-rate test between every pair of
// baseline runs over the compared cases and estimates
//
//   - lambda = mean over pairs of the squared CMH z. Under pure sampling
//     noise every pair's E[z^2] is exactly 1 (hypergeometric null given the
//     case totals). The textbook median(z^2)/0.455 assumes independent
//     pairs; the three pairs of three runs share runs (the median of their
//     squared z is the larger of two gaps) and that estimate had median 1.4
//     and exceeded 1.5 on half of the pure-noise baselines;
//   - lambda_sparse = the same for the sparse-collapse statistic
//     standardised by its exact null mean and variance, (S - E0)/sd0, over
//     both directions of every pair.
//
// Both are floored at 1 (a calibration never inflates a statistic) and
// applied: the CMH z, its p-value, the improvement test and Result.PassZ
// (so CUSUM accumulates the lambda-corrected z) are divided by
// sqrt(lambda); S above its null mean becomes E0 + (S - E0)/sqrt(
// lambda_sparse), tested against the same Monte Carlo null. Dividing S
// itself by lambda, or each per-case z by sqrt(lambda), is wrong for the
// night effect that inflates lambda: a shift common to all cases adds up
// over the cases in the CMH sum (lambda grows with cases and k) but moves
// each per-case z very little. Measured (400 seeds), that choice kept the night-effect
// false alarms at 0.022 but cut the detection of a 5% collapse from 0.99
// to 0.60 whenever noise put lambda above 1.
//
// Result.Calibration reports lambda (not floored), lambda_sparse, the
// pairs, the runs and whether a correction applied; a lambda above
// LambdaWarn (1.5) and above its 95th percentile under pure sampling noise
// (lambda from r runs has about r-1 degrees of freedom: 3.0 for three runs,
// 2.2 for six) adds a WARN finding (metric pass_rate_calibration):
// night-to-night variation, pool more baseline runs. Above 1.5 alone would
// warn on 22% of clean three-run baselines (exp(-1.5)); a lambda that stays
// high from baseline to baseline (the runs' stored summaries) is the signal.
// Raising k does not lower lambda (night effects add up over more samples);
// it raises power only until night effects dominate.
//
// Only the pass-rate family is calibrated. The behaviour rates (refusal,
// JSON, fences, finish reason), length, answers and text are two-sided
// tests with effect floors (5 points, 15%, 0.03, 0.1) that already sit
// above small night jitter, and lambda measured on correctness says
// nothing about their own night variance: a night that moves pass rates
// need not move refusals. Dividing their z by the pass-rate lambda would
// trade their power for no calibrated gain. Per-case localisation
// (Boschloo) is not corrected either: a common shift barely moves one
// case. Fewer than three baseline runs (Sample.Run all equal, for
// instance): no calibration, results unchanged.
//
// Measured (TestAACalibration -drift.long: 200 cases, k=5, baseline pooled
// from 3 runs, pass-only suite so the family is the pass-rate test at alpha
// 0.01, MonteCarlo 1000; the same data with and without run indexes,
// seeds 1..1000):
//
//	world                                  DRIFT calibrated   uncalibrated   mean lambda
//	A/A, pure binomial                     0.004              0.007          0.99
//	A/A, night logit offset sd 0.1         0.016              0.028          1.64
//	A/A, night logit offset sd 0.3         0.060              0.199          6.46
//	the same, baseline pooled from 6 runs  0.028              0.182          6.64
//	uniform 5-point drop                   0.977              0.994          0.99
//	uniform 3-point drop                   0.705              0.778          0.99
//	5% of cases collapse by 0.6            0.987              0.989          0.99
//	3% of cases collapse by 0.6            0.772              0.820          0.99
//
// The remaining night-effect false alarms come from the noise of lambda
// estimated from three runs (two degrees of freedom): six pooled runs
// halve them. The price of the floor at 1 on a noisy lambda is power on
// small effects when there are no night effects: 1.7 points at a 5-point
// drop, 7 points at a 3-point drop, 5 points at a 3% collapse (lambda is
// above 1 on about 37% of pure-noise three-run baselines). The default run
// (120 trials, seeds 1..120) asserts the A/A and 5-point rows and the
// night-effect row at sd 0.3 (calibrated <= 0.10 and <= half the
// uncalibrated rate).
//
// Measured calibration (simulated suite of 200 cases, k=5, baseline pooled
// from 3 runs; see calibration_test.go and BENCHMARKS.md): false alarms and
// detection rates are asserted by TestCalibration; run with -drift.long for
// 500 trials per scenario.
//
// # Pooled baselines and staged nights (plan.go, staged.go)
//
// Most nights nothing changed, and a night's calls are what users pay for.
// Two levers cut them without losing detection (docs/sampling.md has the
// figures, measured by bench/staged):
//
//   - A pooled baseline (Pool, default 3 runs of K=5: 15 samples per case).
//     The variance of a per-case comparison scales with 1/k_b + 1/k, so a
//     15-sample baseline buys the power of more current samples. The pool
//     is the last Runs accepted stable runs that reached K, frozen once
//     complete, rebuilt on `baseline accept` and when the suite's content
//     changes (storage.RebuildBaseline); the first nights run in fixed mode
//     at K until the pool is complete (Plan.Night). The A/A calibration
//     (lambda) runs on the pooled runs as above, at every look and at the
//     final test.
//   - Futility stopping (Plan, default staged: looks after 1 and 2 samples
//     per case, bounds 0.30 and 0.10, K=5). At each look (Look) the
//     one-sided CMH and the sparse-collapse statistic S are computed on the
//     samples so far, both with Monte Carlo p-values from the same draws of
//     the exact conditional null (the normal CMH p is slightly liberal with
//     one or two samples per case). The night goes on while min(p_CMH, p_S)
//     <= the look's bound, or while a behaviour test (refusal, JSON, fence
//     and finish-reason rates, length, answers, text) has a
//     Bonferroni-adjusted p at or below the bound and half its effect
//     floor, so a style change is not stopped by a quiet pass rate;
//     otherwise it stops as STABLE, "no drift at the looks" (Stopped),
//     unless it has fewer than MinSamples comparable samples so far. A
//     night that goes on sends every case all K samples and is decided by
//     the plain fixed-K test on all of them (Final: Compare with
//     Settings.CMHMonteCarlo). Without a pool (Pool.Runs 1) the defaults
//     are looks 1 and 3 and K=10.
//
// Why it is valid: the staged night alarms on {went on at every look} and
// {the fixed-K test rejects}, a subset of the fixed-K test's rejection
// event whatever the bounds or the behaviour rule (futility is
// non-binding). So the false-alarm rate is at most the fixed-K test's,
// alpha. That needs: K fixed before the night (Plan.Night uses only the
// configuration and the pool's size; Final rejects a sample index >= K,
// Look one beyond the look: ErrLookData), no alarm at a look (Stopped
// turns any DRIFT into WARN), every case gets all K samples when the
// night goes on (no top-ups to lagging cases: the naive test on them is
// invalid), no allocation from the night's own baseline (the plan is the
// same for every case), interim p-values never reused in the final test.
// The interim p-values are about uniform without drift, so a quiet night
// goes on past a look with probability about ContinueFactor times the
// bound on any suite; ExpectedCalls turns that into calls per night for
// `driftwatch power` and --dry-run (1.81 per case for the defaults).
//
// What a stopped night reports: STABLE with the look, min(p_CMH, p_S) and
// the bound; the pass-rate delta and the other metrics from the samples
// taken (findings at most WARN); no per-case localisation (one or two
// samples per case cannot locate a case; DriftedCases is empty); and as
// MDE the minimum detectable drop of a test on the samples taken
// (LookResult.MDE), larger than a full night's: "no drift at the looks" is
// not "no change".
//
// CUSUM input: a stopped night feeds Result.PassZ = the look's z (the
// lambda-corrected CMH z of the samples taken), a night that reached K its
// fixed-K z; no night is left out and none is rescaled. Leaving the
// stopped nights out is the trap: the nights that reach K were selected
// for a low early z, and their z has mean about -0.7 on quiet nights,
// which walks the downward CUSUM to false alarms. Optional stopping of a
// standardised score instead gives an input with mean >= 0 and mean
// square <= 1 under no drift (measured on 400 simulated A/A nights: mean
// +0.12, mean square 0.70), so CUSUM keeps at most its nominal false-alarm
// rate; the price is that stopped nights carry less information, and a
// small sustained drift that keeps stopping at look 1 is accumulated more
// slowly (a weekly full-K night, mode fixed, restores the speed).
//
// Tested on simulated nights (drifttest; staged_study_test.go; the bounded
// default run is 400 A/A nights and 100 per drift scenario, raised by
// DRIFT_STAGED_NIGHTS and DRIFT_STAGED_POWER_NIGHTS): staged alarms are a
// subset of the fixed-K test's on the same nights and at most 1% within
// two standard errors, calls on quiet nights at most 2.0 per case and
// within 0.15 of ExpectedCalls, and power at least fixed mode's (K=5,
// one-run baseline) on every drift scenario of the study.
//
// Across runs: CUSUM (series.go) on the per-run PassZ raises slow drift;
// BOCPD (bocpd.go; Adams & MacKay 2007, beta-binomial on each run's pass
// count, hazard 1/365) dates the last change of the pass rate for reports.
// BOCPD never decides a verdict: its false-alarm rate depends on the prior
// and on night effects (measured in its doc comment).
package drift
