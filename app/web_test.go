package app

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/driftwatch/driftwatch/sim/demo"

	"github.com/chromedp/chromedp"
	"github.com/stretchr/testify/require"

	"github.com/driftwatch/driftwatch/config"
	"github.com/driftwatch/driftwatch/report"
	"github.com/driftwatch/driftwatch/sim"
	"github.com/driftwatch/driftwatch/storage"
	"github.com/driftwatch/driftwatch/storage/storagetest"
)

const webTestToken = "test-token-1234"

// xssPayloads are model outputs that would run script if they reached the
// page unescaped.
var xssPayloads = []string{
	`<script>window.__xss=1</script>`,
	`<img src=x onerror="window.__xss=2">`,
	`<a href="javascript:window.__xss=3">click me</a>`,
}

const webXSSSuite = `name: xss
description: Outputs that try to run script in the dashboard.
samples: 2
params: {temperature: 0, max_tokens: 64}
prompt: "Repeat the snippet. {{.snippet}}"
checks:
  - type: contains
    value: "never-present"
cases:
`

// webTestConfig is the demo's config plus sim-echo, which always answers
// with the hint: the XSS payloads verbatim.
var webTestConfig = strings.Replace(demo.Config, "targets:\n", `targets:
  - name: sim-echo
    provider: openai
    base_url: %[1]s/v1
    model: sim-echo
    api_key: demo-key-not-secret
`, 1)

// webEnv is a database filled by real runs on the simulator: two nights of
// the demo world with a silent update of sim-gpt in between, plus a suite
// whose model outputs are XSS attempts.
type webEnv struct {
	app     *App
	store   *storage.Store
	night1  []*report.Report
	night2  []*report.Report
	handler http.Handler
}

func newWebEnv(t *testing.T) *webEnv {
	t.Helper()
	ctx := t.Context()
	work := t.TempDir()
	world := demo.SimConfig()
	world.Models = append(world.Models, sim.Model{Name: "sim-echo", Profile: sim.Profile{Seed: 3, Accuracy: 1}})
	srv, err := sim.New(world)
	require.NoError(t, err)
	url, stop, err := srv.Start(ctx, "127.0.0.1:0")
	require.NoError(t, err)
	t.Cleanup(func() {
		sctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		_ = stop(sctx)
	})
	require.NoError(t, demo.CopySuites(filepath.Join(work, "suites")))
	var xss strings.Builder
	xss.WriteString(webXSSSuite)
	for i, p := range xssPayloads {
		snippet, _ := json.Marshal("[[sim:expect=" + p + "]]")
		fmt.Fprintf(&xss, "  - id: xss-%d\n    vars: {snippet: %s}\n", i, snippet)
	}
	require.NoError(t, os.WriteFile(filepath.Join(work, "suites", "xss.yaml"), []byte(xss.String()), 0o644))
	slack := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) { _, _ = io.WriteString(w, "ok") }))
	t.Cleanup(slack.Close)
	cfgText := fmt.Sprintf(webTestConfig, url, slack.URL) + fmt.Sprintf("database_url: %q\nweb: {token: %q}\n", storagetest.NewDatabaseURL(t), webTestToken)
	cfgPath := filepath.Join(work, "driftwatch.yaml")
	require.NoError(t, os.WriteFile(cfgPath, []byte(cfgText), 0o600))
	cfg, err := config.Load(cfgPath)
	require.NoError(t, err)
	a := New(cfg, Options{Stderr: io.Discard})
	t.Cleanup(func() { _ = a.Close() })
	e := &webEnv{app: a}
	e.night1, err = a.Run(ctx, RunParams{Suites: []string{"arithmetic", "xss"}})
	require.NoError(t, err)
	_, err = srv.Update("sim-gpt")
	require.NoError(t, err)
	e.night2, err = a.Run(ctx, RunParams{Suites: []string{"arithmetic", "xss"}})
	require.NoError(t, err)
	e.store, err = a.Store(ctx)
	require.NoError(t, err)
	e.handler, err = a.webHandler(ctx)
	require.NoError(t, err)
	return e
}

func (e *webEnv) report(t *testing.T, reports []*report.Report, suite, target string) *report.Report {
	t.Helper()
	for _, r := range reports {
		if r.Suite == suite && r.Target == target {
			return r
		}
	}
	t.Fatalf("no report for %s on %s", suite, target)
	return nil
}

