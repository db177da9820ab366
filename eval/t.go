package eval

import (
	"context"
	"errors"
	"fmt"
	"math"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"
	"sync"
	"time"
	"unicode"
)

// T is the handle a case function receives. It mirrors testing.T: a case
// reports failures with Error/Fatal, ends early with Skip or FailNow, and
// registers Cleanup functions; in addition it talks to the target under test
// (Chat, Ask) and records checks, an extracted answer and metrics.
//
// A case runs in its own goroutine. FailNow, Fatal, Fatalf, SkipNow, Skip,
// Skipf, Run, Chat, ChatRequest and Ask must be called from that goroutine (or
// from the goroutine of a subcase started with Run), because they may end it
// with runtime.Goexit. SetSystem, SetParams and SetTools change the T's own
// defaults and must be called from the same goroutine too. The other methods
// may be called from any goroutine the case started, as long as it finishes
// before the case returns.
type T struct {
	s      *sample
	parent *T
	name   string // case name below the suite: "case" or "case/variant"
	// base is the context t.Context derives from. The derived, cancellable
	// context is created on first use, which most samples never need.
	base context.Context

	// Guarded by s.mu.
	ctx       context.Context
	cancel    context.CancelFunc
	cancelled bool // t's context is (or, once created, will be) cancelled
	failed    bool
	skipped   bool
	done      bool
	cleanups  []func()

	// Case-goroutine only.
	system string
	params Params
	tools  []Tool
}

// sample is the state shared by a case and its subcases during one sample.
type sample struct {
	mu     sync.Mutex
	target Target
	filter filter
	res    SampleResult
	// errored is set (with res.Err and res.ErrorKind) by a target error or a
	// panic; it ends the whole sample, subcases included.
	errored   bool
	outputSet bool
	scoreSum  float64
	weightSum float64
	helpers   map[string]struct{}
	subnames  map[string]int
}

// Name returns the case name below the suite: the case ID, followed by
// "/variant" for each level of Run. It is the name a Filter pattern matches.
func (t *T) Name() string { return t.name }

// Context returns a context that is cancelled just before the case's Cleanup
// functions run, or when the run is stopped. Target calls made through T use
// it.
func (t *T) Context() context.Context {
	t.s.mu.Lock()
	defer t.s.mu.Unlock()
	if t.ctx == nil {
		t.ctx, t.cancel = context.WithCancel(t.base)
		if t.cancelled {
			t.cancel()
		}
	}
	return t.ctx
}

// callContext is the context of calls made through t: t.Context if it was
// created, else its parent, which nothing can tell apart while t runs.
func (t *T) callContext() context.Context {
	t.s.mu.Lock()
	defer t.s.mu.Unlock()
	if t.ctx != nil {
		return t.ctx
	}
	return t.base
}

// cancelContext cancels t's context, now or when it is created.
func (t *T) cancelContext() {
	t.s.mu.Lock()
	defer t.s.mu.Unlock()
	t.cancelled = true
	if t.cancel != nil {
		t.cancel()
	}
}

// Deadline reports the deadline of t.Context, if any.
func (t *T) Deadline() (time.Time, bool) { return t.base.Deadline() }

// Parallel is accepted for familiarity with testing.T and does nothing:
// samples already run concurrently, up to the runner's Concurrency limit.
func (t *T) Parallel() {}

// Helper marks the calling function as a helper: file:line information in
// logs and failure messages skips it, as testing.T.Helper does.
func (t *T) Helper() {
	var pc [1]uintptr
	if runtime.Callers(2, pc[:]) == 0 {
		return
	}
	frame, _ := runtime.CallersFrames(pc[:]).Next()
	t.s.mu.Lock()
	if t.s.helpers == nil {
		t.s.helpers = make(map[string]struct{})
	}
	t.s.helpers[frame.Function] = struct{}{}
	t.s.mu.Unlock()
}

