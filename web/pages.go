package web

import (
	"bytes"
	"cmp"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"math"
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/driftwatch/driftwatch/drift"
	"github.com/driftwatch/driftwatch/report"
)

// Page sizes.
const (
	runsPerPage    = 50
	samplesPerPage = 50
	alertsPerPage  = 50
	sparkRuns      = 20
	trendRuns      = 200
)

// parseReport reads a stored summary; nil when the run has none.
func parseReport(raw json.RawMessage, rl *RunListing) *report.Report {
	rep, _ := parseSummary(raw, rl)
	return rep
}

func pageParam(r *http.Request) int {
	p, err := strconv.Atoi(r.URL.Query().Get("page"))
	if err != nil || p < 1 {
		return 1
	}
	return min(p, 100000)
}

// pager links to the previous and next pages of a list.
type pager struct {
	Page       int
	Prev, Next string
}

func newPager(r *http.Request, page int, more bool) pager {
	pg := pager{Page: page}
	link := func(n int) string {
		q := r.URL.Query()
		q.Set("page", strconv.Itoa(n))
		return r.URL.Path + "?" + q.Encode()
	}
	if page > 1 {
		pg.Prev = link(page - 1)
	}
	if more {
		pg.Next = link(page + 1)
	}
	return pg
}

// ---- overview ----

type pairRow struct {
	Suite, Target string
	Latest        RunListing
	Verdict       string
	PassRate      *float64
	Identity      string
	IdentityDiff  bool
	Spark         chart
	Running       bool
	// Why is the latest report in plain words (report.Explain).
	Why string
}

type overviewPage struct {
	Pairs []pairRow
}

func verdictRank(v string) int {
	switch v {
	case string(drift.Drift):
		return 0
	case string(drift.Inconclusive):
		return 1
	case "":
		return 3
	}
	return 2
}

func (h *Handler) overview(w http.ResponseWriter, r *http.Request) error {
	runs, err := h.opts.Data.LatestRunsPerPair(r.Context(), sparkRuns)
	if err != nil {
		return err
	}
	var pairs []pairRow
	for i := 0; i < len(runs); {
		j := i
		for j < len(runs) && runs[j].SuiteID == runs[i].SuiteID && runs[j].TargetID == runs[i].TargetID {
			j++
		}
		group := runs[i:j] // newest first
		pr := pairRow{Suite: group[0].Suite, Target: group[0].Target, Latest: group[0], Running: group[0].Status == "running"}
		var pts []point
		for k := len(group) - 1; k >= 0; k-- {
			rl := &group[k]
			rep := parseReport(rl.Summary, rl)
			if rep == nil {
				continue
			}
			if rep.Metrics.PassRate != nil {
				v := rep.Metrics.PassRate.Value
				pts = append(pts, point{T: rl.StartedAt, V: v, Label: fmt.Sprintf("run %d: %.1f%%", rl.ID, 100*v), Href: fmt.Sprintf("/runs/%d", rl.ID), Verdict: rep.Verdict})
			}
		}
		// The latest run that has a report gives the verdict and numbers.
		for k := range group {
			rep := parseReport(group[k].Summary, &group[k])
			if rep == nil {
				continue
			}
			pr.Verdict = rep.Verdict
			if rep.Metrics.PassRate != nil {
				v := rep.Metrics.PassRate.Value
				pr.PassRate = &v
			}
			pr.Identity = identityLine(rep.Identity)
			pr.IdentityDiff = rep.IdentityChanged
			pr.Why = why(rep)
			break
		}
		pr.Spark = sparkline(pts)
		pairs = append(pairs, pr)
		i = j
	}
	slices.SortStableFunc(pairs, func(a, b pairRow) int {
		return cmp.Or(cmp.Compare(verdictRank(a.Verdict), verdictRank(b.Verdict)), cmp.Compare(a.Suite, b.Suite), cmp.Compare(a.Target, b.Target))
	})
	return h.render(w, r, "overview", "Overview", overviewPage{Pairs: pairs})
}

