package sim

import (
	"encoding/json"
	"errors"
	"net/http"
	"sync/atomic"
	"time"
)

type errKind uint8

// Error kinds counted in Stats.Errors. The first four are injected by
// profiles; the rest are the client's fault.
const (
	errNone errKind = iota
	errRateLimit
	errServer
	errMalformed
	errHang
	errAuth
	errBadRequest
	errNotFound
	numErrKinds
)

var errKindNames = [numErrKinds]string{"", "rate_limit", "server", "malformed", "hang", "auth", "bad_request", "not_found"}

type outcome uint8

// Outcomes of served responses, counted in Stats.Outcomes.
const (
	outCorrect outcome = iota
	outIncorrect
	outRefusal
	outContentFilter
	numOutcomes
)

var outcomeNames = [numOutcomes]string{"correct", "incorrect", "refusal", "content_filter"}

type counters struct {
	requests    atomic.Int64
	served      atomic.Int64
	untracked   atomic.Int64
	inflight    atomic.Int64
	maxInflight atomic.Int64
	errors      [numErrKinds]atomic.Int64
	window      rateWindow
}

// rateWindow tracks the most requests seen in any ten consecutive 100 ms
// buckets (a sliding one-second window at 100 ms resolution) without locks:
// each slot packs a bucket number and a count into one word.
type rateWindow struct {
	slots [16]atomic.Uint64
	max   atomic.Int64
}

const (
	bucketDur   = 100 * time.Millisecond
	bucketsPerS = 10
	countBits   = 24
	epochMask   = 1<<40 - 1
)

func (w *rateWindow) hit(now time.Time) {
	e := uint64(now.UnixNano()/int64(bucketDur)) & epochMask
	slot := &w.slots[e%uint64(len(w.slots))]
	for {
		v := slot.Load()
		nv := e<<countBits | 1
		if v>>countBits == e {
			nv = v + 1
		}
		if slot.CompareAndSwap(v, nv) {
			break
		}
	}
	var sum int64
	for i := uint64(0); i < bucketsPerS; i++ {
		b := (e - i) & epochMask
		v := w.slots[b%uint64(len(w.slots))].Load()
		if v>>countBits == b {
			sum += int64(v & (1<<countBits - 1))
		}
	}
	for {
		m := w.max.Load()
		if sum <= m || w.max.CompareAndSwap(m, sum) {
			return
		}
	}
}

// Stats is a snapshot of the simulator's counters. Generation requests are
// POST /v1/chat/completions and POST /v1/messages.
type Stats struct {
	// Requests counts generation requests that reached a model, including
	// those that got an injected error. Rejections (bad key, bad body,
	// unknown model) are counted in Errors only.
	Requests int64 `json:"requests"`
	// Served counts generation requests answered with a generated response
	// (not an injected error, not a rejection).
	Served int64 `json:"served"`
	// InFlight and MaxInFlight count concurrent generation requests.
	InFlight    int64 `json:"in_flight"`
	MaxInFlight int64 `json:"max_in_flight"`
	// MaxPerSecond is the most generation requests received in any one
	// second, measured as ten consecutive 100 ms buckets.
	MaxPerSecond int64 `json:"max_per_second"`
	// Errors counts error responses by kind: rate_limit, server, malformed,
	// hang (injected), and auth, bad_request, not_found (rejections).
	Errors map[string]int64 `json:"errors"`
	// Outcomes counts served responses by ground truth: correct,
	// incorrect, refusal, content_filter.
	Outcomes map[string]int64 `json:"outcomes"`
	// Models holds per-model counters, keyed by model name.
	Models map[string]ModelStats `json:"models"`
	// PerPrompt counts served responses per model and PromptHash, so a test
	// can assert that no (case, sample) was paid for twice.
	PerPrompt map[string]map[string]int64 `json:"per_prompt"`
	// MaxPerPrompt is the largest count in PerPrompt.
	MaxPerPrompt int64 `json:"max_per_prompt"`
	// UntrackedPrompts counts requests whose prompt was not tracked because
	// Config.MaxTrackedPrompts was reached.
	UntrackedPrompts int64 `json:"untracked_prompts"`
	// RateLimited counts requests refused with a 429 by Config.RateLimit
	// (they are not in Requests).
	RateLimited int64 `json:"rate_limited"`
	// TokensCharged is what Config.RateLimit's token bucket charged the
	// admitted requests (input plus max_tokens, plus any overrun).
	TokensCharged int64 `json:"tokens_charged"`
}

