// Package bench holds the Driftwatch benchmarks: run.sh measures the
// performance goals end to end (see BENCHMARKS.md), rawclient is the bare
// net/http reference, and this package's tests profile `driftwatch run`
// in-process and guard against gross allocation regressions.
package bench
