package main

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"os/signal"
	"runtime/debug"
	"strconv"
	"strings"
	"syscall"

	"github.com/driftwatch/driftwatch/cli"
)

const (
	// workerEnv marks the worker process (see supervise).
	workerEnv = "DRIFTWATCH_WORKER"
	// memoryEnv overrides the worker's hard memory cap, in MiB (0: none).
	memoryEnv = "DRIFTWATCH_MAX_MEMORY_MB"
	// maxMemoryDefault is the worker's hard cap on its data (RLIMIT_DATA):
	// far above what a run needs (see memoryLimitDefault), low enough that
	// a runaway allocation fails the run instead of the machine.
	maxMemoryDefault = 4 << 30
	// crashFD is the worker's file descriptor for its crash report.
	crashFD = 3
)

const rlimInfinity = ^uint64(0)

func isWorker() bool { return os.Getenv(workerEnv) == "1" }

// setUpCrashOutput sends the runtime's report of a fatal crash (an
// unrecovered panic in any goroutine, out of memory) to the supervisor too.
func setUpCrashOutput() {
	f := os.NewFile(crashFD, "crash-report")
	if f == nil {
		return
	}
	if err := debug.SetCrashOutput(f, debug.CrashOptions{}); err != nil {
		return // not started by a supervisor: the crash goes to stderr only
	}
	f.Close() // SetCrashOutput keeps its own duplicate
}

// supervise runs args as a worker process with the same standard streams,
// forwards SIGINT, SIGTERM and SIGHUP to it, and
// returns its exit code, or cli.ExitConfig (3) with one line on stderr
// when the worker crashed or was killed.
func supervise(args []string, stdin io.Reader, stdout, stderr io.Writer) int {
	self, err := os.Executable()
	if err != nil {
		fmt.Fprintf(stderr, "driftwatch: find own executable: %v\n", err)
		return cli.ExitConfig
	}
	crashR, crashW, err := os.Pipe()
	if err != nil {
		fmt.Fprintf(stderr, "driftwatch: start: %v\n", err)
		return cli.ExitConfig
	}
	cmd := exec.Command(self, args[1:]...)
	errs := &crashFilter{w: stderr}
	cmd.Stdin, cmd.Stdout, cmd.Stderr = stdin, stdout, errs
	cmd.ExtraFiles = []*os.File{crashW} // fd 3 in the worker
	cmd.Env = append(os.Environ(), workerEnv+"=1")
	if os.Getenv("GOTRACEBACK") == "" {
		// A crash prints its one-line cause, not every goroutine's stack.
		cmd.Env = append(cmd.Env, "GOTRACEBACK=none")
	}
	limitMemory(stderr)

	sigs := make(chan os.Signal, 4)
	signal.Notify(sigs, os.Interrupt, syscall.SIGTERM, syscall.SIGHUP)
	defer signal.Stop(sigs)
	if err := cmd.Start(); err != nil {
		crashW.Close()
		crashR.Close()
		fmt.Fprintf(stderr, "driftwatch: start: %v\n", err)
		return cli.ExitConfig
	}
	crashW.Close()
	report := make(chan string, 1)
	go func() {
		b, _ := io.ReadAll(io.LimitReader(crashR, 64<<10))
		crashR.Close()
		report <- string(b)
	}()
	done := make(chan error, 1)
	go func() { done <- cmd.Wait() }()
	for {
		select {
		case sig := <-sigs:
			// A terminal's Ctrl-C reaches the worker too; a second SIGINT
			// is harmless (the worker stops on the first), and a signal
			// sent to this process alone must reach it.
			_ = cmd.Process.Signal(sig)
		case err := <-done:
			crash := <-report
			if crash == "" && errs.held.Len() > 0 { // output that only looked like a crash
				_, _ = stderr.Write(errs.held.Bytes())
			}
			if crash != "" && errs.cause != "" {
				crash = errs.cause // the runtime's first line ("fatal error: ...")
			}
			return exitCode(err, crash, stderr)
		}
	}
}

