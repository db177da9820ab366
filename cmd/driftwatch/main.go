// Command driftwatch runs LLM behaviour suites on a schedule, stores every
// output in PostgreSQL and reports when a model's behaviour really changed.
package main

import (
	"context"
	"os"
	"os/signal"
	"syscall"

	"github.com/driftwatch/driftwatch/app"
	"github.com/driftwatch/driftwatch/eval"
	"github.com/driftwatch/driftwatch/suites"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	reg := eval.NewRegistry()
	suites.Register(reg)
	code := app.Main(ctx, os.Args[1:], reg, os.Stdout, os.Stderr)
	stop()
	os.Exit(code)
}
