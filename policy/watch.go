package policy

import (
	"context"
	"log/slog"
	"slices"
	"time"
)

// Watch reloads the policy whenever the .rego files of Config.Dir change,
// reading them every interval, until ctx ends: editing the files, or a git
// checkout of them, takes effect on this replica without a request to
// POST /_auth/reload. A change is applied once two reads in a row agree,
// so that a checkout or an editor caught between removing and writing a
// file does not install a policy without it for an interval. Files that do
// not compile are logged and the policy in force stays; they are tried
// again once they change, or once the constraints and roles they were
// compiled with do (a file role may clash with a role created through the
// API). With the built-in policy (no Dir) or interval ≤ 0 it returns at
// once.
func (e *Engine) Watch(ctx context.Context, interval time.Duration) {
	if e.cfg.Dir == "" || interval <= 0 {
		return
	}
	t := time.NewTicker(interval)
	defer t.Stop()
	var st watchState
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
			e.watchOnce(ctx, &st)
		}
	}
}

// watchState is what Watch remembers between two reads of the files.
type watchState struct {
	pending   []source // a change seen once, applied when read again
	failed    []source // the files that last failed to compile …
	failedGen string   // … with this generated module
	readErr   string   // the last error reading the files, logged once
}

// watchOnce reads the files once and applies them when they changed and
// the previous read saw the same.
func (e *Engine) watchOnce(ctx context.Context, st *watchState) {
	srcs, err := loadPolicy(e.cfg.Dir)
	if err != nil {
		if err.Error() != st.readErr {
			st.readErr = err.Error()
			e.log.WarnContext(ctx, "policy_watch_failed", slog.String("dir", e.cfg.Dir), slog.Any("error", err))
		}
		st.pending = nil
		return
	}
	st.readErr = ""
	e.mu.Lock()
	defer e.mu.Unlock()
	switch {
	case slices.Equal(srcs, e.policy):
		st.pending = nil
	case slices.Equal(srcs, st.failed) && e.generated.source == st.failedGen:
		// Nothing changed since it failed.
	case !slices.Equal(srcs, st.pending):
		st.pending = srcs // settle: apply when the next read agrees
	default:
		st.pending = nil
		if err := e.install(ctx, srcs, e.generated, e.constraints, e.roles); err != nil {
			st.failed, st.failedGen = srcs, e.generated.source
			e.log.ErrorContext(ctx, "policy_reload_failed", slog.String("dir", e.cfg.Dir), slog.Any("error", err),
				slog.String("revision", e.cur.Load().revision))
			return
		}
		st.failed, st.failedGen = nil, ""
		e.log.InfoContext(ctx, "policy_reloaded", slog.String("dir", e.cfg.Dir), slog.String("revision", e.cur.Load().revision))
	}
}
