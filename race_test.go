//go:build race

package vigil_test

// raceDetector says the tests run with -race, whose instrumented frames
// are larger: stack sizes measured then are not the build's.
const raceDetector = true
