package app

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"regexp"
	"testing"
	"time"

	"github.com/driftwatch/driftwatch/sim/demo"

	"github.com/chromedp/chromedp"
	"github.com/stretchr/testify/require"

	"github.com/driftwatch/driftwatch/config"
	"github.com/driftwatch/driftwatch/report"
	"github.com/driftwatch/driftwatch/sim"
	"github.com/driftwatch/driftwatch/storage/storagetest"
)

// TestDemoPagesTellTheStory plays the demo's two weeks of nights (one
// silent update before night 10) and opens the dashboard in headless
// Chromium: the overview puts the drifted pair first, the run page says why
// in words with the night the change began, and the trend page draws the
// fourteen nights on a day axis with the change marked at night 10, the
// stored change point and CUSUM in the legend. With DRIFTWATCH_UPDATE_DOCS=1
// it refreshes the README's pictures docs/demo-{overview,run,trend}.png.
func TestDemoPagesTellTheStory(t *testing.T) {
	t.Parallel()
	chromium(t)
	ctx := t.Context()
	work := t.TempDir()
	srv, err := sim.New(demo.SimConfig())
	require.NoError(t, err)
	url, stop, err := srv.Start(ctx, "127.0.0.1:0")
	require.NoError(t, err)
	t.Cleanup(func() {
		sctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		_ = stop(sctx)
	})
	require.NoError(t, demo.CopySuites(filepath.Join(work, "suites")))
	slack := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) { _, _ = io.WriteString(w, "ok") }))
	t.Cleanup(slack.Close)
	cfgPath := filepath.Join(work, "driftwatch.yaml")
	cfgText := fmt.Sprintf(demo.Config, url, slack.URL) + demo.NightsConfig + fmt.Sprintf("database_url: %q\n", storagetest.NewDatabaseURL(t))
	require.NoError(t, os.WriteFile(cfgPath, []byte(cfgText), 0o600))
	cfg, err := config.Load(cfgPath)
	require.NoError(t, err)
	a := New(cfg, Options{Stderr: io.Discard})
	t.Cleanup(func() { _ = a.Close() })
	night, err := a.DemoNight(ctx)
	require.NoError(t, err)
	nights, err := demo.Play(ctx, srv, night, io.Discard, func([]*report.Report) {})
	require.NoError(t, err)
	require.Len(t, nights, demo.Nights)
	gpt := func(n int) *report.Report {
		for _, r := range nights[n-1] {
			if r.Target == "sim-gpt" {
				return r
			}
		}
		t.Fatalf("no sim-gpt report on night %d", n)
		return nil
	}
	first, last := gpt(demo.UpdateNight), gpt(demo.Nights)
	require.Equal(t, "DRIFT", first.Verdict, first.Reason)
	require.Equal(t, "DRIFT", last.Verdict, last.Reason)
	require.NotNil(t, last.ChangePoint)
	require.Equal(t, first.RunID, last.ChangePoint.SinceRunID, "dated to the night of the update")

	h, err := a.webHandler(ctx)
	require.NoError(t, err)
	ts := httptest.NewServer(h)
	t.Cleanup(ts.Close)
	b := newBrowser(t)

	browse(t, b, chromedp.Navigate(ts.URL+"/"), chromedp.WaitVisible(chromedp.CSS("#pairs")))
	firstRow := text(t, b, "#pairs tbody tr:first-child")
	require.Contains(t, firstRow, "DRIFT")
	require.Contains(t, firstRow, "sim-gpt")
	require.Contains(t, text(t, b, "#pairs tbody tr.why-row"), fmt.Sprintf("since run %d", first.RunID), "the overview says why")
	demoScreenshot(t, b, "demo-overview.png")

	browse(t, b, chromedp.Navigate(fmt.Sprintf("%s/runs/%d", ts.URL, last.RunID)), chromedp.WaitVisible(chromedp.CSS("#why")))
	why := text(t, b, "#why")
	require.Regexp(t, `^pass rate fell [0-9.]+ points \(95% CI [0-9.]+–[0-9.]+\)`, why)
	require.Contains(t, why, fmt.Sprintf("since run %d", first.RunID))
	require.Contains(t, why, "identity changed sim-gpt-2026-06-01 fp_sim_a1 → sim-gpt-2026-11-27 fp_sim_b7")
	require.Contains(t, why, fmt.Sprintf("if expected: `driftwatch baseline accept %d`", last.RunID))
	demoScreenshot(t, b, "demo-run.png")

	browse(t, b, chromedp.Navigate(ts.URL+"/trend?suite=arithmetic&target=sim-gpt"), chromedp.WaitVisible(chromedp.CSS(".charts")))
	require.Equal(t, fmt.Sprintf("/runs/%d", first.RunID), value(t, b, chromedp.Evaluate[string](`document.querySelector('#change-run').getAttribute('href')`)))
	require.Equal(t, demo.Nights, value(t, b, chromedp.Evaluate[int](`document.querySelectorAll('figure.chart:first-child circle.dot').length`)))
	require.Equal(t, 1, value(t, b, chromedp.Evaluate[int](`document.querySelectorAll('figure.chart:first-child line.m-change').length`)))
	labels := value(t, b, chromedp.Evaluate[[]string](`Array.from(document.querySelectorAll('figure.chart:first-child text.tick[text-anchor]')).filter(e => e.getAttribute('y') === '170').map(e => e.textContent)`))
	require.Len(t, labels, 5)
	dayLabel := regexp.MustCompile(`^[A-Z][a-z]{2} \d{1,2}$`)
	seen := map[string]bool{}
	for _, l := range labels {
		require.Regexp(t, dayLabel, l, "two weeks read as days")
		require.False(t, seen[l], "duplicate time label %q", l)
		seen[l] = true
	}
	cusum := text(t, b, "#cusum")
	require.NotContains(t, cusum, "CUSUM on the drift engine's CUSUM")
	demoScreenshot(t, b, "demo-trend.png")
}

// demoScreenshot saves the visible page under artifacts/screenshots and,
// with DRIFTWATCH_UPDATE_DOCS=1, as docs/name for the README.
func demoScreenshot(t *testing.T, b context.Context, name string) {
	t.Helper()
	view := value(t, b, chromedp.CaptureScreenshot())
	dir := filepath.Join("..", "artifacts", "screenshots")
	require.NoError(t, os.MkdirAll(dir, 0o755))
	require.NoError(t, os.WriteFile(filepath.Join(dir, name), view, 0o644))
	if os.Getenv("DRIFTWATCH_UPDATE_DOCS") == "1" {
		require.NoError(t, os.WriteFile(filepath.Join("..", "docs", name), view, 0o644))
	}
}
