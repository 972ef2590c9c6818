//go:build !linux

package policy

import "time"

// threadCPU is not available: benchmarks report no cpu-ns/op.
func threadCPU() (time.Duration, bool) { return 0, false }
