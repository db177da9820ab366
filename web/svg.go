package web

import (
	"fmt"
	"math"
	"strings"
	"time"
)

// point is one value of a series at a time; Label is its tooltip and Href
// the run it links to.
type point struct {
	T       time.Time
	V       float64
	Label   string
	Href    string
	Verdict string
}

type bandPoint struct {
	T      time.Time
	Lo, Hi float64
}

// mark is a vertical line on the time axis: an identity change, an accepted
// baseline or the most likely pass-rate change point.
type mark struct {
	T     time.Time
	Kind  string
	Label string
}

// chart is an SVG chart laid out on the server. Every string field is
// numbers only (coordinates); labels go through template escaping.
type chart struct {
	Title     string
	W, H      int
	Line      string // polyline points
	Band      string // polygon points
	Dots      []dot
	Marks     []markPos
	Ticks     []tick
	XLabels   []tick
	HLine     *tick
	Empty     bool
	PlotL     int
	PlotR     int
	PlotT     int
	PlotB     int
	Sparkline bool
	lo, hi    float64
}

type dot struct {
	X, Y    float64
	Label   string
	Href    string
	Verdict string
}

type markPos struct {
	X     float64
	Kind  string
	Label string
}

type tick struct {
	Pos   float64
	Label string
	// Anchor is the SVG text-anchor of a time-axis label.
	Anchor string
}

type axisKind int

const (
	axisRate axisKind = iota
	axisNum
	axisUSD
)

func (a axisKind) format(v float64) string {
	switch a {
	case axisRate:
		return fmt.Sprintf("%.0f%%", 100*v)
	case axisUSD:
		return fmt.Sprintf("$%.3g", v)
	}
	if math.Abs(v) >= 100 {
		return fmt.Sprintf("%.0f", v)
	}
	return fmt.Sprintf("%.3g", v)
}

// lineChart lays a series out over the time span, with an optional band and
// marks. The value axis covers every point, the band and the values in
// include (a reference line that withHLine draws must stay in view).
func lineChart(title string, pts []point, band []bandPoint, marks []mark, span [2]time.Time, axis axisKind, include ...float64) chart {
	c := chart{Title: title, W: 720, H: 180, PlotL: 56, PlotR: 708, PlotT: 12, PlotB: 150}
	if len(pts) == 0 {
		c.Empty = true
		return c
	}
	lo, hi := math.Inf(1), math.Inf(-1)
	for _, p := range pts {
		lo, hi = math.Min(lo, p.V), math.Max(hi, p.V)
	}
	for _, b := range band {
		lo, hi = math.Min(lo, b.Lo), math.Max(hi, b.Hi)
	}
	for _, v := range include {
		lo, hi = math.Min(lo, v), math.Max(hi, v)
	}
	if axis == axisRate {
		lo, hi = math.Max(0, math.Floor(lo*10)/10), math.Min(1, math.Ceil(hi*10)/10)
	} else if axis != axisRate && lo > 0 {
		lo = 0
	}
	if hi-lo < 1e-9 {
		hi = lo + 1
	}
	t0, t1 := span[0], span[1]
	if t1.Sub(t0) <= 0 {
		t0, t1 = pts[0].T, pts[len(pts)-1].T
	}
	x := func(t time.Time) float64 {
		d := t1.Sub(t0)
		if d <= 0 {
			return float64(c.PlotL+c.PlotR) / 2
		}
		f := float64(t.Sub(t0)) / float64(d)
		f = math.Max(0, math.Min(1, f))
		return round1(float64(c.PlotL) + f*float64(c.PlotR-c.PlotL))
	}
	y := func(v float64) float64 {
		return round1(float64(c.PlotB) - (v-lo)/(hi-lo)*float64(c.PlotB-c.PlotT))
	}
	var line []string
	for _, p := range pts {
		px, py := x(p.T), y(p.V)
		line = append(line, fmt.Sprintf("%g,%g", px, py))
		c.Dots = append(c.Dots, dot{X: px, Y: py, Label: p.Label, Href: p.Href, Verdict: strings.ToLower(p.Verdict)})
	}
	c.Line = strings.Join(line, " ")
	if len(band) > 0 {
		var poly []string
		for _, b := range band {
			poly = append(poly, fmt.Sprintf("%g,%g", x(b.T), y(b.Hi)))
		}
		for i := len(band) - 1; i >= 0; i-- {
			poly = append(poly, fmt.Sprintf("%g,%g", x(band[i].T), y(band[i].Lo)))
		}
		c.Band = strings.Join(poly, " ")
	}
	for _, m := range marks {
		if m.T.Before(t0.Add(-time.Second)) || m.T.After(t1.Add(time.Second)) {
			continue
		}
		c.Marks = append(c.Marks, markPos{X: x(m.T), Kind: m.Kind, Label: m.Label})
	}
	for i := 0; i <= 4; i++ {
		v := lo + float64(i)*(hi-lo)/4
		c.Ticks = append(c.Ticks, tick{Pos: y(v), Label: axis.format(v)})
	}
	c.lo, c.hi = lo, hi
	c.XLabels = timeTicks(t0, t1, x)
	return c
}

