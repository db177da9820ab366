// Package web is Driftwatch's dashboard: server-rendered pages over the
// stored runs (overview, run, case, trend, alerts), the run's exports, and
// two actions (accept a baseline, run now) behind a token.
//
// Pages are html/template with embedded templates and CSS; charts are SVG
// drawn on the server; there is no JavaScript. Model outputs and suite
// strings are untrusted: they only ever reach the page through html/template
// escaping, and responses carry a Content-Security-Policy that forbids
// scripts as a second line of defence.
//
// The package does not import storage: app adapts the store to Data.
package web

import (
	"context"
	"crypto/rand"
	"crypto/subtle"
	"encoding/hex"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"
)

// Options configure a Handler.
type Options struct {
	// Data is the store; required.
	Data Data
	// Actions are the writes; nil funcs hide their forms.
	Actions Actions
	// Token enables the actions: a POST must carry it. Empty: actions are
	// off (forms hidden, POST answers 403).
	Token  string
	Logger *slog.Logger
	// Now is the clock; default time.Now.
	Now func() time.Time
	// Hosts are the host names the dashboard answers to (see
	// AllowedHosts); a request for another name gets 421, so a page that
	// rebinds its own name to this server's address reads nothing. IP
	// addresses and localhost are always accepted. Nil: any host (tests,
	// embedding behind a proxy that checks).
	Hosts []string
}

// Handler serves the dashboard.
type Handler struct {
	opts  Options
	mux   *http.ServeMux
	tmpl  *templates
	guard *guard
}

// New returns the dashboard handler.
func New(opts Options) (*Handler, error) {
	if opts.Data == nil {
		return nil, errors.New("web: Options.Data is required")
	}
	if opts.Logger == nil {
		opts.Logger = slog.New(slog.DiscardHandler)
	}
	if opts.Now == nil {
		opts.Now = time.Now
	}
	if opts.Token != "" && len(opts.Token) < MinTokenLength {
		return nil, fmt.Errorf("web: the token (web.token) must be at least %d characters, got %d", MinTokenLength, len(opts.Token))
	}
	t, err := parseTemplates()
	if err != nil {
		return nil, err
	}
	h := &Handler{opts: opts, mux: http.NewServeMux(), tmpl: t, guard: newGuard(opts.Hosts)}
	h.mux.HandleFunc("GET /{$}", h.wrap(h.overview))
	h.mux.HandleFunc("GET /runs", h.wrap(h.runs))
	h.mux.HandleFunc("GET /runs/{id}", h.wrap(h.run))
	h.mux.HandleFunc("GET /runs/{id}/cases/{key...}", h.wrap(h.caseView))
	h.mux.HandleFunc("GET /trend", h.wrap(h.trend))
	h.mux.HandleFunc("GET /alerts", h.wrap(h.alerts))
	h.mux.HandleFunc("POST /runs/{id}/accept", h.wrap(h.accept))
	h.mux.HandleFunc("POST /run-now", h.wrap(h.runNow))
	return h, nil
}

// ServeHTTP implements http.Handler.
func (h *Handler) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	hd := w.Header()
	hd.Set("Content-Security-Policy", "default-src 'none'; style-src 'unsafe-inline'; img-src 'self' data:; form-action 'self'; base-uri 'none'; frame-ancestors 'none'")
	hd.Set("X-Content-Type-Options", "nosniff")
	hd.Set("Referrer-Policy", "same-origin")
	if !h.guard.hostAllowed(r.Host) {
		h.opts.Logger.Warn("web: request for another host refused", "host", r.Host, "remote", r.RemoteAddr)
		http.Error(w, "Misdirected request: this dashboard does not serve that host name.", http.StatusMisdirectedRequest)
		return
	}
	h.mux.ServeHTTP(w, r)
}

// errorStatus is the one table from domain errors to HTTP answers. Anything
// else is an internal error: logged, and shown only as "Internal error."
var errorStatus = []struct {
	err    error
	status int
}{
	{ErrNotFound, http.StatusNotFound},
	{ErrInvalid, http.StatusBadRequest},
	{ErrBusy, http.StatusConflict},
	{ErrForbidden, http.StatusForbidden},
	{ErrTooManyAttempts, http.StatusTooManyRequests},
	{ErrUnavailable, http.StatusServiceUnavailable},
}

func (h *Handler) wrap(fn func(http.ResponseWriter, *http.Request) error) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		release, err := h.guard.acquire(r.Context())
		if err == nil {
			err = fn(w, r)
			release()
		}
		if err == nil {
			return
		}
		status, msg := http.StatusInternalServerError, "Internal error."
		for _, e := range errorStatus {
			if errors.Is(err, e.err) {
				status, msg = e.status, errorMessage(err)
				break
			}
		}
		if status == http.StatusInternalServerError {
			h.opts.Logger.Error("web: request failed", "method", r.Method, "path", r.URL.Path, "err", err)
		}
		w.Header().Set("Content-Type", "text/html; charset=utf-8")
		w.WriteHeader(status)
		if err := h.tmpl.render(w, "error", h.page(r, http.StatusText(status), errorPage{Status: status, Message: msg})); err != nil {
			h.opts.Logger.Warn("web: render error page", "path", r.URL.Path, "err", err)
		}
	}
}

// errorMessage is what users see of a domain error: its text, which the
// Data and Actions implementations keep free of secrets and SQL.
func errorMessage(err error) string {
	const maxRunes = 300
	s := err.Error()
	if utf8.RuneCountInString(s) <= maxRunes {
		return s
	}
	// Cut on a rune boundary: a byte cut could split a character.
	return string([]rune(s)[:maxRunes]) + "…"
}

