package sim

import (
	"encoding/json"
	"math/bits"
	"slices"
	"strconv"
	"strings"
	"unicode/utf8"

	"github.com/driftwatch/driftwatch/internal/jsonw"
)

// hintOpen and hintClose delimit the answer hint convention
// "[[sim:expect=ANSWER]]".
const (
	hintOpen  = "[[sim:expect="
	hintClose = "]]"
)

// Canned texts. They are constants so tests and suites can match them.
const (
	// RefusalText is what a refusing simulated model answers.
	RefusalText = "I'm sorry, but I can't help with that."
	// GenericAnswer is the correct answer to a prompt the simulator cannot
	// solve and that carries no hint.
	GenericAnswer = "This is the simulator's reference answer."
	// GenericWrongAnswer is the incorrect answer to such a prompt.
	GenericWrongAnswer = "This is the simulator's alternative answer."
)

type answerKind uint8

const (
	kindGeneric answerKind = iota
	kindNumber
	kindPrime
	kindHint
	kindToolResult
)

// task is what the simulator understood from a prompt.
type task struct {
	kind    answerKind
	answer  string // canonical correct answer
	num     int64  // kindNumber; kindPrime: the number asked about
	isPrime bool   // kindPrime
	numeric bool   // answer is an integer (num holds it)

	boxed, brackets, only, wantJSON, wantTool bool
}

// stripHint removes every [[sim:expect=...]] from s and returns the cleaned
// text and the last hint's answer.
func stripHint(s string) (clean, hint string, ok bool) {
	i := strings.Index(s, hintOpen)
	if i < 0 {
		return s, "", false
	}
	var b strings.Builder
	for {
		j := strings.Index(s[i+len(hintOpen):], hintClose)
		if j < 0 {
			break
		}
		b.WriteString(s[:i])
		hint = strings.TrimSpace(s[i+len(hintOpen) : i+len(hintOpen)+j])
		ok = true
		s = s[i+len(hintOpen)+j+len(hintClose):]
		i = strings.Index(s, hintOpen)
		if i < 0 {
			break
		}
	}
	b.WriteString(s)
	return strings.TrimSpace(b.String()), hint, ok
}

// containsFold reports whether s contains the lowercase ASCII needle,
// ignoring ASCII case, without allocating.
func containsFold(s, needle string) bool {
	n := len(needle)
	for i := 0; i+n <= len(s); i++ {
		j := 0
		for ; j < n; j++ {
			c := s[i+j]
			if 'A' <= c && c <= 'Z' {
				c += 'a' - 'A'
			}
			if c != needle[j] {
				break
			}
		}
		if j == n {
			return true
		}
	}
	return false
}

// analyze works out the task and the requested format of a prompt (the last
// user message).
func analyze(prompt string) task {
	var t task
	clean, hint, hasHint := stripHint(prompt)
	t.boxed = strings.Contains(clean, `\boxed`)
	t.brackets = containsFold(clean, "[yes]") || containsFold(clean, "[no]")
	t.only = containsFold(clean, "only the number") || containsFold(clean, "only the answer") ||
		containsFold(clean, "just the number") || containsFold(clean, "only with the number") ||
		containsFold(clean, "answer only") || containsFold(clean, "only the final answer")
	t.wantJSON = containsFold(clean, "json")
	t.wantTool = containsFold(clean, "tool") || containsFold(clean, "call") || containsFold(clean, "function")

	switch {
	case hasHint:
		t.kind = kindHint
		t.answer = hint
		if n, err := strconv.ParseInt(hint, 10, 64); err == nil {
			t.num, t.numeric = n, true
		}
	case containsFold(clean, "prime"):
		if n, ok := firstInt(clean); ok && n >= 0 {
			t.kind = kindPrime
			t.num = n
			t.isPrime = isPrime(uint64(n))
			t.answer = yesNo(t.isPrime)
			return t
		}
		fallthrough
	default:
		if n, ok := findArithmetic(clean); ok {
			t.kind = kindNumber
			t.num, t.numeric = n, true
			t.answer = strconv.FormatInt(n, 10)
		} else {
			t.kind = kindGeneric
			t.answer = GenericAnswer
		}
	}
	return t
}

func yesNo(b bool) string {
	if b {
		return "Yes"
	}
	return "No"
}

