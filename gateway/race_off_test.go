//go:build !race

package gateway

// raceEnabled: the race detector changes allocation counts (sync.Pool
// drops a quarter of what is put back).
const raceEnabled = false
