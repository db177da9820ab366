package promptfoo

import (
	"context"
	"errors"
	"fmt"
	"math"
	"os/exec"
	"path/filepath"
	"runtime/metrics"
	"strings"
	"time"

	"github.com/dop251/goja"
	"github.com/driftwatch/driftwatch/internal/yamldoc"
)

// Limits bound the javascript and python code a config runs.
type Limits struct {
	// JSTime bounds one javascript call (default 2 s).
	JSTime time.Duration
	// JSMemory bounds what the process allocates during one javascript
	// call, in bytes (default 256 MiB): goja has no per-VM heap limit, so
	// the allocation counter of the process is watched while the call runs.
	JSMemory uint64
	// PythonTime bounds one python3 run (default 10 s).
	PythonTime time.Duration
}

func (l Limits) withDefaults() Limits {
	if l.JSTime <= 0 {
		l.JSTime = 2 * time.Second
	}
	if l.JSMemory == 0 {
		l.JSMemory = 256 << 20
	}
	if l.PythonTime <= 0 {
		l.PythonTime = 10 * time.Second
	}
	return l
}

// runtimeEnv is what scripts run with: the limits and the interpreter.
type runtimeEnv struct {
	limits Limits
	python string // python3's path; empty when there is none
}

func newRuntimeEnv(opts Options) *runtimeEnv {
	e := &runtimeEnv{limits: opts.Limits.withDefaults()}
	py := opts.Python
	if py == "" {
		py = "python3"
	}
	if p, err := exec.LookPath(py); err == nil {
		e.python = p
	}
	return e
}

// script is javascript code from a config: an inline expression or
// function body, or a CommonJS file (with an optional function name).
type script struct {
	source string // the code, for the content hash and to run
	file   string // set for a file:// script
	fn     string // the exported function to call, for a file
}

// loadScript reads a javascript value or transform: "file://path.js" (or
// "file://path.js:fn") is read relative to dir; anything else is inline
// code.
func (e *runtimeEnv) loadScript(v, dir string) (*script, error) {
	if !strings.HasPrefix(v, "file://") {
		return &script{source: strings.TrimRight(v, " \t\r\n")}, nil
	}
	p, fn := splitFunction(strings.TrimPrefix(v, "file://"))
	p = resolve(dir, p)
	b, err := yamldoc.ReadRegular(p, yamldoc.MaxFileBytes)
	if err != nil {
		return nil, fmt.Errorf("read script: %w", err)
	}
	return &script{source: string(b), file: p, fn: fn}, nil
}

// call runs s with (output, context) on a fresh goja VM and returns what
// it returned, exported to Go values. The VM has no require, process,
// file or network access; the call is interrupted past the time or memory
// limit, or when ctx ends.
func (e *runtimeEnv) call(ctx context.Context, s *script, output any, jsctx map[string]any) (any, error) {
	vm := goja.New()
	vm.SetMaxCallStackSize(1024)
	var fn goja.Callable
	if s.file == "" {
		body := s.source
		if !strings.Contains(body, "\n") {
			body = "return " + body
		}
		v, err := vm.RunString("(function(output, context) {\n" + body + "\n})")
		if err != nil {
			return nil, fmt.Errorf("javascript: %w", err)
		}
		fn, _ = goja.AssertFunction(v)
	} else {
		module := vm.NewObject()
		exports := vm.NewObject()
		_ = module.Set("exports", exports)
		wrap, err := vm.RunScript(filepath.Base(s.file), "(function(module, exports) {\n"+s.source+"\n})")
		if err != nil {
			return nil, fmt.Errorf("javascript %s: %w", s.file, err)
		}
		w, _ := goja.AssertFunction(wrap)
		if _, err := w(goja.Undefined(), module, exports); err != nil {
			return nil, fmt.Errorf("javascript %s: %w", s.file, err)
		}
		ex := module.Get("exports")
		if s.fn != "" {
			ex = ex.ToObject(vm).Get(s.fn)
		} else if _, ok := goja.AssertFunction(ex); !ok && ex.ToObject(vm).Get("default") != nil {
			ex = ex.ToObject(vm).Get("default")
		}
		var ok bool
		if fn, ok = goja.AssertFunction(ex); !ok {
			return nil, fmt.Errorf("javascript %s: the module exports no function %s", s.file, s.fn)
		}
	}
	stop := e.watch(ctx, vm)
	v, err := fn(goja.Undefined(), vm.ToValue(output), vm.ToValue(jsctx))
	if reason := stop(); reason != "" {
		return nil, errors.New("javascript: " + reason)
	}
	if err != nil {
		return nil, fmt.Errorf("javascript: %w", err)
	}
	if p, ok := v.Export().(*goja.Promise); ok {
		if p.State() != goja.PromiseStateFulfilled {
			return nil, errors.New("javascript: the function returned a promise that did not resolve")
		}
		return p.Result().Export(), nil
	}
	return v.Export(), nil
}

