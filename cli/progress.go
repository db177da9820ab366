package cli

import (
	"fmt"
	"io"
	"strings"
	"sync"
	"time"

	"github.com/driftwatch/driftwatch/run"
	"golang.org/x/term"
)

// progress returns what shows the progress of `run`'s runs on stderr (nil
// when off) and what ends the display: on a terminal one line for every
// run at once, otherwise lines every 10% of each run.
func (c *cli) progress(on bool) (func(label string, total int) run.Progress, func()) {
	if !on {
		return nil, func() {}
	}
	if isTerminal(c.stderr) {
		b := newProgressBoard(c.stderr)
		return func(label string, total int) run.Progress {
			return b.add(newProgress(c.stderr, true, label, total))
		}, b.Finish
	}
	return progressTo(c.stderr), func() {}
}

// progressTo shows each run's progress on w on its own.
func progressTo(w io.Writer) func(label string, total int) run.Progress {
	return func(label string, total int) run.Progress { return newProgress(w, true, label, total) }
}

// progressInterval is the shortest time between two redraws on a terminal.
const progressInterval = 100 * time.Millisecond

// progress prints a bar on a terminal and a line every 10% otherwise. When
// it belongs to a board (runs on several targets at once, on a terminal),
// the board draws it.
type progress struct {
	mu       sync.Mutex
	w        io.Writer
	on, tty  bool
	label    string
	total    int
	start    time.Time
	last     time.Time
	lastTick int
	board    *progressBoard
}

func newProgress(w io.Writer, on bool, label string, total int) *progress {
	p := &progress{w: w, on: on && total > 0, label: label, total: total, start: time.Now()}
	p.tty = isTerminal(w)
	return p
}

func isTerminal(w io.Writer) bool {
	f, ok := w.(interface{ Fd() uintptr })
	return ok && term.IsTerminal(int(f.Fd()))
}

func (p *progress) Update(done, errs int) {
	if !p.on {
		return
	}
	if p.board != nil {
		p.board.Update(p, done, errs)
		return
	}
	now := time.Now()
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.tty {
		if now.Sub(p.last) < progressInterval && done < p.total {
			return
		}
		p.last = now
		const width = 30
		fill := width * done / p.total
		rate := float64(done) / now.Sub(p.start).Seconds()
		fmt.Fprintf(p.w, "\r%s [%s%s] %d/%d samples, %d errors, %.0f/s ", p.label,
			strings.Repeat("=", fill), strings.Repeat(" ", width-fill), done, p.total, errs, rate)
		return
	}
	tick := 10 * done / p.total
	if tick > p.lastTick {
		p.lastTick = tick
		fmt.Fprintf(p.w, "%s: %d/%d samples (%d%%), %d errors\n", p.label, done, p.total, 100*done/p.total, errs)
	}
}

func (p *progress) Finish() {
	if p.on && p.tty && p.board == nil {
		fmt.Fprintln(p.w)
	}
}

// progressBoard draws the runs that go on at the same time on one terminal
// line: "arith@gpt 34% · arith@claude 20% · 3 errors · 1234 samples/s".
// Off a terminal there is no board: each run prints its own lines.
type progressBoard struct {
	mu    sync.Mutex
	w     io.Writer
	start time.Time
	last  time.Time
	runs  []*boardRun
	drawn bool
}

type boardRun struct {
	p          *progress
	done, errs int
}

func newProgressBoard(w io.Writer) *progressBoard {
	return &progressBoard{w: w, start: time.Now()}
}

// add puts p on the board and returns it; a nil board, or a p that prints
// nothing, leaves p alone.
func (b *progressBoard) add(p *progress) *progress {
	if b == nil || !p.on {
		return p
	}
	b.mu.Lock()
	defer b.mu.Unlock()
	p.board = b
	b.runs = append(b.runs, &boardRun{p: p})
	return p
}

func (b *progressBoard) Update(p *progress, done, errs int) {
	now := time.Now()
	b.mu.Lock()
	defer b.mu.Unlock()
	for _, r := range b.runs {
		if r.p == p {
			r.done, r.errs = done, errs
		}
	}
	if now.Sub(b.last) < progressInterval && done < p.total {
		return
	}
	b.last = now
	var parts []string
	var samples, errors int
	for _, r := range b.runs {
		parts = append(parts, fmt.Sprintf("%s %d%%", r.p.label, 100*r.done/r.p.total))
		samples += r.done
		errors += r.errs
	}
	rate := float64(samples) / now.Sub(b.start).Seconds()
	fmt.Fprintf(b.w, "\r%s · %d errors · %.0f samples/s\x1b[K", strings.Join(parts, " · "), errors, rate)
	b.drawn = true
}

// finish ends the board's line.
func (b *progressBoard) Finish() {
	if b == nil {
		return
	}
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.drawn {
		fmt.Fprintln(b.w)
	}
}