func identityLine(id *report.Identity) string {
	if id == nil {
		return ""
	}
	var parts []string
	for _, p := range []string{id.ResolvedModel, id.Fingerprint, short(id.Digest)} {
		if p != "" {
			parts = append(parts, p)
		}
	}
	if len(parts) == 0 {
		return id.RequestedModel
	}
	return strings.Join(parts, " · ")
}

func short(s string) string {
	if len(s) > 12 {
		return s[:12]
	}
	return s
}

// ---- runs list ----

type runsPage struct {
	Runs          []runRow
	Suite, Target string
	Pager         pager
}

type runRow struct {
	RunListing
	PassRate *float64
	Identity string
}

func (h *Handler) runs(w http.ResponseWriter, r *http.Request) error {
	ctx := r.Context()
	q := r.URL.Query()
	f := RunFilter{Status: q.Get("status"), Limit: runsPerPage + 1}
	pg := pageParam(r)
	f.Offset = (pg - 1) * runsPerPage
	if s, t := q.Get("suite"), q.Get("target"); s != "" && t != "" {
		sid, tid, err := h.opts.Data.PairIDs(ctx, s, t)
		if err != nil {
			return err
		}
		f.SuiteID, f.TargetID = sid, tid
	}
	list, err := h.opts.Data.ListRunListings(ctx, f)
	if err != nil {
		return err
	}
	more := len(list) > runsPerPage
	list = list[:min(len(list), runsPerPage)]
	p := runsPage{Suite: q.Get("suite"), Target: q.Get("target"), Pager: newPager(r, pg, more)}
	for i := range list {
		row := runRow{RunListing: list[i]}
		if rep := parseReport(list[i].Summary, &list[i]); rep != nil {
			if rep.Metrics.PassRate != nil {
				v := rep.Metrics.PassRate.Value
				row.PassRate = &v
			}
			row.Identity = identityLine(rep.Identity)
		}
		p.Runs = append(p.Runs, row)
	}
	return h.render(w, r, "runs", "Runs", p)
}

// ---- run ----

type metricRow struct {
	Name                          string
	Baseline, Value, Delta, CI, P string
}

type findingRow struct {
	Metric, Scope, Statistic, Verdict, Reason string
	CaseKey                                   string
	Baseline, Current, Effect, CI, P, Q       string
	Examples                                  []drift.Example
}

type runPage struct {
	Run            RunListing
	Rep            *report.Report
	Metrics        []metricRow
	Findings       []findingRow
	Drifted        []string
	Changed        int
	IdentityBefore string
	IdentityAfter  string
	Cases          []report.Case
	Errors         []shownSample
	Samples        []shownSample
	Pager          pager
	Accepted       bool
	CanAccept      bool
	Duration       string
	// ChangePoint and Calibration are the stored report's, when present.
	ChangePoint *runChange
	Calibration *runCalibration
	// Why is the stored report in plain words (report.Explain).
	Why string
}

func (h *Handler) run(w http.ResponseWriter, r *http.Request) error {
	id, ext, err := pathID(r)
	if err != nil {
		return err
	}
	if ext != "" {
		return h.export(w, r, id, ext)
	}
	p, err := h.runPage(r.Context(), id, pageParam(r), r)
	if err != nil {
		return err
	}
	p.Accepted = r.URL.Query().Get("accepted") == "1"
	return h.render(w, r, "run", fmt.Sprintf("Run %d · %s on %s", id, p.Run.Suite, p.Run.Target), p)
}

