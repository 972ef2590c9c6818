package projector

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"strconv"
	"time"

	"github.com/nats-io/nats.go/jetstream"
)

// Snapshots live in a JetStream object store (Config.Snapshots), not in a
// file under the data directory: any replica may write one and any replica
// start from it, a new replica in a cluster included, and the store is
// replicated like the streams it summarizes. A local file would be read
// faster (no transfer, no SHA-256 of the object) but is useless to a
// replica started on a fresh disk, and a gateway on an external cluster
// has no data directory. There is one object, replaced by each snapshot;
// its metadata tells the sequences it covers, so that a replica does not
// replace a newer snapshot by an older one.

// Defaults of Config.
const (
	DefaultSnapshotEvery    = 50_000
	DefaultSnapshotInterval = time.Minute
)

const (
	// SnapshotObject is the name of the snapshot in the bucket.
	SnapshotObject = "projection"

	snapshotCheck       = 5 * time.Second // how often Run sees whether a snapshot is due
	snapshotLoadTimeout = 2 * time.Minute // bound on loading one at start
	snapshotReadBuffer  = 256 << 10
)

// Object metadata keys.
const (
	metaFormat     = "format"
	metaStateSeq   = "state_seq"
	metaTokensLow  = "tokens_seq"
	metaTokensHigh = "tokens_seq_high"
)

// SnapshotStats describes a snapshot written.
type SnapshotStats struct {
	// StateSeq and TokensSeq are the sequences up to which the snapshot
	// holds every event of STATE and TOKENS.
	StateSeq, TokensSeq uint64
	Accounts, Tokens    int
	// Bytes is the size of the object.
	Bytes int64
	// Pause is the longest time the apply lock was held to copy a part of
	// the model: how long an event (a revocation) may have waited.
	Pause time.Duration
	// Duration is the whole write, copy, encoding and upload.
	Duration time.Duration
	// Skipped is true when the store held a snapshot at least as recent,
	// written by another replica: nothing was written.
	Skipped bool
}

// Snapshot writes a snapshot of the model to Config.Snapshots now. Run
// calls it when one is due; it is exported for tools and benchmarks. It
// returns ErrNoSnapshots without a store and ErrNotReady before the
// projector is ready. Snapshots do not run concurrently: a call waits for
// the one in progress.
func (p *Projector) Snapshot(ctx context.Context) (SnapshotStats, error) {
	store := p.cfg.Snapshots
	if store == nil {
		return SnapshotStats{}, ErrNoSnapshots
	}
	if !p.ready.Load() {
		return SnapshotStats{}, fmt.Errorf("snapshot: %w", ErrNotReady)
	}
	p.snapMu.Lock()
	defer p.snapMu.Unlock()
	start := time.Now()
	var (
		st    SnapshotStats
		img   = &image{}
		based int
	)
	p.model.sizeImage(img)
	hold := func(f func()) {
		p.applyMu.Lock()
		t := time.Now()
		f()
		st.Pause = max(st.Pause, time.Since(t))
		p.applyMu.Unlock()
	}
	hold(func() {
		p.model.freezeState(img)
		img.meta.taken = p.opts.clock()
		based = p.w.applied
	})
	for i := range snapPartitions {
		hold(func() { p.model.freezeTokens(img, i) })
	}
	img.sealTokens()
	img.meta.stateCreated, img.meta.tokensCreated = p.created[streamState], p.created[streamTokens]
	st.StateSeq, st.TokensSeq = img.meta.stateSeq, img.meta.tokensLow
	st.Accounts = len(img.accounts)
	for _, l := range img.tokens {
		st.Tokens += len(l)
	}

	if info, err := store.GetInfo(ctx, SnapshotObject); err == nil && covers(info.Metadata, img.meta) {
		st.Skipped, st.Duration = true, time.Since(start)
		p.markSnapshot(based)
		return st, nil
	}
	chunk := uint32(min(4<<20, max(128<<10, p.cfg.JS.Conn().MaxPayload()/2)))
	pr, pw := io.Pipe()
	werr := make(chan error, 1)
	go func() {
		_, err := writeSnapshot(pw, img, int(chunk))
		pw.CloseWithError(err)
		werr <- err
	}()
	info, err := store.Put(ctx, jetstream.ObjectMeta{
		Name:        SnapshotObject,
		Description: "Portcullis read model at " + img.meta.String(),
		Metadata: map[string]string{
			metaFormat:     strconv.Itoa(snapVersion),
			metaStateSeq:   strconv.FormatUint(img.meta.stateSeq, 10),
			metaTokensLow:  strconv.FormatUint(img.meta.tokensLow, 10),
			metaTokensHigh: strconv.FormatUint(img.meta.tokensHigh, 10),
		},
		Opts: &jetstream.ObjectMetaOptions{ChunkSize: chunk},
	}, fullReader{pr})
	pr.CloseWithError(errors.New("upload ended")) // unblocks the encoder if Put gave up
	if e := <-werr; err == nil && e != nil {
		err = e
	}
	if err != nil {
		return st, fmt.Errorf("snapshot: put %s: %w", SnapshotObject, err)
	}
	st.Bytes, st.Duration = int64(info.Size), time.Since(start)
	p.markSnapshot(based)
	p.log.InfoContext(ctx, "projector_snapshot_written",
		"state_seq", st.StateSeq, "tokens_seq", st.TokensSeq, "accounts", st.Accounts, "tokens", st.Tokens,
		"bytes", st.Bytes, "pause", st.Pause, "duration", st.Duration)
	return st, nil
}

