package sim

import "strconv"

// The simulator's randomness is a pure function of hashes so that a run is
// reproducible and no shared generator (or lock) sits on the hot path.

const (
	fnvOffset = 14695981039346656037
	fnvPrime  = 1099511628211
)

// mix is the splitmix64 finalizer: a cheap, well-distributed 64-bit mix.
func mix(x uint64) uint64 {
	x += 0x9e3779b97f4a7c15
	x = (x ^ (x >> 30)) * 0xbf58476d1ce4e5b9
	x = (x ^ (x >> 27)) * 0x94d049bb133111eb
	return x ^ (x >> 31)
}

// unit maps a hash to [0, 1).
func unit(h uint64) float64 { return float64(h>>11) * (1.0 / (1 << 53)) }

// promptHasher hashes a conversation the way PromptHash documents: message
// contents in order, ASCII-lowercased, whitespace runs collapsed to one
// space, leading and trailing whitespace of each part dropped.
type promptHasher struct {
	h uint64
}

func newPromptHasher() promptHasher { return promptHasher{h: fnvOffset} }

func (p *promptHasher) add(s string) {
	h := p.h
	space := false
	started := false
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch c {
		case ' ', '\t', '\n', '\r', '\v', '\f':
			space = started
			continue
		}
		if space {
			h = (h ^ ' ') * fnvPrime
			space = false
		}
		started = true
		if 'A' <= c && c <= 'Z' {
			c += 'a' - 'A'
		}
		h = (h ^ uint64(c)) * fnvPrime
	}
	// Part separator, so ("ab", "c") and ("a", "bc") differ.
	p.h = (h ^ 0x1e) * fnvPrime
}

func (p *promptHasher) sum() uint64 { return p.h }

// PromptHash returns the key Stats.PerPrompt uses for a conversation: the
// contents of its messages in order (an Anthropic system prompt counts as
// the first message), normalized by ASCII lowercasing and collapsing
// whitespace. Roles, tools and parameters are not part of the key.
func PromptHash(contents ...string) string {
	h := newPromptHasher()
	for _, c := range contents {
		h.add(c)
	}
	return hashKey(h.sum())
}

func hashKey(h uint64) string {
	var b [16]byte
	s := strconv.AppendUint(b[:0], h, 16)
	out := make([]byte, 16-len(s), 16)
	for i := range out {
		out[i] = '0'
	}
	return string(append(out, s...))
}

// rng is a tiny splitmix64 generator that lives on the stack.
type rng struct{ s uint64 }

func newRNG(parts ...uint64) rng {
	h := uint64(0x6a09e667f3bcc909)
	for _, p := range parts {
		h = mix(h ^ p)
	}
	return rng{s: h}
}

func (r *rng) next() uint64 {
	r.s += 0x9e3779b97f4a7c15
	z := r.s
	z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9
	z = (z ^ (z >> 27)) * 0x94d049bb133111eb
	return z ^ (z >> 31)
}

// float returns a uniform draw from [0, 1).
func (r *rng) float() float64 { return unit(r.next()) }

// chance reports true with probability p.
func (r *rng) chance(p float64) bool { return p > 0 && r.float() < p }

// intn returns a uniform draw from [0, n); n must be > 0.
func (r *rng) intn(n int) int { return int(r.next() % uint64(n)) }

// strHash hashes a string with FNV-1a (no normalization).
func strHash(s string) uint64 {
	h := uint64(fnvOffset)
	for i := 0; i < len(s); i++ {
		h = (h ^ uint64(s[i])) * fnvPrime
	}
	return h
}
