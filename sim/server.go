package sim

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"strings"
	"sync"
	"sync/atomic"
	"time"
)

// Server is the simulator. It implements http.Handler; use Start or
// ListenAndServe to put it on a socket, or httptest.NewServer(s) in tests.
// All methods are safe for concurrent use.
type Server struct {
	cfg     Config
	models  []*model
	byName  map[string]*model
	mux     *http.ServeMux
	now     func() time.Time
	logger  *slog.Logger
	started time.Time

	stopOnce sync.Once
	done     chan struct{} // closed by Close: releases hanging requests

	lim      *limiter // nil: no rate limit
	ids      atomic.Uint64
	c        counters
	prompts  sync.Map // promptKey -> *promptEntry
	nPrompts atomic.Int64
}

// Option configures a Server.
type Option func(*Server)

// WithClock replaces time.Now for timestamps, wall-clock updates and the
// requests-per-second window.
func WithClock(now func() time.Time) Option { return func(s *Server) { s.now = now } }

// WithLogger sets the logger (default: discard). The simulator logs
// updates at Info and injected errors at Debug.
func WithLogger(l *slog.Logger) Option { return func(s *Server) { s.logger = l } }

// New builds a simulator from cfg (defaults applied, then validated).
func New(cfg Config, opts ...Option) (*Server, error) {
	cfg = cfg.WithDefaults()
	if err := cfg.validate(); err != nil {
		return nil, fmt.Errorf("new simulator: %w", err)
	}
	s := &Server{
		cfg:    cfg,
		byName: make(map[string]*model, len(cfg.Models)),
		now:    time.Now,
		logger: slog.New(slog.DiscardHandler),
		done:   make(chan struct{}),
	}
	for _, o := range opts {
		o(s)
	}
	s.logger = s.logger.With("component", "sim")
	s.started = s.now()
	s.lim = newLimiter(cfg.RateLimit, s.now)
	for i, mc := range cfg.Models {
		m := newModel(mc, uint64(i))
		s.models = append(s.models, m)
		s.byName[m.name] = m
	}
	// Resolved names are aliases unless they collide with a model name.
	for _, m := range s.models {
		if r := m.cur.Load().id.ResolvedModel; s.byName[r] == nil {
			s.byName[r] = m
		}
	}
	s.routes()
	return s, nil
}

func (s *Server) routes() {
	mux := http.NewServeMux()
	mux.HandleFunc("POST /v1/chat/completions", s.handleChat)
	mux.HandleFunc("POST /chat/completions", s.handleChat)
	// Azure OpenAI: the deployment is in the path, the key in api-key.
	mux.HandleFunc("POST /openai/deployments/{deployment}/chat/completions", s.handleChat)
	mux.HandleFunc("GET /v1/models", s.handleModels)
	mux.HandleFunc("GET /models", s.handleModels)
	mux.HandleFunc("POST /v1/messages", s.handleMessages)
	mux.HandleFunc("GET /api/tags", s.handleOllamaTags)
	mux.HandleFunc("POST /api/show", s.handleOllamaShow)
	mux.HandleFunc("GET /props", s.handleProps)
	mux.HandleFunc("GET /info", s.handleTGIInfo)
	mux.HandleFunc("GET /sim/stats", s.handleStats)
	mux.HandleFunc("POST /sim/update", s.handleUpdate)
	mux.HandleFunc("GET /healthz", func(w http.ResponseWriter, _ *http.Request) {
		w.Header().Set("Content-Type", "text/plain; charset=utf-8")
		_, _ = io.WriteString(w, "ok (driftwatch simulator)\n")
	})
	s.mux = mux
}

// ServeHTTP implements http.Handler.
func (s *Server) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	w.Header().Set("X-Simulator", "driftwatch-sim")
	s.mux.ServeHTTP(w, r)
}

// Close releases requests held by a simulated hang. It does not close any
// listener (Start's stop function does that, and calls Close). Idempotent.
func (s *Server) Close() {
	s.stopOnce.Do(func() { close(s.done) })
}

