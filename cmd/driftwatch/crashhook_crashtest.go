//go:build crashtest

package main

import (
	"context"
	"os"
	"time"
)

// crashHook crashes the worker as DRIFTWATCH_CRASH says: a panic in the
// command's goroutine or in another, running out of memory, or death by
// SIGKILL.
func crashHook(context.Context) {
	switch os.Getenv("DRIFTWATCH_CRASH") {
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
