package app_test

// The black-box sweep drives driftwatch only through its CLI and --json
// report, against a replay endpoint of realistic recorded outputs
// (blackbox_replay_test.go), on scenarios with known ground truth: A/A
// nulls, real behaviour changes, identity-only changes and paraphrases. By
// default each scenario runs one trial per layout with assertions;
// -blackbox.trials=N measures rates over N seeds (BENCHMARKS.md).
//
// The verdict of a paraphrase follows the method in package drift
// (effect floors): the free-text test is in the alarm family with a
// practical-significance floor (within-version minus cross-version
// similarity >= 0.1). Synonym swaps stay below the floor: STABLE. Rewording
// every sentence of the prose answers, with the same answers, refusals,
// formats and lengths, is a change of the text distribution: DRIFT naming
// output_text and no behaviour metric. In a mixed suite, where the
// rewording touches half of the cases, the mean gap is near the floor and
// either verdict is accepted (still naming only output_text).

import (
	"context"
	"flag"
	"fmt"
	"math/rand/v2"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"sort"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/driftwatch/driftwatch/storage/storagetest"
)

var (
	bbTrials   = flag.Int("blackbox.trials", 0, "trials per scenario in the black-box sweep (0: one, asserted); rates are logged as a table")
	bbScenOnly = flag.String("blackbox.scenarios", "", "regexp selecting the black-box sweep's scenarios by name")
	bbBugs     = flag.Bool("blackbox.knownbugs", false, "assert the black-box cells of known problems outside drift/ instead of skipping them")
)

const (
	bbModel = "gpt-4o-2024-08-06"
	bbFP    = "fp_7fa1c3b2e9"
)

func bbVersionA() *bbVersion { return &bbVersion{Name: "A", Model: bbModel, Fingerprint: bbFP} }

// bbScenario is one cell of the sweep: version A for the baseline run, the
// version next returns for the compared run, and what the report must say.
type bbScenario struct {
	name   string
	k      int
	unique bool // every request gets a fresh recording, on both versions
	greedy bool // the suites ask for temperature 0 (recordings of a T=0 endpoint)
	pin    string
	next   func(cases []*bbCase) *bbVersion
	// affected are the kinds whose suites must DRIFT (in the mixed layout
	// the one suite must, unless mixedMay); every other suite must stay
	// STABLE, except maybe, which may DRIFT.
	affected, maybe []bbKind
	mixedMay        bool
	// named: at least one of these metrics is a suite-level DRIFT finding
	// of every affected suite. forbid: never a DRIFT finding.
	named, forbid []string
	identity      bool // identity_changed must be set (and only then)
	pinned        bool // the pin stops the run: pin_violated, INCONCLUSIVE, exit 1
	// power is the detection rate measured over 50 trials (split, mixed),
	// rounded down: the long sweep asserts it; the default trial fails on
	// a miss only in cells of power at least bbAssertPower.
	power [2]float64
}

// bbBehaviourMetrics are the metrics a benign change must not name.
var bbBehaviourMetrics = []string{"pass_rate", "refusal_rate", "json_valid_rate", "code_fence_rate",
	"answer_distribution", "output_length", "finish_reason_length_rate"}

// bbPick returns about frac of the cases of kind (at least one), by seed.
func bbPick(cases []*bbCase, kind bbKind, frac float64, seed uint64, keep func(*bbCase) bool) []*bbCase {
	var of []*bbCase
	for _, c := range cases {
		if c.Kind == kind && (keep == nil || keep(c)) {
			of = append(of, c)
		}
	}
	r := rand.New(rand.NewPCG(seed, 0x91c))
	r.Shuffle(len(of), func(i, j int) { of[i], of[j] = of[j], of[i] })
	n := max(1, int(frac*float64(len(of))+0.5))
	return of[:min(n, len(of))]
}

// bbB returns version B: A with f applied (its own recordings).
func bbB(f func(v *bbVersion, cases []*bbCase)) func([]*bbCase) *bbVersion {
	return func(cases []*bbCase) *bbVersion {
		v := bbVersionA()
		v.Name = "B"
		f(v, cases)
		return v
	}
}

// bbSameA is version A again: the same recordings, fresh draws.
func bbSameA([]*bbCase) *bbVersion { return bbVersionA() }

