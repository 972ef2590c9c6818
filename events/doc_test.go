package events

import (
	"os"
	"strings"
	"testing"
)

// TestTypesDocumented keeps docs/events.md true: every event type and auth
// action is documented there.
func TestTypesDocumented(t *testing.T) {
	doc, err := os.ReadFile("../docs/events.md")
	if err != nil {
		t.Fatal(err)
	}
	for _, typ := range append(append([]string{}, StateTypes...), TokenTypes...) {
		if !strings.Contains(string(doc), "### `"+typ+"`") {
			t.Errorf("docs/events.md has no section for %s", typ)
		}
	}
	for _, a := range []string{ActionAuthenticationSuccess, ActionAuthenticationFailed, ActionRealmAuthFailed,
		ActionAccessGranted, ActionAccessDenied, ActionAnonymousAccessDenied, ActionTamperedRequest,
		ActionLogin, ActionLogout, ActionSecurityConfigChange} {
		if !strings.Contains(string(doc), "| `"+a+"` |") {
			t.Errorf("docs/events.md does not list auth action %s", a)
		}
	}
}