// Start listens on addr ("127.0.0.1:0" for a free port) and serves in a
// goroutine until ctx is done or stop is called. It returns the base URL
// ("http://127.0.0.1:PORT"); OpenAI clients want url+"/v1". stop shuts the
// server down gracefully, bounded by its ctx, and is idempotent.
func (s *Server) Start(ctx context.Context, addr string) (url string, stop func(context.Context) error, err error) {
	ln, err := (&net.ListenConfig{}).Listen(ctx, "tcp", addr)
	if err != nil {
		return "", nil, fmt.Errorf("start simulator: %w", err)
	}
	hs := &http.Server{Handler: s, ReadHeaderTimeout: 10 * time.Second}
	served := make(chan error, 1)
	go func() { served <- hs.Serve(ln) }()

	var once sync.Once
	var stopErr error
	stopped := make(chan struct{})
	stop = func(ctx context.Context) error {
		once.Do(func() {
			s.Close()
			stopErr = hs.Shutdown(ctx)
			if err := <-served; err != nil && !errors.Is(err, http.ErrServerClosed) {
				stopErr = errors.Join(stopErr, err)
			}
			close(stopped)
		})
		<-stopped
		if stopErr != nil {
			return fmt.Errorf("stop simulator: %w", stopErr)
		}
		return nil
	}
	go func() {
		select {
		case <-ctx.Done():
			sctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 5*time.Second)
			defer cancel()
			_ = stop(sctx) // the error is reported to whoever calls stop
		case <-stopped:
		}
	}()
	return "http://" + ln.Addr().String(), stop, nil
}

// ListenAndServe serves on addr until ctx is done, then shuts down
// gracefully (bounded by 5 s).
func (s *Server) ListenAndServe(ctx context.Context, addr string) error {
	url, stop, err := s.Start(ctx, addr)
	if err != nil {
		return err
	}
	s.logger.Info("simulator listening", "url", url, "models", len(s.models))
	<-ctx.Done()
	sctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 5*time.Second)
	defer cancel()
	return stop(sctx)
}

// ErrUnknownModel is returned by Update for a model the simulator does not
// have.
var ErrUnknownModel = errors.New("unknown simulated model")

// ErrNoPendingUpdate is returned by Update when every update of the model
// has been applied.
var ErrNoPendingUpdate = errors.New("no pending update")

// Update applies the model's next pending update now, whatever its trigger,
// and returns the identity the model reports afterwards.
func (s *Server) Update(model string) (Identity, error) {
	m := s.byName[model]
	if m == nil {
		return Identity{}, fmt.Errorf("update %q: %w", model, ErrUnknownModel)
	}
	for {
		st := m.cur.Load()
		if st.index >= len(m.stages)-1 {
			return st.id, fmt.Errorf("update %q: %w", model, ErrNoPendingUpdate)
		}
		next := m.stages[st.index+1]
		if m.cur.CompareAndSwap(st, next) {
			s.logger.Info("simulated silent update applied", "model", m.name, "update", next.name, "trigger", "manual")
			return next.id, nil
		}
	}
}

// Identity returns the identity a model currently reports.
func (s *Server) Identity(model string) (Identity, error) {
	m := s.byName[model]
	if m == nil {
		return Identity{}, fmt.Errorf("identity %q: %w", model, ErrUnknownModel)
	}
	return s.current(m, m.requests.Load()).id, nil
}

// CaseProbability returns the true pass probability the model's current
// profile gives a conversation (its message contents in order, as for
// PromptHash). Statistics tests use it as ground truth.
func (s *Server) CaseProbability(model string, contents ...string) (float64, error) {
	m := s.byName[model]
	if m == nil {
		return 0, fmt.Errorf("case probability %q: %w", model, ErrUnknownModel)
	}
	h := newPromptHasher()
	for _, c := range contents {
		h.add(c)
	}
	return m.cur.Load().profile.caseP(uint64(s.cfg.Seed), h.sum()), nil
}