func (h *Handler) runPage(ctx context.Context, id int64, pg int, r *http.Request) (*runPage, error) {
	rl, err := h.opts.Data.GetRunListing(ctx, id)
	if err != nil {
		return nil, err
	}
	p := &runPage{Run: rl, Rep: parseReport(rl.Summary, &rl)}
	p.CanAccept = rl.Status == "completed" && h.opts.Actions.AcceptBaseline != nil
	if rl.FinishedAt != nil {
		p.Duration = rl.FinishedAt.Sub(rl.StartedAt).Round(100 * time.Millisecond).String()
	}
	if rep := p.Rep; rep != nil {
		m := rep.Metrics
		for _, row := range []struct {
			name string
			v    *report.Value
			rate bool
		}{{"pass rate", m.PassRate, true}, {"refusal rate", m.RefusalRate, true}, {"JSON valid", m.JSONValidRate, true},
			{"code fences", m.CodeFenceRate, true}, {"output length (tokens)", m.OutputLength, false}, {"finish=length", m.FinishLength, true}} {
			if row.v == nil {
				continue
			}
			mr := metricRow{Name: row.name, Value: fmtVal(row.v.Value, row.rate), Baseline: "–", Delta: "–", CI: "–", P: "–"}
			if row.v.Baseline != nil {
				mr.Baseline = fmtVal(*row.v.Baseline, row.rate)
			}
			if row.v.Delta != nil {
				mr.Delta = fmtDelta(*row.v.Delta, row.rate)
			}
			if row.v.CI != nil {
				mr.CI = "[" + fmtDelta(row.v.CI.Low, row.rate) + ", " + fmtDelta(row.v.CI.High, row.rate) + "]"
			}
			if row.v.P != nil {
				mr.P = fmtP(*row.v.P)
			}
			p.Metrics = append(p.Metrics, mr)
		}
		for _, f := range rep.Findings {
			fr := findingRow{Metric: f.Metric, Scope: f.Scope, Statistic: f.Statistic, Verdict: string(f.Verdict), Reason: f.Reason,
				Baseline: fmtNum(f.Baseline), Current: fmtNum(f.Current), Effect: fmtSigned(f.Effect), CI: "–",
				P: fmtP(f.P), Q: fmtP(f.Q), Examples: f.Examples}
			if k, ok := strings.CutPrefix(f.Scope, drift.ScopeCasePrefix); ok {
				fr.CaseKey = k
			}
			if f.CI != nil {
				fr.CI = "[" + fmtSigned(f.CI.Low) + ", " + fmtSigned(f.CI.High) + "]"
			}
			p.Findings = append(p.Findings, fr)
		}
		// Suite-level alarms first, then by q.
		slices.SortStableFunc(p.Findings, func(a, b findingRow) int {
			return cmp.Compare(scopeRank(a.Scope), scopeRank(b.Scope))
		})
		p.Drifted = slices.Sorted(slices.Values(rep.DriftedCases))
		p.Changed = len(rep.ChangedCases)
		p.IdentityBefore, p.IdentityAfter = identityLine(rep.BaselineIdentity), identityLine(rep.Identity)
		p.Cases = rep.Cases
		p.ChangePoint, p.Calibration = newRunChange(rep.ChangePoint), newRunCalibration(rep.Calibration)
		p.Why = why(rep)
	}
	errs, err := h.opts.Data.ListSamplePage(ctx, SampleFilter{RunIDs: []int64{id}, ErrorsOnly: true, Limit: 20, MaxText: listTextRunes})
	if err != nil {
		return nil, err
	}
	p.Errors = shownSamples(errs, listTextRunes)
	samples, err := h.opts.Data.ListSamplePage(ctx, SampleFilter{RunIDs: []int64{id}, Limit: samplesPerPage + 1, Offset: (pg - 1) * samplesPerPage, MaxText: listTextRunes})
	if err != nil {
		return nil, err
	}
	more := len(samples) > samplesPerPage
	p.Samples = shownSamples(samples[:min(len(samples), samplesPerPage)], listTextRunes)
	if r != nil {
		p.Pager = newPager(r, pg, more)
	}
	return p, nil
}

func scopeRank(s string) int {
	if s == drift.ScopeSuite {
		return 0
	}
	return 1
}

func fmtVal(v float64, rate bool) string {
	if rate {
		return fmt.Sprintf("%.1f%%", 100*v)
	}
	return fmtNum(v)
}

func fmtDelta(v float64, rate bool) string {
	if rate {
		return fmt.Sprintf("%+.1f pts", 100*v)
	}
	return fmtSigned(v)
}

