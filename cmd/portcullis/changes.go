package main

import (
	"context"
	"fmt"
	"os"
	osuser "os/user"
	"time"

	"github.com/nats-io/nats.go/jetstream"

	"github.com/portcullis/portcullis/events"
)

// Security changes made outside the gateway's management API (the
// superuser's bootstrap, reset-password) are recorded as the API's are: a
// security_config_change outcome on the AUTH stream, which the auditor
// writes to the audit indices. The actor is the system, as Elasticsearch
// records its internal users; who ran the command is in the reason.

// systemPrincipal names the actor of a change made by Portcullis itself.
const systemPrincipal = "_system"

// userChange is the outcome of a change to account user made by the
// system: esAction and the REST path and method of the equivalent
// management request, and why.
func userChange(node, user, esAction, method, path, reason string, now time.Time) events.AuthOutcome {
	return events.AuthOutcome{
		Action: events.ActionSecurityConfigChange, Outcome: "success", Reason: reason,
		Principal: systemPrincipal, User: systemPrincipal, Realm: systemPrincipal, AuthType: "internal",
		Method: method, Path: path, ESAction: esAction,
		RequestID: node + "-" + events.NewID(now),
	}
}

// resetOutcome is the outcome of `portcullis reset-password -u user`, run
// by the operating system's user on this host.
func resetOutcome(node, user string, now time.Time) events.AuthOutcome {
	osUser := "unknown"
	if u, err := osuser.Current(); err == nil {
		osUser = u.Username
	}
	host, err := os.Hostname()
	if err != nil {
		host = "unknown"
	}
	return userChange(node, user, "cluster:admin/xpack/security/user/change_password", "POST",
		"/_security/user/"+user+"/_password",
		fmt.Sprintf("password of [%s] reset with portcullis reset-password by [%s] on [%s]", user, osUser, host), now)
}

// publishOutcome appends o to the AUTH stream and waits for its
// acknowledgement: a command has no emitter to retry it later.
func publishOutcome(ctx context.Context, js jetstream.JetStream, source string, o events.AuthOutcome, now time.Time) error {
	ev, err := events.New(source, events.AuthType(o.Action), o.RequestID, now, o)
	if err != nil {
		return fmt.Errorf("outcome: %w", err)
	}
	if _, err := events.Append(ctx, js, events.AuthSubject(o.Action), ev, nil); err != nil {
		return fmt.Errorf("publish %s outcome: %w", o.Action, err)
	}
	return nil
}
