//go:build !race

package app_test

const bbRaceEnabled = false
