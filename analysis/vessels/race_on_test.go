//go:build race

package vessels

// raceOn is true under the race detector (go test -race), which slows this
// single-threaded pixel arithmetic tenfold: the accuracy tests then run
// their short set of images, as with -short.
const raceOn = true