// firstInt returns the first run of decimal digits in s.
func firstInt(s string) (int64, bool) {
	for i := 0; i < len(s); i++ {
		if isDigit(s[i]) {
			j := i
			for j < len(s) && isDigit(s[j]) {
				j++
			}
			n, err := strconv.ParseInt(s[i:j], 10, 64)
			return n, err == nil
		}
	}
	return 0, false
}

func isDigit(c byte) bool { return '0' <= c && c <= '9' }

func isExprByte(c byte) bool {
	switch c {
	case '+', '-', '*', '/', '(', ')', ' ', '\t':
		return true
	}
	return isDigit(c)
}

// findArithmetic finds the first run of expression characters (digits,
// spaces, + - * / × ÷ and parentheses) that parses as an integer expression
// with at least one operator, and evaluates it. Division must be exact.
func findArithmetic(s string) (int64, bool) {
	if strings.ContainsAny(s, "×÷") {
		s = strings.NewReplacer("×", "*", "÷", "/").Replace(s)
	}
	for i := 0; i < len(s); {
		if !isExprByte(s[i]) {
			i++
			continue
		}
		j := i
		for j < len(s) && isExprByte(s[j]) {
			j++
		}
		if v, ok := evalExpr(s[i:j]); ok {
			return v, true
		}
		i = j
	}
	return 0, false
}

// exprParser is a recursive-descent parser over + - * / ( ) and integers,
// with overflow checks.
type exprParser struct {
	s   string
	i   int
	ops int
	bad bool
}

func evalExpr(s string) (int64, bool) {
	p := exprParser{s: s}
	p.skip()
	if p.i >= len(p.s) {
		return 0, false
	}
	v := p.expr(0)
	p.skip()
	if p.bad || p.i != len(p.s) || p.ops == 0 {
		return 0, false
	}
	return v, true
}

func (p *exprParser) skip() {
	for p.i < len(p.s) && (p.s[p.i] == ' ' || p.s[p.i] == '\t') {
		p.i++
	}
}

func (p *exprParser) expr(depth int) int64 {
	v := p.term(depth)
	for !p.bad {
		p.skip()
		if p.i >= len(p.s) || (p.s[p.i] != '+' && p.s[p.i] != '-') {
			return v
		}
		op := p.s[p.i]
		p.i++
		p.ops++
		w := p.term(depth)
		var r int64
		var ok bool
		if op == '+' {
			r, ok = addOK(v, w)
		} else {
			r, ok = addOK(v, -w)
		}
		if !ok {
			p.bad = true
		}
		v = r
	}
	return v
}

func (p *exprParser) term(depth int) int64 {
	v := p.factor(depth)
	for !p.bad {
		p.skip()
		if p.i >= len(p.s) || (p.s[p.i] != '*' && p.s[p.i] != '/') {
			return v
		}
		op := p.s[p.i]
		p.i++
		p.ops++
		w := p.factor(depth)
		if op == '*' {
			r, ok := mulOK(v, w)
			if !ok {
				p.bad = true
			}
			v = r
		} else {
			if w == 0 || v%w != 0 {
				p.bad = true
				return 0
			}
			v /= w
		}
	}
	return v
}

func (p *exprParser) factor(depth int) int64 {
	p.skip()
	if p.bad || p.i >= len(p.s) || depth > 64 {
		p.bad = true
		return 0
	}
	switch c := p.s[p.i]; {
	case c == '-':
		p.i++
		return -p.factor(depth + 1)
	case c == '(':
		p.i++
		v := p.expr(depth + 1)
		p.skip()
		if p.i >= len(p.s) || p.s[p.i] != ')' {
			p.bad = true
			return 0
		}
		p.i++
		return v
	case isDigit(c):
		j := p.i
		for j < len(p.s) && isDigit(p.s[j]) {
			j++
		}
		n, err := strconv.ParseInt(p.s[p.i:j], 10, 64)
		if err != nil {
			p.bad = true
		}
		p.i = j
		return n
	default:
		p.bad = true
		return 0
	}
}

func addOK(a, b int64) (int64, bool) {
	c := a + b
	return c, (c > a) == (b > 0) || b == 0
}

func mulOK(a, b int64) (int64, bool) {
	if a == 0 || b == 0 {
		return 0, true
	}
	c := a * b
	return c, c/b == a && !(a == -1 && b == -1<<63) && !(b == -1 && a == -1<<63)
}

