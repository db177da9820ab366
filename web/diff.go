package web

import (
	"time"

	"github.com/sergi/go-diff/diffmatchpatch"
)

// seg is one run of text in a diff: "eq", "del" (only in the baseline) or
// "ins" (only in the current output). Text is rendered escaped.
type seg struct {
	Op   string
	Text string
}

// diffSides diffs two outputs and returns the baseline side (equal and
// deleted text) and the current side (equal and inserted text), so that
// each can be shown next to the other with its changes highlighted.
func diffSides(base, cur string) (left, right []seg) {
	dmp := diffmatchpatch.New()
	dmp.DiffTimeout = 200 * time.Millisecond
	// Outputs are bounded (max_tokens) but can be long: diff by words-ish
	// runs via the semantic cleanup rather than characters alone.
	diffs := dmp.DiffCleanupSemantic(dmp.DiffMain(base, cur, false))
	for _, d := range diffs {
		switch d.Type {
		case diffmatchpatch.DiffEqual:
			left = append(left, seg{Op: "eq", Text: d.Text})
			right = append(right, seg{Op: "eq", Text: d.Text})
		case diffmatchpatch.DiffDelete:
			left = append(left, seg{Op: "del", Text: d.Text})
		case diffmatchpatch.DiffInsert:
			right = append(right, seg{Op: "ins", Text: d.Text})
		}
	}
	return left, right
}
