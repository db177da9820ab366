package web_test

import (
	"encoding/json"
	"fmt"
	"net/http"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/driftwatch/driftwatch/drift"
	"github.com/driftwatch/driftwatch/report"
	"github.com/driftwatch/driftwatch/web"
)

// seriesRun is one run of a seeded arith-on-gpt series: passed of 200
// samples, an optional stored report part.
type seriesRun struct {
	passed int
	// legacy: the summary predates metrics.passed (the key is absent).
	legacy bool
	cal    *drift.Calibration
	cp     *report.ChangePoint
	cu     *report.CUSUM
}

const seriesSamples = 200

// seriesFake stores runs 1..len(runs), one a day from t0.
func seriesFake(t *testing.T, runs []seriesRun) *fakeData {
	t.Helper()
	f := &fakeData{}
	for i, sr := range runs {
		id := int64(i + 1)
		rate := float64(sr.passed) / seriesSamples
		rep := report.Report{Suite: "arith", Target: "gpt", RunID: id, Verdict: "STABLE", Status: "completed",
			Identity: &report.Identity{ResolvedModel: "gpt-2026-06-01"},
			Metrics: report.Metrics{PassRate: &report.Value{Value: rate}, RefusalRate: &report.Value{Value: 0},
				Passed: sr.passed, Samples: seriesSamples, Cases: 40, SamplesPerCase: 5},
			Calibration: sr.cal, ChangePoint: sr.cp, CUSUM: sr.cu}
		raw, err := json.Marshal(rep)
		require.NoError(t, err)
		if sr.legacy {
			var m map[string]any
			require.NoError(t, json.Unmarshal(raw, &m))
			delete(m["metrics"].(map[string]any), "passed")
			raw, err = json.Marshal(m)
			require.NoError(t, err)
		}
		started := t0.Add(time.Duration(i) * 24 * time.Hour)
		fin := started.Add(time.Minute)
		f.runs = append(f.runs, web.RunListing{ID: id, SuiteID: 1, TargetID: 1, Suite: "arith", Target: "gpt", Trigger: "schedule",
			Status: "completed", Verdict: "STABLE", SamplesPerCase: 5, StartedAt: started, FinishedAt: &fin, CostUSD: 0.01, Summary: raw})
	}
	return f
}

func serve(t *testing.T, f *fakeData, path string) string {
	t.Helper()
	h, err := web.New(web.Options{Data: f, Now: func() time.Time { return t0 }})
	require.NoError(t, err)
	rec := get(t, h, path)
	require.Equal(t, http.StatusOK, rec.Code, rec.Body.String())
	return rec.Body.String()
}

// figures returns each chart's caption and markup.
func figures(t *testing.T, body string) map[string]string {
	t.Helper()
	out := map[string]string{}
	for _, m := range regexp.MustCompile(`(?s)<figure class="chart">\s*<figcaption>(.*?)</figcaption>(.*?)</figure>`).FindAllStringSubmatch(body, -1) {
		out[m[1]] = m[2]
	}
	return out
}

// find returns the first submatch of re in s, failing the test without one.
func find(t *testing.T, s, re string) string {
	t.Helper()
	m := regexp.MustCompile(re).FindStringSubmatch(s)
	require.NotNil(t, m, "no %s", re)
	return m[1]
}

// absent fails when s is in page, without printing the whole page.
func absent(t *testing.T, page, s string) {
	t.Helper()
	require.False(t, strings.Contains(page, s), "unexpected %q", s)
}

