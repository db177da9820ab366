package drift

import (
	"math"
	"runtime"
	"strings"
	"sync"
	"unicode/utf8"
)

const gramBits = 16

// textScratch holds reusable buffers for hashed character n-gram vectors.
type textScratch struct {
	dense   []float32
	touched []uint32
	runes   []rune
	ids     [][]uint32
	vals    [][]float32
	norms   []float64
}

func newTextScratch() *textScratch {
	return &textScratch{dense: make([]float32, 1<<gramBits)}
}

// vector builds the hashed character 3-5-gram count vector of s (first
// maxTextRunes runes) into slot i.
func (sc *textScratch) vector(s string, i int) {
	for len(sc.ids) <= i {
		sc.ids = append(sc.ids, nil)
		sc.vals = append(sc.vals, nil)
		sc.norms = append(sc.norms, 0)
	}
	sc.runes = sc.runes[:0]
	for _, r := range s {
		if len(sc.runes) >= maxTextRunes {
			break
		}
		sc.runes = append(sc.runes, r)
	}
	sc.touched = sc.touched[:0]
	const mask = 1<<gramBits - 1
	add := func(h uint32) {
		h &= mask
		if sc.dense[h] == 0 {
			sc.touched = append(sc.touched, h)
		}
		sc.dense[h]++
	}
	rs := sc.runes
	if len(rs) > 0 && len(rs) < 3 {
		h := uint32(2166136261)
		for _, r := range rs {
			h = (h ^ uint32(r)) * 16777619
		}
		add(h)
	}
	// One pass per start position: the 3-, 4- and 5-gram hashes extend
	// each other.
	for p := 0; p+3 <= len(rs); p++ {
		h := uint32(2166136261)
		for n := 0; n < 5 && p+n < len(rs); n++ {
			h = (h ^ uint32(rs[p+n])) * 16777619
			if n >= 2 {
				add(h ^ uint32(n)*0x9e3779b9)
			}
		}
	}
	ids := sc.ids[i][:0]
	vals := sc.vals[i][:0]
	norm := 0.0
	for _, h := range sc.touched {
		v := sc.dense[h]
		ids = append(ids, h)
		vals = append(vals, v)
		norm += float64(v) * float64(v)
		sc.dense[h] = 0
	}
	sc.ids[i], sc.vals[i], sc.norms[i] = ids, vals, math.Sqrt(norm)
}

// kernel returns the N x N cosine kernel of the texts (row major). Equal
// texts have similarity 1, an empty text has similarity 0 with a non-empty
// one.
func (sc *textScratch) kernel(texts []string) []float32 {
	n := len(texts)
	k := make([]float32, n*n)
	for i, s := range texts {
		sc.vector(s, i)
	}
	for i := range n {
		k[i*n+i] = 1
		if sc.norms[i] > 0 {
			for q, h := range sc.ids[i] {
				sc.dense[h] = sc.vals[i][q]
			}
		}
		for j := i + 1; j < n; j++ {
			var v float64
			switch {
			case texts[i] == texts[j]:
				v = 1
			case sc.norms[i] == 0 || sc.norms[j] == 0:
				v = 0
			default:
				dot := 0.0
				for q, h := range sc.ids[j] {
					dot += float64(sc.dense[h]) * float64(sc.vals[j][q])
				}
				v = dot / (sc.norms[i] * sc.norms[j])
			}
			k[i*n+j], k[j*n+i] = float32(v), float32(v)
		}
		if sc.norms[i] > 0 {
			for _, h := range sc.ids[i] {
				sc.dense[h] = 0
			}
		}
	}
	return k
}

// kernels computes the kernel matrix for each text group in parallel. The
// result does not depend on the number of CPUs.
func kernels(groups [][]string) [][]float32 {
	out := make([][]float32, len(groups))
	workers := max(1, min(runtime.GOMAXPROCS(0), 8))
	var wg sync.WaitGroup
	next := make(chan int, len(groups))
	for i := range groups {
		next <- i
	}
	close(next)
	for range workers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			sc := newTextScratch()
			for i := range next {
				out[i] = sc.kernel(groups[i])
			}
		}()
	}
	wg.Wait()
	return out
}

// normText collapses whitespace for exact-change comparison.
func normText(s string) string { return strings.Join(strings.Fields(s), " ") }

// truncate cuts s to at most n runes, marking the cut.
func truncate(s string, n int) string {
	if utf8.RuneCountInString(s) <= n {
		return s
	}
	i := 0
	for j := range s {
		if i == n {
			return s[:j] + "…"
		}
		i++
	}
	return s
}
