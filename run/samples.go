package run

import (
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

// loadSamples loads one run's samples (ordered by case, then sample index)
// with an index below upto (0: all).
func (l *Lifecycle) loadSamples(ctx context.Context, runIDs []int64, upto int) (*loaded, error) {
	cur := &loaded{index: map[string]int32{}}
	last := int32(-1)
	err := l.store.StreamSamples(ctx, runIDs, func(s storage.Sample) error {
		if s.Outcome == storage.OutcomeSkipped || (upto > 0 && s.SampleIdx >= upto) {
			return nil
		}
		ds := toDrift(&s)
		i := last
		if i < 0 || cur.cases[i].Key != s.CaseKey {
			var ok bool
			if i, ok = cur.index[s.CaseKey]; !ok {
				i = int32(len(cur.cases))
				cur.index[s.CaseKey] = i
				cur.cases = append(cur.cases, report.Case{Key: s.CaseKey})
				cur.hashes = append(cur.hashes, s.CaseHash)
			}
			last = i
		}
		cur.hashes[i] = s.CaseHash
		ds.Case = cur.cases[i].Key
		cur.samples = append(cur.samples, ds)
		c := &cur.cases[i]
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
	return cur, nil
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

func (l *Lifecycle) loadBaseline(ctx context.Context, runIDs []int64, cur *loaded) (*baseline, error) {
	b := &baseline{changed: make([]bool, len(cur.cases)), passFailed: make([][2]int32, len(cur.cases))}
	// Each sample carries its run's position among the pooled runs (from 1),
	// so the engine can calibrate on pairs of baseline runs (A/A).
	lastRun, runIdx := int64(0), 0
	err := l.store.StreamSamples(ctx, runIDs, func(s storage.Sample) error {
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

// compared is what a comparison of a run with its baseline runs needs:
// both sides' samples without the cases whose content changed in between,
// and the run's settings.
type compared struct {
	base, cur []drift.Sample
	loaded    *loaded
	changed   []string
	set       drift.Settings
}

// comparable loads a run's samples (those with an index below upto; 0: all)
// and its baseline runs' samples, excluding cases whose content changed in
// between.
func (l *Lifecycle) comparable(ctx context.Context, runID int64, runConfig json.RawMessage, baseRunIDs []int64, upto int) (*compared, error) {
	cur, err := l.loadSamples(ctx, []int64{runID}, upto)
	if err != nil {
		return nil, err
	}
	base, err := l.loadBaseline(ctx, baseRunIDs, cur)
	if err != nil {
		return nil, err
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
	set := l.settings(runID)
	set.Stochastic = l.sampled(ctx, runID, runConfig, cur)
	return &compared{base: base.samples, cur: cur.samples, loaded: cur, changed: changed, set: set}, nil
}

// compare runs the drift engine (c.decide) on a run against a set of
// baseline runs, excluding cases whose content changed in between.
func (l *Lifecycle) compare(ctx context.Context, runID int64, runConfig json.RawMessage, baseRunIDs []int64, c comparison) (drift.Result, *loaded, error) {
	in, err := l.comparable(ctx, runID, runConfig, baseRunIDs, c.upto)
	if err != nil {
		return drift.Result{}, nil, err
	}
	// Neither side's samples are used after the comparison: the engine
	// can let them go once it has grouped them (peak memory of large runs).
	cur := in.loaded
	bs, cs := in.base, in.cur
	in.base, in.cur = nil, nil
	cur.summarize()
	res, err := c.decide(bs, cs, in.set)
	if err != nil {
		return drift.Result{}, nil, fmt.Errorf("run %d: %w", runID, err)
	}
	res.ChangedCases = in.changed
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
// temperature-0 outputs from run to run, and reading those
// changes as evidence would alarm every night. It reads the request stored
// with one sample.
func (l *Lifecycle) sampled(ctx context.Context, runID int64, runConfig json.RawMessage, cur *loaded) bool {
	var snap Snapshot
	if err := json.Unmarshal(runConfig, &snap); err != nil || !snap.Deterministic {
		return true
	}
	for key := range cur.index {
		rows, err := l.store.ListSamples(ctx, runID, key)
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
