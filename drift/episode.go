package drift

// RunPoint is one stored run in a change-point series: its pass counts, its
// stored verdict and whether it belongs to the baseline the latest run was
// compared with.
type RunPoint struct {
	PassCount
	Verdict  Verdict
	Baseline bool
}

// Since dates the current pass rate within the current episode.
type Since struct {
	// EpisodeStart is the index of the first run of the current episode:
	// the run after the last baseline run and after the run that ended the
	// last drift episode (a STABLE or BASELINE run following a DRIFT run).
	EpisodeStart int
	// Index is the first run at the current pass rate within the episode,
	// or -1 when the evidence does not date it (Unclear) or there is no
	// change within the episode.
	Index int
	// Prob is the posterior probability that the current pass rate began
	// at Index (0 when Index is -1).
	Prob float64
	// ProbInEpisode is the posterior probability that the pass rate
	// changed at some run of the episode.
	ProbInEpisode float64
	// Unclear says a change within the episode is likely (ProbInEpisode at
	// least SinceMinProb) but no run can be named (see SinceChange): a slow
	// decline or a small shift. Report "since: unclear".
	Unclear bool
	// Series is the BOCPD posterior over the whole series.
	Series ChangePoint
}

// SinceMinProb is the posterior probability a run needs to be named as the
// start of the current pass rate.
const SinceMinProb = 0.5

// EpisodeStart returns the index of the first run of the current episode in
// runs (oldest first, the latest run last): after the last baseline run, and
// after the last run that resolved a drift episode, that is, a STABLE or
// BASELINE run whose nearest earlier run with a verdict other than
// INCONCLUSIVE was DRIFT. The latest run never ends an episode: it is the
// run being dated.
func EpisodeStart(runs []RunPoint) int {
	start := 0
	lastDecisive := Verdict("")
	for i, r := range runs {
		if i == len(runs)-1 {
			break
		}
		if r.Baseline {
			start = i + 1
		}
		switch r.Verdict {
		case Stable, Baseline:
			if lastDecisive == Drift {
				start = max(start, i+1)
			}
			lastDecisive = r.Verdict
		case Drift:
			lastDecisive = Drift
		}
	}
	return min(start, max(len(runs)-1, 0))
}

// SinceChange dates the current pass rate of the latest run within its
// episode. It runs BOCPD (hazard as for BOCPD) over the whole series, so
// earlier episodes inform the segment model, but names only a run of the
// current episode: an earlier recovery is never reported as "since". The
// run named is the most probable start of the current segment among the
// episode's runs, and only when it holds at least SinceMinProb of the
// posterior; otherwise Index is -1, with Unclear set when a change within
// the episode is nonetheless likely.
func SinceChange(runs []RunPoint, hazard float64) Since {
	s := Since{Index: -1, Series: ChangePoint{ChangeIndex: -1}}
	if len(runs) == 0 {
		return s
	}
	s.EpisodeStart = EpisodeStart(runs)
	obs := make([]PassCount, len(runs))
	for i, r := range runs {
		obs[i] = r.PassCount
	}
	cp := BOCPD(obs, hazard)
	s.Series = cp
	n := cp.Runs
	// A segment of length r starts at index n-r; the episode's starts are
	// EpisodeStart..n-1 (index 0 always starts a segment: not a change).
	maxR := n - max(s.EpisodeStart, 1)
	bestR, best := 0, 0.0
	for r := 1; r <= maxR; r++ {
		p := cp.Posterior[r-1]
		s.ProbInEpisode += p
		if p > best {
			bestR, best = r, p
		}
	}
	s.ProbInEpisode = min(s.ProbInEpisode, 1)
	switch {
	case bestR > 0 && best >= SinceMinProb && runs[n-bestR].Verdict == Drift:
		s.Index, s.Prob = n-bestR, best
	case s.ProbInEpisode >= SinceMinProb:
		s.Unclear = true
	}
	return s
}