// Cleanup registers f to run after the case (or subcase) ends, even when it
// ends with Fatal, Skip, a target error or a panic. Cleanups run last added,
// first called, after Context has been cancelled.
func (t *T) Cleanup(f func()) {
	t.s.mu.Lock()
	t.cleanups = append(t.cleanups, f)
	t.s.mu.Unlock()
}

// Fail marks the case as failed and lets it continue.
func (t *T) Fail() {
	t.s.mu.Lock()
	t.failLocked()
	t.s.mu.Unlock()
}

func (t *T) failLocked() {
	for p := t; p != nil; p = p.parent {
		p.failed = true
	}
}

// Failed reports whether the case (or this subcase) has failed.
func (t *T) Failed() bool {
	t.s.mu.Lock()
	defer t.s.mu.Unlock()
	return t.failed
}

// FailNow marks the case as failed and stops it with runtime.Goexit. Cleanups
// still run. It must be called from the case goroutine.
func (t *T) FailNow() {
	t.Fail()
	t.s.mu.Lock()
	t.done = true
	t.s.mu.Unlock()
	runtime.Goexit()
}

// Log records a line in the sample's log, prefixed with the caller's
// file:line, formatting its arguments as fmt.Sprintln does.
func (t *T) Log(args ...any) { t.log(3, sprintln(args)) }

// Logf is Log with fmt.Sprintf formatting.
func (t *T) Logf(format string, args ...any) { t.log(3, fmt.Sprintf(format, args...)) }

// Error is Log followed by Fail.
func (t *T) Error(args ...any) {
	t.log(3, sprintln(args))
	t.Fail()
}

// Errorf is Logf followed by Fail.
func (t *T) Errorf(format string, args ...any) {
	t.log(3, fmt.Sprintf(format, args...))
	t.Fail()
}

// Fatal is Log followed by FailNow.
func (t *T) Fatal(args ...any) {
	t.log(3, sprintln(args))
	t.FailNow()
}

// Fatalf is Logf followed by FailNow.
func (t *T) Fatalf(format string, args ...any) {
	t.log(3, fmt.Sprintf(format, args...))
	t.FailNow()
}

// SkipNow marks the case as skipped and stops it with runtime.Goexit. A case
// that failed before skipping is still Failed. It must be called from the
// case goroutine.
func (t *T) SkipNow() {
	t.s.mu.Lock()
	t.skipped = true
	t.done = true
	t.s.mu.Unlock()
	runtime.Goexit()
}

// Skip is Log followed by SkipNow; the message becomes the skip reason.
func (t *T) Skip(args ...any) {
	t.skip(sprintln(args))
}

// Skipf is Logf followed by SkipNow.
func (t *T) Skipf(format string, args ...any) {
	t.skip(fmt.Sprintf(format, args...))
}

func (t *T) skip(msg string) {
	t.log(4, msg)
	t.s.mu.Lock()
	if t.parent == nil && t.s.res.Err == "" {
		t.s.res.Err = msg
	}
	t.s.mu.Unlock()
	t.SkipNow()
}

// Skipped reports whether the case (or this subcase) was skipped.
func (t *T) Skipped() bool {
	t.s.mu.Lock()
	defer t.s.mu.Unlock()
	return t.skipped
}

func sprintln(args []any) string {
	s := fmt.Sprintln(args...)
	return s[:len(s)-1]
}

// log records msg decorated with the file:line of the first non-helper frame
// skip frames up.
func (t *T) log(skip int, msg string) {
	var pcs [16]uintptr
	n := runtime.Callers(skip, pcs[:])
	t.s.mu.Lock()
	defer t.s.mu.Unlock()
	frames := runtime.CallersFrames(pcs[:n])
	loc := "???:1"
	for {
		f, more := frames.Next()
		if _, ok := t.s.helpers[f.Function]; !ok && f.File != "" {
			loc = filepath.Base(f.File) + ":" + strconv.Itoa(f.Line)
			break
		}
		if !more {
			break
		}
	}
	var b strings.Builder
	if t.parent != nil {
		b.WriteString(t.name)
		b.WriteString(": ")
	}
	b.WriteString(loc)
	b.WriteString(": ")
	b.WriteString(msg)
	t.s.res.Logs = append(t.s.res.Logs, b.String())
}

