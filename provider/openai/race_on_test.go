//go:build race

package openai_test

// raceEnabled: the race detector slows every request several times, which
// changes what a rate-learning pacer observes; its timing is asserted by
// the plain run.
const raceEnabled = true