// model is the runtime state of one simulated model.
type model struct {
	name   string
	key    uint64 // hash of the name, mixed into per-request seeds
	idx    uint64
	stages []*stage // stages[i]: after i updates
	cur    atomic.Pointer[stage]

	requests atomic.Int64
	served   atomic.Int64
	outcomes [numOutcomes]atomic.Int64
}

// stage is a model's behaviour and identity after some number of updates.
type stage struct {
	index   int
	name    string
	update  *Update // the update that led here; nil for stage 0
	profile *compiledProfile
	id      Identity
}

func newModel(mc Model, idx uint64) *model {
	m := &model{name: mc.Name, key: strHash(mc.Name), idx: idx}
	st := &stage{profile: compileProfile(mc.Profile), id: mc.Identity}
	m.stages = append(m.stages, st)
	for i := range mc.Updates {
		u := &mc.Updates[i]
		next := &stage{index: i + 1, name: u.Name, update: u, profile: st.profile, id: st.id}
		if next.name == "" {
			next.name = fmt.Sprintf("update-%d", i+1)
		}
		if u.Profile != nil {
			next.profile = compileProfile(*u.Profile)
		}
		if u.Identity != nil {
			next.id = st.id.merge(*u.Identity)
		}
		m.stages = append(m.stages, next)
		st = next
	}
	m.cur.Store(m.stages[0])
	return m
}

// current returns the model's stage after applying every automatic update
// whose trigger has fired for a model that has seen n requests.
func (s *Server) current(m *model, n int64) *stage {
	for {
		st := m.cur.Load()
		if st.index >= len(m.stages)-1 {
			return st
		}
		next := m.stages[st.index+1]
		u := next.update
		due := (u.AfterRequests > 0 && n > u.AfterRequests) ||
			(u.After > 0 && s.now().Sub(s.started) >= u.After.D())
		if !due {
			return st
		}
		if m.cur.CompareAndSwap(st, next) {
			s.logger.Info("simulated silent update applied", "model", m.name, "update", next.name, "requests", n)
		}
	}
}

// compiledProfile is a Profile with its mixture prepared for sampling.
type compiledProfile struct {
	Profile
	cum []float64 // cumulative, normalized mixture weights
}

func compileProfile(p Profile) *compiledProfile {
	cp := &compiledProfile{Profile: p}
	var total float64
	for _, c := range p.Mixture {
		total += c.Weight
	}
	var acc float64
	for _, c := range p.Mixture {
		acc += c.Weight / total
		cp.cum = append(cp.cum, acc)
	}
	return cp
}

// caseP is the true pass probability of the case whose normalized prompt
// hashes to ph.
func (p *compiledProfile) caseP(seed, ph uint64) float64 {
	h := mix(mix(seed^0x5151) ^ mix(uint64(p.Seed)) ^ ph)
	v := p.Accuracy
	if len(p.cum) > 0 {
		u := unit(h)
		i := 0
		for i < len(p.cum)-1 && u >= p.cum[i] {
			i++
		}
		c := p.Mixture[i]
		v = c.P
		if c.Max > c.Min {
			v = c.Min + unit(mix(h^0xa5a5))*(c.Max-c.Min)
		}
	}
	if p.CollapseFraction > 0 && unit(mix(h^0xc011a95e)) < p.CollapseFraction {
		v -= p.CollapseBy
	}
	v -= p.Drop
	return min(max(v, 0), 1)
}

// promptKey identifies a (model, normalized conversation) pair.
type promptKey struct {
	model uint64
	hash  uint64
}

type promptEntry struct {
	calls  atomic.Int64 // all requests, used to seed the k-th sample
	served atomic.Int64 // requests answered with a generated response
	task   atomic.Pointer[task]
}

func (s *Server) promptEntry(m *model, ph uint64) *promptEntry {
	k := promptKey{m.idx, ph}
	if e, ok := s.prompts.Load(k); ok {
		return e.(*promptEntry)
	}
	if s.cfg.MaxTrackedPrompts < 0 || s.nPrompts.Load() >= int64(s.cfg.MaxTrackedPrompts) {
		s.c.untracked.Add(1)
		return nil
	}
	e, loaded := s.prompts.LoadOrStore(k, &promptEntry{})
	if !loaded {
		s.nPrompts.Add(1)
	}
	return e.(*promptEntry)
}

