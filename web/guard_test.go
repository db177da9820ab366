package web_test

import (
	"bytes"
	"context"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/driftwatch/driftwatch/web"
)

func TestRequestForAnotherHostGets421(t *testing.T) {
	t.Parallel()
	h, err := web.New(web.Options{Data: newFake(t), Hosts: web.AllowedHosts("0.0.0.0:8080", "https://dash.example.com/")})
	require.NoError(t, err)
	for host, want := range map[string]int{
		"evil.example":          http.StatusMisdirectedRequest,
		"evil.example:8080":     http.StatusMisdirectedRequest,
		"dash.example.com":      http.StatusOK,
		"DASH.example.com:8080": http.StatusOK,
		"127.0.0.1:8080":        http.StatusOK,
		"[::1]:8080":            http.StatusOK,
		"192.168.1.20:8080":     http.StatusOK,
		"localhost:8080":        http.StatusOK,
	} {
		req := httptest.NewRequest(http.MethodGet, "/runs", nil)
		req.Host = host
		rec := httptest.NewRecorder()
		h.ServeHTTP(rec, req)
		require.Equal(t, want, rec.Code, "Host: %s", host)
		if want != http.StatusOK {
			require.NotContains(t, rec.Body.String(), "arith", "no page content for another host")
		}
	}
}

func TestAllowedHostsNamesOnly(t *testing.T) {
	t.Parallel()
	require.Equal(t, []string{"localhost", "box.lan", "dash.example.com"}, web.AllowedHosts("box.lan:8080", "https://dash.example.com:8443/x"))
	require.Equal(t, []string{"localhost"}, web.AllowedHosts("127.0.0.1:8080", ""), "still checked: only IPs and localhost")
}

func TestShortTokenIsRefused(t *testing.T) {
	t.Parallel()
	_, err := web.New(web.Options{Data: newFake(t), Token: "a"})
	require.EqualError(t, err, "web: the token (web.token) must be at least 12 characters, got 1")
}

func TestWrongTokensAreLoggedAndRateLimited(t *testing.T) {
	t.Parallel()
	var logs bytes.Buffer
	var mu sync.Mutex
	h, err := web.New(web.Options{Data: newFake(t), Token: "right-token-123456", Logger: slog.New(slog.NewTextHandler(lockedWriter{&mu, &logs}, nil)),
		Actions: web.Actions{AcceptBaseline: func(context.Context, int64, string, string) error { return nil }}})
	require.NoError(t, err)
	rec := get(t, h, "/runs/2")
	c := rec.Result().Cookies()[0]
	post := func(token string) int {
		req := httptest.NewRequest(http.MethodPost, "/runs/2/accept", strings.NewReader("token="+token+"&csrf="+c.Value))
		req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
		req.AddCookie(c)
		rec := httptest.NewRecorder()
		h.ServeHTTP(rec, req)
		return rec.Code
	}
	for range 5 {
		require.Equal(t, http.StatusForbidden, post("guess"))
	}
	require.Equal(t, http.StatusTooManyRequests, post("guess"), "guessing stops after a burst")
	require.Equal(t, http.StatusTooManyRequests, post("right-token-123456"), "until the limit recovers, even the right token waits")
	mu.Lock()
	defer mu.Unlock()
	require.Equal(t, 5, strings.Count(logs.String(), "web: wrong token"))
	require.NotContains(t, logs.String(), "guess", "the guessed token is not logged")
}

type lockedWriter struct {
	mu *sync.Mutex
	b  *bytes.Buffer
}

func (w lockedWriter) Write(p []byte) (int, error) {
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.b.Write(p)
}

func TestHugeOutputsArePagedSmallWithALinkToTheFullText(t *testing.T) {
	t.Parallel()
	f := newFake(t)
	huge := strings.Repeat("<big output> ", 5<<20/13)
	for i := range f.samples {
		f.samples[i].Output = huge
		f.samples[i].Error = ""
	}
	h, err := web.New(web.Options{Data: f})
	require.NoError(t, err)
	for _, path := range []string{"/runs/2", "/runs/2/cases/q%3C2%3E"} {
		rec := get(t, h, path)
		require.Equal(t, http.StatusOK, rec.Code)
		require.Less(t, rec.Body.Len(), 1<<20, "%s is under 1 MB", path)
		require.Contains(t, rec.Body.String(), `?output=0">full text</a>`)
	}
	rec := get(t, h, "/runs/2/cases/q%3C2%3E?output=0")
	require.Equal(t, http.StatusOK, rec.Code)
	require.Equal(t, "text/plain; charset=utf-8", rec.Header().Get("Content-Type"))
	require.Equal(t, "nosniff", rec.Header().Get("X-Content-Type-Options"))
	require.LessOrEqual(t, rec.Body.Len(), 1<<20+100, "the full text is capped")
	require.True(t, strings.HasPrefix(rec.Body.String(), "<big output> <big output>"), "served as text, unescaped")
	require.Contains(t, rec.Body.String(), "[cut at 1048576 characters]")
	require.Equal(t, http.StatusNotFound, get(t, h, "/runs/2/cases/q%3C2%3E?output=99").Code)
	require.Equal(t, http.StatusBadRequest, get(t, h, "/runs/2/cases/q%3C2%3E?output=x").Code)
}

// blockingData holds every page until released, counting pages in flight.
type blockingData struct {
	*fakeData
	release        chan struct{}
	inFlight, peak atomic.Int32
}

func (b *blockingData) GetRunListing(ctx context.Context, id int64) (web.RunListing, error) {
	n := b.inFlight.Add(1)
	defer b.inFlight.Add(-1)
	for {
		p := b.peak.Load()
		if n <= p || b.peak.CompareAndSwap(p, n) {
			break
		}
	}
	select {
	case <-b.release:
	case <-ctx.Done():
	}
	return b.fakeData.GetRunListing(ctx, id)
}

func TestConcurrentPagesAreBounded(t *testing.T) {
	t.Parallel()
	d := &blockingData{fakeData: newFake(t), release: make(chan struct{})}
	h, err := web.New(web.Options{Data: d})
	require.NoError(t, err)
	var wg sync.WaitGroup
	codes := make([]int, 8)
	for i := range codes {
		wg.Go(func() { codes[i] = get(t, h, "/runs/2").Code })
	}
	require.Eventually(t, func() bool { return d.inFlight.Load() == 4 }, 5*time.Second, 5*time.Millisecond)
	time.Sleep(50 * time.Millisecond) // the others would have entered by now
	require.EqualValues(t, 4, d.peak.Load(), "at most 4 pages are built at once")
	close(d.release)
	wg.Wait()
	for _, c := range codes {
		require.Equal(t, http.StatusOK, c, "the others waited their turn")
	}
}

func TestWarnIfExposed(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	var logs bytes.Buffer
	logger := slog.New(slog.NewTextHandler(&logs, nil))
	for _, addr := range []string{"127.0.0.1:8080", "[::1]:8080", "localhost:8080"} {
		require.False(t, web.WarnIfExposed(ctx, logger, addr), addr)
	}
	require.Empty(t, logs.String())
	for _, addr := range []string{"0.0.0.0:8080", ":8080", "192.168.1.20:8080"} {
		require.True(t, web.WarnIfExposed(ctx, logger, addr), addr)
	}
	require.Contains(t, logs.String(), "over plain HTTP: put TLS (a reverse proxy) in front")
}
