package web_test

import (
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/driftwatch/driftwatch/drift"
	"github.com/driftwatch/driftwatch/report"
	"github.com/driftwatch/driftwatch/web"
)

var update = flag.Bool("update", false, "rewrite testdata/*.golden")

// fakeData is an in-memory web.Data with two runs of one pair.
type fakeData struct {
	runs    []web.RunListing
	samples []web.Sample
	alerts  []web.Alert
}

func (f *fakeData) LatestRunsPerPair(_ context.Context, n int) ([]web.RunListing, error) {
	out := slices.Clone(f.runs)
	slices.Reverse(out)
	return out[:min(n, len(out))], nil
}

func (f *fakeData) ListRunListings(_ context.Context, q web.RunFilter) ([]web.RunListing, error) {
	out := slices.Clone(f.runs)
	slices.Reverse(out)
	return out, nil
}

func (f *fakeData) GetRunListing(_ context.Context, id int64) (web.RunListing, error) {
	for _, r := range f.runs {
		if r.ID == id {
			return r, nil
		}
	}
	return web.RunListing{}, fmt.Errorf("run %d: %w", id, web.ErrNotFound)
}

func (f *fakeData) PairIDs(_ context.Context, s, t string) (int64, int64, error) {
	if s == "arith" && t == "gpt" {
		return 1, 1, nil
	}
	return 0, 0, web.ErrNotFound
}

func (f *fakeData) ListBaselines(context.Context, int64, int64) ([]web.Baseline, error) {
	return []web.Baseline{{ID: 1, SuiteID: 1, TargetID: 1, RunIDs: []int64{1}, AcceptedBy: "driftwatch", Note: "first", AcceptedAt: t0, Active: true}}, nil
}

func (f *fakeData) ListSamplePage(_ context.Context, q web.SampleFilter) ([]web.Sample, error) {
	var out []web.Sample
	for _, s := range f.samples {
		if slices.Contains(q.RunIDs, s.RunID) && (q.CaseKey == "" || q.CaseKey == s.CaseKey) && (!q.ErrorsOnly || s.Error != "") {
			out = append(out, s)
		}
	}
	return out[min(q.Offset, len(out)):min(q.Offset+q.Limit, len(out))], nil
}

func (f *fakeData) RunLatencies(context.Context, []int64) (map[int64]float64, error) {
	return map[int64]float64{1: 120, 2: 180}, nil
}

func (f *fakeData) ListAlerts(context.Context, web.AlertFilter) ([]web.Alert, error) {
	return f.alerts, nil
}

var t0 = time.Date(2026, 6, 1, 2, 0, 0, 0, time.UTC)

func ptr[T any](v T) *T { return &v }

