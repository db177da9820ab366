package gosuite

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"go/ast"
	"go/parser"
	"go/printer"
	"go/token"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"unicode"
	"unicode/utf8"
)

// evalImportPath is the import path of the suite-authoring API.
const evalImportPath = "github.com/driftwatch/driftwatch/eval"

// appImportPath is the package the generated main calls, and
// selfImportPath this one, which it also imports.
const (
	appImportPath  = "github.com/driftwatch/driftwatch/app"
	selfImportPath = "github.com/driftwatch/driftwatch/gosuite"
)

// listedPackage is the part of `go list -json` output Discover reads.
type listedPackage struct {
	ImportPath string
	Name       string
	Dir        string
	GoFiles    []string
	EmbedFiles []string
	Standard   bool
	DepOnly    bool
	Match      []string
	Module     *listedModule
	Error      *struct{ Err string }
}

type listedModule struct {
	Path    string
	Version string
	Main    bool
	Dir     string
	GoMod   string
	Replace *listedModule
}

// discovered is one package that holds Eval or Suite functions.
// Its fields are exported for the main template.
type discovered struct {
	ImportPath string
	Name       string // package name: the name of its Eval suite
	Patterns   []string
	// HelperHash hashes the package's declarations other than its Eval and
	// Suite functions, and its embedded files.
	HelperHash string
	Opts       bool // the package declares EvalOpts
	Evals      []function
	Suites     []function
}

// function is one Eval or Suite function found in the source.
type function struct {
	Name string
	File string
	Line int
	Hash string // hash of its declaration, comments left out
}

// listing is what go list says about the patterns and everything they and
// the generated main depend on.
type listing struct {
	pkgs     []*listedPackage
	main     *listedModule // the main module
	wantPkgs []*listedPackage
}

// goList runs `go list -deps -json` on patterns plus the Driftwatch
// packages the generated main imports, in dir, under ctx.
func goList(ctx context.Context, goCmd, dir string, env []string, patterns []string) (*listing, error) {
	args := append([]string{"list", "-e", "-deps",
		"-json=ImportPath,Name,Dir,GoFiles,EmbedFiles,Standard,DepOnly,Match,Module,Error", "--"},
		patterns...)
	args = append(args, appImportPath, selfImportPath)
	cmd := exec.CommandContext(ctx, goCmd, args...)
	cmd.Dir, cmd.Env = dir, env
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	if err := cmd.Run(); err != nil {
		if errors.Is(err, exec.ErrNotFound) {
			return nil, fmt.Errorf("no go command on PATH (Go suites are built with it): install Go, or run a binary made with driftwatch build where Go is installed: %w", err)
		}
		return nil, fmt.Errorf("go list %s: %w: %s", strings.Join(patterns, " "), err, strings.TrimSpace(stderr.String()))
	}
	l := &listing{}
	dec := json.NewDecoder(&stdout)
	for {
		var p listedPackage
		if err := dec.Decode(&p); errors.Is(err, io.EOF) {
			break
		} else if err != nil {
			return nil, fmt.Errorf("go list: decode its output: %w", err)
		}
		l.pkgs = append(l.pkgs, &p)
		if p.Module != nil && p.Module.Main && l.main == nil {
			l.main = p.Module
		}
		if slices.ContainsFunc(p.Match, func(m string) bool { return slices.Contains(patterns, m) }) {
			if p.Error != nil {
				return nil, fmt.Errorf("package %s: %s", p.ImportPath, p.Error.Err)
			}
			l.wantPkgs = append(l.wantPkgs, &p)
		}
	}
	for _, pat := range patterns {
		if !slices.ContainsFunc(l.wantPkgs, func(p *listedPackage) bool { return slices.Contains(p.Match, pat) }) {
			return nil, fmt.Errorf("pattern %s matches no Go packages", pat)
		}
	}
	if l.main == nil {
		return nil, fmt.Errorf("%s is not inside a Go module: create one with go mod init", dir)
	}
	return l, nil
}

// discover parses the files of the listed packages and returns those that
// hold Eval or Suite functions. A pattern that matches none is an error, as
// is a function named like one with the wrong signature (file:line).
func discover(l *listing, patterns []string) ([]*discovered, error) {
	var out []*discovered
	var errs []error
	for _, p := range l.wantPkgs {
		d, err := parsePackage(p)
		if err != nil {
			errs = append(errs, err)
			continue
		}
		if d != nil {
			out = append(out, d)
		}
	}
	if err := errors.Join(errs...); err != nil {
		return nil, err
	}
	for _, pat := range patterns {
		if !slices.ContainsFunc(out, func(d *discovered) bool { return slices.Contains(d.Patterns, pat) }) {
			return nil, fmt.Errorf("no Go suites in %s: want func EvalXxx(t *eval.T) or func SuiteXxx() eval.Suite in a package it matches", pat)
		}
	}
	return out, nil
}