var bbScenarios = []bbScenario{
	{name: "A/A", k: 5, next: bbSameA},
	{name: "A/A k=1", k: 1, next: bbSameA},
	{name: "A/A unique outputs", k: 5, unique: true, next: bbSameA},
	{name: "A/A temperature 0", k: 5, greedy: true, next: bbSameA},
	{name: "A/A k=1 temperature 0", k: 1, greedy: true, next: bbSameA},
	{name: "math accuracy -8pp", k: 5, next: bbB(func(v *bbVersion, _ []*bbCase) { v.AccDrop = 0.1 }),
		affected: []bbKind{bbMath}, named: []string{"pass_rate", "answer_distribution"}, forbid: []string{"output_text"},
		power: [2]float64{0.7, 0.15}},
	{name: "JSON fenced or broken on 15%", k: 5, next: bbB(func(v *bbVersion, cs []*bbCase) {
		v.JSONFence, v.JSONBroken = map[string]bool{}, map[string]bool{}
		for i, c := range bbPick(cs, bbJSON, 0.15, 7, nil) {
			if i%2 == 0 {
				v.JSONFence[c.ID] = true
			} else {
				v.JSONBroken[c.ID] = true
			}
		}
	}), affected: []bbKind{bbJSON}, named: []string{"pass_rate", "json_valid_rate", "code_fence_rate"}, power: [2]float64{0.95, 0.85}},
	{name: "JSON fenced on 15% (still valid)", k: 5, next: bbB(func(v *bbVersion, cs []*bbCase) {
		v.JSONFence = map[string]bool{}
		for _, c := range bbPick(cs, bbJSON, 0.15, 7, func(c *bbCase) bool { return c.pFence < 0.5 }) {
			v.JSONFence[c.ID] = true
		}
	}), affected: []bbKind{bbJSON}, named: []string{"code_fence_rate"}, forbid: []string{"pass_rate", "json_valid_rate", "output_text"},
		power: [2]float64{0.95, 0.95}},
	{name: "refusals up on 20% of sensitive", k: 5, next: bbB(func(v *bbVersion, cs []*bbCase) {
		v.Refuse = map[string]float64{}
		for _, c := range bbPick(cs, bbSensitive, 0.2, 11, func(c *bbCase) bool { return c.pRefuse < 0.4 }) {
			v.Refuse[c.ID] = 0.75
		}
	}), affected: []bbKind{bbSensitive}, named: []string{"refusal_rate", "pass_rate"}, power: [2]float64{0.95, 0.85}},
	{name: "verbosity x1.4", k: 5, next: bbB(func(v *bbVersion, _ []*bbCase) { v.Verbosity = 1.4 }),
		affected: []bbKind{bbProse, bbSensitive}, named: []string{"output_length"}, forbid: []string{"pass_rate", "refusal_rate"},
		power: [2]float64{0.95, 0.95}},
	{name: "fingerprint only", k: 5, next: func([]*bbCase) *bbVersion {
		v := bbVersionA()
		v.Fingerprint = "fp_2b9d04e6aa" // same recordings (same Name)
		return v
	}, forbid: append(bbBehaviourMetrics, "output_text"), identity: true},
	{name: "fingerprint only, fingerprints pinned", k: 5, pin: "    pin: {fingerprints: [" + bbFP + "]}\n", next: func([]*bbCase) *bbVersion {
		v := bbVersionA()
		v.Fingerprint = "fp_2b9d04e6aa"
		return v
	}, identity: true, pinned: true},
	{name: "resolved model only, pin: true", k: 5, pin: "    pin: true\n", next: func([]*bbCase) *bbVersion {
		v := bbVersionA()
		v.Model = "gpt-4o-2024-11-20"
		return v
	}, identity: true, pinned: true},
	{name: "synonym swaps (benign)", k: 5, next: bbB(func(v *bbVersion, _ []*bbCase) { v.Style = bbStyleSynonyms }),
		forbid: append(bbBehaviourMetrics, "output_text")},
	{name: "reworded (same answers and lengths)", k: 5, next: bbB(func(v *bbVersion, _ []*bbCase) { v.Style = bbStyleReworded }),
		affected: []bbKind{bbProse, bbSensitive}, maybe: []bbKind{bbMath, bbJSON}, mixedMay: true,
		named: []string{"output_text"}, forbid: bbBehaviourMetrics, power: [2]float64{0.95, 0}},
}

// bbSuiteResult is one suite's compared run, as the JSON report says.
type bbSuiteResult struct {
	suite, verdict, reason string
	drift                  []string // suite-scope DRIFT metrics
	findings               []string // the pass rate and every suite-scope finding, for the log
	identity, pinViolated  bool
}

type bbTrial struct {
	exit   int
	suites []bbSuiteResult
}

// bbDB is one database shared by the trials of a test: each trial has a
// target of its own (baselines and identities are per target).
type bbDB struct {
	url     string
	targets int
}

