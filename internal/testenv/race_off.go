//go:build !race

package testenv

// raceOn is true in a test binary built with -race.
const raceOn = false