// TestTrendShowsTheStoredChangePointAndLambda: the trend page shows the
// latest run's stored change point (an earlier run's is history), marks its
// run on the pass-rate chart and in the table, and charts λ over time.
func TestTrendShowsTheStoredChangePointAndLambda(t *testing.T) {
	t.Parallel()
	var runs []seriesRun
	for i, p := range []int{180, 180, 178, 182, 181, 179, 180, 183, 177, 141, 139, 140} {
		sr := seriesRun{passed: p, legacy: i == 0}
		if i >= 4 {
			// λ of the baseline, below the warning threshold throughout.
			sr.cal = &drift.Calibration{Lambda: 0.8 + 0.05*float64(i), Pairs: 3, Runs: 3}
		}
		runs = append(runs, sr)
	}
	// An older report dated another change: not the page's.
	runs[6].cp = &report.ChangePoint{Runs: 6, SinceRunID: 3, SinceProbability: 0.6}
	runs[11].cp = &report.ChangePoint{Runs: 11, RunsSince: 3, Probability: 0.97, SinceRunID: 10, SinceProbability: 0.97, ProbChange: 0.99}
	body := serve(t, seriesFake(t, runs), "/trend?suite=arith&target=gpt")

	legend := find(t, body, `(?s)<p class="legend" id="change-point">(.*?)</p>`)
	require.Contains(t, legend, "latest run, over 11 runs")
	require.Equal(t, "/runs/10", find(t, legend, `id="change-run" href="([^"]+)"`))
	require.Equal(t, "run 10", find(t, legend, `id="change-run"[^>]*>([^<]+)<`))
	require.Equal(t, t0.Add(9*24*time.Hour).Format("2006-01-02 15:04"), find(t, legend, `id="change-date">([^<]+)<`))
	require.Equal(t, "0.97", find(t, legend, `id="change-prob">([^<]+)<`), "the stored probability")
	absent(t, legend, "change-any")
	absent(t, body, "run 3 ")

	// The pass-rate chart marks run 10, through its dot; the others carry
	// no change mark.
	figs := figures(t, body)
	pass := figs["Pass rate (95% CI)"]
	require.Equal(t, 1, strings.Count(pass, `class="mark m-change"`))
	markX := find(t, pass, `<line class="mark m-change" x1="([0-9.]+)"`)
	require.Equal(t, find(t, pass, `<a href="/runs/10"><circle class="dot[^"]*" cx="([0-9.]+)"`), markX)
	require.Contains(t, find(t, pass, `(?s)m-change".*?<title>(.*?)</title>`), "the current pass rate began at run 10")
	for name, fig := range figs {
		if name != "Pass rate (95% CI)" {
			absent(t, fig, `class="mark m-change"`)
		}
	}
	row := find(t, body, `(?s)(<tr><td><a href="/runs/10">#10</a>.*?</tr>)`)
	require.Contains(t, row, "current pass rate since")
	require.Equal(t, 1, strings.Count(body, `class="badge change-start"`), "only run 10's row")

	// λ over time: one dot per run that stores it, and the warning line
	// in view although every λ is below it.
	lambda, ok := figs["A/A calibration λ of the baseline"]
	require.True(t, ok, "the λ chart is shown")
	require.Equal(t, 8, strings.Count(lambda, `<circle class="dot`))
	require.Contains(t, lambda, `<line class="hline"`)
	require.Contains(t, lambda, fmt.Sprintf(">warn %.1f</text>", drift.LambdaWarn))
	require.Contains(t, lambda, "run 12: λ = 1.35 from 3 pairs of 3 baseline runs")
	require.Len(t, figs, 7)

	// Twelve nights, one a day: the time axis reads as days, every label
	// different.
	labels := regexp.MustCompile(`<text class="tick" x="[0-9.]+" y="170" text-anchor="[a-z]+">([^<]+)</text>`).FindAllStringSubmatch(pass, -1)
	require.Len(t, labels, 5)
	seen := map[string]bool{}
	for _, l := range labels {
		require.False(t, seen[l[1]], "duplicate time label %q", l[1])
		seen[l[1]] = true
	}
	require.Equal(t, t0.UTC().Format("Jan 2"), labels[0][1])
	require.Equal(t, t0.Add(11*24*time.Hour).UTC().Format("Jan 2"), labels[4][1])
}

