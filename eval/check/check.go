package check

import (
	"context"
	"fmt"
	"math"
	"strconv"
	"strings"
	"unicode/utf8"

	"github.com/driftwatch/driftwatch/eval"
)

// Limits shared by the checks.
const (
	// MaxInputBytes bounds the text a pattern or similarity check looks at.
	// Longer outputs are cut (on a rune boundary) and the reason says so.
	MaxInputBytes = 1 << 20
	// MaxPatternLen bounds the length of a regular expression in bytes.
	MaxPatternLen = 4096
	// snippetRunes bounds how much output a reason quotes.
	snippetRunes = 80
	// reasonRunes bounds a whole reason.
	reasonRunes = 400
)

// checker is the common implementation: a name and a function from input to
// (pass, score, reason).
type checker struct {
	name string
	f    func(ctx context.Context, in eval.CheckInput) (bool, float64, string)
}

func (c *checker) Check(ctx context.Context, in eval.CheckInput) eval.CheckResult {
	pass, score, reason := c.f(ctx, in)
	return eval.CheckResult{Name: c.name, Pass: pass, Score: clamp01(score), Reason: clip(reason, reasonRunes)}
}

func newChecker(name string, f func(ctx context.Context, in eval.CheckInput) (bool, float64, string)) eval.Checker {
	return &checker{name: name, f: f}
}

// boolScore is 1 for true and 0 for false.
func boolScore(b bool) float64 {
	if b {
		return 1
	}
	return 0
}

func clamp01(f float64) float64 {
	switch {
	case math.IsNaN(f) || f < 0:
		return 0
	case f > 1:
		return 1
	}
	return f
}

// clip returns s cut to at most n runes, with an ellipsis when cut.
func clip(s string, n int) string {
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

// snippet quotes at most snippetRunes runes of s for a reason.
func snippet(s string) string {
	return strconv.Quote(clip(s, snippetRunes))
}

// name formats a check name with a short, quoted argument.
func name(kind, arg string) string {
	return kind + " " + strconv.Quote(clip(arg, 40))
}

// bound cuts s to MaxInputBytes on a rune boundary; cut reports whether it did.
func bound(s string) (_ string, cut bool) { return boundN(s, MaxInputBytes) }

// boundN cuts s to n bytes on a rune boundary.
func boundN(s string, n int) (_ string, cut bool) {
	if len(s) <= n {
		return s, false
	}
	i := n
	for i > 0 && !utf8.RuneStart(s[i]) {
		i--
	}
	return s[:i], true
}

func cutNote(cut bool) string { return cutNoteN(cut, MaxInputBytes) }

func cutNoteN(cut bool, n int) string {
	if cut {
		return fmt.Sprintf(" (checked the first %d bytes only)", n)
	}
	return ""
}

// Func adapts a Go function to a Checker named name. The score is clamped
// to [0,1]; NaN counts as 0.
func Func(name string, f func(in eval.CheckInput) (pass bool, score float64, reason string)) eval.Checker {
	return newChecker(name, func(_ context.Context, in eval.CheckInput) (bool, float64, string) {
		return f(in)
	})
}

// Not negates c: it passes when c fails, its score is 1 minus c's, and the
// reason is c's, prefixed with "not: ".
func Not(c eval.Checker) eval.Checker {
	return notChecker{c}
}

type notChecker struct{ c eval.Checker }

func (n notChecker) Check(ctx context.Context, in eval.CheckInput) eval.CheckResult {
	r := n.c.Check(ctx, in)
	return eval.CheckResult{
		Name:   "not " + r.Name,
		Pass:   !r.Pass,
		Score:  1 - clamp01(r.Score),
		Reason: clip("not: "+r.Reason, reasonRunes),
		Weight: r.Weight,
	}
}

// WithWeight returns c with every result carrying weight w (see
// eval.CheckResult.Weight).
func WithWeight(c eval.Checker, w float64) eval.Checker {
	return weightChecker{c, w}
}

type weightChecker struct {
	c eval.Checker
	w float64
}

func (wc weightChecker) Check(ctx context.Context, in eval.CheckInput) eval.CheckResult {
	r := wc.c.Check(ctx, in)
	r.Weight = wc.w
	return r
}

// WeightedCheck is one member of a Weighted combination. A Weight of 0 means
// 1; negative weights are ignored.
type WeightedCheck struct {
	Check  eval.Checker
	Weight float64
}

// Weighted runs every check and combines their scores into one weighted
// mean. It passes when that mean is at least threshold; the members'
// individual pass/fail does not matter.
func Weighted(checks []WeightedCheck, threshold float64) eval.Checker {
	return newChecker(fmt.Sprintf("weighted(%d) >= %g", len(checks), threshold), func(ctx context.Context, in eval.CheckInput) (bool, float64, string) {
		rs := make([]eval.CheckResult, 0, len(checks))
		var parts []string
		for _, wc := range checks {
			r := wc.Check.Check(ctx, in)
			r.Weight = wc.Weight
			rs = append(rs, r)
			parts = append(parts, fmt.Sprintf("%s=%.2f", r.Name, r.Score))
		}
		s := WeightedScore(rs)
		return s >= threshold, s, fmt.Sprintf("weighted score %.3f (threshold %g): %s", s, threshold, strings.Join(parts, ", "))
	})
}

// WeightedScore is the weighted mean of the results' scores. A Weight of 0
// means 1, negative weights are ignored, and scores are clamped to [0,1].
// It is 1 when there is nothing to weigh (no checks ran), matching
// eval.SampleResult.Score.
func WeightedScore(rs []eval.CheckResult) float64 {
	var sum, total float64
	for _, r := range rs {
		w := r.Weight
		if w == 0 {
			w = 1
		}
		if w < 0 || math.IsNaN(w) || math.IsInf(w, 0) {
			continue
		}
		sum += w * clamp01(r.Score)
		total += w
	}
	if total == 0 {
		return 1
	}
	return sum / total
}
