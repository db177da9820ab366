package cli

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"

	"github.com/spf13/cobra"

	"github.com/driftwatch/driftwatch/config"
	"github.com/driftwatch/driftwatch/suites"
)

// initConfig is the driftwatch.yaml that `driftwatch init` writes: runnable
// at once against the built-in simulator, and against a real endpoint by
// changing two lines.
const initConfig = `# driftwatch.yaml: which models to watch, with which suites.
# Reference: the README's "Configuration reference" section.

# Baselines, history and alerts are per project; one PostgreSQL can hold
# many projects. Default: this folder's name.
project: %s

# Where results go. Empty: a private PostgreSQL that driftwatch starts
# itself (needs the PostgreSQL server binaries, e.g. Debian's postgresql).
database_url: ${DATABASE_URL:-}

targets:
  # The built-in simulator, run inside driftwatch: no key, no network.
  # To watch a real model, change the two lines below, for example to
  #   provider: openai
  #   model: gpt-4o-mini
  # and export OPENAI_API_KEY (api_key below reads it).
  - name: main
    provider: sim
    model: sim-gpt
    api_key: ${OPENAI_API_KEY:-}
    concurrency: 8

# YAML suites: files or folders, relative to this file.
suites: [suites/]

# Samples per case (k): repeats that tell real change from sampling noise.
samples: 5

# Nightly runs with driftwatch serve (scheduler, workers, dashboard):
# schedules:
#   - {name: nightly, cron: "0 3 * * *", timezone: UTC}
# alerts:
#   slack: {webhook_url: ${SLACK_WEBHOOK_URL}}
`

const initGitignore = `# Reports written with driftwatch run --json/--junit/--markdown
/reports/
`

// exampleSuite is the suite `driftwatch init` copies from the examples.
var exampleSuite = []string{"arithmetic.yaml", "arithmetic.jsonl"}

func (c *cli) initCmd() *cobra.Command {
	return &cobra.Command{
		Use:   "init [DIR]",
		Short: "Start a project: a commented driftwatch.yaml, an example suite and a .gitignore",
		Long: `Write a commented driftwatch.yaml, an example YAML suite with its dataset (suites/) and a
.gitignore into DIR (default: the working folder). The config runs at once against the built-in
simulator (provider: sim); change two lines to watch a real endpoint. Existing files are never
overwritten.`,
		Args: cobra.MaximumNArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			dir := "."
			if len(args) == 1 {
				dir = args[0]
			}
			written, err := initProject(dir)
			if err != nil {
				return err
			}
			for _, f := range written {
				fmt.Fprintln(c.stdout, "wrote", f)
			}
			fmt.Fprintln(c.stdout, "next: driftwatch run   (the first run becomes the baseline; run again to compare)")
			return nil
		},
	}
}

// initProject writes the starter files into dir and returns their paths.
// It writes nothing when any of them exists.
func initProject(dir string) ([]string, error) {
	abs, err := filepath.Abs(dir)
	if err != nil {
		return nil, err
	}
	files := map[string][]byte{
		"driftwatch.yaml": fmt.Appendf(nil, initConfig, config.FolderProject(abs)),
		".gitignore":      []byte(initGitignore),
	}
	for _, name := range exampleSuite {
		b, err := fs.ReadFile(suites.FS, name)
		if err != nil {
			return nil, fmt.Errorf("example suite %s: %w", name, err)
		}
		files[filepath.Join("suites", name)] = b
	}
	order := []string{"driftwatch.yaml", filepath.Join("suites", exampleSuite[0]), filepath.Join("suites", exampleSuite[1]), ".gitignore"}
	for _, name := range order {
		if _, err := os.Lstat(filepath.Join(dir, name)); err == nil {
			return nil, fmt.Errorf("%s exists: init writes into a folder without a driftwatch project", filepath.Join(dir, name))
		} else if !errors.Is(err, fs.ErrNotExist) {
			return nil, err
		}
	}
	if err := os.MkdirAll(filepath.Join(dir, "suites"), 0o755); err != nil {
		return nil, err
	}
	var written []string
	for _, name := range order {
		path := filepath.Join(dir, name)
		f, err := os.OpenFile(path, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o644)
		if err != nil {
			return written, err
		}
		_, werr := f.Write(files[name])
		if err := errors.Join(werr, f.Close()); err != nil {
			return written, fmt.Errorf("write %s: %w", path, err)
		}
		written = append(written, path)
	}
	return written, nil
}