var distractors = [...]string{"Paris", "blue", "seven", "London", "red", "Mars", "Tuesday", "oxygen"}

// wrongAnswer returns a plausible incorrect answer for t.
func wrongAnswer(t *task, r *rng) string {
	switch {
	case t.kind == kindPrime:
		return yesNo(!t.isPrime)
	case t.numeric:
		deltas := [...]int64{-10, -2, -1, 1, 2, 10}
		return strconv.FormatInt(t.num+deltas[r.intn(len(deltas))], 10)
	case t.kind == kindGeneric:
		return GenericWrongAnswer
	}
	a := t.answer
	for _, pair := range [...][2]string{{"yes", "no"}, {"true", "false"}} {
		for k := range 2 {
			if strings.EqualFold(a, pair[k]) {
				other := pair[1-k]
				switch {
				case a == strings.ToUpper(a):
					return strings.ToUpper(other)
				case a[0] >= 'A' && a[0] <= 'Z':
					return strings.ToUpper(other[:1]) + other[1:]
				}
				return other
			}
		}
	}
	if len(a) == 1 && a[0] >= 'A' && a[0] <= 'J' {
		hi := byte('D')
		if a[0] > hi {
			hi = a[0]
		}
		n := int(hi-'A') + 1
		c := byte('A' + r.intn(n-1))
		if c >= a[0] {
			c++
		}
		return string(c)
	}
	start := r.intn(len(distractors))
	for k := range distractors {
		d := distractors[(start+k)%len(distractors)]
		if !strings.EqualFold(d, a) && !containsFold(a, strings.ToLower(d)) {
			return d
		}
	}
	return a + "?"
}

var fillers = [...]string{
	"I hope this helps.",
	"Let me know if you need anything else.",
	"This follows directly from the question as stated.",
	"Double-checking the work gives the same result.",
	"Feel free to ask a follow-up question.",
	"It is always worth verifying such results independently.",
}

// render writes the visible answer for ans in the format t asks for.
func render(b []byte, t *task, p *compiledProfile, ans string, r *rng) []byte {
	nFill := int(p.Verbosity)
	if r.chance(p.Verbosity - float64(nFill)) {
		nFill++
	}
	jsonOut := t.wantJSON || r.chance(p.JSONHabit)
	fence := r.chance(p.CodeFence)
	if fence {
		if jsonOut {
			b = append(b, "```json\n"...)
		} else {
			b = append(b, "```\n"...)
		}
	}
	switch {
	case jsonOut:
		b = append(b, `{"answer": `...)
		if _, err := strconv.ParseInt(ans, 10, 64); err == nil {
			b = append(b, ans...)
		} else {
			b = jsonw.AppendString(b, ans)
		}
		if nFill > 0 {
			b = append(b, `, "explanation": `...)
			var fb []byte
			fb = appendFillers(fb, nFill, r)
			b = jsonw.AppendString(b, string(fb[1:]))
		}
		if r.chance(p.BrokenJSON) {
			b = append(b, ',') // a trailing comma and no closing brace
		} else {
			b = append(b, '}')
		}
	default:
		v := ans
		switch {
		case t.boxed:
			v = `\boxed{` + ans + `}`
		case t.brackets:
			v = "[" + ans + "]"
		}
		if t.only {
			b = append(b, v...)
			break
		}
		switch t.kind {
		case kindPrime:
			yes := ans == "Yes"
			b = append(b, ans...)
			b = append(b, ", "...)
			b = strconv.AppendInt(b, t.num, 10)
			if yes {
				b = append(b, " is a prime number."...)
			} else {
				b = append(b, " is not a prime number."...)
			}
			if v != ans {
				b = append(b, " Final answer: "...)
				b = append(b, v...)
			}
		case kindGeneric:
			if v != ans {
				b = append(b, v...)
			} else {
				b = append(b, ans...)
			}
		default:
			switch r.intn(3) {
			case 0:
				b = append(b, "The answer is "...)
			case 1:
				b = append(b, "Working through it step by step, the result is "...)
			default:
				b = append(b, "After checking, I get "...)
			}
			b = append(b, v...)
			b = append(b, '.')
		}
		b = appendFillers(b, nFill, r)
	}
	if fence {
		b = append(b, "\n```"...)
	}
	return b
}

