package check

import (
	"context"
	"errors"
	"fmt"
	"math"
	"strings"
	"unicode"

	"github.com/driftwatch/driftwatch/eval"
)

// Size limits for the quadratic similarity measures. Longer texts are cut to
// their first maxSimRunes runes (Levenshtein) or maxSimWords words
// (ROUGE-L), and the reason says so.
const (
	maxSimRunes = 4000
	maxSimWords = 4000
	// maxNGramBytes bounds the text NGramCosine looks at.
	maxNGramBytes = 256 << 10
)

// Levenshtein passes when the output's similarity to ref is at least
// minSimilarity, where similarity is 1 - editDistance/max(len) over runes
// (1 for two empty strings). Surrounding whitespace is trimmed.
func Levenshtein(ref string, minSimilarity float64) eval.Checker {
	r := []rune(strings.TrimSpace(ref))
	return newChecker(fmt.Sprintf("levenshtein >= %g", minSimilarity), func(_ context.Context, in eval.CheckInput) (bool, float64, string) {
		o := []rune(strings.TrimSpace(in.Output))
		a, b, cut := r, o, ""
		// The length difference alone bounds the similarity: skip the
		// quadratic work when it already fails.
		if ub := lenBound(len(a), len(b)); ub < minSimilarity {
			return false, ub, fmt.Sprintf("length %d vs reference %d: similarity at most %.3f, want >= %g", len(b), len(a), ub, minSimilarity)
		}
		if len(a) > maxSimRunes || len(b) > maxSimRunes {
			a, b = a[:min(len(a), maxSimRunes)], b[:min(len(b), maxSimRunes)]
			cut = fmt.Sprintf(" (first %d characters)", maxSimRunes)
		}
		s := LevenshteinSimilarity(string(a), string(b))
		return s >= minSimilarity, s, fmt.Sprintf("levenshtein similarity %.3f%s, want >= %g", s, cut, minSimilarity)
	})
}

func lenBound(a, b int) float64 {
	m := max(a, b)
	if m == 0 {
		return 1
	}
	return 1 - float64(max(a, b)-min(a, b))/float64(m)
}

// LevenshteinSimilarity is 1 - editDistance(a, b)/max(runes), in [0,1].
func LevenshteinSimilarity(a, b string) float64 {
	ra, rb := []rune(a), []rune(b)
	m := max(len(ra), len(rb))
	if m == 0 {
		return 1
	}
	return 1 - float64(editDistance(ra, rb))/float64(m)
}

// EditDistance is the Levenshtein distance between a and b, counted in
// runes (insertions, deletions and substitutions cost 1).
func EditDistance(a, b string) int { return editDistance([]rune(a), []rune(b)) }

// editDistance is the Levenshtein distance over runes, in O(len(b)) memory.
func editDistance(a, b []rune) int {
	prev := make([]int, len(b)+1)
	cur := make([]int, len(b)+1)
	for j := range prev {
		prev[j] = j
	}
	for i := 1; i <= len(a); i++ {
		cur[0] = i
		for j := 1; j <= len(b); j++ {
			cost := 1
			if a[i-1] == b[j-1] {
				cost = 0
			}
			cur[j] = min(prev[j]+1, cur[j-1]+1, prev[j-1]+cost)
		}
		prev, cur = cur, prev
	}
	return prev[len(b)]
}

// RougeL passes when the ROUGE-L F1 between the output and ref is at least
// minScore. Texts are lower-cased and split into words (letters and digits).
func RougeL(ref string, minScore float64) eval.Checker {
	rw := words(ref)
	return newChecker(fmt.Sprintf("rouge-l >= %g", minScore), func(_ context.Context, in eval.CheckInput) (bool, float64, string) {
		ow := words(in.Output)
		a, b, cut := rw, ow, ""
		if len(a) > maxSimWords || len(b) > maxSimWords {
			a, b = a[:min(len(a), maxSimWords)], b[:min(len(b), maxSimWords)]
			cut = fmt.Sprintf(" (first %d words)", maxSimWords)
		}
		s := rougeLF1(a, b)
		return s >= minScore, s, fmt.Sprintf("rouge-l F1 %.3f%s, want >= %g", s, cut, minScore)
	})
}

// RougeLScore is the ROUGE-L F1 of candidate against reference (see RougeL).
func RougeLScore(reference, candidate string) float64 {
	return rougeLF1(words(reference), words(candidate))
}

func words(s string) []string {
	return strings.FieldsFunc(strings.ToLower(s), func(r rune) bool {
		return !unicode.IsLetter(r) && !unicode.IsDigit(r)
	})
}

