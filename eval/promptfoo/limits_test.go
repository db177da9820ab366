package promptfoo_test

import (
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/driftwatch/driftwatch/eval/promptfoo"
)

// unblocked runs f, failing the test if it blocks (on a FIFO, say).
func unblocked(t *testing.T, f func()) {
	t.Helper()
	done := make(chan struct{})
	go func() {
		defer close(done)
		f()
	}()
	select {
	case <-done:
	case <-time.After(30 * time.Second):
		t.Fatal("blocked reading a file")
	}
}

// Files a config references are read only when they are regular files of
// a bounded size: a FIFO (which would block) or a tests file larger than
// MaxDatasetBytes (which would fill memory) is an error naming the file,
// and a FIFO in a suites folder is not taken for a config.
func TestReferencedFilesThatCannotBeReadSafelyAreRefused(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name, config, file, want string
		size                     int64 // 0: a FIFO
	}{
		{name: "tests file is a FIFO", config: "prompts: ['hi {{x}}']\ntests: file://tests.csv\n",
			file: "tests.csv", want: "not a regular file"},
		{name: "tests file is too large", config: "prompts: ['hi {{x}}']\ntests: file://tests.csv\n",
			file: "tests.csv", size: promptfoo.MaxDatasetBytes + 1, want: "more than the limit"},
		{name: "prompt file is a FIFO", config: "prompts: [file://prompt.txt]\ntests: [{vars: {x: 1}}]\n",
			file: "prompt.txt", want: "not a regular file"},
		{name: "vars file is a FIFO", config: "prompts: ['hi {{x}}']\ntests: [{vars: file://vars.yaml}]\n",
			file: "vars.yaml", want: "not a regular file"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			dir := write(t, map[string]string{"promptfooconfig.yaml": tc.config})
			p := filepath.Join(dir, tc.file)
			if tc.size == 0 {
				if err := syscall.Mkfifo(p, 0o644); err != nil {
					t.Fatal(err)
				}
			} else if err := os.WriteFile(p, nil, 0o644); err != nil || os.Truncate(p, tc.size) != nil {
				t.Fatal("cannot make a sparse file", err)
			}
			var err error
			unblocked(t, func() { _, err = promptfoo.Load(filepath.Join(dir, "promptfooconfig.yaml"), promptfoo.Options{}) })
			if err == nil || !strings.Contains(err.Error(), tc.want) || !strings.Contains(err.Error(), tc.file) {
				t.Fatalf("load: %v, want an error naming %s: %s", err, tc.file, tc.want)
			}
		})
	}

	fifo := filepath.Join(t.TempDir(), "suite.yaml")
	if err := syscall.Mkfifo(fifo, 0o644); err != nil {
		t.Fatal(err)
	}
	var isConfig bool
	unblocked(t, func() { isConfig = promptfoo.IsConfig(fifo) })
	if isConfig {
		t.Fatal("a FIFO is not a config")
	}
}
