// Command gensuite writes the benchmark suite and config used by run.sh:
//
//	gensuite -dir DIR -name bench2k -n 2000            # DIR/bench2k.yaml + .jsonl
//	gensuite -dir DIR -config c32.yaml -c 32 bench2k.yaml bench100k.yaml
package main

import (
	"flag"
	"fmt"
	"os"
	"path/filepath"

	"github.com/driftwatch/driftwatch/bench"
)

func main() {
	var (
		dir    = flag.String("dir", ".", "output folder")
		name   = flag.String("name", "", "suite name: write NAME.yaml and NAME.jsonl")
		n      = flag.Int("n", 2000, "cases")
		config = flag.String("config", "", "write this driftwatch.yaml listing the suite files given as arguments")
		conc   = flag.Int("c", 32, "target concurrency in the config")
	)
	flag.Parse()
	var err error
	switch {
	case *name != "":
		err = bench.WriteSuite(*dir, *name, *n)
	case *config != "":
		err = bench.WriteConfig(filepath.Join(*dir, *config), *conc, flag.Args()...)
	default:
		err = fmt.Errorf("give -name or -config")
	}
	if err != nil {
		fmt.Fprintln(os.Stderr, "gensuite:", err)
		os.Exit(1)
	}
}
