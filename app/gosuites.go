package app

import (
	"os"
	"path/filepath"
	"strings"

	"github.com/driftwatch/driftwatch/gosuite"
)

// goEntry reads the config's suites: entry i, name, whose path is path,
// when it names Go suites: a Go package pattern (the suites this binary
// built from it; an error when it was not built from it) or a registered
// Go suite. A name that is both a registered Go suite and a YAML suite file
// or folder is an error that says how to write either. ok is false for a
// YAML path.
func (a *App) goEntry(i int, name, path string) (goNames []string, ok bool, err error) {
	located := func(format string, args ...any) error {
		return a.cfg.Errorf([]any{"suites", i}, format, args...)
	}
	dir := filepath.Dir(a.cfg.File)
	if gosuite.IsPattern(dir, name) {
		names := gosuite.SuitesOf(a.registry, dir, name)
		if len(names) == 0 {
			return nil, true, located("%q is a Go package pattern, but this binary was not built with it: driftwatch run builds it, or build a binary with driftwatch build %s -o bin/driftwatch", name, name)
		}
		return names, true, nil
	}
	if _, isGo := a.registry.Get(name); !isGo {
		return nil, false, nil
	}
	if hasYAMLSuites(path) {
		return nil, true, located("%q is both a registered Go suite and a YAML suite path: write ./%s for the path, or rename the Go suite", name, name)
	}
	return []string{name}, true, nil
}

// hasYAMLSuites reports whether path is a YAML file or a folder that holds
// one.
func hasYAMLSuites(path string) bool {
	isYAML := func(n string) bool { return strings.HasSuffix(n, ".yaml") || strings.HasSuffix(n, ".yml") }
	st, err := os.Stat(path)
	if err != nil {
		return false
	}
	if !st.IsDir() {
		return isYAML(path)
	}
	entries, err := os.ReadDir(path)
	if err != nil {
		return false
	}
	for _, e := range entries {
		if !e.IsDir() && isYAML(e.Name()) {
			return true
		}
	}
	return false
}
