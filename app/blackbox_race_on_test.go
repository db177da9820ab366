//go:build race

package app_test

// bbRaceEnabled: under the race detector the black-box sweep runs a few
// scenarios only (it is about ten times slower); the rates are asserted by
// the plain run.
const bbRaceEnabled = true