func appendFillers(b []byte, n int, r *rng) []byte {
	for range n {
		b = append(b, ' ')
		b = append(b, fillers[r.intn(len(fillers))]...)
	}
	return b
}

// truncate cuts b to at most n bytes on a rune boundary.
func truncate(b []byte, n int) []byte {
	if n >= len(b) {
		return b
	}
	if n < 0 {
		n = 0
	}
	for n > 0 && !utf8.RuneStart(b[n]) {
		n--
	}
	return b[:n]
}

// toolArgs builds a tool call's JSON arguments from the tool's parameter
// schema: integer and number properties get the (possibly wrong) numeric
// answer or the prompt's first number, string properties the answer or a
// capitalised word from the prompt, booleans true. Required properties are
// always present; so are the others.
func toolArgs(b []byte, schema []byte, t *task, ans string, prompt string) []byte {
	var s struct {
		Properties map[string]struct {
			Type any `json:"type"`
		} `json:"properties"`
		Required []string `json:"required"`
	}
	if len(schema) > 0 {
		_ = json.Unmarshal(schema, &s) // a broken schema gets "{}" arguments
	}
	names := make([]string, 0, len(s.Properties))
	for _, r := range s.Required {
		if _, ok := s.Properties[r]; ok {
			names = append(names, r)
		}
	}
	rest := make([]string, 0, len(s.Properties))
	for k := range s.Properties {
		if !slices.Contains(names, k) {
			rest = append(rest, k)
		}
	}
	slices.Sort(rest)
	names = append(names, rest...)

	clean, _, _ := stripHint(prompt)
	b = append(b, '{')
	for i, name := range names {
		if i > 0 {
			b = append(b, ", "...)
		}
		b = jsonw.AppendString(b, name)
		b = append(b, ": "...)
		typ, _ := s.Properties[name].Type.(string)
		switch typ {
		case "integer", "number":
			if n, err := strconv.ParseInt(ans, 10, 64); err == nil {
				b = strconv.AppendInt(b, n, 10)
			} else if n, ok := firstInt(clean); ok {
				b = strconv.AppendInt(b, n, 10)
			} else {
				b = append(b, '0')
			}
		case "boolean":
			b = append(b, "true"...)
		default:
			v := ans
			if t.kind == kindGeneric || t.kind == kindToolResult {
				v = capitalisedWord(clean)
			}
			b = jsonw.AppendString(b, v)
		}
	}
	return append(b, '}')
}

// capitalisedWord returns the first capitalised word after the first word
// of s, or "example".
func capitalisedWord(s string) string {
	fields := strings.Fields(s)
	for i, f := range fields {
		if i == 0 {
			continue
		}
		f = strings.Trim(f, ".,;:!?\"'()[]")
		if f != "" && f[0] >= 'A' && f[0] <= 'Z' {
			return f
		}
	}
	return "example"
}

func estimateTokens(n int) int {
	if n <= 0 {
		return 0
	}
	return (n + 3) / 4
}

// isPrime is a deterministic Miller-Rabin test, exact for every uint64
// (math/big's ProbablyPrime seeds a math/rand source per call, which is too
// slow for the hot path).
func isPrime(n uint64) bool {
	if n < 2 {
		return false
	}
	for _, p := range [...]uint64{2, 3, 5, 7, 11, 13, 17, 19, 23, 29, 31, 37} {
		if n%p == 0 {
			return n == p
		}
	}
	d, r := n-1, 0
	for d%2 == 0 {
		d /= 2
		r++
	}
	mulMod := func(a, b uint64) uint64 {
		hi, lo := bits.Mul64(a, b)
		_, rem := bits.Div64(hi, lo, n)
		return rem
	}
	powMod := func(a, e uint64) uint64 {
		res := uint64(1)
		a %= n
		for e > 0 {
			if e&1 == 1 {
				res = mulMod(res, a)
			}
			a = mulMod(a, a)
			e >>= 1
		}
		return res
	}
next:
	for _, a := range [...]uint64{2, 3, 5, 7, 11, 13, 17, 19, 23, 29, 31, 37} {
		x := powMod(a, d)
		if x == 1 || x == n-1 {
			continue
		}
		for range r - 1 {
			x = mulMod(x, x)
			if x == n-1 {
				continue next
			}
		}
		return false
	}
	return true
}