// parsePackage finds the Eval and Suite functions of p; nil when it has none.
func parsePackage(p *listedPackage) (*discovered, error) {
	if p.Name == "main" {
		return nil, nil // a command cannot be imported
	}
	fset := token.NewFileSet()
	d := &discovered{ImportPath: p.ImportPath, Name: p.Name, Patterns: p.Match}
	helpers := sha256.New()
	var errs []error
	for _, name := range p.GoFiles {
		path := filepath.Join(p.Dir, name)
		f, err := parser.ParseFile(fset, path, nil, parser.SkipObjectResolution)
		if err != nil {
			return nil, fmt.Errorf("parse %s: %w", path, err)
		}
		evalName := localName(f)
		fmt.Fprintf(helpers, "file %s\n", name)
		for _, decl := range f.Decls {
			fn, ok := decl.(*ast.FuncDecl)
			kind := ""
			if ok && fn.Recv == nil {
				kind = funcKind(fn.Name.Name)
			}
			if kind == "" {
				writeNode(helpers, fset, decl)
				if ok && fn.Recv == nil && fn.Name.Name == "EvalOpts" {
					if !isOptsFunc(fn, evalName) {
						errs = append(errs, fmt.Errorf("%s: EvalOpts has the wrong signature: want func EvalOpts() eval.SuiteOpts", fset.Position(fn.Pos())))
					}
					d.Opts = true
				}
				continue
			}
			pos := fset.Position(fn.Pos())
			fun := function{Name: fn.Name.Name, File: pos.Filename, Line: pos.Line, Hash: nodeHash(fset, fn)}
			switch kind {
			case "Eval":
				if !isEvalFunc(fn, evalName) {
					errs = append(errs, fmt.Errorf("%s: %s has the wrong signature: want func %s(t *eval.T)", pos, fn.Name.Name, fn.Name.Name))
					continue
				}
				d.Evals = append(d.Evals, fun)
			case "Suite":
				if !isSuiteFunc(fn, evalName) {
					errs = append(errs, fmt.Errorf("%s: %s has the wrong signature: want func %s() eval.Suite", pos, fn.Name.Name, fn.Name.Name))
					continue
				}
				d.Suites = append(d.Suites, fun)
			}
		}
	}
	if err := errors.Join(errs...); err != nil {
		return nil, err
	}
	if len(d.Evals) == 0 && len(d.Suites) == 0 {
		return nil, nil
	}
	for _, name := range p.EmbedFiles {
		b, err := os.ReadFile(filepath.Join(p.Dir, name))
		if err != nil {
			return nil, fmt.Errorf("package %s: read embedded file: %w", p.ImportPath, err)
		}
		fmt.Fprintf(helpers, "embed %s %d\n", name, len(b))
		helpers.Write(b)
	}
	d.HelperHash = hex.EncodeToString(helpers.Sum(nil))
	return d, nil
}

// funcKind returns "Eval" or "Suite" when name is EvalXxx or SuiteXxx
// (Xxx not empty and not starting with a lower-case letter, as go test
// reads TestXxx), else "". EvalOpts is neither: it holds the options of
// the package's Eval suite.
func funcKind(name string) string {
	if name == "EvalOpts" {
		return ""
	}
	for _, prefix := range []string{"Eval", "Suite"} {
		rest, ok := strings.CutPrefix(name, prefix)
		if !ok {
			continue
		}
		if r, _ := utf8.DecodeRuneInString(rest); rest != "" && !unicode.IsLower(r) {
			return prefix
		}
	}
	return ""
}

// localName returns the name under which f imports the eval package: its
// alias, "eval", "." for a dot import, or "" when f does not import it.
func localName(f *ast.File) string {
	for _, imp := range f.Imports {
		if strings.Trim(imp.Path.Value, "`\"") != evalImportPath {
			continue
		}
		if imp.Name != nil {
			return imp.Name.Name
		}
		return "eval"
	}
	return ""
}

// isEvalType reports whether e is eval.<name> as f refers to it.
func isEvalType(e ast.Expr, evalName, name string) bool {
	switch e := e.(type) {
	case *ast.SelectorExpr:
		x, ok := e.X.(*ast.Ident)
		return ok && evalName != "" && evalName != "." && x.Name == evalName && e.Sel.Name == name
	case *ast.Ident:
		return evalName == "." && e.Name == name
	}
	return false
}

func isEvalFunc(fn *ast.FuncDecl, evalName string) bool {
	ft := fn.Type
	if ft.TypeParams != nil || ft.Results != nil || len(ft.Params.List) != 1 || len(ft.Params.List[0].Names) > 1 {
		return false
	}
	star, ok := ft.Params.List[0].Type.(*ast.StarExpr)
	return ok && isEvalType(star.X, evalName, "T")
}

func isSuiteFunc(fn *ast.FuncDecl, evalName string) bool {
	return isResultOnly(fn, evalName, "Suite")
}

func isOptsFunc(fn *ast.FuncDecl, evalName string) bool {
	return isResultOnly(fn, evalName, "SuiteOpts")
}

// isResultOnly reports whether fn is func() eval.<result>.
func isResultOnly(fn *ast.FuncDecl, evalName, result string) bool {
	ft := fn.Type
	if ft.TypeParams != nil || len(ft.Params.List) != 0 || ft.Results == nil || len(ft.Results.List) != 1 || len(ft.Results.List[0].Names) > 1 {
		return false
	}
	return isEvalType(ft.Results.List[0].Type, evalName, result)
}

// writeNode prints n without its comments, so that editing a comment does
// not change a hash.
func writeNode(w io.Writer, fset *token.FileSet, n ast.Node) {
	if fn, ok := n.(*ast.FuncDecl); ok && fn.Doc != nil {
		c := *fn
		c.Doc = nil
		n = &c
	}
	// Printing a node that is not an *ast.File leaves comments out.
	_ = printer.Fprint(w, fset, n)
	io.WriteString(w, "\n")
}

func nodeHash(fset *token.FileSet, n ast.Node) string {
	h := sha256.New()
	writeNode(h, fset, n)
	return hex.EncodeToString(h.Sum(nil))
}