func newFake(t *testing.T) *fakeData {
	t.Helper()
	rep1 := report.Report{Suite: "arith", Target: "gpt", RunID: 1, Verdict: "BASELINE", Status: "completed",
		Identity: &report.Identity{ResolvedModel: "gpt-2026-06-01", Fingerprint: "fp_a"},
		Metrics:  report.Metrics{PassRate: &report.Value{Value: 0.9}, RefusalRate: &report.Value{Value: 0.01}, Passed: 18, Samples: 20, Cases: 2, SamplesPerCase: 10},
		Cases:    []report.Case{{Key: "q1", Samples: 10, Passed: 9, Failed: 1}, {Key: "q<2>", Samples: 10, Passed: 9, Failed: 1}}}
	rep2 := report.Report{Suite: "arith", Target: "gpt", RunID: 2, BaselineRunIDs: []int64{1}, Verdict: "DRIFT", Status: "completed",
		IdentityChanged: true, BaselineIdentity: rep1.Identity, Identity: &report.Identity{ResolvedModel: "gpt-2026-11-27", Fingerprint: "fp_b"},
		Metrics: report.Metrics{PassRate: &report.Value{Value: 0.6, Baseline: ptr(0.9), Delta: ptr(-0.3), CI: &drift.Interval{Low: -0.45, High: -0.15}, P: ptr(0.0004)},
			RefusalRate: &report.Value{Value: 0.02, Baseline: ptr(0.01)}, Passed: 11, Samples: 20, Cases: 2, SamplesPerCase: 10, ErrorCount: 1, ErrorRate: 0.05, CostUSD: 0.0123, InputTokens: 400, OutputTokens: 900},
		Findings: []drift.Finding{
			{Metric: "pass_rate", Scope: "suite", Statistic: "cmh", Baseline: 0.9, Current: 0.6, Effect: -0.3, CI: &drift.Interval{Low: -0.45, High: -0.15}, P: 0.0004, Q: 0.0012, Verdict: "DRIFT", Reason: "pass rate fell <sharply>",
				Examples: []drift.Example{{Case: "q<2>", Baseline: "4", Current: "<b>5</b>"}}},
			{Metric: "case_pass_rate", Scope: "case:q<2>", Statistic: "fisher", Baseline: 0.9, Current: 0.3, Effect: -0.6, P: 0.002, Q: 0.004, Verdict: "DRIFT", Reason: "case fell"},
		},
		DriftedCases: []string{"q<2>"}, MDE: 0.08,
		ChangePoint: &report.ChangePoint{Runs: 2, RunsSince: 1, Probability: 0.61, SinceRunID: 2, ProbChange: 0.61, ProbThisRun: 0.61},
		Cases:       []report.Case{{Key: "q1", Samples: 10, Passed: 9, Failed: 1}, {Key: "q<2>", Samples: 10, Passed: 3, Failed: 6, Errored: 1, Baseline: ptr(0.9), Drifted: true}}}
	j1, err := json.Marshal(rep1)
	require.NoError(t, err)
	j2, err := json.Marshal(rep2)
	require.NoError(t, err)
	fin1, fin2 := t0.Add(time.Minute), t0.Add(24*time.Hour+time.Minute)
	f := &fakeData{runs: []web.RunListing{
		{ID: 1, SuiteID: 1, TargetID: 1, Suite: "arith", Target: "gpt", Trigger: "cli", Status: "completed", Verdict: "BASELINE", VerdictReason: "first run",
			SamplesPerCase: 10, StartedAt: t0, FinishedAt: &fin1, BaselineRunIDs: []int64{}, CostUSD: 0.01, Summary: j1},
		{ID: 2, SuiteID: 1, TargetID: 1, Suite: "arith", Target: "gpt", Trigger: "schedule", Status: "completed", Verdict: "DRIFT", VerdictReason: "pass rate dropped",
			SamplesPerCase: 10, StartedAt: t0.Add(24 * time.Hour), FinishedAt: &fin2, BaselineRunIDs: []int64{1}, CostUSD: 0.0123, Summary: j2},
	}}
	for run := int64(1); run <= 2; run++ {
		for i := range 2 {
			s := web.Sample{ID: run*10 + int64(i), RunID: run, CaseKey: "q<2>", SampleIdx: i, Outcome: "passed", Passed: true, Score: ptr(1.0),
				Output: "The answer is 4.", Answer: ptr("4"), OutputTokens: 5, LatencyMS: 100,
				Checks:  json.RawMessage(`[{"name":"regex","pass":true,"score":1}]`),
				Request: json.RawMessage(`{"messages":[{"role":"user","content":"What is 2+2? <script>alert(1)</script>"}]}`)}
			if run == 2 {
				s.Output, s.Passed, s.Outcome, s.Answer = "The answer is <script>window.__xss=1</script> 5.", false, "failed", ptr("5")
				s.Checks = json.RawMessage(`[{"name":"regex","pass":false,"score":0,"reason":"no match for 4"}]`)
				if i == 1 {
					s.Error, s.ErrorKind, s.Outcome, s.Answer, s.Score = "HTTP 500 <html>", "server", "errored", nil, nil
				}
			}
			f.samples = append(f.samples, s)
		}
	}
	f.alerts = []web.Alert{{ID: 1, RunID: 2, Channel: "slack", DedupKey: "arith/gpt", Status: "failed", Attempts: 3, LastError: "HTTP 500",
		Payload: json.RawMessage(`{"kind":"resolved","text":"<script>x</script>"}`), CreatedAt: t0, NextAttemptAt: t0}}
	return f
}

func newHandler(t *testing.T, token string) (*web.Handler, *[]string) {
	t.Helper()
	var accepted []string
	h, err := web.New(web.Options{Data: newFake(t), Token: token, Now: func() time.Time { return t0.Add(48 * time.Hour) },
		Actions: web.Actions{AcceptBaseline: func(_ context.Context, id int64, by, note string) error {
			accepted = append(accepted, fmt.Sprintf("%d %s %s", id, by, note))
			return nil
		}}})
	require.NoError(t, err)
	return h, &accepted
}

func get(t *testing.T, h http.Handler, path string) *httptest.ResponseRecorder {
	t.Helper()
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, httptest.NewRequest(http.MethodGet, path, nil))
	return rec
}

func golden(t *testing.T, name, got string) {
	t.Helper()
	path := filepath.Join("testdata", name+".golden")
	if *update {
		require.NoError(t, os.WriteFile(path, []byte(got), 0o644))
	}
	want, err := os.ReadFile(path)
	require.NoError(t, err, "run go test ./web -update to create it")
	require.Equal(t, string(want), got)
}

