//go:build !race

package policy

// raceEnabled: the race detector changes allocation counts.
const raceEnabled = false
