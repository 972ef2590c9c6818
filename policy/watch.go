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
// POST /_auth/reload. Files that do not compile are logged and the policy
// in force stays; they are tried again once they change again. With the
// built-in policy (no Dir) or interval ≤ 0 it returns at once.
func (e *Engine) Watch(ctx context.Context, interval time.Duration) {
	if e.cfg.Dir == "" || interval <= 0 {
		return
	}
	t := time.NewTicker(interval)
	defer t.Stop()
	var failed []source // the files that last failed, not tried again
	var readErr string  // the last error reading the files, logged once
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
			continue
		}
		readErr = ""
		if slices.Equal(srcs, failed) {
			continue
		}
		e.mu.Lock()
		if slices.Equal(srcs, e.policy) {
			e.mu.Unlock()
			continue
		}
		err = e.install(ctx, srcs, e.generated, e.constraints, e.roles)
		e.mu.Unlock()
		if err != nil {
			failed = srcs
			e.log.ErrorContext(ctx, "policy_reload_failed", slog.String("dir", e.cfg.Dir), slog.Any("error", err),
				slog.String("revision", e.Revision()))
			continue
		}
		failed = nil
		e.log.InfoContext(ctx, "policy_reloaded", slog.String("dir", e.cfg.Dir), slog.String("revision", e.Revision()))
	}
}
