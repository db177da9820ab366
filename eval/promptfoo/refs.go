package promptfoo

import (
	"os"
	"path/filepath"
	"strings"

	"github.com/driftwatch/driftwatch/internal/yamldoc"
	"gopkg.in/yaml.v3"
)

// References lists the files the promptfoo config at path references with
// file:// (prompts, tests, vars, defaultTest, scripts), and the files
// those YAML and JSON files reference in turn, without loading the config:
// they are parts of the config, not suites of their own. Paths are
// cleaned; missing files are left out.
func References(path string) []string {
	seen := map[string]bool{}
	var out []string
	var visit func(file string, depth int)
	visit = func(file string, depth int) {
		data, err := yamldoc.ReadRegular(file, yamldoc.MaxFileBytes)
		if err != nil || depth > 4 {
			return
		}
		var n yaml.Node
		if yaml.Unmarshal(data, &n) != nil {
			return
		}
		dir := filepath.Dir(file)
		walkScalars(&n, func(s string) {
			if !strings.HasPrefix(s, "file://") {
				return
			}
			p, _ := splitFunction(strings.TrimPrefix(s, "file://"))
			matches, err := glob(resolve(dir, p))
			if err != nil {
				return
			}
			for _, m := range matches {
				m = filepath.Clean(m)
				if seen[m] {
					continue
				}
				if _, err := os.Stat(m); err != nil {
					continue
				}
				seen[m] = true
				out = append(out, m)
				switch strings.ToLower(filepath.Ext(m)) {
				case ".yaml", ".yml", ".json":
					visit(m, depth+1)
				}
			}
		})
	}
	visit(path, 0)
	return out
}

func walkScalars(n *yaml.Node, f func(string)) {
	if n.Kind == yaml.ScalarNode {
		f(n.Value)
	}
	for _, c := range n.Content {
		walkScalars(c, f)
	}
}
