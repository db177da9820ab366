package gosuite

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"time"
)

// ExecWaitDelay is how long Exec waits, after ctx is done and the binary
// has been sent an interrupt, before it kills it.
const ExecWaitDelay = 30 * time.Second

// EnvExec is set in the environment of a binary Exec runs. A binary that
// Exec started was built with every pattern its command names, so it must
// not build again: see Execed.
const EnvExec = "DRIFTWATCH_GOSUITE_EXEC"

// Execed reports whether this process was started by Exec.
func Execed() bool { return os.Getenv(EnvExec) != "" }

// Stdio are the standard streams Exec passes to the binary.
type Stdio struct {
	Stdin          io.Reader
	Stdout, Stderr io.Writer
}

// Exec runs the built binary with args (without the program name), passing
// stdio through, and returns its exit code: driftwatch's own (0 stable, 1
// drift, 2 inconclusive, 3 error). err is set only when the binary could
// not be started or did not exit normally. When ctx is done the binary is
// interrupted, so that it stops its run as on Ctrl-C, and killed after
// ExecWaitDelay.
func Exec(ctx context.Context, bin string, args []string, stdio Stdio) (int, error) {
	cmd := exec.CommandContext(ctx, bin, args...)
	cmd.Stdin, cmd.Stdout, cmd.Stderr = stdio.Stdin, stdio.Stdout, stdio.Stderr
	cmd.Env = append(os.Environ(), EnvExec+"=1")
	cmd.Cancel = func() error { return cmd.Process.Signal(os.Interrupt) }
	cmd.WaitDelay = ExecWaitDelay
	err := cmd.Run()
	if err == nil {
		return 0, nil
	}
	var ee *exec.ExitError
	if errors.As(err, &ee) && ee.Exited() {
		return ee.ExitCode(), nil
	}
	return -1, fmt.Errorf("run %s: %w", bin, err)
}