func fmtNum(v float64) string {
	if math.IsNaN(v) || math.IsInf(v, 0) {
		return "–"
	}
	return strconv.FormatFloat(v, 'f', 3, 64)
}

func fmtSigned(v float64) string {
	if math.IsNaN(v) || math.IsInf(v, 0) {
		return "–"
	}
	return fmt.Sprintf("%+.3f", v)
}

func fmtP(v float64) string {
	if math.IsNaN(v) || math.IsInf(v, 0) {
		return "–"
	}
	if v < 0.001 {
		return fmt.Sprintf("%.1e", v)
	}
	return fmt.Sprintf("%.3f", v)
}

// export writes the stored report as JSON, Markdown or JUnit XML.
func (h *Handler) export(w http.ResponseWriter, r *http.Request, id int64, ext string) error {
	rl, err := h.opts.Data.GetRunListing(r.Context(), id)
	if err != nil {
		return err
	}
	rep := parseReport(rl.Summary, &rl)
	if rep == nil {
		return fmt.Errorf("%w: run %d has no stored report (status %s)", ErrNotFound, id, rl.Status)
	}
	var (
		buf   bytes.Buffer
		ctype string
	)
	reports := []*report.Report{rep}
	switch ext {
	case ".json":
		ctype, err = "application/json", report.WriteJSON(&buf, reports)
	case ".md":
		ctype, err = "text/markdown; charset=utf-8", report.WriteMarkdown(&buf, reports)
	case ".junit.xml":
		ctype, err = "application/xml", report.WriteJUnit(&buf, reports)
	default:
		return fmt.Errorf("%w: no export %q", ErrNotFound, ext)
	}
	if err != nil {
		return err
	}
	w.Header().Set("Content-Type", ctype)
	w.Header().Set("Content-Disposition", fmt.Sprintf("inline; filename=run-%d%s", id, ext))
	_, err = w.Write(buf.Bytes())
	return err
}

// WriteRunHTML writes the run page of run id as one self-contained HTML file
// (CSS inline, no scripts, no links into a dashboard): driftwatch report
// --html.
func (h *Handler) WriteRunHTML(ctx context.Context, w io.Writer, id int64) error {
	p, err := h.runPage(ctx, id, 1, nil)
	if err != nil {
		return err
	}
	p.CanAccept = false
	pg := page{Title: fmt.Sprintf("Run %d · %s on %s", id, p.Run.Suite, p.Run.Target), Body: p, Standalone: true, Generated: h.opts.Now()}
	return h.tmpl.render(w, "run", pg)
}

// ---- case ----

type checkResult struct {
	Name   string  `json:"name"`
	Pass   bool    `json:"pass"`
	Score  float64 `json:"score"`
	Reason string  `json:"reason"`
}

type sampleView struct {
	Sample
	Clipped bool // Output or Error is cut: the page links the full text
	Segs    []seg
	Checks  []checkResult
	Prompt  string
}

type samplePair struct {
	Base, Cur *sampleView
}

type casePage struct {
	Run       RunListing
	Key       string
	Baselines []int64
	Drifted   bool
	Findings  []findingRow
	Case      *report.Case
	Pairs     []samplePair
	Prompt    string
	Pager     pager
}