// Run runs f as a subcase of t called name, in its own goroutine, and waits
// for it. The subcase is part of the same sample: its checks, calls, metrics
// and logs count towards the sample, and a failure in it fails the sample
// (and Run returns false). Fatal and Skip in f end only the subcase. A target
// error or panic in f ends the whole sample as Errored. Subcases whose name
// does not match the run's Filter are not run and Run returns true. Their
// names ("case/variant") and outcomes are recorded in SampleResult.Subcases.
//
// Run must be called from the case goroutine.
func (t *T) Run(name string, f func(t *T)) bool {
	t.s.mu.Lock()
	full := t.name + "/" + t.s.uniqueName(t.name, name)
	t.s.mu.Unlock()
	if !t.s.filter.match(full) {
		return true
	}
	sub := &T{
		s: t.s, parent: t, name: full, base: t.callContext(),
		system: t.system, params: t.params, tools: t.tools,
	}
	done := make(chan struct{})
	go sub.run(f, done)
	<-done

	t.s.mu.Lock()
	errored, failed, skipped := t.s.errored, sub.failed, sub.skipped
	out := Passed
	switch {
	case errored:
		out = Errored
	case failed:
		out = Failed
	case skipped:
		out = Skipped
	}
	t.s.res.Subcases = append(t.s.res.Subcases, SubcaseResult{Name: full, Outcome: out})
	if errored {
		t.done = true
	}
	t.s.mu.Unlock()
	if errored {
		runtime.Goexit()
	}
	return !failed
}

// uniqueName rewrites a subcase name as testing does (spaces become
// underscores) and disambiguates repeats with a "#NN" suffix.
func (s *sample) uniqueName(parent, name string) string {
	name = strings.Map(func(r rune) rune {
		if unicode.IsSpace(r) {
			return '_'
		}
		if !unicode.IsPrint(r) {
			return -1
		}
		return r
	}, name)
	if s.subnames == nil {
		s.subnames = make(map[string]int)
	}
	key := parent + "/" + name
	n := s.subnames[key]
	s.subnames[key] = n + 1
	if n > 0 {
		name += fmt.Sprintf("#%02d", n)
	}
	return name
}

// run executes f on t in the current goroutine, then cancels t's context and
// runs cleanups, however f ends. It signals done last.
func (t *T) run(f func(*T), done chan<- struct{}) {
	defer func() { done <- struct{}{} }()
	returned := false
	defer func() {
		if !returned {
			if r := recover(); r != nil {
				t.recordPanic(r)
			}
		}
		t.s.mu.Lock()
		t.done = true
		t.s.mu.Unlock()
		t.cancelContext()
		t.runCleanups()
	}()
	f(t)
	returned = true
}

func (t *T) runCleanups() {
	for {
		t.s.mu.Lock()
		n := len(t.cleanups)
		if n == 0 {
			t.s.mu.Unlock()
			return
		}
		f := t.cleanups[n-1]
		t.cleanups = t.cleanups[:n-1]
		t.s.mu.Unlock()
		t.runCleanup(f)
	}
}

// runCleanup runs f. If f panics the sample is Errored; if it calls Goexit
// (Fatal, Skip) the remaining cleanups still run.
func (t *T) runCleanup(f func()) {
	ok := false
	defer func() {
		if ok {
			return
		}
		if r := recover(); r != nil {
			t.recordPanic(r)
		}
		t.runCleanups()
	}()
	f()
	ok = true
}

// recordPanic marks the sample Errored with the panic value and a trimmed
// stack. It must be called from the deferred function that recovered r.
func (t *T) recordPanic(r any) {
	stack := trimmedStack(4)
	t.s.mu.Lock()
	defer t.s.mu.Unlock()
	if t.s.errored {
		return
	}
	t.s.errored = true
	t.s.res.ErrorKind = ErrPanic
	t.s.res.Err = fmt.Sprintf("panic in %s: %v\n%s", t.name, r, stack)
}