// timeTicks labels a time axis from t0 to t1 (UTC) at up to five evenly
// spaced times, in a format fine enough that no two labels read the same
// (days for a span of weeks, hours and minutes for one day, seconds for a
// few minutes). A zero span gives one label.
func timeTicks(t0, t1 time.Time, x func(time.Time) float64) []tick {
	t0, t1 = t0.UTC(), t1.UTC()
	span := t1.Sub(t0)
	if span <= 0 {
		return []tick{{Pos: x(t0), Label: t0.Format("2006-01-02 15:04"), Anchor: "middle"}}
	}
	const n = 5
	step := span / (n - 1)
	var layout string
	switch {
	case step >= 24*time.Hour:
		layout = "Jan 2"
	case step >= time.Hour:
		layout = "Jan 2 15:04"
	case step >= time.Minute:
		layout = "15:04"
	default:
		layout = "15:04:05"
	}
	out := make([]tick, 0, n)
	for i := range n {
		t := t0.Add(time.Duration(i) * step)
		if i == n-1 {
			t = t1
		}
		anchor := "middle"
		switch i {
		case 0:
			anchor = "start"
		case n - 1:
			anchor = "end"
		}
		label := t.Format(layout)
		if len(out) > 0 && out[len(out)-1].Label == label {
			continue
		}
		out = append(out, tick{Pos: x(t), Label: label, Anchor: anchor})
	}
	return out
}

func withHLine(c chart, v float64, label string) chart {
	if c.Empty {
		return c
	}
	if v < c.lo || v > c.hi {
		return c
	}
	pos := round1(float64(c.PlotB) - (v-c.lo)/(c.hi-c.lo)*float64(c.PlotB-c.PlotT))
	c.HLine = &tick{Pos: pos, Label: label}
	return c
}

// sparkline is a small pass-rate chart for the overview (0..100%).
func sparkline(pts []point) chart {
	c := chart{W: 160, H: 36, Sparkline: true, PlotL: 3, PlotR: 157, PlotT: 3, PlotB: 33}
	if len(pts) == 0 {
		c.Empty = true
		return c
	}
	var line []string
	for i, p := range pts {
		px := float64(c.PlotL+c.PlotR) / 2
		if len(pts) > 1 {
			px = float64(c.PlotL) + float64(i)*float64(c.PlotR-c.PlotL)/float64(len(pts)-1)
		}
		py := float64(c.PlotB) - p.V*float64(c.PlotB-c.PlotT)
		px, py = round1(px), round1(py)
		line = append(line, fmt.Sprintf("%g,%g", px, py))
		c.Dots = append(c.Dots, dot{X: px, Y: py, Label: p.Label, Href: p.Href, Verdict: strings.ToLower(p.Verdict)})
	}
	c.Line = strings.Join(line, " ")
	return c
}

func round1(v float64) float64 { return math.Round(v*10) / 10 }
