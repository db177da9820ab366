package web

import (
	"context"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"

	"golang.org/x/time/rate"
)

// Limits that keep the dashboard small and responsive whatever the models
// wrote, and its token hard to guess.
const (
	// MinTokenLength is the shortest web.token New accepts.
	MinTokenLength = 12
	// listTextRunes is how much of an output or error a run page shows;
	// caseTextRunes how much a case page shows (and diffs). Longer texts
	// end in "…" and a link to the full text.
	listTextRunes = 300
	caseTextRunes = 4000
	// fullTextRunes caps the full text of one output (text/plain).
	fullTextRunes = 1 << 20
	// heavyRequests is how many pages are built at once; others wait
	// (up to heavyWait) for a slot, then get 503.
	heavyRequests = 4
	heavyWait     = 30 * time.Second
	// Wrong tokens: a burst of failedTokenBurst, then one per
	// failedTokenEvery; beyond that, POSTs get 429 without a comparison.
	failedTokenBurst = 5
	failedTokenEvery = 10 * time.Second
)

// guard holds the dashboard's request limits.
type guard struct {
	hosts        map[string]bool // allowed Host names; nil: any
	heavy        chan struct{}
	failedTokens *rate.Limiter
}

func newGuard(hosts []string) *guard {
	g := &guard{heavy: make(chan struct{}, heavyRequests), failedTokens: rate.NewLimiter(rate.Every(failedTokenEvery), failedTokenBurst)}
	if len(hosts) > 0 {
		g.hosts = map[string]bool{}
		for _, h := range hosts {
			g.hosts[strings.ToLower(h)] = true
		}
	}
	return g
}

// hostAllowed reports whether a request's Host header names this
// dashboard: an IP address, localhost, or one of the configured names. A
// DNS-rebinding page reaches the server under the attacker's own name,
// which is none of these.
func (g *guard) hostAllowed(hostport string) bool {
	if g.hosts == nil {
		return true
	}
	host := hostport
	if h, _, err := net.SplitHostPort(hostport); err == nil {
		host = h
	}
	host = strings.ToLower(strings.TrimSuffix(strings.Trim(host, "[]"), "."))
	if host == "localhost" || net.ParseIP(host) != nil {
		return true
	}
	return g.hosts[host]
}

// acquire takes a slot for a page, waiting until ctx is done or heavyWait
// has passed.
func (g *guard) acquire(ctx context.Context) (release func(), err error) {
	t := time.NewTimer(heavyWait)
	defer t.Stop()
	select {
	case g.heavy <- struct{}{}:
		return func() { <-g.heavy }, nil
	case <-ctx.Done():
		return nil, fmt.Errorf("%w: %w", ErrBusy, ctx.Err())
	case <-t.C:
		return nil, fmt.Errorf("%w: the dashboard is busy; try again", ErrUnavailable)
	}
}

// AllowedHosts returns the host names the dashboard answers to, for
// Options.Hosts: localhost, and the host of addr (web.addr, --addr) and of
// publicURL (web.url) when they are names. IP addresses are always
// accepted.
func AllowedHosts(addr, publicURL string) []string {
	hosts := []string{"localhost"}
	if h, _, err := net.SplitHostPort(addr); err == nil && h != "" && net.ParseIP(h) == nil {
		hosts = append(hosts, h)
	}
	if u, err := url.Parse(publicURL); err == nil && u.Hostname() != "" && net.ParseIP(u.Hostname()) == nil {
		hosts = append(hosts, u.Hostname())
	}
	return hosts
}

// WarnIfExposed logs a warning when addr listens beyond the loopback
// interface: the dashboard speaks plain HTTP, so the token and every page
// cross the network in clear unless TLS (a reverse proxy) is in front.
func WarnIfExposed(ctx context.Context, logger *slog.Logger, addr string) bool {
	host, _, err := net.SplitHostPort(addr)
	if err != nil {
		host = addr
	}
	if host == "localhost" {
		return false
	}
	if ip := net.ParseIP(strings.Trim(host, "[]")); ip != nil && ip.IsLoopback() {
		return false
	}
	if ips, err := net.DefaultResolver.LookupIPAddr(ctx, host); err == nil && host != "" && len(ips) > 0 {
		loopback := true
		for _, ip := range ips {
			loopback = loopback && ip.IP.IsLoopback()
		}
		if loopback {
			return false
		}
	}
	logger.WarnContext(ctx, "the dashboard listens beyond this machine over plain HTTP: put TLS (a reverse proxy) in front of it, "+
		"set web.url to its public address, and keep web.token secret", "addr", addr)
	return true
}

// clip cuts s to n runes, reporting whether it did.
func clip(s string, n int) (string, bool) {
	if len(s) <= n || utf8.RuneCountInString(s) <= n {
		return s, false
	}
	i, k := 0, 0
	for i = range s {
		if k == n {
			break
		}
		k++
	}
	return s[:i], true
}

// shownSample is a sample as a list shows it: output and error clipped.
type shownSample struct {
	Sample
	Clipped bool
}

func shownSamples(ss []Sample, n int) []shownSample {
	out := make([]shownSample, len(ss))
	for i, s := range ss {
		var c1, c2 bool
		s.Output, c1 = clip(s.Output, n)
		s.Error, c2 = clip(s.Error, n)
		out[i] = shownSample{Sample: s, Clipped: c1 || c2}
	}
	return out
}

// fullText serves one sample's whole output (or error) as text/plain, up
// to fullTextRunes characters: /runs/ID/cases/KEY?output=SAMPLE_IDX.
func (h *Handler) fullText(w http.ResponseWriter, r *http.Request, runID int64, key string) error {
	idx, err := strconv.Atoi(r.URL.Query().Get("output"))
	if err != nil || idx < 0 {
		return fmt.Errorf("%w: output=%q is not a sample number", ErrInvalid, r.URL.Query().Get("output"))
	}
	ss, err := h.opts.Data.ListSamplePage(r.Context(), SampleFilter{RunIDs: []int64{runID}, CaseKey: key, Limit: 1, Offset: idx, MaxText: fullTextRunes})
	if err != nil {
		return err
	}
	if len(ss) == 0 || ss[0].SampleIdx != idx {
		return fmt.Errorf("%w: run %d has no sample %d of case %q", ErrNotFound, runID, idx, key)
	}
	text := ss[0].Output
	if ss[0].Error != "" {
		text = ss[0].ErrorKind + ": " + ss[0].Error
	}
	text, cut := clip(text, fullTextRunes)
	w.Header().Set("Content-Type", "text/plain; charset=utf-8")
	w.Header().Set("Content-Disposition", "inline")
	_, _ = w.Write([]byte(text))
	if cut {
		_, _ = fmt.Fprintf(w, "\n\n[cut at %d characters]\n", fullTextRunes)
	}
	return nil
}