// maxStackFrames bounds the frames kept in a panic's trimmed stack.
const maxStackFrames = 5

const evalPkg = "github.com/driftwatch/driftwatch/eval."

// trimmedStack returns up to maxStackFrames frames of user code, skipping the
// runtime and this package (except its tests).
func trimmedStack(skip int) string {
	var pcs [64]uintptr
	n := runtime.Callers(skip, pcs[:])
	frames := runtime.CallersFrames(pcs[:n])
	var b strings.Builder
	kept := 0
	for kept < maxStackFrames {
		f, more := frames.Next()
		user := !strings.HasPrefix(f.Function, "runtime.") &&
			(!strings.HasPrefix(f.Function, evalPkg) || strings.HasSuffix(f.File, "_test.go"))
		if user && f.File != "" {
			fmt.Fprintf(&b, "%s\n\t%s:%d\n", f.Function, f.File, f.Line)
			kept++
		}
		if !more {
			break
		}
	}
	return strings.TrimSuffix(b.String(), "\n")
}

// SetSystem sets the system prompt that Ask and Chat prepend to the
// messages. An empty s removes it. It applies to this T and subcases it
// starts afterwards.
func (t *T) SetSystem(s string) { t.system = s }

// SetParams replaces the sampling parameters of later calls made through t.
func (t *T) SetParams(p Params) { t.params = p }

// SetTools sets the tools offered on later calls made through t.
func (t *T) SetTools(tools []Tool) { t.tools = tools }

// Ask sends prompt as a single user message (after the system prompt, if
// set) and returns the response text. On a target error the sample ends as
// Errored (see ChatRequest).
func (t *T) Ask(prompt string) string {
	// One allocation for the request and its messages.
	a := &struct {
		req  Request
		msgs [2]Message
	}{}
	a.msgs[0] = Message{Role: RoleSystem, Content: t.system}
	a.msgs[1] = Message{Role: RoleUser, Content: prompt}
	a.req = Request{Messages: a.msgs[:], Params: t.params, Tools: t.tools}
	if t.system == "" {
		a.req.Messages = a.msgs[1:]
	}
	return t.ChatRequest(&a.req).Text
}

// Chat sends msgs with t's parameters and tools, prepending the system
// prompt if one is set and msgs does not start with one. On a target error
// the sample ends as Errored (see ChatRequest).
func (t *T) Chat(msgs ...Message) *Response {
	if t.system != "" && (len(msgs) == 0 || msgs[0].Role != RoleSystem) {
		msgs = append([]Message{{Role: RoleSystem, Content: t.system}}, msgs...)
	}
	return t.ChatRequest(&Request{Messages: msgs, Params: t.params, Tools: t.tools})
}

// ChatRequest sends req to the target as is and returns the response. Usage
// and cost are added to the sample's, and the response becomes the sample's
// Output (unless SetOutput was called).
//
// If the target fails, the sample becomes Errored with the error's kind (see
// KindOf) and the case ends with runtime.Goexit: a target error is never a
// Failed case. It must be called from the case goroutine.
func (t *T) ChatRequest(req *Request) *Response {
	resp, err := t.s.target.Complete(t.callContext(), req)
	if err == nil && resp == nil {
		err = &TargetError{Kind: ErrMalformed, Err: errors.New("target returned no response and no error")}
	}
	t.s.mu.Lock()
	t.s.res.Calls++
	if err != nil {
		if !t.s.errored {
			t.s.errored = true
			t.s.res.ErrorKind = KindOf(err)
			t.s.res.Err = err.Error()
		}
		t.s.res.Request = req
		t.done = true
		t.s.mu.Unlock()
		runtime.Goexit()
	}
	r := &t.s.res
	r.Request, r.Response = req, resp
	r.Usage.InputTokens += resp.Usage.InputTokens
	r.Usage.OutputTokens += resp.Usage.OutputTokens
	r.Usage.Estimated = r.Usage.Estimated || resp.Usage.Estimated
	r.CostUSD += resp.CostUSD
	if !t.s.outputSet {
		r.Output = resp.Text
	}
	t.s.mu.Unlock()
	return resp
}

