package drift

import "sort"

// Holm returns Holm-Bonferroni adjusted p-values (same order as p).
func Holm(p []float64) []float64 {
	m := len(p)
	idx := order(p)
	adj := make([]float64, m)
	run := 0.0
	for r, i := range idx {
		v := min(1, float64(m-r)*p[i])
		run = max(run, v)
		adj[i] = run
	}
	return adj
}

// BH returns Benjamini-Hochberg adjusted p-values (q-values), same order as p.
func BH(p []float64) []float64 {
	m := len(p)
	idx := order(p)
	adj := make([]float64, m)
	run := 1.0
	for r := m - 1; r >= 0; r-- {
		i := idx[r]
		v := min(1, p[i]*float64(m)/float64(r+1))
		run = min(run, v)
		adj[i] = run
	}
	return adj
}

// order returns the indices of p sorted by increasing p (stable).
func order(p []float64) []int {
	idx := make([]int, len(p))
	for i := range idx {
		idx[i] = i
	}
	sort.SliceStable(idx, func(a, b int) bool { return p[idx[a]] < p[idx[b]] })
	return idx
}
