// Command portcullis is the one binary of Portcullis: `serve` runs the
// gateway, projector, policy and (embedded) NATS JetStream in one process;
// `events tail` prints a stream's events; `policy test` runs the Rego unit
// tests; `version` prints the version.
package main

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"os"
	"os/signal"
	"syscall"

	"github.com/nats-io/nats.go/jetstream"

	"github.com/portcullis/portcullis/auditor"
	"github.com/portcullis/portcullis/events"
	"github.com/portcullis/portcullis/policy"
)

// version is set at build time with -ldflags "-X main.version=...".
var version = "dev"

const usage = `usage: portcullis <command> [flags]

commands:
  serve         run the gateway (see portcullis serve -h)
  auditor       run only the auditor against an external NATS (--nats-url); several share the load
  reset-password -u USER [-i]
                reset an account's password (random and printed once, or typed with -i)
  events tail [--stream auth|state|tokens] [--subject S] [--all | --since D] [--no-follow] [-n N]
                print a stream's events, one CloudEvent per line (default: new auth outcomes, followed)
  policy test   run the Rego unit tests of a policy directory (default: the built-in policy)
  version       print the version
`

func main() {
	os.Exit(run(os.Args[1:], os.Stdout, os.Stderr, os.Getenv))
}

func run(args []string, stdout, stderr io.Writer, getenv func(string) string) int {
	if len(args) == 0 {
		fmt.Fprint(stderr, usage)
		return 2
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	switch args[0] {
	case "serve":
		return serve(ctx, args[1:], stdout, stderr, getenv)
	case "auditor":
		return runAuditor(ctx, args[1:], stderr, getenv)
	case "reset-password":
		return runResetPassword(ctx, args[1:], os.Stdin, stdout, stderr, getenv)
	case "events":
		return runEvents(ctx, args[1:], stdout, stderr, getenv)
	case "policy":
		if len(args) < 2 || args[1] != "test" {
			fmt.Fprint(stderr, usage)
			return 2
		}
		dir := ""
		if len(args) > 2 {
			dir = args[2]
		}
		passed, failed, err := policy.Test(ctx, dir, stdout)
		if err != nil {
			fmt.Fprintf(stderr, "policy test: %v\n", err)
			return 1
		}
		fmt.Fprintf(stdout, "%d passed, %d failed\n", passed, failed)
		if failed > 0 {
			return 1
		}
		return 0
	case "version":
		fmt.Fprintln(stdout, "portcullis", version)
		return 0
	case "-h", "--help", "help":
		fmt.Fprint(stdout, usage)
		return 0
	default:
		fmt.Fprintf(stderr, "unknown command %q\n\n%s", args[0], usage)
		return 2
	}
}

// newLogger builds the slog logger of cfg.
func newLogger(cfg Config, w io.Writer) *slog.Logger {
	level, _ := parseLevel(cfg.Log.Level)
	hopts := &slog.HandlerOptions{Level: level}
	if cfg.Log.Format == "json" {
		return slog.New(slog.NewJSONHandler(w, hopts))
	}
	return slog.New(slog.NewTextHandler(w, hopts))
}

// runAuditor is `portcullis auditor`: the auditor alone, on the durable
// consumer every auditor shares.
func runAuditor(ctx context.Context, args []string, stderr io.Writer, getenv func(string) string) int {
	cfg, err := loadConfigFor("auditor", args, getenv, nil)
	if err == nil && cfg.NATS.URL == "" {
		err = fmt.Errorf("nats.url (--nats-url): the standalone auditor needs the NATS cluster the gateways use")
	}
	if err != nil {
		fmt.Fprintf(stderr, "portcullis auditor: %v\n", err)
		return 2
	}
	log := newLogger(cfg, stderr)
	nc, err := connectNATS(ctx, cfg, log, io.Discard)
	if err != nil {
		log.Error("start_failed", "error", err)
		return 1
	}
	defer nc.Close()
	js, err := jetstream.New(nc.nc)
	if err == nil {
		err = events.EnsureStreams(ctx, js, cfg.streams())
	}
	var au *auditor.Auditor
	if err == nil {
		au, err = newAuditor(cfg, js, log)
	}
	if err == nil {
		err = au.Run(ctx)
	}
	if err != nil {
		log.Error("auditor_stopped_with_error", "error", err)
		return 1
	}
	return 0
}

func serve(ctx context.Context, args []string, stdout, stderr io.Writer, getenv func(string) string) int {
	cfg, err := loadConfig(args, getenv)
	if err != nil {
		fmt.Fprintf(stderr, "portcullis serve: %v\n", err)
		return 2
	}
	log := newLogger(cfg, stderr)
	a, err := newApp(ctx, cfg, log, stdout, getenv)
	if err != nil {
		log.Error("start_failed", "error", err)
		return 1
	}
	if err := a.Run(ctx); err != nil {
		log.Error("stopped_with_error", "error", err)
		return 1
	}
	log.Info("stopped")
	return 0
}
