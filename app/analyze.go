package app

import (
	"cmp"
	"context"
	"encoding/json"
	"fmt"
	"math"
	"slices"
	"sort"
	"strings"

	"github.com/driftwatch/driftwatch/drift"
	"github.com/driftwatch/driftwatch/report"
	"github.com/driftwatch/driftwatch/storage"
)

var nan = math.NaN()

// loaded is a run's samples as the drift engine sees them, with each case's
// content hash and a per-case summary. Cases are in a slice indexed by key
// (one allocation for all of them, not one per case).
type loaded struct {
	samples []drift.Sample
	// own and n summarise samples once they are dropped (summarize).
	own        own
	n          int
	summarized bool
	index      map[string]int32 // case key -> cases / hashes index
	cases      []report.Case
	hashes     []string
}

// loadSamples loads one run's samples (ordered by case, then sample index).
func (a *App) loadSamples(ctx context.Context, runIDs []int64) (*loaded, error) {
	l := &loaded{index: map[string]int32{}}
	last := int32(-1)
	err := a.store.StreamSamples(ctx, runIDs, func(s storage.Sample) error {
		if s.Outcome == storage.OutcomeSkipped {
			return nil
		}
		ds := toDrift(&s)
		i := last
		if i < 0 || l.cases[i].Key != s.CaseKey {
			var ok bool
			if i, ok = l.index[s.CaseKey]; !ok {
				i = int32(len(l.cases))
				l.index[s.CaseKey] = i
				l.cases = append(l.cases, report.Case{Key: s.CaseKey})
				l.hashes = append(l.hashes, s.CaseHash)
			}
			last = i
		}
		l.hashes[i] = s.CaseHash
		ds.Case = l.cases[i].Key
		l.samples = append(l.samples, ds)
		c := &l.cases[i]
		c.Samples++
		switch {
		case ds.Errored:
			c.Errored++
			if c.Reason == "" {
				c.Reason = s.Error
			}
		case s.Passed:
			c.Passed++
		default:
			c.Failed++
			if c.Reason == "" {
				c.Reason = failReason(s.Checks)
			}
		}
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("load samples of runs %v: %w", runIDs, err)
	}
	return l, nil
}

// summarize computes the run's own metrics and drops the samples.
func (l *loaded) summarize() {
	if l.summarized {
		return
	}
	l.own, l.n, l.samples, l.summarized = ownMetrics(l.samples, l.index, len(l.cases)), len(l.samples), nil, true
}

func toDrift(s *storage.Sample) drift.Sample {
	ds := drift.Sample{
		Case:         s.CaseKey,
		Index:        s.SampleIdx,
		Errored:      s.Error != "" || s.Outcome == storage.OutcomeErrored,
		Passed:       s.Passed,
		Refused:      s.Refused,
		Output:       s.Output,
		JSONValid:    s.JSONValid,
		CodeFence:    s.CodeFence,
		Tokens:       s.OutputTokens,
		FinishReason: s.FinishReason,
		Identity:     s.IdentityHash,
	}
	if s.Score != nil {
		ds.Score = *s.Score
	}
	if s.Answer != nil {
		ds.Answer, ds.HasAnswer = *s.Answer, true
	}
	return ds
}

// baseline is the baseline runs' samples, as needed to compare a run with
// them: which of the run's cases changed content (the last baseline sample's
// hash differs) and each case's baseline pass and fail counts. Case keys the
// run also has share the run's strings.
type baseline struct {
	samples    []drift.Sample
	changed    []bool     // by cur case index: hash differs
	passFailed [][2]int32 // by cur case index
}

func (a *App) loadBaseline(ctx context.Context, runIDs []int64, cur *loaded) (*baseline, error) {
	b := &baseline{changed: make([]bool, len(cur.cases)), passFailed: make([][2]int32, len(cur.cases))}
	// Each sample carries its run's position among the pooled runs (from 1),
	// so the engine can calibrate on pairs of baseline runs (A/A).
	lastRun, runIdx := int64(0), 0
	err := a.store.StreamSamples(ctx, runIDs, func(s storage.Sample) error {
		if s.Outcome == storage.OutcomeSkipped {
			return nil
		}
		ds := toDrift(&s)
		if s.RunID != lastRun || runIdx == 0 {
			lastRun, runIdx = s.RunID, slices.Index(runIDs, s.RunID)+1
		}
		ds.Run = runIdx
		if i, ok := cur.index[s.CaseKey]; ok {
			ds.Case = cur.cases[i].Key
			b.changed[i] = s.CaseHash != cur.hashes[i]
			switch {
			case ds.Errored:
			case s.Passed:
				b.passFailed[i][0]++
			default:
				b.passFailed[i][1]++
			}
		}
		b.samples = append(b.samples, ds)
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("load samples of runs %v: %w", runIDs, err)
	}
	return b, nil
}

func failReason(checks json.RawMessage) string {
	var rs []struct {
		Name   string `json:"name"`
		Pass   bool   `json:"pass"`
		Reason string `json:"reason"`
	}
	_ = json.Unmarshal(checks, &rs)
	for _, r := range rs {
		if !r.Pass {
			return r.Name + ": " + r.Reason
		}
	}
	return ""
}

// settings returns the drift settings from the config, seeded per run so the
// verdict of a stored run can be recomputed exactly.
func (a *App) settings(runID int64) drift.Settings {
	d := a.cfg.Drift
	return drift.Settings{
		Seed:         cmp.Or(d.Seed, uint64(runID)),
		AlphaFamily:  d.Alpha,
		QCase:        d.QCase,
		MinPassDelta: d.MinPassDelta,
		MaxErrorRate: d.MaxErrorRate,
		MinSamples:   d.MinSamples,
	}.WithDefaults()
}

// compare runs the drift engine on a run against a set of baseline runs,
// excluding cases whose content changed in between.
func (a *App) compare(ctx context.Context, runID int64, runConfig json.RawMessage, baseRunIDs []int64) (drift.Result, *loaded, error) {
	cur, err := a.loadSamples(ctx, []int64{runID})
	if err != nil {
		return drift.Result{}, nil, err
	}
	base, err := a.loadBaseline(ctx, baseRunIDs, cur)
	if err != nil {
		return drift.Result{}, nil, err
	}
	var changed []string
	for i, ch := range base.changed {
		if ch {
			changed = append(changed, cur.cases[i].Key)
		}
	}
	sort.Strings(changed)
	if len(changed) > 0 {
		skip := map[string]bool{}
		for _, k := range changed {
			skip[k] = true
			cur.cases[cur.index[k]].Changed = true
		}
		keep := func(ss []drift.Sample) []drift.Sample {
			out := ss[:0:0]
			for _, s := range ss {
				if !skip[s.Case] {
					out = append(out, s)
				}
			}
			return out
		}
		base.samples, cur.samples = keep(base.samples), keep(cur.samples)
	}
	for i := range cur.cases {
		if pf := base.passFailed[i]; pf[0]+pf[1] > 0 {
			r := float64(pf[0]) / float64(pf[0]+pf[1])
			cur.cases[i].Baseline = &r
		}
	}
	set := a.settings(runID)
	set.Stochastic = a.sampled(ctx, runID, runConfig, cur)
	// Neither side's samples are used after Compare: the engine can let
	// them go once it has grouped them (peak memory of large runs).
	bs, cs := base.samples, cur.samples
	cur.summarize()
	res := drift.Compare(bs, cs, set)
	res.ChangedCases = changed
	for _, k := range res.DriftedCases {
		if i, ok := cur.index[k]; ok {
			cur.cases[i].Drifted = true
		}
	}
	return res, cur, nil
}

// sampled reports whether a run's outputs vary from request to request, so
// that one sample per case is not an exact output. That is so unless the
// target is declared deterministic and the request was at temperature 0:
// closed APIs and batched inference servers change a share of their
// temperature-0 outputs from run to run (DRIFT_METHOD 3), and reading those
// changes as evidence would alarm every night. It reads the request stored
// with one sample.
func (a *App) sampled(ctx context.Context, runID int64, runConfig json.RawMessage, cur *loaded) bool {
	var snap runSnapshot
	if err := json.Unmarshal(runConfig, &snap); err != nil || !snap.Deterministic {
		return true
	}
	for key := range cur.index {
		rows, err := a.store.ListSamples(ctx, runID, key)
		if err != nil || len(rows) == 0 {
			return true
		}
		var req struct {
			Params struct {
				Temperature *float64 `json:"temperature"`
			} `json:"params"`
		}
		_ = json.Unmarshal(rows[0].Request, &req)
		temp := req.Params.Temperature
		if temp == nil { // the target's params fill what the case leaves unset
			temp = snap.Params.Temperature
		}
		return temp == nil || *temp > 0
	}
	return true
}

// analyzeAndFinish compares a finished run with its baseline (or makes it the
// baseline), stores the findings and the verdict, and fills rep.
func (a *App) analyzeAndFinish(ctx context.Context, rep *report.Report, run storage.Run, suiteID, targetID int64, bl *storage.Baseline, k int, pinWarn error) error {
	var (
		res drift.Result
		cur *loaded
		err error
	)
	set := a.settings(run.ID)
	if bl == nil {
		cur, err = a.loadSamples(ctx, []int64{run.ID})
		if err != nil {
			return configError(err)
		}
		res = firstRunResult(cur.samples, set)
		// What the next run, compared with this one, could detect.
		res.MDE = drift.MDEOf(cur.samples, set.WithDefaults().AlphaFamily)
		if res.Verdict == drift.Baseline {
			if _, err := a.store.AcceptBaseline(ctx, storage.AcceptBaseline{SuiteID: suiteID, TargetID: targetID,
				RunIDs: []int64{run.ID}, AcceptedBy: "driftwatch", Note: "first completed run"}); err != nil {
				return configError(err)
			}
			rep.BaselineRunIDs = []int64{run.ID}
		}
	} else {
		rep.BaselineRunIDs = bl.RunIDs
		res, cur, err = a.compare(ctx, run.ID, run.Config, bl.RunIDs)
		if err != nil {
			return configError(err)
		}
		if res.Verdict == drift.Stable && len(bl.RunIDs) < cmp.Or(a.cfg.Baseline.Runs, 1) {
			ids := append(append([]int64{}, bl.RunIDs...), run.ID)
			if _, err := a.store.AcceptBaseline(ctx, storage.AcceptBaseline{SuiteID: suiteID, TargetID: targetID,
				RunIDs: ids, AcceptedBy: "driftwatch", Note: fmt.Sprintf("pooled: %d of %d baseline runs", len(ids), a.cfg.Baseline.Runs)}); err != nil {
				return configError(err)
			}
		}
	}
	fillReport(rep, res, cur, k)
	if bl != nil {
		if err := a.cusum(ctx, rep, run, suiteID, targetID, res); err != nil {
			return configError(err)
		}
		if err := a.changePoint(ctx, rep, run.ID, suiteID, targetID); err != nil {
			return configError(err)
		}
	}
	if pinWarn != nil {
		rep.IdentityChanged = true
		rep.Findings = append(rep.Findings, drift.Finding{Metric: drift.MetricIdentity, Scope: drift.ScopeSuite, Statistic: "pin",
			Verdict: drift.IdentityChanged, Reason: "pin (warn): " + pinWarn.Error(), P: 1, Q: 1})
	}
	if _, err := a.store.InsertFindings(ctx, run.ID, storageFindings(rep.Findings, rep.BaselineRunIDs)); err != nil {
		return configError(err)
	}
	if err := a.store.FinishRun(ctx, run.ID, storage.FinishRun{Status: storage.RunCompleted, Verdict: rep.Verdict,
		Reason: rep.Reason, Summary: encodeJSON(rep), BaselineRunIDs: rep.BaselineRunIDs, CostUSD: rep.Metrics.CostUSD}); err != nil {
		return configError(err)
	}
	return nil
}

// CUSUM parameters (DRIFT_METHOD 4.5): k=0.5, h=5, ARL0 about 900 runs.
const (
	cusumK = 0.5
	cusumH = 5.0
)

// cusum accumulates the per-run pass-rate z of the runs compared with the
// current baseline (oldest first, this run last) and raises a slow-drift
// finding when the one-sided CUSUM crosses h on this run.
func (a *App) cusum(ctx context.Context, rep *report.Report, run storage.Run, suiteID, targetID int64, res drift.Result) error {
	rep.PassZ = res.PassZ
	z, err := a.store.PassZHistory(ctx, suiteID, targetID, rep.BaselineRunIDs, run.ID)
	if err != nil {
		return fmt.Errorf("cusum history: %w", err)
	}
	if math.IsNaN(res.PassZ) {
		return nil
	}
	z = append(z, res.PassZ)
	st := drift.CUSUM(z, cusumK, cusumH)
	rep.CUSUM = &report.CUSUM{Statistic: st.Last, Threshold: cusumH, Runs: len(z), Alarm: st.Last > cusumH}
	if st.Last > cusumH && rep.Verdict == string(drift.Stable) {
		rep.Verdict = string(drift.Drift)
		rep.Reason = fmt.Sprintf("slow drift: the pass-rate CUSUM over %d runs since the baseline is %.1f (> %.0f), although no single run was significant", len(z), st.Last, cusumH)
		rep.Findings = append(rep.Findings, drift.Finding{Metric: drift.MetricCUSUM, Scope: drift.ScopeSuite, Statistic: "cusum",
			Current: st.Last, Effect: st.Last, Verdict: drift.Drift, P: nan, Q: nan, Reason: rep.Reason})
	}
	return nil
}

// changePointRuns is how many runs the change-point posterior covers: a
// year of nightly runs.
const changePointRuns = 365

// changePoint dates the last change of the pass rate over the suite's recent
// runs on the target, this run last (BOCPD, hazard 1/365). It only reports:
// the verdict comes from the tests against the baseline and the CUSUM.
func (a *App) changePoint(ctx context.Context, rep *report.Report, runID, suiteID, targetID int64) error {
	m := rep.Metrics
	if m.PassRate == nil {
		return nil
	}
	hist, err := a.store.PassCountHistory(ctx, suiteID, targetID, runID, changePointRuns-1)
	if err != nil {
		return fmt.Errorf("change point: %w", err)
	}
	hist = append(hist, storage.RunPassCount{RunID: runID, Passed: m.Passed, Total: m.Samples - m.ErrorCount, Verdict: rep.Verdict})
	runs := make([]report.HistoryRun, len(hist))
	for i, h := range hist {
		runs[i] = report.HistoryRun{RunID: h.RunID, Passed: h.Passed, Total: h.Total, Verdict: h.Verdict}
	}
	rep.ChangePoint = report.DateChange(runs, rep.BaselineRunIDs)
	return nil
}

// firstRunResult decides whether a run with no baseline can become one: it
// must have enough comparable samples and a tolerable error rate.
func firstRunResult(samples []drift.Sample, set drift.Settings) drift.Result {
	res := drift.Result{Verdict: drift.Baseline, Reason: "first completed run: it is the baseline for later runs"}
	var errs, ok int
	for _, s := range samples {
		if s.Errored {
			errs++
		} else {
			ok++
		}
	}
	res.CurrentSamples, res.Errors = len(samples), errs
	if len(samples) > 0 && float64(errs)/float64(len(samples)) > set.MaxErrorRate {
		res.Verdict = drift.Inconclusive
		res.Reason = fmt.Sprintf("error rate %.1f%% is above %.0f%%: not accepted as a baseline", 100*float64(errs)/float64(len(samples)), 100*set.MaxErrorRate)
	} else if ok < set.MinSamples {
		res.Verdict = drift.Inconclusive
		res.Reason = fmt.Sprintf("only %d samples without error (at least %d needed): not accepted as a baseline", ok, set.MinSamples)
	}
	return res
}

// fillReport copies a drift result and the run's own numbers into rep.
func fillReport(rep *report.Report, res drift.Result, cur *loaded, k int) {
	rep.Status = storage.RunCompleted
	rep.Verdict, rep.Reason = string(res.Verdict), res.Reason
	rep.Findings, rep.DriftedCases, rep.ChangedCases = res.Findings, res.DriftedCases, res.ChangedCases
	rep.IdentityChanged = rep.IdentityChanged || res.IdentityChanged
	rep.MDE = res.MDE
	rep.Calibration = res.Calibration
	cur.summarize()
	own := cur.own
	m := &rep.Metrics
	m.Samples, m.Cases, m.SamplesPerCase = cur.n, len(cur.cases), k
	m.ErrorCount, m.Passed = own.errors, own.passed
	if cur.n > 0 {
		m.ErrorRate = float64(own.errors) / float64(cur.n)
	}
	if cur.n > own.errors {
		// Rates over no comparable sample are unknown, not 0: they stay
		// nil (null in JSON).
		m.PassRate = &report.Value{Value: own.pass}
		m.RefusalRate = &report.Value{Value: own.refusal}
		m.JSONValidRate = &report.Value{Value: own.json}
		m.CodeFenceRate = &report.Value{Value: own.fence}
		m.OutputLength = &report.Value{Value: own.length}
		m.FinishLength = &report.Value{Value: own.finishLength}
	}
	byName := map[string]*report.Value{
		drift.MetricPassRate: m.PassRate, drift.MetricRefusal: m.RefusalRate, drift.MetricJSONValid: m.JSONValidRate,
		drift.MetricCodeFence: m.CodeFenceRate, drift.MetricLength: m.OutputLength, drift.MetricFinish: m.FinishLength,
	}
	for _, dm := range res.Metrics {
		v := byName[dm.Name]
		if v == nil || math.IsNaN(dm.Baseline) {
			continue
		}
		b, d := dm.Baseline, dm.Delta
		v.Value = dm.Current
		v.Baseline, v.Delta, v.CI, v.P = &b, &d, dm.CI, dm.P
	}
	// The report takes the cases (cur is not used afterwards).
	slices.SortFunc(cur.cases, func(a, b report.Case) int { return strings.Compare(a.Key, b.Key) })
	rep.Cases, cur.cases, cur.index = cur.cases, nil, nil
	if rep.Cases == nil {
		rep.Cases = []report.Case{}
	}
}

type own struct {
	errors, passed                                   int
	pass, refusal, json, fence, length, finishLength float64
}

// ownMetrics are the run's rates over its comparable samples, macro-averaged
// over cases like the drift engine's pass rate.
func ownMetrics(samples []drift.Sample, index map[string]int32, ncases int) own {
	type acc struct{ n, pass, ref, js, fence, length, fin int }
	per := make([]acc, ncases) // by case index
	var o own
	last, lastKey := int32(-1), ""
	for _, s := range samples {
		if s.Errored {
			o.errors++
			continue
		}
		if last < 0 || s.Case != lastKey {
			last, lastKey = index[s.Case], s.Case
		}
		c := &per[last]
		c.n++
		c.pass += b2i(s.Passed)
		o.passed += b2i(s.Passed)
		c.ref += b2i(s.Refused)
		c.js += b2i(s.JSONValid)
		c.fence += b2i(s.CodeFence)
		c.fin += b2i(s.FinishReason == "length")
		c.length += s.Tokens
	}
	cases := 0
	for _, c := range per {
		if c.n == 0 {
			continue
		}
		cases++
		n := float64(c.n)
		o.pass += float64(c.pass) / n
		o.refusal += float64(c.ref) / n
		o.json += float64(c.js) / n
		o.fence += float64(c.fence) / n
		o.finishLength += float64(c.fin) / n
		o.length += float64(c.length) / n
	}
	if cases == 0 {
		return o
	}
	n := float64(cases)
	o.pass, o.refusal, o.json, o.fence, o.finishLength, o.length = o.pass/n, o.refusal/n, o.json/n, o.fence/n, o.finishLength/n, o.length/n
	return o
}

func b2i(b bool) int {
	if b {
		return 1
	}
	return 0
}
