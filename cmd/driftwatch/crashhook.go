//go:build !crashtest

package main

import "context"

// crashHook is a no-op; the crashtest build makes the worker crash on
// demand, for the tests of supervise.
func crashHook(context.Context) {}