// TestTrendCUSUMIsTheLatestRunsStoredState: an alarm stored on an earlier
// run is history; the legend says what the latest run stored (the page
// recomputes nothing).
func TestTrendCUSUMIsTheLatestRunsStoredState(t *testing.T) {
	t.Parallel()
	runs := []seriesRun{{passed: 180}, {passed: 170, cu: &report.CUSUM{Statistic: 5.6, Threshold: 5, Runs: 4, Alarm: true}},
		{passed: 180, cu: &report.CUSUM{Statistic: 0.8, Threshold: 5, Runs: 2}}}
	body := serve(t, seriesFake(t, runs), "/trend?suite=arith&target=gpt")
	legend := find(t, body, `(?s)<p class="legend" id="cusum">(.*?)</p>`)
	require.Equal(t, "0.80", find(t, legend, `id="cusum-last">([^<]+)<`))
	require.Contains(t, legend, "alarm above 5")
	require.Contains(t, legend, `id="cusum-ok">no alarm`)
	absent(t, body, `id="cusum-alarm"`)
	absent(t, body, "alarm since")
	fig := figures(t, body)["Slow-drift detector: CUSUM of pass-rate drops since the baseline"]
	require.Equal(t, 2, strings.Count(fig, `<circle class="dot`), "the stored states only")
	require.Contains(t, fig, "run 2: S = 5.60 over 4 runs since the baseline, alarm")
	require.Contains(t, fig, ">alarm above 5</text>")

	runs[2].cu = &report.CUSUM{Statistic: 6.1, Threshold: 5, Runs: 5, Alarm: true}
	body = serve(t, seriesFake(t, runs), "/trend?suite=arith&target=gpt")
	require.Contains(t, find(t, body, `(?s)<p class="legend" id="cusum">(.*?)</p>`), `<span class="badge bad" id="cusum-alarm">alarm</span>`)

	runs[2].cu = nil
	body = serve(t, seriesFake(t, runs), "/trend?suite=arith&target=gpt")
	require.Contains(t, find(t, body, `(?s)<p class="legend" id="cusum">(.*?)</p>`), `id="cusum-none"`)
}

func TestTrendWithoutChangePoint(t *testing.T) {
	t.Parallel()
	var runs []seriesRun
	for i, p := range []int{180, 178, 182, 181, 179, 180, 183, 177} {
		sr := seriesRun{passed: p}
		if i == 7 {
			sr.cal = &drift.Calibration{Lambda: 2.1, Pairs: 3, Runs: 3, Applied: true}
			sr.cp = &report.ChangePoint{Runs: 8, RunsSince: 8, Probability: 0.97, ProbChange: 0.03}
		}
		runs = append(runs, sr)
	}
	body := serve(t, seriesFake(t, runs), "/trend?suite=arith&target=gpt")
	legend := find(t, body, `(?s)<p class="legend" id="change-point">(.*?)</p>`)
	require.Contains(t, legend, "no change")
	require.Equal(t, "0.03", find(t, legend, `id="change-any">([^<]+)<`))
	absent(t, body, `id="change-run"`)
	absent(t, body, `class="mark m-change"`)
	absent(t, body, `class="lg lg-change"`)
	absent(t, body, `class="badge change-start"`)
	figs := figures(t, body)
	require.Len(t, figs, 6, "no λ chart with a single λ")
	absent(t, body, "A/A calibration")

	// After a resolved episode the posterior of any change is high; what
	// matters is the current episode, which has none.
	runs[7].cp = &report.ChangePoint{Runs: 8, RunsSince: 3, Probability: 0.9, ProbChange: 1, EpisodeStartRunID: 6}
	body = serve(t, seriesFake(t, runs), "/trend?suite=arith&target=gpt")
	legend = find(t, body, `(?s)<p class="legend" id="change-point">(.*?)</p>`)
	require.Contains(t, legend, `<span id="change-none">no change since run 6</span>, the start of the current episode`)
	absent(t, legend, "change-any")
	require.Contains(t, find(t, serve(t, seriesFake(t, runs), "/runs/8"), `(?s)<dd id="change-point">(.*?)</dd>`),
		"no change since run #6, the start of the current episode")

	// Stored as unclear: said so, no run named.
	runs[7].cp = &report.ChangePoint{Runs: 8, RunsSince: 8, SinceUnclear: true, ProbChange: 0.8}
	body = serve(t, seriesFake(t, runs), "/trend?suite=arith&target=gpt")
	legend = find(t, body, `(?s)<p class="legend" id="change-point">(.*?)</p>`)
	require.Contains(t, legend, `<span id="change-unclear">since: unclear</span>`)
	absent(t, body, `id="change-run"`)

	// A single run stores no change point: nothing to show.
	body = serve(t, seriesFake(t, runs[:1]), "/trend?suite=arith&target=gpt")
	absent(t, body, `id="change-point"`)
}