// exitCode turns the worker's end into the command's exit code: its own
// code, unless it crashed (a crash report, or death by a signal).
func exitCode(err error, crash string, stderr io.Writer) int {
	if crash != "" {
		fmt.Fprintf(stderr, "driftwatch: crashed (exit 3): %s\n", firstLine(crash))
		return cli.ExitConfig
	}
	if err == nil {
		return 0
	}
	var ee *exec.ExitError
	if !errors.As(err, &ee) {
		fmt.Fprintf(stderr, "driftwatch: %v\n", err)
		return cli.ExitConfig
	}
	if ws, ok := ee.Sys().(syscall.WaitStatus); ok && ws.Signaled() {
		fmt.Fprintf(stderr, "driftwatch: killed by %v (exit 3)\n", ws.Signal())
		return cli.ExitConfig
	}
	return ee.ExitCode()
}

func firstLine(s string) string {
	sc := bufio.NewScanner(strings.NewReader(s))
	for sc.Scan() {
		if line := strings.TrimSpace(sc.Text()); line != "" {
			return line
		}
	}
	return "the worker process crashed"
}

// limitMemory caps the data the worker may map (RLIMIT_DATA, inherited):
// an allocation beyond it fails the worker, which then exits 3, instead of
// driving the machine into swap or the OOM killer.
func limitMemory(stderr io.Writer) {
	limit := uint64(maxMemoryDefault)
	if v := os.Getenv(memoryEnv); v != "" {
		mb, err := strconv.ParseUint(v, 10, 64)
		if err != nil {
			fmt.Fprintf(stderr, "driftwatch: %s=%q is not a whole number of MiB; using %d MiB\n", memoryEnv, v, limit>>20)
		} else {
			limit = mb << 20
		}
	}
	if limit == 0 {
		return
	}
	var cur syscall.Rlimit
	if err := syscall.Getrlimit(syscall.RLIMIT_DATA, &cur); err != nil {
		return
	}
	if cur.Cur != rlimInfinity && cur.Cur <= limit {
		return // already lower
	}
	newLimit := syscall.Rlimit{Cur: limit, Max: cur.Max}
	if cur.Max != rlimInfinity && cur.Max < limit {
		newLimit.Cur = cur.Max
	}
	_ = syscall.Setrlimit(syscall.RLIMIT_DATA, &newLimit)
}

// crashFilter passes the worker's stderr through as it comes, but holds
// back what follows a line that starts a Go runtime crash report ("panic:",
// "fatal error:"): the supervisor prints one line for a crash instead of
// the runtime's stack dump. exec.Cmd writes to it from one goroutine.
type crashFilter struct {
	w        io.Writer
	midLine  bool // the last byte passed was not a newline
	crashing bool
	cause    string
	// causeOpen: the crash's first line has not ended yet (the runtime
	// writes "fatal error: " and its message in separate writes).
	causeOpen bool
	held      bytes.Buffer
}

var crashPrefixes = []string{"panic: ", "fatal error: ", "runtime: "}

func (f *crashFilter) Write(p []byte) (int, error) {
	n := len(p)
	for len(p) > 0 && !f.crashing {
		if !f.midLine {
			for _, pre := range crashPrefixes {
				if bytes.HasPrefix(p, []byte(pre)) {
					f.crashing = true
					line, _, ended := bytes.Cut(p, []byte("\n"))
					f.cause, f.causeOpen = string(line), !ended
					p = p[len(line):]
				}
			}
			if f.crashing {
				break
			}
		}
		i := bytes.IndexByte(p, '\n')
		chunk := p
		if i >= 0 {
			chunk = p[:i+1]
		}
		if _, err := f.w.Write(chunk); err != nil {
			return n, err
		}
		f.midLine = chunk[len(chunk)-1] != '\n'
		p = p[len(chunk):]
	}
	if f.crashing && f.causeOpen {
		line, _, ended := bytes.Cut(p, []byte("\n"))
		f.cause += string(line)
		f.causeOpen = !ended
	}
	if f.crashing {
		if !f.causeOpen {
			f.cause = strings.TrimSpace(f.cause)
		}
		if f.held.Len() < 64<<10 {
			f.held.Write(p)
		}
	}
	return n, nil
}