func newBBDB(t *testing.T) *bbDB { return &bbDB{url: storagetest.NewDatabaseURL(t)} }

// bbRunTrial runs the baseline and the compared run of one trial through
// the CLI and reads the compared run's --json report.
func bbRunTrial(t *testing.T, db *bbDB, sc bbScenario, layout bbLayout, seed uint64) bbTrial {
	t.Helper()
	db.targets++
	cases := bbCases(seed, bbDefaultSizes)
	a := bbVersionA()
	a.Unique = sc.unique
	rep := newReplay(t, seed, cases, a)
	dir := t.TempDir()
	temp := "0.7"
	if sc.greedy {
		temp = "0"
	}
	bbWriteSuites(t, filepath.Join(dir, "suites"), cases, layout, temp)
	e := &testEnv{dir: dir, dbURL: db.url, cfgPath: filepath.Join(dir, "driftwatch.yaml")}
	cfg := fmt.Sprintf(`database_url: %q
targets:
  - name: vendor-%d
    provider: openai
    base_url: %s
    model: gpt-4o
    api_key: sk-test-0123456789abcdef0123
    concurrency: 16
%s
suites: [suites/]
`, e.dbURL, db.targets, rep.URL, sc.pin)
	require.NoError(t, os.WriteFile(e.cfgPath, []byte(cfg), 0o600))
	ctx := context.Background()
	jsonPath := filepath.Join(dir, "r.json")
	k := fmt.Sprint(sc.k)
	code, _, stderr := e.run(t, ctx, "run", "--samples", k, "--no-progress", "--json", jsonPath)
	require.Equal(t, 0, code, stderr)
	for _, r := range readReports(t, jsonPath) {
		require.Equal(t, "BASELINE", r.Verdict, r.Reason)
	}
	b := sc.next(cases)
	b.Unique = sc.unique
	rep.Use(b)
	code, _, stderr = e.run(t, ctx, "run", "--samples", k, "--no-progress", "--json", jsonPath)
	require.Contains(t, []int{0, 1, 2}, code, stderr)
	tr := bbTrial{exit: code}
	for _, r := range readReports(t, jsonPath) {
		sr := bbSuiteResult{suite: r.Suite, verdict: r.Verdict, reason: r.Reason, identity: r.IdentityChanged, pinViolated: r.PinViolated}
		if pr := r.Metrics.PassRate; pr != nil && pr.Baseline != nil {
			sr.findings = append(sr.findings, fmt.Sprintf("pass rate %.3f -> %.3f", *pr.Baseline, pr.Value))
		}
		for _, f := range r.Findings {
			if f.Scope != "suite" {
				continue
			}
			if f.Verdict == "DRIFT" {
				sr.drift = append(sr.drift, f.Metric)
			}
			sr.findings = append(sr.findings, fmt.Sprintf("%s %s effect=%+.3f p=%.2g q=%.2g", f.Verdict, f.Metric, f.Effect, f.P, f.Q))
		}
		tr.suites = append(tr.suites, sr)
	}
	return tr
}

// mixedDefault says whether the default run repeats the scenario on the
// mixed layout: the changes confined to one kind of prompt (and the nulls)
// read differently there; identity and paraphrase scenarios do not, and the
// accuracy drop is below the mixed suite's power.
func (sc bbScenario) mixedDefault() bool {
	return len(sc.affected) > 0 && sc.power[bbMixed] >= bbAssertPower || strings.HasPrefix(sc.name, "A/A")
}

// bbExpect is what one suite's report must say.
type bbExpect uint8

const (
	bbStable bbExpect = iota
	bbDrift
	bbMay // DRIFT or STABLE
	bbPin
)

func (sc bbScenario) expect(layout bbLayout, suite string) bbExpect {
	switch {
	case sc.pinned:
		return bbPin
	case layout == bbMixed && len(sc.affected) > 0 && sc.mixedMay:
		return bbMay
	case layout == bbMixed && len(sc.affected) > 0:
		return bbDrift
	}
	for _, k := range sc.affected {
		if k.String() == suite {
			return bbDrift
		}
	}
	for _, k := range sc.maybe {
		if k.String() == suite {
			return bbMay
		}
	}
	return bbStable
}

// bbExitCode is the exit code the reports call for (the exit-code contract in the README).
func bbExitCode(suites []bbSuiteResult) int {
	code := 0
	for _, s := range suites {
		switch {
		case s.verdict == "DRIFT" || s.pinViolated:
			return 1
		case s.verdict == "INCONCLUSIVE":
			code = 2
		}
	}
	return code
}

// bbAssertPower is the least measured power of a cell whose single
// default trial must not miss.
const bbAssertPower = 0.8