func webGet(t *testing.T, h http.Handler, path string) (int, string) {
	t.Helper()
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, localRequest(http.MethodGet, path, nil))
	return rec.Code, rec.Body.String()
}

// chromium returns the browser's path or skips the test.
func chromium(t *testing.T) string {
	t.Helper()
	const path = "/usr/bin/chromium"
	if _, err := os.Stat(path); err != nil {
		t.Skipf("browser test skipped: %s not installed (apt-get install -y chromium)", path)
	}
	return path
}

func newBrowser(t *testing.T) context.Context {
	t.Helper()
	opts := append(chromedp.DefaultExecAllocatorOptions[:],
		chromedp.ExecPath(chromium(t)),
		chromedp.NoSandbox, chromedp.Headless, chromedp.DisableGPU, chromedp.NoFirstRun,
		chromedp.Flag("disable-quic", true),
		chromedp.Flag("disable-background-networking", true),
		chromedp.Flag("disable-component-update", true),
		chromedp.Flag("disable-sync", true),
		chromedp.UserDataDir(t.TempDir()),
		chromedp.WindowSize(1400, 1000),
	)
	actx, cancelA := chromedp.NewExecAllocator(context.Background(), opts...)
	bctx, cancelB := chromedp.NewContext(actx)
	t.Cleanup(func() { cancelB(); cancelA() })
	require.NoError(t, chromedp.Do(bctx)) // start the browser, without a timeout
	ctx, cancel := context.WithTimeout(bctx, 3*time.Minute)
	t.Cleanup(cancel)
	return ctx
}

func browse(t *testing.T, b context.Context, steps ...chromedp.Action[chromedp.Void]) {
	t.Helper()
	require.NoError(t, chromedp.Do(b, steps...))
}

func value[T any](t *testing.T, b context.Context, a chromedp.Action[T]) T {
	t.Helper()
	v, err := chromedp.Run(b, a)
	require.NoError(t, err)
	return v
}

func text(t *testing.T, b context.Context, sel string) string {
	t.Helper()
	return strings.TrimSpace(value(t, b, chromedp.Text(chromedp.CSS(sel))))
}

// xssState is what the payloads would have set had they run.
const xssState = `typeof window.__xss`

// screenshot saves a full-page PNG under artifacts/screenshots. With
// DRIFTWATCH_UPDATE_DOCS=1 and a docName, it also refreshes the README's
// picture under docs/ (the visible viewport, so it stays readable).
func screenshot(t *testing.T, b context.Context, name, docName string) {
	t.Helper()
	png := value(t, b, chromedp.FullScreenshot(100))
	dir := filepath.Join("..", "artifacts", "screenshots")
	require.NoError(t, os.MkdirAll(dir, 0o755))
	require.NoError(t, os.WriteFile(filepath.Join(dir, name+".png"), png, 0o644))
	if docName != "" && os.Getenv("DRIFTWATCH_UPDATE_DOCS") == "1" {
		view := value(t, b, chromedp.CaptureScreenshot())
		require.NoError(t, os.MkdirAll(filepath.Join("..", "docs"), 0o755))
		require.NoError(t, os.WriteFile(filepath.Join("..", "docs", docName), view, 0o644))
	}
}