// markSnapshot records that the model as of based events applied is in
// the store.
func (p *Projector) markSnapshot(based int) {
	p.applyMu.Lock()
	p.w.snapBase = max(p.w.snapBase, based)
	p.applyMu.Unlock()
	p.snapLast.Store(time.Now().UnixNano())
}

// covers reports whether a stored snapshot's metadata says it holds at
// least what meta holds.
func covers(md map[string]string, meta snapshotMeta) bool {
	if md[metaFormat] != strconv.Itoa(snapVersion) {
		return false
	}
	state, err1 := strconv.ParseUint(md[metaStateSeq], 10, 64)
	tokens, err2 := strconv.ParseUint(md[metaTokensLow], 10, 64)
	return err1 == nil && err2 == nil && state >= meta.stateSeq && tokens >= meta.tokensLow
}

// snapshotDue reports whether Run should write a snapshot: enough events
// since the last one and long enough ago. Apply lock held.
func (p *Projector) snapshotDueLocked() bool {
	if p.cfg.Snapshots == nil || !p.ready.Load() || p.w.applied-p.w.snapBase < p.cfg.SnapshotEvery {
		return false
	}
	last := p.snapLast.Load()
	return last == 0 || time.Since(time.Unix(0, last)) >= p.cfg.SnapshotInterval
}

// loadSnapshot starts the model from the stored snapshot if there is one
// that fits the streams at pos, and reports whether it did. A snapshot
// that cannot be used (corrupt, of another format version, of other
// streams) is logged and the model stays empty: the streams are replayed
// from the start.
func (p *Projector) loadSnapshot(ctx context.Context, pos [numStreams]position) bool {
	store := p.cfg.Snapshots
	if store == nil {
		return false
	}
	start := time.Now()
	lctx, cancel := context.WithTimeout(ctx, snapshotLoadTimeout)
	defer cancel()
	obj, err := store.Get(lctx, SnapshotObject)
	if errors.Is(err, jetstream.ErrObjectNotFound) {
		p.log.InfoContext(ctx, "projector_snapshot_none")
		return false
	}
	if err != nil {
		if ctx.Err() == nil {
			p.log.WarnContext(ctx, "projector_snapshot_unusable", "error", fmt.Errorf("get %s: %w", SnapshotObject, err))
		}
		return false
	}
	defer obj.Close()
	meta, err := p.model.loadSnapshot(bufio.NewReaderSize(obj, snapshotReadBuffer), func(sm snapshotMeta) error {
		return fits(sm, pos)
	})
	if err != nil {
		if ctx.Err() == nil {
			p.log.WarnContext(ctx, "projector_snapshot_unusable", "error", err, "duration", time.Since(start))
		}
		return false
	}
	accounts, constraints, tokens := p.model.Counts()
	p.applyMu.Lock()
	// The policy is built from the whole model once ready.
	p.w.changes |= ChangeAccount | ChangeConstraint | ChangeRole | ChangeAPIKey | ChangeToken
	p.w.stats = StartStats{FromSnapshot: true, StateSeq: meta.stateSeq, TokensSeq: meta.tokensLow, Load: time.Since(start)}
	p.applyMu.Unlock()
	p.snapLast.Store(time.Now().UnixNano())
	p.log.InfoContext(ctx, "projector_snapshot_loaded",
		"state_seq", meta.stateSeq, "tokens_seq", meta.tokensLow, "taken", meta.taken,
		"accounts", accounts, "constraints", constraints, "tokens", tokens, "duration", time.Since(start))
	return true
}

// fits checks a snapshot's meta against the streams: the same streams
// (created at the same time), and not ahead of them. TOKENS events between
// the snapshot and the stream's first message may have aged out: they
// were older than any live token.
func fits(sm snapshotMeta, pos [numStreams]position) error {
	st, tk := pos[streamState], pos[streamTokens]
	switch {
	case !sm.stateCreated.Equal(st.created) || !sm.tokensCreated.Equal(tk.created):
		return snapErr("taken from other streams (created %s and %s, these %s and %s)",
			sm.stateCreated.Format(time.RFC3339Nano), sm.tokensCreated.Format(time.RFC3339Nano),
			st.created.Format(time.RFC3339Nano), tk.created.Format(time.RFC3339Nano))
	case sm.stateSeq > st.end:
		return snapErr("at STATE seq %d, the stream ends at %d", sm.stateSeq, st.end)
	case sm.tokensHigh > tk.end:
		return snapErr("at TOKENS seq %d, the stream ends at %d", sm.tokensHigh, tk.end)
	case st.msgs > 0 && st.first > sm.stateSeq+1:
		return snapErr("at STATE seq %d, the stream starts at %d", sm.stateSeq, st.first)
	}
	return nil
}

// fullReader fills each buffer it is given (the object store makes one
// chunk of each Read), returning io.EOF with the last, short one.
type fullReader struct{ r io.Reader }

func (f fullReader) Read(b []byte) (int, error) {
	n, err := io.ReadFull(f.r, b)
	if err == io.ErrUnexpectedEOF {
		err = io.EOF
	}
	return n, err
}
