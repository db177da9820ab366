package drift

import (
	"math"
	"math/rand/v2"
	"runtime"
	"sync"
)

// permCase is one case in a within-case permutation test: N pooled
// observations of which the last n1 are current. Exactly one of kern (text:
// N x N kernel matrix) and cat (answers: category per observation) is set.
type permCase struct {
	n, n1 int
	kern  []float32
	cat   []int
	ncat  int
}

// stat computes the case statistic for the labelling cur (true = current):
// the biased MMD^2 for kernels, the total-variation distance for categories.
func (c *permCase) stat(cur []bool, buf []float64) float64 {
	n0 := float64(c.n - c.n1)
	n1 := float64(c.n1)
	if c.kern != nil {
		// Diagonal entries are 1: n0 of them in BB, n1 in CC.
		sBB, sCC, sAll := n0, n1, n0+n1
		for i := 0; i < c.n; i++ {
			row := c.kern[i*c.n : (i+1)*c.n]
			ci := cur[i]
			var bb, cc, all float64
			for j := i + 1; j < c.n; j++ {
				v := float64(row[j])
				all += v
				if cur[j] == ci {
					if ci {
						cc += v
					} else {
						bb += v
					}
				}
			}
			sBB += 2 * bb
			sCC += 2 * cc
			sAll += 2 * all
		}
		sBC := (sAll - sBB - sCC) / 2
		return sBB/(n0*n0) + sCC/(n1*n1) - 2*sBC/(n0*n1)
	}
	cnt := buf[:2*c.ncat]
	clear(cnt)
	for i, g := range c.cat {
		if cur[i] {
			cnt[c.ncat+g]++
		} else {
			cnt[g]++
		}
	}
	tv := 0.0
	for g := 0; g < c.ncat; g++ {
		tv += math.Abs(cnt[g]/n0 - cnt[c.ncat+g]/n1)
	}
	return tv / 2
}

// permResult is the outcome of a summed within-case permutation test.
type permResult struct {
	obs      float64 // observed sum of case statistics
	nullMean float64 // mean of the permutation null of the sum
	nullSD   float64
	p        float64
	perms    int
	caseObs  []float64 // observed per-case statistic
}

// inChunks splits n draws over permChunks fixed chunks, each with its own
// RNG stream (chosen by fn from ch), so results do not depend on the number
// of CPUs, and runs fn(ch, from, to) for every non-empty chunk, at most
// GOMAXPROCS at a time.
func inChunks(n int, fn func(ch, from, to int)) {
	per := (n + permChunks - 1) / permChunks
	var wg sync.WaitGroup
	sem := make(chan struct{}, max(1, runtime.GOMAXPROCS(0)))
	for ch := range permChunks {
		from, to := ch*per, min(n, (ch+1)*per)
		if from >= to {
			break
		}
		wg.Add(1)
		sem <- struct{}{}
		go func() {
			defer func() { <-sem; wg.Done() }()
			fn(ch, from, to)
		}()
	}
	wg.Wait()
}

// permChunks fixes how permutations are split over RNG streams, so results
// do not depend on the number of CPUs.
const permChunks = 8

// permTest runs the within-case label permutation test of the sum of case
// statistics. The number of permutations is perms, reduced (to no fewer
// than minPermutations) so that the total work stays within permWorkBudget.
// With at least normalApproxCases cases the p-value is the upper tail of a
// normal fitted to the permutation null (the sum of many independent case
// statistics is close to normal, and this resolves p below 1/perms);
// otherwise it is the add-one permutation p-value.
func permTest(cases []permCase, perms int, seed, stream uint64) permResult {
	var r permResult
	work := 0.0
	maxN, maxCat := 0, 0
	r.caseObs = make([]float64, len(cases))
	for i := range cases {
		c := &cases[i]
		maxN = max(maxN, c.n)
		maxCat = max(maxCat, c.ncat)
		if c.kern != nil {
			work += float64(c.n * c.n / 2)
		} else {
			work += float64(c.n)
		}
	}
	if len(cases) == 0 {
		r.p = 1
		return r
	}
	cur := make([]bool, maxN)
	buf := make([]float64, 2*maxCat+2)
	for i := range cases {
		c := &cases[i]
		for j := range c.n {
			cur[j] = j >= c.n-c.n1
		}
		r.caseObs[i] = c.stat(cur[:c.n], buf)
		r.obs += r.caseObs[i]
	}
	if work > 0 && float64(perms)*work > permWorkBudget {
		perms = max(minPermutations, int(permWorkBudget/work))
	}
	r.perms = perms
	null := make([]float64, perms)
	inChunks(perms, func(ch, from, to int) {
		rng := rand.New(rand.NewPCG(seed, stream*1000+uint64(ch)))
		cur := make([]bool, maxN)
		idx := make([]int, maxN)
		buf := make([]float64, 2*maxCat+2)
		for p := from; p < to; p++ {
			s := 0.0
			for i := range cases {
				c := &cases[i]
				n := c.n
				for j := range n {
					idx[j] = j
					cur[j] = false
				}
				for j := 0; j < c.n1; j++ {
					k := j + rng.IntN(n-j)
					idx[j], idx[k] = idx[k], idx[j]
					cur[idx[j]] = true
				}
				s += c.stat(cur[:n], buf)
			}
			null[p] = s
		}
	})
	ge := 0
	var sum, ss float64
	for _, v := range null {
		sum += v
		if v >= r.obs-1e-12*math.Abs(r.obs) {
			ge++
		}
	}
	r.nullMean = sum / float64(perms)
	for _, v := range null {
		ss += (v - r.nullMean) * (v - r.nullMean)
	}
	if perms > 1 {
		r.nullSD = math.Sqrt(ss / float64(perms-1))
	}
	r.p = float64(ge+1) / float64(perms+1)
	if len(cases) >= normalApproxCases && r.nullSD > 0 {
		r.p = normCDF(-(r.obs - r.nullMean) / r.nullSD)
	} else if r.nullSD == 0 && r.obs <= r.nullMean {
		r.p = 1
	}
	return r
}