func TestDashboardInBrowser(t *testing.T) {
	t.Parallel()
	chromium(t)
	e := newWebEnv(t)
	ctx := t.Context()
	gpt2 := e.report(t, e.night2, "arithmetic", "sim-gpt")
	require.Equal(t, "DRIFT", gpt2.Verdict, "the silent update drifts")
	gpt1 := e.report(t, e.night1, "arithmetic", "sim-gpt")
	_, err := e.store.EnqueueAlert(ctx, storage.NewAlert{RunID: gpt2.RunID, Channel: "slack", DedupKey: "arithmetic/sim-gpt/pass_rate",
		Payload: json.RawMessage(`{"text":"arithmetic on sim-gpt drifted <script>window.__xss=4</script>"}`)})
	require.NoError(t, err)

	ts := httptest.NewServer(e.handler)
	t.Cleanup(ts.Close)
	b := newBrowser(t)
	wantPass := fmt.Sprintf("%.1f%%", 100*gpt2.Metrics.PassRate.Value)

	// Overview: the drifted pair first, with its pass rate.
	browse(t, b, chromedp.Navigate(ts.URL+"/"), chromedp.WaitVisible(chromedp.CSS("#pairs")))
	firstRow := text(t, b, "#pairs tbody tr:first-child")
	require.Contains(t, firstRow, "DRIFT")
	require.Contains(t, firstRow, "sim-gpt")
	require.Equal(t, wantPass, text(t, b, "#pairs tbody tr:first-child .pass-rate"))
	screenshot(t, b, "overview", "")

	// Overview -> run page.
	browse(t, b, chromedp.Click(chromedp.CSS("#pairs tbody tr:first-child a.run-link")), chromedp.WaitVisible(chromedp.CSS("#metrics")))
	h1 := text(t, b, "h1")
	require.Contains(t, h1, fmt.Sprintf("Run #%d", gpt2.RunID))
	require.Contains(t, h1, "DRIFT")
	require.Equal(t, "completed", text(t, b, "#status"))
	require.Contains(t, text(t, b, "#baselines"), fmt.Sprintf("#%d", gpt1.RunID))
	require.Equal(t, wantPass, text(t, b, `#metrics tr[data-metric="pass rate"] .current`))
	require.Contains(t, text(t, b, "#findings"), "pass_rate")
	screenshot(t, b, "run", "run-page.png")

	// Run -> a drifted case: baseline and current samples side by side.
	// Without a localised case, the first case of the table.
	link := "#cases tbody tr:first-child a"
	if len(gpt2.DriftedCases) > 0 {
		link = "#drifted a.case-link"
	}
	browse(t, b, chromedp.Click(chromedp.CSS(link)), chromedp.WaitVisible(chromedp.CSS("section.sample")))
	if len(gpt2.DriftedCases) > 0 {
		require.Contains(t, text(t, b, "h1"), "drifted")
	}
	n := value(t, b, chromedp.Evaluate[int](`document.querySelectorAll('section.sample:not(.empty)').length`))
	require.Equal(t, 8, n, "4 baseline and 4 current samples")
	screenshot(t, b, "case", "")

	// Trend: six charts, the identity change marked on the time axis.
	browse(t, b, chromedp.Navigate(ts.URL+"/trend?suite=arithmetic&target=sim-gpt"), chromedp.WaitVisible(chromedp.CSS(".charts")))
	require.Equal(t, 6, value(t, b, chromedp.Evaluate[int](`document.querySelectorAll('figure.chart svg').length`)))
	require.Equal(t, 1, value(t, b, chromedp.Evaluate[int](`document.querySelectorAll('figure.chart:first-child line.m-identity').length`)))
	screenshot(t, b, "trend", "trend-page.png")

	// Alerts: the payload is shown literally.
	browse(t, b, chromedp.Navigate(ts.URL+"/alerts"), chromedp.WaitVisible(chromedp.CSS("#alerts")))
	require.Contains(t, value(t, b, chromedp.TextContent(chromedp.CSS("#alerts pre.output"))), "<script>window.__xss=4</script>")
	require.Equal(t, "undefined", value(t, b, chromedp.Evaluate[string](xssState)))
	screenshot(t, b, "alerts", "")

	// Accept night 2 as the new baseline through the form.
	browse(t, b,
		chromedp.Navigate(fmt.Sprintf("%s/runs/%d", ts.URL, gpt2.RunID)),
		chromedp.WaitVisible(chromedp.CSS("#accept-form")),
		chromedp.SendKeys(chromedp.CSS("#accept-form input[name=token]"), webTestToken),
		chromedp.SendKeys(chromedp.CSS("#accept-form input[name=note]"), "vendor update reviewed"),
		chromedp.Submit(chromedp.CSS("#accept-form")),
		chromedp.WaitVisible(chromedp.CSS("#accepted")),
	)
	require.Contains(t, text(t, b, "#accepted"), "is now the baseline")
	rl, err := e.store.GetRun(ctx, gpt2.RunID)
	require.NoError(t, err)
	bl, err := e.store.ActiveBaseline(ctx, rl.SuiteID, rl.TargetID)
	require.NoError(t, err)
	require.Equal(t, []int64{gpt2.RunID}, bl.RunIDs)
	require.Equal(t, "vendor update reviewed", bl.Note)

	// XSS: the model's outputs are shown as text and never run.
	x := e.report(t, e.night2, "xss", "sim-echo")
	for i, p := range xssPayloads {
		browse(t, b, chromedp.Navigate(fmt.Sprintf("%s/runs/%d/cases/xss-%d", ts.URL, x.RunID, i)), chromedp.WaitVisible(chromedp.CSS("section.sample")))
		require.Equal(t, "undefined", value(t, b, chromedp.Evaluate[string](xssState)), "payload %d ran", i)
		shown := value(t, b, chromedp.Evaluate[string](`Array.from(document.querySelectorAll('pre.output.diff')).map(e => e.textContent).join('\n')`))
		require.Contains(t, shown, p, "payload %d is shown literally", i)
		require.Equal(t, 0, value(t, b, chromedp.Evaluate[int](`document.querySelectorAll('main script, main img, main a[href^="javascript"]').length`)),
			"no element was made from payload %d", i)
	}
	screenshot(t, b, "xss-case", "")
	browse(t, b, chromedp.Navigate(fmt.Sprintf("%s/runs/%d", ts.URL, x.RunID)), chromedp.WaitVisible(chromedp.CSS("#samples")))
	require.Equal(t, "undefined", value(t, b, chromedp.Evaluate[string](xssState)))
}