func TestPagesGolden(t *testing.T) {
	t.Parallel()
	h, _ := newHandler(t, "")
	for name, path := range map[string]string{
		"run":      "/runs/2",
		"case":     "/runs/2/cases/q%3C2%3E",
		"overview": "/",
		"trend":    "/trend?suite=arith&target=gpt",
		"alerts":   "/alerts",
	} {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			rec := get(t, h, path)
			require.Equal(t, http.StatusOK, rec.Code, rec.Body.String())
			body := rec.Body.String()
			require.NotContains(t, body, "<script>")
			golden(t, name, body)
		})
	}
}

func TestRunHTMLStandalone(t *testing.T) {
	t.Parallel()
	h, _ := newHandler(t, "secret-token-1234")
	var b strings.Builder
	require.NoError(t, h.WriteRunHTML(t.Context(), &b, 2))
	s := b.String()
	require.Contains(t, s, "<style>")
	require.Contains(t, s, "pass rate fell &lt;sharply&gt;")
	for _, ext := range []string{"<script", "<link", `href="/`, `src=`, `action=`} {
		require.NotContains(t, s, ext)
	}
	golden(t, "run-standalone", s)
}

func TestErrorsMapToStatus(t *testing.T) {
	t.Parallel()
	h, _ := newHandler(t, "")
	for path, code := range map[string]int{
		"/runs/99":                      http.StatusNotFound,
		"/runs/abc":                     http.StatusNotFound,
		"/runs/2.pdf":                   http.StatusNotFound,
		"/trend":                        http.StatusBadRequest,
		"/trend?suite=x&target=y":       http.StatusNotFound,
		"/alerts?status=<b>":            http.StatusBadRequest,
		"/runs/2/cases/nope":            http.StatusNotFound,
		"/runs/2.json":                  http.StatusOK,
		"/runs/2.md":                    http.StatusOK,
		"/runs/2.junit.xml":             http.StatusOK,
		"/runs?page=2":                  http.StatusOK,
		"/runs/2/cases/q%3C2%3E?page=2": http.StatusOK,
	} {
		rec := get(t, h, path)
		require.Equal(t, code, rec.Code, path)
		if strings.HasPrefix(rec.Header().Get("Content-Type"), "text/html") {
			require.NotContains(t, rec.Body.String(), "<b>", path)
		} else {
			// Exports carry model text as is, as data: never sniffed as HTML.
			require.Equal(t, "nosniff", rec.Header().Get("X-Content-Type-Options"))
		}
	}
	req := httptest.NewRequest(http.MethodPost, "/runs/2/accept", strings.NewReader("token=x"))
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, req)
	require.Equal(t, http.StatusForbidden, rec.Code, "actions are off without a token")
	require.NotContains(t, get(t, h, "/runs/2").Body.String(), "accept-form", "forms hidden without a token")
}

func TestAcceptFlow(t *testing.T) {
	t.Parallel()
	h, accepted := newHandler(t, "secret-token-1234")
	rec := get(t, h, "/runs/2")
	require.Contains(t, rec.Body.String(), `id="accept-form"`)
	cookies := rec.Result().Cookies()
	require.Len(t, cookies, 1)
	c := cookies[0]
	require.Equal(t, http.SameSiteStrictMode, c.SameSite)
	require.True(t, c.HttpOnly)
	require.Contains(t, rec.Body.String(), `name="csrf" value="`+c.Value+`"`)
	post := func(form string) int {
		req := httptest.NewRequest(http.MethodPost, "/runs/2/accept", strings.NewReader(form))
		req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
		req.Header.Set("Origin", "http://example.com")
		req.AddCookie(c)
		rec := httptest.NewRecorder()
		h.ServeHTTP(rec, req)
		return rec.Code
	}
	require.Equal(t, http.StatusForbidden, post("token=wrong&csrf="+c.Value))
	require.Equal(t, http.StatusForbidden, post("token=secret-token-1234&csrf=00000000000000000000000000000000"))
	require.Empty(t, *accepted)
	require.Equal(t, http.StatusSeeOther, post("token=secret-token-1234&csrf="+c.Value+"&note=reviewed&by=ana"))
	require.Equal(t, []string{"2 ana reviewed"}, *accepted)
}

func TestServerOpenClose(t *testing.T) {
	t.Parallel()
	h, _ := newHandler(t, "")
	s := &web.Server{Addr: "127.0.0.1:0", Handler: h}
	require.NoError(t, s.Open())
	resp, err := http.Get(s.URL() + "/runs/2")
	require.NoError(t, err)
	require.NoError(t, resp.Body.Close())
	require.Equal(t, http.StatusOK, resp.StatusCode)
	require.Contains(t, resp.Header.Get("Content-Security-Policy"), "default-src 'none'")
	require.NoError(t, s.Close())
}