func (h *Handler) caseView(w http.ResponseWriter, r *http.Request) error {
	ctx := r.Context()
	id, ext, err := pathID(r)
	if err != nil {
		return err
	}
	if ext != "" {
		return fmt.Errorf("%w: run id %q", ErrNotFound, r.PathValue("id"))
	}
	key := r.PathValue("key")
	if r.URL.Query().Has("output") {
		return h.fullText(w, r, id, key)
	}
	rl, err := h.opts.Data.GetRunListing(ctx, id)
	if err != nil {
		return err
	}
	pg := pageParam(r)
	p := casePage{Run: rl, Key: key, Baselines: rl.BaselineRunIDs}
	if rep := parseReport(rl.Summary, &rl); rep != nil {
		p.Drifted = slices.Contains(rep.DriftedCases, key)
		for i := range rep.Cases {
			if rep.Cases[i].Key == key {
				p.Case = &rep.Cases[i]
			}
		}
		for _, f := range rep.Findings {
			if f.Scope == drift.ScopeCasePrefix+key {
				fr := findingRow{Metric: f.Metric, Verdict: string(f.Verdict), Reason: f.Reason, Baseline: fmtNum(f.Baseline),
					Current: fmtNum(f.Current), Effect: fmtSigned(f.Effect), P: fmtP(f.P), Q: fmtP(f.Q), CI: "–"}
				if f.CI != nil {
					fr.CI = "[" + fmtSigned(f.CI.Low) + ", " + fmtSigned(f.CI.High) + "]"
				}
				p.Findings = append(p.Findings, fr)
			}
		}
	}
	off := (pg - 1) * samplesPerPage
	cur, err := h.opts.Data.ListSamplePage(ctx, SampleFilter{RunIDs: []int64{id}, CaseKey: key, Limit: samplesPerPage + 1, Offset: off, MaxText: caseTextRunes})
	if err != nil {
		return err
	}
	var base []Sample
	if len(rl.BaselineRunIDs) > 0 {
		base, err = h.opts.Data.ListSamplePage(ctx, SampleFilter{RunIDs: rl.BaselineRunIDs, CaseKey: key, Limit: samplesPerPage + 1, Offset: off, MaxText: caseTextRunes})
		if err != nil {
			return err
		}
	}
	if len(cur) == 0 && len(base) == 0 && p.Case == nil && pg == 1 {
		return fmt.Errorf("%w: run %d has no case %q", ErrNotFound, id, key)
	}
	more := len(cur) > samplesPerPage || len(base) > samplesPerPage
	cur, base = cur[:min(len(cur), samplesPerPage)], base[:min(len(base), samplesPerPage)]
	for i := range max(len(cur), len(base)) {
		var sp samplePair
		var b, c *Sample
		if i < len(base) {
			b = &base[i]
			sp.Base = newSampleView(b)
		}
		if i < len(cur) {
			c = &cur[i]
			sp.Cur = newSampleView(c)
		}
		if b != nil && c != nil && b.Error == "" && c.Error == "" {
			sp.Base.Segs, sp.Cur.Segs = diffSides(sp.Base.Output, sp.Cur.Output)
		}
		p.Pairs = append(p.Pairs, sp)
	}
	for _, sv := range p.Pairs {
		if sv.Cur != nil && sv.Cur.Prompt != "" {
			p.Prompt = sv.Cur.Prompt
			break
		}
	}
	p.Pager = newPager(r, pg, more)
	return h.render(w, r, "case", fmt.Sprintf("Case %s · run %d", key, id), p)
}

func newSampleView(s *Sample) *sampleView {
	sv := &sampleView{Sample: *s}
	var c1, c2 bool
	sv.Output, c1 = clip(s.Output, caseTextRunes)
	sv.Error, c2 = clip(s.Error, caseTextRunes)
	sv.Clipped = c1 || c2
	sv.Segs = []seg{{Op: "eq", Text: sv.Output}}
	if len(s.Checks) > 0 {
		_ = json.Unmarshal(s.Checks, &sv.Checks)
	}
	sv.Prompt, _ = clip(promptOf(s.Request), caseTextRunes)
	return sv
}

// promptOf extracts the last user message of a stored chat request.
func promptOf(req json.RawMessage) string {
	if len(req) == 0 {
		return ""
	}
	var r struct {
		Messages []struct {
			Role    string `json:"role"`
			Content string `json:"content"`
		} `json:"messages"`
		Prompt string `json:"prompt"`
	}
	if json.Unmarshal(req, &r) != nil {
		return ""
	}
	for i := len(r.Messages) - 1; i >= 0; i-- {
		if strings.EqualFold(r.Messages[i].Role, "user") {
			return r.Messages[i].Content
		}
	}
	return r.Prompt
}

// ---- trend ----

