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
	var (
		pending   []source // a change seen once, applied when read again
		failed    []source // the files that last failed to compile …
		failedGen string   // … with this generated module
		readErr   string   // the last error reading the files, logged once
	)
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
		srcs, err := loadPolicy(e.cfg.Dir)
		if err != nil {
			if err.Error() != readErr {
				readErr = err.Error()
				e.log.WarnContext(ctx, "policy_watch_failed", slog.String("dir", e.cfg.Dir), slog.Any("error", err))
			}
			pending = nil
			continue
		}
		readErr = ""
		e.mu.Lock()
		switch {
		case slices.Equal(srcs, e.policy):
			pending = nil
		case slices.Equal(srcs, failed) && e.generated.source == failedGen:
			// Nothing changed since it failed.
		case !slices.Equal(srcs, pending):
			pending = srcs // settle: apply when the next read agrees
		default:
			pending = nil
			if err := e.install(ctx, srcs, e.generated, e.constraints, e.roles); err != nil {
				failed, failedGen = srcs, e.generated.source
				e.log.ErrorContext(ctx, "policy_reload_failed", slog.String("dir", e.cfg.Dir), slog.Any("error", err),
					slog.String("revision", e.cur.Load().revision))
			} else {
				failed, failedGen = nil, ""
				e.log.InfoContext(ctx, "policy_reloaded", slog.String("dir", e.cfg.Dir), slog.String("revision", e.cur.Load().revision))
			}
		}
		e.mu.Unlock()
	}
}