// watch interrupts vm past the time limit, the memory limit or the end of
// ctx. stop ends the watch and returns why vm was interrupted, if it was.
func (e *runtimeEnv) watch(ctx context.Context, vm *goja.Runtime) (stop func() string) {
	done := make(chan struct{})
	reason := make(chan string, 1)
	sample := []metrics.Sample{{Name: "/gc/heap/allocs:bytes"}}
	metrics.Read(sample)
	start := sample[0].Value.Uint64()
	go func() {
		timer := time.NewTimer(e.limits.JSTime)
		defer timer.Stop()
		tick := time.NewTicker(5 * time.Millisecond)
		defer tick.Stop()
		for {
			var why string
			select {
			case <-done:
				return
			case <-ctx.Done():
				why = "cancelled: " + ctx.Err().Error()
			case <-timer.C:
				why = fmt.Sprintf("time limit of %v exceeded", e.limits.JSTime)
			case <-tick.C:
				s := []metrics.Sample{{Name: "/gc/heap/allocs:bytes"}}
				metrics.Read(s)
				if s[0].Value.Uint64()-start > e.limits.JSMemory {
					why = fmt.Sprintf("memory limit of %d MiB exceeded", e.limits.JSMemory>>20)
				}
			}
			if why != "" {
				reason <- why
				vm.Interrupt(why)
				return
			}
		}
	}()
	return func() string {
		close(done)
		select {
		case r := <-reason:
			return r
		default:
			return ""
		}
	}
}

// jsContext is the context argument scripts get: the test's vars and the
// rendered prompt, and the assertion's config.
func jsContext(in *gradeInput, config map[string]any) map[string]any {
	ctx := map[string]any{"vars": in.vars, "prompt": in.prompt, "test": map[string]any{"vars": in.vars}}
	if config != nil {
		ctx["config"] = config
	}
	return ctx
}

// scriptResult turns what a javascript or python assertion returned into
// a result as promptfoo does: a boolean is the verdict; a number is the
// score, passing when at least the threshold (else above 0); an object
// carries pass, score and reason.
func scriptResult(v any, threshold *float64) (result, error) {
	switch x := v.(type) {
	case bool:
		return result{pass: x, score: boolScore(x), reason: fmt.Sprintf("returned %v", x)}, nil
	case map[string]any:
		r := result{reason: "returned a grading result"}
		if p, ok := x["pass"].(bool); ok {
			r.pass = p
			r.score = boolScore(p)
		}
		if s, ok := toFloat(x["score"]); ok {
			r.score = s
			if _, has := x["pass"]; !has {
				r.pass = s > 0
				if threshold != nil {
					r.pass = s >= *threshold
				}
			}
		}
		if s, ok := x["reason"].(string); ok && s != "" {
			r.reason = s
		}
		return r, nil
	}
	if f, ok := toFloat(v); ok {
		pass := f > 0
		if threshold != nil {
			pass = f >= *threshold
		}
		return result{pass: pass, score: f, reason: fmt.Sprintf("returned %g", f)}, nil
	}
	return result{}, fmt.Errorf("the function must return a boolean, a number or a grading result, got %T", v)
}

func toFloat(v any) (float64, bool) {
	switch x := v.(type) {
	case int64:
		return float64(x), true
	case int:
		return float64(x), true
	case float64:
		if math.IsNaN(x) {
			return 0, false
		}
		return x, true
	}
	return 0, false
}

// jsGrader grades with a javascript assertion.
func (e *runtimeEnv) jsGrader(s *script, threshold *float64, config map[string]any) func(context.Context, *gradeInput) result {
	return func(ctx context.Context, in *gradeInput) result {
		v, err := e.call(ctx, s, in.output, jsContext(in, config))
		if err != nil {
			return result{reason: "javascript error: " + err.Error()}
		}
		r, err := scriptResult(v, threshold)
		if err != nil {
			return result{reason: "javascript: " + err.Error()}
		}
		return r
	}
}

// transform applies a transform script to the output.
func (e *runtimeEnv) transform(ctx context.Context, s *script, in *gradeInput) (any, error) {
	return e.call(ctx, s, in.output, jsContext(in, nil))
}