type trendPage struct {
	Suite, Target string
	Charts        []chart
	Runs          []trendRow
	Baselines     []Baseline
	// CUSUMLast, CUSUMThreshold and CUSUMAlarm are the latest run's stored
	// slow-drift detector state ("" when that run stores none).
	CUSUMLast      string
	CUSUMThreshold string
	CUSUMAlarm     bool
	CanRunNow      bool
	Started        bool
	// Change is the latest run's stored change point; nil when it stores
	// none (a first run, or a report written before change points).
	Change *trendChange
}

type trendRow struct {
	ID       int64
	Started  time.Time
	Verdict  string
	PassRate string
	Identity string
	Changed  bool
	// ChangeStart: the most likely first run at the current pass rate.
	ChangeStart bool
	Cost        float64
}

func (h *Handler) trend(w http.ResponseWriter, r *http.Request) error {
	ctx := r.Context()
	q := r.URL.Query()
	suite, target := q.Get("suite"), q.Get("target")
	if suite == "" || target == "" {
		return fmt.Errorf("%w: trend needs ?suite=S&target=T", ErrInvalid)
	}
	sid, tid, err := h.opts.Data.PairIDs(ctx, suite, target)
	if err != nil {
		return err
	}
	list, err := h.opts.Data.ListRunListings(ctx, RunFilter{SuiteID: sid, TargetID: tid, Status: "completed", Limit: trendRuns})
	if err != nil {
		return err
	}
	slices.Reverse(list) // oldest first
	ids := make([]int64, len(list))
	for i := range list {
		ids[i] = list[i].ID
	}
	lat, err := h.opts.Data.RunLatencies(ctx, ids)
	if err != nil {
		return err
	}
	bls, err := h.opts.Data.ListBaselines(ctx, sid, tid)
	if err != nil {
		return err
	}
	p := trendPage{Suite: suite, Target: target, Baselines: bls, Started: q.Get("started") == "1",
		CanRunNow: h.opts.Actions.RunNow != nil}
	var (
		pass, refusal, length, latency, cost []point
		band                                 []bandPoint
		marks                                []mark
		prevIdentity                         string
		// stored is the engine's own CUSUM state per run (the verdict's).
		stored []point
		lambda []point
		latest *report.Report
		starts = map[int64]time.Time{}
	)
	for i := range list {
		rl := &list[i]
		rep, _ := parseSummary(rl.Summary, rl)
		row := trendRow{ID: rl.ID, Started: rl.StartedAt, Verdict: rl.Verdict, Cost: rl.CostUSD, PassRate: "–"}
		href := fmt.Sprintf("/runs/%d", rl.ID)
		starts[rl.ID] = rl.StartedAt
		if rep != nil {
			latest = rep
			row.Identity = identityLine(rep.Identity)
			if i > 0 && row.Identity != prevIdentity {
				row.Changed = true
				marks = append(marks, mark{T: rl.StartedAt, Kind: "identity", Label: "identity: " + row.Identity})
			}
			prevIdentity = row.Identity
			m := rep.Metrics
			if rep.Calibration != nil {
				lambda = append(lambda, lambdaPoint(rl, rep.Calibration, href))
			}
			if m.PassRate != nil {
				v := m.PassRate.Value
				row.PassRate = fmt.Sprintf("%.1f%%", 100*v)
				pass = append(pass, point{T: rl.StartedAt, V: v, Label: fmt.Sprintf("run %d: %.1f%%", rl.ID, 100*v), Href: href, Verdict: rl.Verdict})
				lo, hi := wilson(v, m.Samples-m.ErrorCount)
				band = append(band, bandPoint{T: rl.StartedAt, Lo: lo, Hi: hi})
			}
			if cu := rep.CUSUM; cu != nil {
				label := fmt.Sprintf("run %d: S = %.2f over %d runs since the baseline", rl.ID, cu.Statistic, cu.Runs)
				if cu.Alarm {
					label += ", alarm"
				}
				stored = append(stored, point{T: rl.StartedAt, V: cu.Statistic, Label: label, Href: href, Verdict: rl.Verdict})
			}
			if m.RefusalRate != nil {
				refusal = append(refusal, point{T: rl.StartedAt, V: m.RefusalRate.Value, Label: fmt.Sprintf("run %d: %.1f%%", rl.ID, 100*m.RefusalRate.Value), Href: href})
			}
			if m.OutputLength != nil {
				length = append(length, point{T: rl.StartedAt, V: m.OutputLength.Value, Label: fmt.Sprintf("run %d: %.0f tokens", rl.ID, m.OutputLength.Value), Href: href})
			}
		}
		if ms, ok := lat[rl.ID]; ok {
			latency = append(latency, point{T: rl.StartedAt, V: ms, Label: fmt.Sprintf("run %d: %.0f ms", rl.ID, ms), Href: href})
		}
		cost = append(cost, point{T: rl.StartedAt, V: rl.CostUSD, Label: fmt.Sprintf("run %d: $%.4f", rl.ID, rl.CostUSD), Href: href})
		p.Runs = append(p.Runs, row)
	}
	for _, b := range bls {
		marks = append(marks, mark{T: b.AcceptedAt, Kind: "baseline", Label: fmt.Sprintf("baseline accepted: runs %v %s", b.RunIDs, b.Note)})
	}
	// The detectors' state is the latest run's stored report: the page
	// recomputes nothing.
	threshold := drift.DefaultCUSUMH
	if latest != nil {
		if cu := latest.CUSUM; cu != nil {
			threshold = cu.Threshold
			p.CUSUMLast, p.CUSUMThreshold, p.CUSUMAlarm = fmt.Sprintf("%.2f", cu.Statistic), fmt.Sprintf("%.0f", cu.Threshold), cu.Alarm
		}
		p.Change = newTrendChange(latest.ChangePoint, starts)
	}
	passMarks := marks
	if m, ok := p.Change.mark(); ok {
		passMarks = append(slices.Clip(marks), m)
		for i := range p.Runs {
			p.Runs[i].ChangeStart = p.Runs[i].ID == p.Change.RunID
		}
	}
	span := timeSpan(list) // baselines are accepted within the runs' span, or clipped
	p.Charts = []chart{
		lineChart("Pass rate (95% CI)", pass, band, passMarks, span, axisRate),
		lineChart("Refusal rate", refusal, nil, marks, span, axisRate),
		lineChart("Output length (tokens)", length, nil, marks, span, axisNum),
		lineChart("Latency (ms, mean)", latency, nil, marks, span, axisNum),
		lineChart("Cost (USD)", cost, nil, marks, span, axisUSD),
		withHLine(lineChart("Slow-drift detector: CUSUM of pass-rate drops since the baseline", stored, nil, marks, span, axisNum, threshold),
			threshold, fmt.Sprintf("alarm above %.0f", threshold)),
	}
	if len(lambda) >= 2 {
		// Tracked over time: the λ of the baseline
		// each run was compared with.
		p.Charts = append(p.Charts, withHLine(lineChart("A/A calibration λ of the baseline", lambda, nil, marks, span, axisNum, drift.LambdaWarn),
			drift.LambdaWarn, fmt.Sprintf("warn %.1f", drift.LambdaWarn)))
	}
	slices.Reverse(p.Runs)
	return h.render(w, r, "trend", fmt.Sprintf("Trend · %s on %s", suite, target), p)
}

