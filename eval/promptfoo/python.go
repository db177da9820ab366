package promptfoo

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os/exec"
	"strings"

	"github.com/driftwatch/driftwatch/internal/yamldoc"
)

// pyScript is python code from a config: inline (an expression, or a
// function body when it has several lines) or a file with a function
// (get_assert by default).
type pyScript struct {
	source string
	file   string
	fn     string
}

func loadPython(v, dir string) (*pyScript, error) {
	if !strings.HasPrefix(v, "file://") {
		return &pyScript{source: strings.TrimRight(v, " \t\r\n")}, nil
	}
	p, fn := splitFunction(strings.TrimPrefix(v, "file://"))
	p = resolve(dir, p)
	b, err := yamldoc.ReadRegular(p, yamldoc.MaxFileBytes)
	if err != nil {
		return nil, fmt.Errorf("read script: %w", err)
	}
	if fn == "" {
		fn = "get_assert"
	}
	return &pyScript{source: string(b), file: p, fn: fn}, nil
}

// pythonRunner is the program python3 runs: it reads the request as JSON
// on stdin, calls the assertion with output and context (its own prints
// go to stderr) and writes {"result": ...} on stdout.
const pythonRunner = `import json, sys, importlib.util
req = json.load(sys.stdin)
out = sys.stdout
sys.stdout = sys.stderr
if req.get("file"):
    spec = importlib.util.spec_from_file_location("promptfoo_assertion", req["file"])
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    fn = getattr(mod, req["fn"])
else:
    code = req["code"]
    if "\n" in code.strip():
        src = "def __assert(output, context):\n" + "\n".join("    " + l for l in code.splitlines())
    else:
        src = "def __assert(output, context):\n    return " + code.strip()
    ns = {}
    exec(src, ns)
    fn = ns["__assert"]
res = fn(req["output"], req["context"])
out.write(json.dumps({"result": res}))
`

// pythonGrader grades with a python assertion in a python3 subprocess,
// killed past the time limit.
func (e *runtimeEnv) pythonGrader(s *pyScript, threshold *float64, config map[string]any) func(context.Context, *gradeInput) result {
	return func(ctx context.Context, in *gradeInput) result {
		v, err := e.runPython(ctx, s, in.output, jsContext(in, config))
		if err != nil {
			return result{reason: "python error: " + err.Error()}
		}
		r, err := scriptResult(v, threshold)
		if err != nil {
			return result{reason: "python: " + err.Error()}
		}
		return r
	}
}

func (e *runtimeEnv) runPython(ctx context.Context, s *pyScript, output any, pyctx map[string]any) (any, error) {
	if e.python == "" {
		return nil, errors.New("python3 is not installed")
	}
	req, err := json.Marshal(map[string]any{"file": s.file, "fn": s.fn, "code": s.source, "output": output, "context": pyctx})
	if err != nil {
		return nil, err
	}
	ctx, cancel := context.WithTimeout(ctx, e.limits.PythonTime)
	defer cancel()
	cmd := exec.CommandContext(ctx, e.python, "-I", "-c", pythonRunner)
	cmd.Stdin = bytes.NewReader(req)
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	if err := cmd.Run(); err != nil {
		if ctx.Err() != nil {
			return nil, fmt.Errorf("time limit of %v exceeded", e.limits.PythonTime)
		}
		return nil, fmt.Errorf("%v: %s", err, clip(lastLine(stderr.String()), 300))
	}
	var res struct {
		Result any `json:"result"`
	}
	dec := json.NewDecoder(&stdout)
	dec.UseNumber()
	if err := dec.Decode(&res); err != nil {
		return nil, fmt.Errorf("unreadable result: %v", err)
	}
	return fromJSONNumbers(res.Result), nil
}

func lastLine(s string) string {
	s = strings.TrimSpace(s)
	if i := strings.LastIndex(s, "\n"); i >= 0 {
		return s[i+1:]
	}
	return s
}

func fromJSONNumbers(v any) any {
	switch x := v.(type) {
	case json.Number:
		f, _ := x.Float64()
		return f
	case map[string]any:
		for k, e := range x {
			x[k] = fromJSONNumbers(e)
		}
	case []any:
		for i, e := range x {
			x[i] = fromJSONNumbers(e)
		}
	}
	return v
}
