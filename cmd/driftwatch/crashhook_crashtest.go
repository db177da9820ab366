//go:build crashtest

package main

import (
	"context"
	"fmt"
	"os"
	"time"
)

// crashHook crashes the worker as DRIFTWATCH_CRASH says: a panic in the
// command's goroutine or in another, running out of memory, or death by
// SIGKILL; or waits for a signal.
func crashHook(ctx context.Context) {
	switch os.Getenv("DRIFTWATCH_CRASH") {
	case "wait": // until a signal cancels ctx
		fmt.Fprintln(os.Stderr, "worker waiting")
		<-ctx.Done()
		fmt.Fprintln(os.Stderr, "worker stopped by its context")
		os.Exit(3)
	case "main":
		panic("planted panic")
	case "goroutine":
		go func() { panic("planted panic in a goroutine") }()
		time.Sleep(10 * time.Second)
	case "memory":
		var keep [][]byte
		for {
			keep = append(keep, make([]byte, 64<<20))
			for i := range keep[len(keep)-1] {
				keep[len(keep)-1][i] = 1
			}
		}
	case "signal":
		p, _ := os.FindProcess(os.Getpid())
		_ = p.Kill()
		time.Sleep(10 * time.Second)
	}
}