// wilson is the 95% Wilson score interval of a rate over n trials.
func wilson(p float64, n int) (float64, float64) {
	if n <= 0 {
		return p, p
	}
	const z = 1.959964
	nn := float64(n)
	den := 1 + z*z/nn
	c := (p + z*z/(2*nn)) / den
	hw := z * math.Sqrt(p*(1-p)/nn+z*z/(4*nn*nn)) / den
	return max(0, c-hw), min(1, c+hw)
}

// timeSpan is the first and last start time of the runs in list.
func timeSpan(list []RunListing) [2]time.Time {
	var span [2]time.Time
	for i, rl := range list {
		if i == 0 || rl.StartedAt.Before(span[0]) {
			span[0] = rl.StartedAt
		}
		if i == 0 || rl.StartedAt.After(span[1]) {
			span[1] = rl.StartedAt
		}
	}
	return span
}

// ---- alerts ----

type alertRow struct {
	Alert
	// Kind is the event's kind from the payload (drift, resolved, ...).
	Kind        string
	PayloadText string
}

type alertsPage struct {
	Status string
	Alerts []alertRow
	Pager  pager
}

func (h *Handler) alerts(w http.ResponseWriter, r *http.Request) error {
	status := r.URL.Query().Get("status")
	switch status {
	case "", "pending", "sent", "failed":
	default:
		return fmt.Errorf("%w: status %q", ErrInvalid, status)
	}
	pg := pageParam(r)
	list, err := h.opts.Data.ListAlerts(r.Context(), AlertFilter{Status: status, Limit: alertsPerPage + 1, Offset: (pg - 1) * alertsPerPage})
	if err != nil {
		return err
	}
	more := len(list) > alertsPerPage
	list = list[:min(len(list), alertsPerPage)]
	p := alertsPage{Status: status, Pager: newPager(r, pg, more)}
	for _, a := range list {
		var buf bytes.Buffer
		if json.Indent(&buf, a.Payload, "", "  ") != nil {
			buf.Reset()
			buf.Write(a.Payload)
		}
		var ev struct {
			Kind string `json:"kind"`
		}
		_ = json.Unmarshal(a.Payload, &ev) // an unreadable payload shows no kind
		p.Alerts = append(p.Alerts, alertRow{Alert: a, Kind: ev.Kind, PayloadText: buf.String()})
	}
	return h.render(w, r, "alerts", "Alerts", p)
}