func TestRunPageShowsCalibrationAndChangePoint(t *testing.T) {
	t.Parallel()
	runs := []seriesRun{{passed: 180}, {passed: 180}, {passed: 181}, {passed: 140}, {passed: 139,
		cal: &drift.Calibration{Lambda: 3.4, Sparse: 1.2, Pairs: 3, Runs: 3, Applied: true},
		cp:  &report.ChangePoint{Runs: 5, RunsSince: 2, Probability: 0.97, SinceRunID: 4, ProbChange: 0.99, ProbThisRun: 0.01}}}
	f := seriesFake(t, runs)

	body := serve(t, f, "/runs/5")
	cal := find(t, body, `(?s)<dd id="calibration">(.*?)</dd>`)
	require.Equal(t, "3.40", find(t, cal, `id="lambda">([^<]+)<`))
	require.Contains(t, cal, "3 pairs of 3 baseline runs")
	require.Contains(t, cal, "applied: the pass-rate statistics are divided by √λ")
	require.Contains(t, find(t, cal, `id="lambda-warn">([^<]+)<`), "above 3.00")
	cp := find(t, body, `(?s)<dd id="change-point">(.*?)</dd>`)
	require.Equal(t, "/runs/4", find(t, cp, `id="change-run" href="([^"]+)"`))
	require.Contains(t, cp, "2 of the last 5 runs, probability 0.97")
	require.Contains(t, cp, "P(any change) = 0.99")

	// Without calibration and change point in the summary: neither line.
	body = serve(t, f, "/runs/3")
	for _, s := range []string{`id="calibration"`, "λ", `id="change-point"`, "A/A calibration", "Change point"} {
		absent(t, body, s)
	}

	// λ at or below the threshold: no warning; not applied below 1.
	runs[4].cal = &drift.Calibration{Lambda: 0.7, Sparse: 0.9, Pairs: 3, Runs: 3}
	runs[4].cp = &report.ChangePoint{Runs: 5, RunsSince: 5, Probability: 0.98, ProbChange: 0.02, ProbThisRun: 0.001}
	body = serve(t, seriesFake(t, runs), "/runs/5")
	cal = find(t, body, `(?s)<dd id="calibration">(.*?)</dd>`)
	require.Contains(t, cal, "not applied")
	absent(t, cal, "lambda-warn")
	require.Contains(t, find(t, body, `(?s)<dd id="change-point">(.*?)</dd>`), "no change over the last 5 runs")

	// The standalone page names the run without linking into a dashboard.
	h, err := web.New(web.Options{Data: f, Now: func() time.Time { return t0 }})
	require.NoError(t, err)
	var b strings.Builder
	require.NoError(t, h.WriteRunHTML(t.Context(), &b, 5))
	require.Contains(t, b.String(), "pass rate most likely changed at run #4")
	absent(t, b.String(), `href="/runs/4"`)
}

// TestPagesShowTheStoredSummary: the overview and the run page say why in
// the words stored with the report; when the run's verdict changed after
// the report was stored (a confirmation run), they say it afresh from the
// stored numbers instead.
func TestPagesShowTheStoredSummary(t *testing.T) {
	t.Parallel()
	f := seriesFake(t, []seriesRun{{passed: 180}, {passed: 140}})
	var m map[string]any
	require.NoError(t, json.Unmarshal(f.runs[1].Summary, &m))
	m["summary"] = "the words stored with the report"
	raw, err := json.Marshal(m)
	require.NoError(t, err)
	f.runs[1].Summary = raw
	require.Contains(t, find(t, serve(t, f, "/"), `(?s)<tr class="why-row">(.*?)</tr>`), "the words stored with the report")
	require.Equal(t, "the words stored with the report", find(t, serve(t, f, "/runs/2"), `<p class="reason" id="why">([^<]*)</p>`))

	f.runs[1].Verdict, f.runs[1].VerdictReason = "INCONCLUSIVE", "only 3 comparable current samples (errors excluded, cases in the baseline), minimum 20"
	page := serve(t, f, "/runs/2")
	require.Contains(t, find(t, page, `<p class="reason" id="why">([^<]*)</p>`), "too few samples for a first run")
	absent(t, page, "the words stored with the report")
}