func TestDashboardEscapesModelOutput(t *testing.T) {
	t.Parallel()
	e := newWebEnv(t)
	x := e.report(t, e.night2, "xss", "sim-echo")
	for i := range xssPayloads {
		code, body := webGet(t, e.handler, fmt.Sprintf("/runs/%d/cases/xss-%d", x.RunID, i))
		require.Equal(t, http.StatusOK, code)
		require.NotContains(t, body, "<script>window.__xss")
		require.NotContains(t, body, "<img src=x")
		require.NotContains(t, body, `href="javascript:`)
	}
	code, body := webGet(t, e.handler, fmt.Sprintf("/runs/%d", x.RunID))
	require.Equal(t, http.StatusOK, code)
	require.Contains(t, body, "&lt;script&gt;window.__xss=1&lt;/script&gt;")

	// Exports of the stored report.
	for ext, want := range map[string]string{".json": `"run_id":`, ".md": "# xss on sim-echo", ".junit.xml": "<testsuites>"} {
		code, body := webGet(t, e.handler, fmt.Sprintf("/runs/%d%s", x.RunID, ext))
		require.Equal(t, http.StatusOK, code, ext)
		require.Contains(t, body, want, ext)
	}
	code, _ = webGet(t, e.handler, "/runs/999999")
	require.Equal(t, http.StatusNotFound, code)

	// report --html: one self-contained file.
	var buf strings.Builder
	require.NoError(t, e.app.WriteRunHTML(t.Context(), &buf, x.RunID))
	html := buf.String()
	require.Contains(t, html, "<style>")
	require.NotContains(t, html, "<script")
	require.NotContains(t, html, "<link")
	require.NotContains(t, html, `href="/`)
	require.NotContains(t, html, `src=`)
}

func TestDashboardActionsNeedTokenAndCSRF(t *testing.T) {
	t.Parallel()
	e := newWebEnv(t)
	r := e.report(t, e.night2, "arithmetic", "sim-llama")
	post := func(form, cookie, origin string) int {
		req := localRequest(http.MethodPost, fmt.Sprintf("/runs/%d/accept", r.RunID), strings.NewReader(form))
		req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
		if cookie != "" {
			req.AddCookie(&http.Cookie{Name: "dw_csrf", Value: cookie})
		}
		if origin != "" {
			req.Header.Set("Origin", origin)
		}
		rec := httptest.NewRecorder()
		e.handler.ServeHTTP(rec, req)
		return rec.Code
	}
	const csrf = "0123456789abcdef0123456789abcdef"
	require.Equal(t, http.StatusForbidden, post("token="+webTestToken, "", ""), "no CSRF cookie")
	require.Equal(t, http.StatusForbidden, post("token="+webTestToken+"&csrf="+csrf, "ffffffffffffffffffffffffffffffff", ""), "CSRF mismatch")
	require.Equal(t, http.StatusForbidden, post("token=wrong&csrf="+csrf, csrf, ""), "wrong token")
	require.Equal(t, http.StatusForbidden, post("token="+webTestToken+"&csrf="+csrf, csrf, "http://evil.example"), "cross origin")
	require.Equal(t, http.StatusSeeOther, post("token="+webTestToken+"&csrf="+csrf+"&note=ok", csrf, "http://127.0.0.1:8080"))
}
