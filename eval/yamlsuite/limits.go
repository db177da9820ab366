package yamlsuite

import (
	"bytes"
	"errors"
	"fmt"
	"html/template"
	"strconv"
	"strings"
	texttemplate "text/template"
	"text/template/parse"
	"time"
	"unicode/utf8"
)

// Limits on what a suite can make Driftwatch do while it loads, so that a
// mistaken or hostile suite fails with an error at its line instead of
// exhausting the machine. They hold for `suites lint` as for a run.
const (
	// MaxSamples is the largest samples: a suite may ask for.
	MaxSamples = 10_000
	// MaxTemplateOutput is the most text one template may render (a
	// prompt, a message or a check's value), in bytes; so is every value a
	// template function makes on the way.
	MaxTemplateOutput = 4 << 20
	// MaxTemplateSteps is how many loop iterations ({{range}}) and template
	// calls ({{template}}) one rendering may take.
	MaxTemplateSteps = 100_000
	// MaxTemplateDepth is how deeply {{template}} calls may nest.
	MaxTemplateDepth = 100
	// MaxTemplateTime is how long one rendering may take.
	MaxTemplateTime = time.Second
	// MaxSuiteTemplateTime is how long all of a suite's renderings may take.
	MaxSuiteTemplateTime = 30 * time.Second
	// MaxDatasetBytes is the largest dataset file.
	MaxDatasetBytes = 256 << 20
)

// The functions the loader calls at each loop iteration and template call
// (see instrument); their names cannot clash with a template function, as a
// suite has none of its own.
const (
	stepFunc  = "driftwatchStep"
	enterFunc = "driftwatchEnter"
	leaveFunc = "driftwatchLeave"
)

// limitError is a rendering stopped by a limit: the template's fault,
// whatever the case, so it is reported once where the template is written.
type limitError struct{ msg string }

func (e *limitError) Error() string { return "template: " + e.msg }

// budget meters one rendering (steps, deadline) and the suite's (spent).
type budget struct {
	steps    int
	depth    int
	start    time.Time
	deadline time.Time
	spent    time.Duration
}

// begin starts metering a rendering.
func (b *budget) begin() {
	b.steps, b.depth = 0, 0
	b.start = time.Now()
	b.deadline = b.start.Add(min(MaxTemplateTime, max(MaxSuiteTemplateTime-b.spent, 0)))
}

// end records the time a rendering took.
func (b *budget) end() { b.spent += time.Since(b.start) }

// step counts one step and stops the rendering past a limit.
func (b *budget) step() (string, error) {
	b.steps++
	if b.steps > MaxTemplateSteps {
		return "", &limitError{fmt.Sprintf("more than %d loop iterations or template calls", MaxTemplateSteps)}
	}
	if b.steps%64 == 0 || b.steps < 64 {
		if time.Now().After(b.deadline) {
			if b.spent+time.Since(b.start) >= MaxSuiteTemplateTime {
				return "", &limitError{fmt.Sprintf("the suite's templates took more than %s in all", MaxSuiteTemplateTime)}
			}
			return "", &limitError{fmt.Sprintf("rendering took more than %s", MaxTemplateTime)}
		}
	}
	return "", nil
}

// enter counts a template call: text/template allows nesting 100,000
// deep, and unwinding an error from there takes minutes.
func (b *budget) enter() (string, error) {
	b.depth++
	if b.depth > MaxTemplateDepth {
		return "", &limitError{fmt.Sprintf("templates nest more than %d deep", MaxTemplateDepth)}
	}
	return b.step()
}

func (b *budget) leave() string { b.depth--; return "" }

// funcs returns the template functions a rendering may use: the step
// counter, and the built-in functions that make text, capped so that no
// value exceeds MaxTemplateOutput (an estimate made before the work, so
// that a doubling loop fails before it allocates).
func (b *budget) funcs() texttemplate.FuncMap {
	capped := func(name string, estimate int, f func() string) (string, error) {
		if estimate > MaxTemplateOutput {
			return "", &limitError{fmt.Sprintf("%s would make more than %d bytes", name, MaxTemplateOutput)}
		}
		return f(), nil
	}
	return texttemplate.FuncMap{
		stepFunc:  b.step,
		enterFunc: b.enter,
		leaveFunc: b.leave,
		"print": func(args ...any) (string, error) {
			return capped("print", argsSize(args), func() string { return fmt.Sprint(args...) })
		},
		"println": func(args ...any) (string, error) {
			return capped("println", argsSize(args)+len(args), func() string { return fmt.Sprintln(args...) })
		},
		"printf": func(format string, args ...any) (string, error) {
			return capped("printf", formatSize(format)+argsSize(args), func() string { return fmt.Sprintf(format, args...) })
		},
		"html": func(args ...any) (string, error) {
			return capped("html", 6*argsSize(args), func() string { return template.HTMLEscaper(args...) })
		},
		"js": func(args ...any) (string, error) {
			return capped("js", 6*argsSize(args), func() string { return template.JSEscaper(args...) })
		},
		"urlquery": func(args ...any) (string, error) {
			return capped("urlquery", 3*argsSize(args), func() string { return template.URLQueryEscaper(args...) })
		},
	}
}