// exchange is one generation request in flight.
type exchange struct {
	m     *model
	st    *stage
	r     rng
	ph    uint64
	entry *promptEntry
	caseP float64
	in    *genInput
}

// begin counts a generation request for m and prepares its randomness. The
// k-th request for a given (model, conversation) is seeded by (seed, model,
// conversation, k), so outputs do not depend on how cases interleave;
// a deterministic profile drops k.
func (s *Server) begin(m *model, in *genInput) *exchange {
	n := m.requests.Add(1)
	s.c.requests.Add(1)
	s.c.window.hit(s.now())
	st := s.current(m, n)
	h := newPromptHasher()
	for i := range in.msgs {
		h.add(in.msgs[i].content)
	}
	ph := h.sum()
	x := &exchange{m: m, st: st, ph: ph, in: in}
	x.entry = s.promptEntry(m, ph)
	k := uint64(n)
	if x.entry != nil {
		k = uint64(x.entry.calls.Add(1))
	}
	if st.profile.Deterministic {
		k = 0
	}
	x.r = newRNG(uint64(s.cfg.Seed), m.key, ph, k)
	x.caseP = st.profile.caseP(uint64(s.cfg.Seed), ph)
	return x
}

// inject decides whether x gets an injected error.
func (x *exchange) inject() errKind {
	e := &x.st.profile.Errors
	u := x.r.float()
	switch {
	case u < e.RateLimit:
		return errRateLimit
	case u < e.RateLimit+e.Server:
		return errServer
	case u < e.RateLimit+e.Server+e.Malformed:
		return errMalformed
	case u < e.RateLimit+e.Server+e.Malformed+e.Hang:
		return errHang
	}
	return errNone
}

// wait applies the profile's latency. It reports false when the client went
// away first.
func (s *Server) wait(ctx context.Context, x *exchange) bool {
	l := x.st.profile.Latency
	d := l.Fixed.D()
	if l.Jitter > 0 {
		d += time.Duration(x.r.float() * float64(l.Jitter))
	}
	if d <= 0 {
		return true
	}
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return true
	case <-ctx.Done():
		return false
	case <-s.done:
		return false
	}
}

// hang holds the request until the client or server gives up or the
// profile's HangFor passes; it reports whether HangFor passed.
func (s *Server) hang(ctx context.Context, x *exchange) bool {
	t := time.NewTimer(x.st.profile.Errors.HangFor.D())
	defer t.Stop()
	select {
	case <-t.C:
		return true
	case <-ctx.Done():
	case <-s.done:
	}
	return false
}

// finish records a served response.
func (s *Server) finish(x *exchange, out *genOutput) {
	x.m.served.Add(1)
	s.c.served.Add(1)
	if x.entry != nil {
		x.entry.served.Add(1)
	}
	x.m.outcomes[out.outcome].Add(1)
}

// enter and leave track concurrent in-flight generation requests.
func (s *Server) enter() {
	n := s.c.inflight.Add(1)
	for {
		m := s.c.maxInflight.Load()
		if n <= m || s.c.maxInflight.CompareAndSwap(m, n) {
			return
		}
	}
}

func (s *Server) leave() { s.c.inflight.Add(-1) }

// checkKey reports whether the request carries the configured API key.
func (s *Server) checkKey(r *http.Request, anthropic bool) bool {
	if s.cfg.APIKey == "" {
		return true
	}
	if anthropic && r.Header.Get("x-api-key") == s.cfg.APIKey {
		return true
	}
	if r.PathValue("deployment") != "" && r.Header.Get("api-key") == s.cfg.APIKey {
		return true
	}
	a := r.Header.Get("Authorization")
	tok, ok := strings.CutPrefix(a, "Bearer ")
	return ok && tok == s.cfg.APIKey
}

// lookup finds a model by name or resolved name.
func (s *Server) lookup(name string) *model { return s.byName[name] }

func (s *Server) nextID() uint64 { return s.ids.Add(1) }