// ModelStats are one simulated model's counters and current state.
type ModelStats struct {
	Requests int64            `json:"requests"`
	Served   int64            `json:"served"`
	Outcomes map[string]int64 `json:"outcomes"`
	// UpdatesApplied is how many of the model's updates have taken effect;
	// Update names the last one.
	UpdatesApplied int      `json:"updates_applied"`
	Update         string   `json:"update,omitempty"`
	Identity       Identity `json:"identity"`
}

// Stats returns a snapshot of the counters. It walks every tracked prompt,
// so call it at the end of a test, not in a hot loop.
func (s *Server) Stats() Stats {
	st := Stats{
		Requests:         s.c.requests.Load(),
		Served:           s.c.served.Load(),
		InFlight:         s.c.inflight.Load(),
		MaxInFlight:      s.c.maxInflight.Load(),
		MaxPerSecond:     s.c.window.max.Load(),
		Errors:           make(map[string]int64),
		Outcomes:         make(map[string]int64, numOutcomes),
		Models:           make(map[string]ModelStats, len(s.models)),
		PerPrompt:        make(map[string]map[string]int64, len(s.models)),
		UntrackedPrompts: s.c.untracked.Load(),
	}
	st.RateLimited, st.TokensCharged = s.lim.counts()
	for k := errRateLimit; k < numErrKinds; k++ {
		if n := s.c.errors[k].Load(); n > 0 {
			st.Errors[errKindNames[k]] = n
		}
	}
	for _, m := range s.models {
		cur := s.current(m, m.requests.Load())
		ms := ModelStats{
			Requests:       m.requests.Load(),
			Served:         m.served.Load(),
			Outcomes:       make(map[string]int64, numOutcomes),
			UpdatesApplied: cur.index,
			Identity:       cur.id,
		}
		if cur.index > 0 {
			ms.Update = cur.name
		}
		for o := range numOutcomes {
			n := m.outcomes[o].Load()
			ms.Outcomes[outcomeNames[o]] = n
			st.Outcomes[outcomeNames[o]] += n
		}
		st.Models[m.name] = ms
		st.PerPrompt[m.name] = make(map[string]int64)
	}
	s.prompts.Range(func(k, v any) bool {
		key := k.(promptKey)
		n := v.(*promptEntry).served.Load()
		if n == 0 {
			return true
		}
		st.PerPrompt[s.models[key.model].name][hashKey(key.hash)] = n
		st.MaxPerPrompt = max(st.MaxPerPrompt, n)
		return true
	})
	return st
}

func (s *Server) countErr(k errKind) { s.c.errors[k].Add(1) }

func (s *Server) handleStats(w http.ResponseWriter, _ *http.Request) {
	writeJSONValue(w, http.StatusOK, s.Stats())
}

// handleUpdate serves POST /sim/update?model=NAME: apply the model's next
// pending update now.
func (s *Server) handleUpdate(w http.ResponseWriter, r *http.Request) {
	name := r.URL.Query().Get("model")
	id, err := s.Update(name)
	switch {
	case errors.Is(err, ErrUnknownModel):
		writeJSONValue(w, http.StatusNotFound, map[string]string{"error": err.Error()})
		return
	case errors.Is(err, ErrNoPendingUpdate):
		writeJSONValue(w, http.StatusConflict, map[string]string{"error": err.Error()})
		return
	}
	m := s.byName[name]
	cur := m.cur.Load()
	writeJSONValue(w, http.StatusOK, map[string]any{
		"model":           m.name,
		"update":          cur.name,
		"updates_applied": cur.index,
		"identity":        id,
	})
}

// writeJSONValue writes v with encoding/json; used off the hot path only.
func writeJSONValue(w http.ResponseWriter, status int, v any) {
	b, err := json.Marshal(v)
	if err != nil {
		http.Error(w, "Internal error.", http.StatusInternalServerError)
		return
	}
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	_, _ = w.Write(append(b, '\n'))
}

// Repeated counts the responses served beyond k per prompt: with one
// prompt per case and k samples each, the (case, sample)s paid for twice.
func (s Stats) Repeated(k int) int64 {
	var n int64
	for _, prompts := range s.PerPrompt {
		for _, c := range prompts {
			n += max(0, c-int64(k))
		}
	}
	return n
}