type errorPage struct {
	Status  int
	Message string
}

// pathID parses the {id} path value ("12", or "12.json" with an export
// suffix).
func pathID(r *http.Request) (int64, string, error) {
	raw := r.PathValue("id")
	ext := ""
	if i := strings.IndexByte(raw, '.'); i >= 0 {
		raw, ext = raw[:i], raw[i:]
	}
	id, err := strconv.ParseInt(raw, 10, 64)
	if err != nil || id <= 0 {
		return 0, "", fmt.Errorf("%w: run id %q", ErrNotFound, r.PathValue("id"))
	}
	return id, ext, nil
}

// page is what every template gets.
type page struct {
	Title   string
	Actions bool   // forms shown
	CSRF    string // the hidden field's value
	Body    any
	// Standalone pages (report --html) have no navigation and no links
	// into the dashboard.
	Standalone bool
	Generated  time.Time
}

const csrfCookie = "dw_csrf"

func (h *Handler) page(r *http.Request, title string, body any) page {
	p := page{Title: title, Body: body, Generated: h.opts.Now()}
	if h.opts.Token != "" && r != nil {
		p.Actions = true
		if c, err := r.Cookie(csrfCookie); err == nil && validCSRF(c.Value) {
			p.CSRF = c.Value
		}
	}
	return p
}

func validCSRF(s string) bool {
	if len(s) != 32 {
		return false
	}
	_, err := hex.DecodeString(s)
	return err == nil
}

// ensureCSRF sets the per-session CSRF cookie when actions are on and the
// browser has none, and returns its value.
func (h *Handler) ensureCSRF(w http.ResponseWriter, r *http.Request, p *page) {
	if !p.Actions || p.CSRF != "" {
		return
	}
	b := make([]byte, 16)
	_, _ = rand.Read(b)
	p.CSRF = hex.EncodeToString(b)
	http.SetCookie(w, &http.Cookie{Name: csrfCookie, Value: p.CSRF, Path: "/", HttpOnly: true,
		SameSite: http.SameSiteStrictMode, Secure: r.TLS != nil})
}

// checkAction guards every POST: actions on, same origin, the CSRF cookie
// matching the form field (double submit, SameSite=Strict), and the token.
func (h *Handler) checkAction(r *http.Request) error {
	if h.opts.Token == "" {
		return fmt.Errorf("%w: actions are off (set web.token)", ErrForbidden)
	}
	if err := r.ParseForm(); err != nil {
		return fmt.Errorf("%w: bad form", ErrInvalid)
	}
	if !sameOrigin(r) {
		return fmt.Errorf("%w: cross-origin request", ErrForbidden)
	}
	c, err := r.Cookie(csrfCookie)
	field := r.PostForm.Get("csrf")
	if err != nil || !validCSRF(c.Value) || subtle.ConstantTimeCompare([]byte(c.Value), []byte(field)) != 1 {
		return fmt.Errorf("%w: missing or stale form token; reload the page", ErrForbidden)
	}
	if h.guard.failedTokens.Tokens() < 1 {
		return fmt.Errorf("%w: too many wrong tokens; wait a minute", ErrTooManyAttempts)
	}
	if subtle.ConstantTimeCompare([]byte(r.PostForm.Get("token")), []byte(h.opts.Token)) != 1 {
		h.guard.failedTokens.Allow()
		h.opts.Logger.Warn("web: wrong token", "remote", r.RemoteAddr, "path", r.URL.Path)
		return fmt.Errorf("%w: wrong token", ErrForbidden)
	}
	return nil
}

// sameOrigin accepts a request whose Origin (or, without one, Referer) names
// this host; browsers send Origin on every POST.
func sameOrigin(r *http.Request) bool {
	src := r.Header.Get("Origin")
	if src == "" {
		src = r.Header.Get("Referer")
	}
	if src == "" {
		return true // not a browser: the token and CSRF field still apply
	}
	u, err := url.Parse(src)
	if err != nil {
		return false
	}
	return strings.EqualFold(u.Host, r.Host)
}

// Server serves a handler on an address with a graceful shutdown.
type Server struct {
	// Addr is host:port; ":0" picks a free port (see URL after Open).
	Addr    string
	Handler http.Handler
	// ShutdownTimeout bounds Close; default 10s.
	ShutdownTimeout time.Duration

	srv  *http.Server
	ln   net.Listener
	done chan error
}

// Open listens and starts serving in the background.
func (s *Server) Open() error {
	ln, err := net.Listen("tcp", s.Addr)
	if err != nil {
		return fmt.Errorf("web: listen on %s: %w", s.Addr, err)
	}
	s.ln = ln
	s.srv = &http.Server{Handler: s.Handler, ReadHeaderTimeout: 10 * time.Second}
	s.done = make(chan error, 1)
	go func() { s.done <- s.srv.Serve(ln) }()
	return nil
}

// URL is the server's base URL, valid after Open.
func (s *Server) URL() string { return "http://" + s.ln.Addr().String() }

// Close shuts the server down, waiting up to ShutdownTimeout for requests in
// flight. It is safe before Open and more than once.
func (s *Server) Close() error {
	if s.srv == nil {
		return nil
	}
	defer func() { s.srv = nil }() // a second Close must not wait on done again
	d := s.ShutdownTimeout
	if d <= 0 {
		d = 10 * time.Second
	}
	ctx, cancel := context.WithTimeout(context.Background(), d)
	defer cancel()
	err := s.srv.Shutdown(ctx)
	if serr := <-s.done; serr != nil && !errors.Is(serr, http.ErrServerClosed) && err == nil {
		err = serr
	}
	return err
}