// bbMissPrefix marks the problem "a suite that must DRIFT did not".
const bbMissPrefix = "miss: "

// bbTally accumulates one scenario's trials.
type bbTally struct {
	trials, failed                  int
	expDrift, hits, named           int // must-DRIFT suite runs, of them DRIFT, with a right metric
	expStable, falseDrift, wrongMet int
	may, mayDrift                   int
	identity, suiteRuns             int
	exits, wantExits                map[int]int
	metrics                         map[string]int
}

// add scores one trial and returns its problems.
func (tl *bbTally) add(sc bbScenario, layout bbLayout, tr bbTrial) []string {
	var problems []string
	add := func(format string, args ...any) { problems = append(problems, fmt.Sprintf(format, args...)) }
	tl.trials++
	if tl.exits == nil {
		tl.exits, tl.wantExits, tl.metrics = map[int]int{}, map[int]int{}, map[string]int{}
	}
	tl.exits[tr.exit]++
	if want := bbExitCode(tr.suites); tr.exit != want {
		add("exit code %d, the reports call for %d", tr.exit, want)
	}
	for _, s := range tr.suites {
		tl.suiteRuns++
		for _, m := range s.drift {
			tl.metrics[s.suite+":"+m]++
			if slices.Contains(sc.forbid, m) {
				tl.wrongMet++
				add("%s: DRIFT names %s: %s", s.suite, m, s.reason)
			}
		}
		if s.identity {
			tl.identity++
		}
		if s.identity != sc.identity {
			add("%s: identity_changed=%v", s.suite, s.identity)
		}
		named := false
		for _, m := range sc.named {
			named = named || slices.Contains(s.drift, m)
		}
		switch sc.expect(layout, s.suite) {
		case bbPin:
			if !s.pinViolated || s.verdict != "INCONCLUSIVE" {
				add("%s: %s pin_violated=%v, want INCONCLUSIVE and a violated pin: %s", s.suite, s.verdict, s.pinViolated, s.reason)
			}
		case bbDrift:
			tl.expDrift++
			if s.verdict == "DRIFT" {
				tl.hits++
			} else {
				add("%s%s: %s, want DRIFT: %s; %s", bbMissPrefix, s.suite, s.verdict, s.reason, strings.Join(s.findings, "; "))
			}
			if named {
				tl.named++
			} else if s.verdict == "DRIFT" {
				add("%s: DRIFT names %v, want one of %v", s.suite, s.drift, sc.named)
			}
		case bbMay:
			tl.may++
			if s.verdict == "DRIFT" {
				tl.mayDrift++
				if !named {
					add("%s: DRIFT names %v, want one of %v", s.suite, s.drift, sc.named)
				}
			} else if s.verdict != "STABLE" {
				add("%s: %s, want STABLE or DRIFT: %s", s.suite, s.verdict, s.reason)
			}
		default:
			tl.expStable++
			if s.verdict != "STABLE" {
				if s.verdict == "DRIFT" {
					tl.falseDrift++
				}
				add("%s: %s, want STABLE: %s; %s", s.suite, s.verdict, s.reason, strings.Join(s.findings, "; "))
			}
		}
	}
	if len(problems) > 0 {
		tl.failed++
	}
	return problems
}

func bbRate(a, b int) string {
	if b == 0 {
		return "–"
	}
	return fmt.Sprintf("%d/%d (%.0f%%)", a, b, 100*float64(a)/float64(b))
}

const bbTableHead = "| scenario | layout | k | trials | DRIFT where required | right metric | false DRIFT | DRIFT where optional | forbidden metric named | identity_changed | exit codes | trials with a problem | DRIFT findings (suite:metric=count) |\n" +
	"|---|---|---|---|---|---|---|---|---|---|---|---|---|\n"

func (tl *bbTally) row(sc bbScenario, layout bbLayout) string {
	var exits []string
	for c, n := range tl.exits {
		exits = append(exits, fmt.Sprintf("%d:%d", c, n))
	}
	sort.Strings(exits)
	var ms []string
	for m, n := range tl.metrics {
		ms = append(ms, fmt.Sprintf("%s=%d", m, n))
	}
	sort.Strings(ms)
	return fmt.Sprintf("| %s | %s | %d | %d | %s | %s | %s | %s | %s | %s | %s | %d | %s |", sc.name, layout, sc.k, tl.trials,
		bbRate(tl.hits, tl.expDrift), bbRate(tl.named, tl.expDrift), bbRate(tl.falseDrift, tl.expStable), bbRate(tl.mayDrift, tl.may),
		bbRate(tl.wrongMet, tl.suiteRuns), bbRate(tl.identity, tl.suiteRuns), strings.Join(exits, " "), tl.failed, strings.Join(ms, " "))
}