// SetOutput sets the sample's final Output, overriding the text of the last
// response (for example when a case post-processes a multi-turn answer).
func (t *T) SetOutput(output string) {
	t.s.mu.Lock()
	t.s.res.Output = output
	t.s.outputSet = true
	t.s.mu.Unlock()
}

// Check runs each checker on output and records its result in the sample. A
// failing check fails the case (the case continues) and logs the check's
// reason. The checkers see the last response and its request if output is
// that response's text. Each checker counts as one result, whatever it
// combines (a weighted checker reports one result with its weight). Check
// reports whether all checks passed.
func (t *T) Check(output string, checks ...Checker) bool {
	in := CheckInput{Output: output}
	t.s.mu.Lock()
	if r := t.s.res.Response; r != nil && r.Text == output {
		in.Response, in.Request = r, t.s.res.Request
	}
	t.s.mu.Unlock()

	all := true
	ctx := t.callContext()
	for _, c := range checks {
		cr := sanitize(c.Check(ctx, in))
		w := cr.Weight
		if w == 0 {
			w = 1
		}
		t.s.mu.Lock()
		if cr.Name == "" {
			cr.Name = "check" + strconv.Itoa(len(t.s.res.Checks))
		}
		t.s.res.Checks = append(t.s.res.Checks, cr)
		t.s.scoreSum += w * cr.Score
		t.s.weightSum += w
		if !cr.Pass {
			t.failLocked()
		}
		t.s.mu.Unlock()
		if !cr.Pass {
			all = false
			t.log(3, "check "+cr.Name+" failed: "+cr.Reason)
		}
	}
	return all
}

// sanitize keeps a checker's numbers finite and in range, so that a buggy
// checker cannot poison the weighted score or make the result unencodable.
func sanitize(cr CheckResult) CheckResult {
	if math.IsNaN(cr.Score) || math.IsInf(cr.Score, 0) {
		cr.Score = 0
		cr.Reason = strings.TrimSpace(cr.Reason + " (score was not a finite number)")
	}
	cr.Score = min(1, max(0, cr.Score))
	if math.IsNaN(cr.Weight) || math.IsInf(cr.Weight, 0) || cr.Weight < 0 {
		cr.Weight = 0
	}
	return cr
}

// Extract runs ex on output and, if it finds an answer, records it as the
// sample's answer category (the last recorded answer wins).
func (t *T) Extract(output string, ex Extractor) (string, bool) {
	a, ok := ex.Extract(output)
	if ok {
		t.SetAnswer(a)
	}
	return a, ok
}

// SetAnswer records answer as the sample's answer category.
func (t *T) SetAnswer(answer string) {
	t.s.mu.Lock()
	t.s.res.Answer, t.s.res.HasAnswer = answer, true
	t.s.mu.Unlock()
}

// ReportMetric records value under unit, as testing.B.ReportMetric does:
// the unit names the metric ("ms", "tokens", "score"). It is
// Metric(unit, value, unit).
func (t *T) ReportMetric(value float64, unit string) { t.Metric(unit, value, unit) }

// Metric records a named metric of the sample. The last value reported for
// a name wins. Name and unit must be non-empty and contain no whitespace;
// otherwise Metric panics (and the sample is Errored), like
// testing.B.ReportMetric.
func (t *T) Metric(name string, value float64, unit string) {
	if !validMetricWord(unit) {
		panic("eval: metric unit " + strconv.Quote(unit) + " must be non-empty and contain no whitespace")
	}
	if !validMetricWord(name) {
		panic("eval: metric name " + strconv.Quote(name) + " must be non-empty and contain no whitespace")
	}
	t.s.mu.Lock()
	if t.s.res.Metrics == nil {
		t.s.res.Metrics = make(map[string]Metric, 2)
	}
	t.s.res.Metrics[name] = Metric{Value: value, Unit: unit}
	t.s.mu.Unlock()
}

func validMetricWord(s string) bool {
	return s != "" && strings.IndexFunc(s, unicode.IsSpace) < 0
}
