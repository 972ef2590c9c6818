// Package embedded holds the options of the NATS JetStream server that a
// Portcullis process embeds, so that `portcullis serve` and the benchmarks
// that stand in for it (bench/coldstart, bench/outcomeproxy) run the same
// server.
package embedded

import (
	"path/filepath"

	"github.com/nats-io/nats-server/v2/server"
)

// MaxPayload bounds a message; the snapshot is stored in chunks of half
// of it, at most 4 MiB (projector/snapshotter.go).
const MaxPayload = 8 << 20

// Options returns the options of node name's server, its JetStream store
// under dataDir/jetstream, without logs or signal handling. The caller
// decides on a client port: Host and Port, or DontListen.
func Options(name, dataDir string) *server.Options {
	return &server.Options{
		ServerName: name,
		JetStream:  true,
		StoreDir:   filepath.Join(dataDir, "jetstream"),
		NoSigs:     true,
		NoLog:      true,
		MaxPayload: MaxPayload,
	}
}