// bbKnownBug says why a cell fails for a reason outside drift/ (see the
// test of that bug), or "".
func bbKnownBug(sc bbScenario, layout bbLayout) string {
	switch {
	case *bbBugs:
		return ""
	}
	return ""
}

// bbSweep runs the scenarios on one layout. Default: one trial each, every
// problem fails the subtest (a miss only in cells of power at least
// bbAssertPower; cells of a known bug outside drift/ are skipped). With
// -blackbox.trials=N: N trials, a table of rates, and assertions on the
// rates: false DRIFT at most 3% (+1), forbidden metrics no more often,
// detection at least the scenario's power.
func bbSweep(t *testing.T, layout bbLayout) {
	if testing.Short() {
		t.Skip("short mode")
	}
	var only *regexp.Regexp
	if *bbScenOnly != "" {
		only = regexp.MustCompile(*bbScenOnly)
	}
	long := *bbTrials > 0
	db := newBBDB(t)
	var rows []string
	for _, sc := range bbScenarios {
		if only != nil && !only.MatchString(sc.name) || bbRaceEnabled && !bbRaceScenario(sc.name) {
			continue
		}
		t.Run(sc.name, func(t *testing.T) {
			bug := bbKnownBug(sc, layout)
			if !long && bug != "" {
				t.Skipf("known problem outside drift/: %s (-blackbox.knownbugs asserts it)", bug)
			}
			if !long && layout == bbMixed && !sc.mixedDefault() {
				t.Skip("the default run covers this scenario with the split layout (-blackbox.trials=N runs it)")
			}
			trials := max(1, *bbTrials)
			var tl bbTally
			for i := range trials {
				tr := bbRunTrial(t, db, sc, layout, uint64(7000+31*i))
				problems := tl.add(sc, layout, tr)
				for _, p := range problems {
					t.Logf("trial %d: %s", i, p)
				}
				if long || len(problems) == 0 {
					continue
				}
				if sc.power[layout] < bbAssertPower {
					// A miss is expected now and then in this cell; any
					// other problem is not.
					problems = slices.DeleteFunc(problems, func(p string) bool { return strings.HasPrefix(p, bbMissPrefix) })
				}
				require.Empty(t, problems)
			}
			rows = append(rows, tl.row(sc, layout))
			if !long || bug != "" {
				return
			}
			require.LessOrEqual(t, tl.falseDrift, 1+tl.expStable*3/100, "false DRIFT rate")
			require.LessOrEqual(t, tl.wrongMet, 1+tl.suiteRuns*3/100, "forbidden metrics named")
			if tl.expDrift > 0 {
				require.GreaterOrEqual(t, float64(tl.hits)/float64(tl.expDrift), sc.power[layout], "detection rate")
			}
		})
	}
	t.Log("\n" + bbTableHead + strings.Join(rows, "\n"))
}

// TestBlackboxSplit: four suites (prose, math, json, sensitive), each with
// its own dataset and checks, on one replayed target.
func TestBlackboxSplit(t *testing.T) {
	t.Parallel()
	bbSweep(t, bbSplit)
}

// TestBlackboxMixed: one suite of every kind of prompt, per-case checks: a
// change confined to one kind moves the suite's means by a fraction.
func TestBlackboxMixed(t *testing.T) {
	t.Parallel()
	bbSweep(t, bbMixed)
}

// TestBlackboxPinTrueWithSeveralSuites: a target with `pin: true` whose
// resolved model changes stops every suite's run (exit 1, pin_violated),
// not only the first suite's: the baseline identity of each suite comes
// from its own baseline runs (it once came from the target's first and last
// sighting of the identity, which missed the middle suites).
func TestBlackboxPinTrueWithSeveralSuites(t *testing.T) {
	t.Parallel()
	if testing.Short() {
		t.Skip("short mode")
	}
	sc := bbScenarios[slices.IndexFunc(bbScenarios, func(s bbScenario) bool { return s.pin == "    pin: true\n" })]
	var tl bbTally
	tr := bbRunTrial(t, newBBDB(t), sc, bbSplit, 7000)
	require.Len(t, tr.suites, 4)
	require.Empty(t, tl.add(sc, bbSplit, tr))
}

// bbRaceScenario selects the scenarios run under the race detector.
func bbRaceScenario(name string) bool {
	return name == "A/A" || name == "JSON fenced on 15% (still valid)" || name == "fingerprint only"
}
