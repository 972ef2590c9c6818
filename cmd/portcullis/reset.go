package main

import (
	"bufio"
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"os"
	"strings"
	"time"

	"github.com/nats-io/nats.go/jetstream"
	"golang.org/x/term"

	"github.com/portcullis/portcullis/events"
	"github.com/portcullis/portcullis/gateway/secret"
	"github.com/portcullis/portcullis/projector"
)

// runResetPassword is `portcullis reset-password -u USER [-i]`, after
// elasticsearch-reset-password: it appends a password change for USER to the
// event log, so it is effective on every replica at once (and revokes the
// user's tokens). It talks to NATS: --nats-url, else the embedded store under
// --data-dir when no serve runs on it, else the client port of the serve
// that does (connectServe, with nats.password).
func runResetPassword(ctx context.Context, args []string, stdin io.Reader, stdout, stderr io.Writer, getenv func(string) string) int {
	var user string
	var interactive bool
	cfg, err := loadConfigFor("reset-password", args, getenv, func(fs *flag.FlagSet) {
		fs.StringVar(&user, "u", "", "the `user` whose password to reset (required)")
		fs.BoolVar(&interactive, "i", false, "type the new password instead of generating one")
	})
	if err == nil && user == "" {
		err = errors.New("-u USER is required")
	}
	if err != nil {
		fmt.Fprintf(stderr, "portcullis reset-password: %v\n", err)
		return 2
	}
	password := ""
	if interactive {
		if password, err = readNewPassword(stdin, stderr); err != nil {
			fmt.Fprintf(stderr, "portcullis reset-password: %v\n", err)
			return 1
		}
	} else {
		password = randomString(18)
	}
	log := newLogger(Config{Log: LogConfig{Level: "warn", Format: cfg.Log.Format}}, stderr)
	if cfg.NodeID == "" {
		cfg.NodeID = "reset-password-" + randomString(4)
	}
	nc, err := connectTool(ctx, cfg, log)
	if err != nil {
		fmt.Fprintf(stderr, "portcullis reset-password: %v\n", err)
		return 1
	}
	defer nc.Close()
	rc := 0
	if err := resetPassword(ctx, nc, cfg.NodeID, user, password, log); err != nil {
		fmt.Fprintf(stderr, "portcullis reset-password: %v\n", err)
		if !errors.Is(err, errNotAudited) {
			return 1
		}
		rc = 1 // the new password is in effect: show it, and fail
	}
	fmt.Fprintf(stdout, "Password for the [%s] user successfully reset.\n", user)
	if !interactive {
		fmt.Fprintf(stdout, "New value: %s\n", password)
	}
	return rc
}

func resetPassword(ctx context.Context, nc *natsConn, node, user, password string, log *slog.Logger) error {
	ctx, cancel := context.WithTimeout(ctx, 30*time.Second)
	defer cancel()
	js, err := jetstream.New(nc.nc)
	if err != nil {
		return fmt.Errorf("jetstream: %w", err)
	}
	proj, err := projector.New(projector.Config{JS: js}, projector.WithLogger(log)) // the tool's: warnings only
	if err != nil {
		return err
	}
	pctx, pcancel := context.WithCancel(ctx)
	done := make(chan error, 1)
	go func() { done <- proj.Run(pctx) }()
	defer func() { pcancel(); <-done }()
	for !proj.Ready() {
		select {
		case <-ctx.Done():
			return fmt.Errorf("read the accounts: %w", ctx.Err())
		case err := <-done:
			done <- err
			return fmt.Errorf("read the accounts: %w", err)
		case <-time.After(10 * time.Millisecond):
		}
	}
	model := proj.Model()
	subject := events.StateSubject(events.AggregateAccount, user)
	expect := &events.Expect{LastSubjectSeq: model.SubjectSeq(subject)}
	acc, ok := model.Account(user)
	if !ok {
		return fmt.Errorf("user [%s] not found", user)
	}
	hash, err := secret.HashPassword(password)
	if err != nil {
		return err
	}
	ev, err := events.New(node, events.TypeAccountUpdated, user, time.Now(), events.AccountUpdated{UID: acc.UID, Username: user, PasswordHash: &hash})
	if err != nil {
		return err
	}
	if _, err := events.Append(ctx, js, subject, ev, expect); err != nil {
		if errors.Is(err, events.ErrConflict) {
			return fmt.Errorf("user [%s] changed concurrently; run again: %w", user, err)
		}
		return err
	}
	now := time.Now()
	if err := publishOutcome(ctx, js, node, resetOutcome(node, user, now), now); err != nil {
		return fmt.Errorf("%w: %w", errNotAudited, err)
	}
	return nil
}

// errNotAudited: the password was changed, but the record of the change
// for the audit could not be published.
var errNotAudited = errors.New("the password was reset, but its security_config_change record could not be published")

// readNewPassword reads the new password twice, without echo on a terminal.
func readNewPassword(stdin io.Reader, prompt io.Writer) (string, error) {
	br := bufio.NewReader(stdin)
	read := func(label string) (string, error) {
		fmt.Fprint(prompt, label)
		if f, ok := stdin.(*os.File); ok && term.IsTerminal(int(f.Fd())) {
			b, err := term.ReadPassword(int(f.Fd()))
			fmt.Fprintln(prompt)
			return string(b), err
		}
		line, err := br.ReadString('\n')
		if err != nil && line == "" {
			return "", fmt.Errorf("read password: %w", err)
		}
		return strings.TrimRight(line, "\r\n"), nil
	}
	p1, err := read("Enter password for the user: ")
	if err != nil {
		return "", err
	}
	if len([]rune(p1)) < 6 {
		return "", errors.New("passwords must be at least [6] characters long")
	}
	p2, err := read("Re-enter password for the user: ")
	if err != nil {
		return "", err
	}
	if p1 != p2 {
		return "", errors.New("passwords do not match")
	}
	return p1, nil
}