// argsSize estimates the printed size of args: exact for strings and
// bytes, a generous constant for other values (numbers, and values from
// the suite's variables, which are in memory already).
func argsSize(args []any) int {
	n := 0
	for _, a := range args {
		switch v := a.(type) {
		case string:
			n += len(v)
		case []byte:
			n += len(v)
		default:
			n += 32
		}
		n++
	}
	return n
}

// formatSize estimates the size of what format prints besides its
// arguments: its own length plus every width and precision it asks for.
func formatSize(format string) int {
	n := len(format)
	for i := 0; i < len(format); i++ {
		if format[i] != '%' {
			continue
		}
		i++
		for i < len(format) && strings.IndexByte("+-# 0", format[i]) >= 0 {
			i++
		}
		for i < len(format) && (format[i] >= '0' && format[i] <= '9' || format[i] == '.') {
			j := i
			for i < len(format) && format[i] >= '0' && format[i] <= '9' {
				i++
			}
			if w, err := strconv.Atoi(format[j:i]); err == nil {
				n += w
			} else if j < i {
				n += MaxTemplateOutput + 1 // too many digits to be sane
			}
			if i < len(format) && format[i] == '.' {
				i++
			}
		}
	}
	return n
}

// instrument adds a step call at the start of every {{range}} body, and
// enter and leave calls around every template t defines, so that the
// budget meters loops and recursion.
func instrument(t *texttemplate.Template) {
	for _, tt := range t.Templates() {
		if tt.Tree == nil || tt.Root == nil {
			continue
		}
		if tt.Name() != t.Name() {
			addCall(tt.Tree, tt.Root, leaveFunc, false)
			addCall(tt.Tree, tt.Root, enterFunc, true)
		}
		var walk func(parse.Node)
		walk = func(n parse.Node) {
			switch n := n.(type) {
			case *parse.ListNode:
				if n == nil {
					return
				}
				for _, c := range n.Nodes {
					walk(c)
				}
			case *parse.RangeNode:
				if n.List == nil {
					n.List = &parse.ListNode{NodeType: parse.NodeList, Pos: n.Pos}
				}
				walk(n.List)
				walk(n.ElseList)
				addCall(tt.Tree, n.List, stepFunc, true)
			case *parse.IfNode:
				walk(n.List)
				walk(n.ElseList)
			case *parse.WithNode:
				walk(n.List)
				walk(n.ElseList)
			}
		}
		for _, c := range tt.Root.Nodes {
			walk(c)
		}
	}
}

// addCall adds {{fn}} (which prints nothing) at the start of list, or at
// its end.
func addCall(tree *parse.Tree, list *parse.ListNode, fn string, first bool) {
	id := parse.NewIdentifier(fn).SetTree(tree).SetPos(list.Pos)
	cmd := &parse.CommandNode{NodeType: parse.NodeCommand, Pos: list.Pos, Args: []parse.Node{id}}
	pipe := &parse.PipeNode{NodeType: parse.NodePipe, Pos: list.Pos, Cmds: []*parse.CommandNode{cmd}}
	action := &parse.ActionNode{NodeType: parse.NodeAction, Pos: list.Pos, Pipe: pipe}
	if first {
		list.Nodes = append([]parse.Node{action}, list.Nodes...)
	} else {
		list.Nodes = append(list.Nodes, action)
	}
}

// errOutputLimit stops a rendering whose output grows past the limit.
var errOutputLimit = &limitError{fmt.Sprintf("renders more than %d bytes", MaxTemplateOutput)}

// cappedWriter is a bytes.Buffer that refuses to grow past
// MaxTemplateOutput.
type cappedWriter struct{ b *bytes.Buffer }

func (w cappedWriter) Write(p []byte) (int, error) {
	if w.b.Len()+len(p) > MaxTemplateOutput {
		return 0, errOutputLimit
	}
	return w.b.Write(p)
}

// asLimitError returns the limit error behind a template execution error.
func asLimitError(err error) (*limitError, bool) {
	var le *limitError
	if errors.As(err, &le) {
		return le, true
	}
	return nil, false
}

// textProblem reports why s cannot be sent and stored: a NUL byte or
// invalid UTF-8 ("" when it can).
func textProblem(s string) string {
	if i := strings.IndexByte(s, 0); i >= 0 {
		return fmt.Sprintf("contains a NUL byte (at byte %d), which cannot be stored", i)
	}
	if !utf8.ValidString(s) {
		return "is not valid UTF-8"
	}
	return ""
}