func rougeLF1(ref, cand []string) float64 {
	if len(ref) == 0 && len(cand) == 0 {
		return 1
	}
	if len(ref) == 0 || len(cand) == 0 {
		return 0
	}
	prev := make([]int, len(cand)+1)
	cur := make([]int, len(cand)+1)
	for i := 1; i <= len(ref); i++ {
		for j := 1; j <= len(cand); j++ {
			if ref[i-1] == cand[j-1] {
				cur[j] = prev[j-1] + 1
			} else {
				cur[j] = max(prev[j], cur[j-1])
			}
		}
		prev, cur = cur, prev
	}
	lcs := float64(prev[len(cand)])
	if lcs == 0 {
		return 0
	}
	p, r := lcs/float64(len(cand)), lcs/float64(len(ref))
	return 2 * p * r / (p + r)
}

// NGramCosine passes when the cosine similarity of character 3- to 5-gram
// counts of the output and ref is at least minSimilarity. Texts are
// lower-cased and runs of whitespace collapsed; only the first 256 KiB
// of the output count.
func NGramCosine(ref string, minSimilarity float64) eval.Checker {
	rv := ngrams(ref)
	return newChecker(fmt.Sprintf("similar >= %g", minSimilarity), func(_ context.Context, in eval.CheckInput) (bool, float64, string) {
		out, cut := boundN(in.Output, maxNGramBytes)
		s := cosineCounts(rv, ngrams(out))
		return s >= minSimilarity, s, fmt.Sprintf("character n-gram cosine %.3f%s, want >= %g", s, cutNoteN(cut, maxNGramBytes), minSimilarity)
	})
}

// NGramSimilarity is the character 3–5-gram cosine similarity of a and b.
func NGramSimilarity(a, b string) float64 { return cosineCounts(ngrams(a), ngrams(b)) }

func ngrams(s string) map[string]int {
	r := []rune(strings.Join(strings.Fields(strings.ToLower(s)), " "))
	m := make(map[string]int)
	if len(r) > 0 && len(r) < 3 {
		m[string(r)]++ // very short texts still compare by content
	}
	for n := 3; n <= 5; n++ {
		for i := 0; i+n <= len(r); i++ {
			m[string(r[i:i+n])]++
		}
	}
	return m
}

func cosineCounts(a, b map[string]int) float64 {
	if len(a) == 0 && len(b) == 0 {
		return 1
	}
	var dot, na, nb float64
	for k, x := range a {
		na += float64(x * x)
		if y, ok := b[k]; ok {
			dot += float64(x * y)
		}
	}
	for _, y := range b {
		nb += float64(y * y)
	}
	if na == 0 || nb == 0 {
		return 0
	}
	return dot / (math.Sqrt(na) * math.Sqrt(nb))
}

// Embedder turns texts into vectors, one per text, in order. Pin the
// embedding model: a changed embedder changes every similarity.
type Embedder interface {
	Embed(ctx context.Context, texts []string) ([][]float64, error)
}

// EmbedderFunc adapts a function to Embedder.
type EmbedderFunc func(ctx context.Context, texts []string) ([][]float64, error)

// Embed calls f(ctx, texts).
func (f EmbedderFunc) Embed(ctx context.Context, texts []string) ([][]float64, error) {
	return f(ctx, texts)
}

// Embedding passes when the cosine similarity of the embeddings of the
// output and ref is at least minSimilarity (negative cosines score 0). An
// embedder error fails the check with a reason starting "embedding error".
func Embedding(e Embedder, ref string, minSimilarity float64) eval.Checker {
	return newChecker(fmt.Sprintf("embedding-similar >= %g", minSimilarity), func(ctx context.Context, in eval.CheckInput) (bool, float64, string) {
		if e == nil {
			return false, 0, "embedding error: no embedder configured"
		}
		out, _ := bound(in.Output)
		vs, err := e.Embed(ctx, []string{ref, out})
		if err == nil && len(vs) != 2 {
			err = fmt.Errorf("got %d vectors for 2 texts", len(vs))
		}
		if err != nil {
			return false, 0, "embedding error: " + clip(err.Error(), 200)
		}
		s, err := cosine(vs[0], vs[1])
		if err != nil {
			return false, 0, "embedding error: " + err.Error()
		}
		return s >= minSimilarity, s, fmt.Sprintf("embedding cosine %.3f, want >= %g", s, minSimilarity)
	})
}

func cosine(a, b []float64) (float64, error) {
	if len(a) != len(b) || len(a) == 0 {
		return 0, fmt.Errorf("vector lengths %d and %d", len(a), len(b))
	}
	var dot, na, nb float64
	for i := range a {
		dot += a[i] * b[i]
		na += a[i] * a[i]
		nb += b[i] * b[i]
	}
	if na == 0 || nb == 0 {
		return 0, errors.New("zero vector")
	}
	return dot / (math.Sqrt(na) * math.Sqrt(nb)), nil
}
