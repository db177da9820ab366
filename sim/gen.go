package sim

import (
	"strconv"
	"strings"
	"sync"
)

// msg is one message of a conversation, vendor-neutral.
type msg struct {
	role    string
	content string
}

// toolDef is a declared tool.
type toolDef struct {
	name   string
	params []byte
}

// genInput is a generation request, vendor-neutral.
type genInput struct {
	msgs       []msg
	jsonMode   bool
	tools      []toolDef
	toolChoice string // "", "auto", "none", "required"/"any", or a tool name
	maxTokens  int
}

type toolCall struct {
	id   string
	name string
	args string
}

type finishKind uint8

const (
	finishStop finishKind = iota
	finishLength
	finishFilter
	finishTool
)

// genOutput is a generated response, vendor-neutral.
type genOutput struct {
	text             []byte
	calls            []toolCall
	finish           finishKind
	outcome          outcome
	promptTokens     int
	completionTokens int
}

var bufPool = sync.Pool{New: func() any { b := make([]byte, 0, 2048); return &b }}

func getBuf() *[]byte { return bufPool.Get().(*[]byte) }

func putBuf(b *[]byte) {
	if cap(*b) > 64<<10 {
		return
	}
	*b = (*b)[:0]
	bufPool.Put(b)
}

// generate produces the response for x into buf (which the output's text
// aliases). Draw order is fixed so a seed reproduces an output.
func (x *exchange) generate(buf []byte, callPrefix string) genOutput {
	p := x.st.profile
	r := &x.r
	var out genOutput
	for i := range x.in.msgs {
		out.promptTokens += estimateTokens(len(x.in.msgs[i].content)) + 3
	}

	last := msg{role: "user"}
	for i := len(x.in.msgs) - 1; i >= 0; i-- {
		if m := x.in.msgs[i]; m.role == "user" || m.role == "tool" {
			last = m
			break
		}
	}

	filtered := r.chance(p.ContentFilterRate)
	refused := r.chance(p.Refusal)
	correct := r.float() < x.caseP
	lengthCut := r.chance(p.LengthRate)

	switch {
	case filtered:
		out.finish = finishFilter
		out.outcome = outContentFilter
		out.text = buf[:0]
		return out
	case refused:
		out.outcome = outRefusal
		out.text = append(buf[:0], RefusalText...)
		out.completionTokens = estimateTokens(len(out.text))
		return out
	}

	var t task
	if x.entry == nil {
		t = analyze(last.content)
	} else if cached := x.entry.task.Load(); cached != nil {
		t = *cached
	} else {
		t = analyze(last.content)
		tc := t
		x.entry.task.Store(&tc)
	}
	if last.role == "tool" {
		t.kind = kindToolResult
		t.answer = strings.TrimSpace(last.content)
		t.num, t.numeric = 0, false
		if n, err := strconv.ParseInt(t.answer, 10, 64); err == nil {
			t.num, t.numeric = n, true
		}
		if t.answer == "" {
			t.answer = GenericAnswer
		}
	}
	t.wantJSON = t.wantJSON || x.in.jsonMode
	ans := t.answer
	out.outcome = outCorrect
	if !correct {
		ans = wrongAnswer(&t, r)
		out.outcome = outIncorrect
	}

	if tool := x.pickTool(&t, last); tool != nil {
		args := toolArgs(buf[:0], tool.params, &t, ans, last.content)
		id := callPrefix + strconv.FormatUint(r.next()>>16, 36)
		out.calls = []toolCall{{id: id, name: tool.name, args: string(args)}}
		out.finish = finishTool
		out.text = buf[:0]
		out.completionTokens = estimateTokens(len(args)) + 5
		return out
	}

	out.text = render(buf[:0], &t, p, ans, r)
	if lengthCut {
		out.text = truncate(out.text, len(out.text)/2)
		out.finish = finishLength
	}
	if mt := x.in.maxTokens; mt > 0 && estimateTokens(len(out.text)) > mt {
		out.text = truncate(out.text, mt*4)
		out.finish = finishLength
	}
	out.completionTokens = max(estimateTokens(len(out.text)), 1)
	return out
}

// pickTool returns the tool to call, or nil to answer in text. A tool is
// called when tools are declared, the last message is not a tool result,
// and either tool_choice forces it or the prompt mentions a tool, a call or
// a function, or names one of the tools.
func (x *exchange) pickTool(t *task, last msg) *toolDef {
	tools := x.in.tools
	if len(tools) == 0 || last.role == "tool" || x.in.toolChoice == "none" {
		return nil
	}
	switch x.in.toolChoice {
	case "", "auto":
	case "required", "any":
		return &tools[0]
	default:
		for i := range tools {
			if tools[i].name == x.in.toolChoice {
				return &tools[i]
			}
		}
	}
	for i := range tools {
		if strings.Contains(last.content, tools[i].name) {
			return &tools[i]
		}
	}
	if t.wantTool {
		return &tools[0]
	}
	return nil
}