// ---- actions ----

func (h *Handler) accept(w http.ResponseWriter, r *http.Request) error {
	id, ext, err := pathID(r)
	if err != nil || ext != "" {
		return fmt.Errorf("%w: run id", ErrNotFound)
	}
	if err := h.checkAction(r); err != nil {
		return err
	}
	if h.opts.Actions.AcceptBaseline == nil {
		return fmt.Errorf("%w: accepting baselines is not available", ErrForbidden)
	}
	by := strings.TrimSpace(r.PostForm.Get("by"))
	if by == "" {
		by = "dashboard"
	}
	note := strings.TrimSpace(r.PostForm.Get("note"))
	if len(note) > 2000 {
		return fmt.Errorf("%w: note too long", ErrInvalid)
	}
	if err := h.opts.Actions.AcceptBaseline(r.Context(), id, by, note); err != nil {
		return err
	}
	http.Redirect(w, r, fmt.Sprintf("/runs/%d?accepted=1", id), http.StatusSeeOther)
	return nil
}

func (h *Handler) runNow(w http.ResponseWriter, r *http.Request) error {
	if err := h.checkAction(r); err != nil {
		return err
	}
	if h.opts.Actions.RunNow == nil {
		return fmt.Errorf("%w: running from the dashboard is not available", ErrForbidden)
	}
	suite, target := r.PostForm.Get("suite"), r.PostForm.Get("target")
	if suite == "" || target == "" {
		return fmt.Errorf("%w: suite and target are required", ErrInvalid)
	}
	if err := h.opts.Actions.RunNow(r.Context(), suite, target); err != nil {
		return err
	}
	http.Redirect(w, r, "/trend?"+url.Values{"suite": {suite}, "target": {target}, "started": {"1"}}.Encode(), http.StatusSeeOther)
	return nil
}

// render writes a full page.
func (h *Handler) render(w http.ResponseWriter, r *http.Request, name, title string, body any) error {
	p := h.page(r, title, body)
	h.ensureCSRF(w, r, &p)
	var buf bytes.Buffer
	if err := h.tmpl.render(&buf, name, p); err != nil {
		return err
	}
	w.Header().Set("Content-Type", "text/html; charset=utf-8")
	w.Header().Set("Cache-Control", "no-store")
	_, err := w.Write(buf.Bytes())
	return err
}
