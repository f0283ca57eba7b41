package persistence

import (
	"strings"
	"testing"
	"unsafe"
)

// The scanned strings must not stay alive in cached Access values: each would be one more
// object per (session, channel) for the collector to mark.
func TestAccessInternKeepsNoScannedString(t *testing.T) {
	fresh := func(s string) string { return strings.Clone(s) } // like a string pgx scanned
	for _, tc := range []struct {
		typ, role string
		wantT     string
		wantR     Role
	}{
		{"public", "member", ChannelPublic, RoleMember},
		{"private", "owner", ChannelPrivate, RoleOwner},
		{"public", "admin", ChannelPublic, RoleAdmin},
		{"private", "guest", ChannelPrivate, RoleGuest},
	} {
		role := fresh(tc.role)
		a := Access{Type: fresh(tc.typ)}
		a.intern(&role)
		if a.Type != tc.wantT || a.Role != tc.wantR {
			t.Fatalf("intern(%q, %q) = %q, %q", tc.typ, tc.role, a.Type, a.Role)
		}
		if unsafe.StringData(a.Type) != unsafe.StringData(tc.wantT) {
			t.Fatalf("Type %q still points at the scanned string", a.Type)
		}
		if unsafe.StringData(string(a.Role)) != unsafe.StringData(string(tc.wantR)) {
			t.Fatalf("Role %q still points at the scanned string", a.Role)
		}
	}
	a := Access{Type: "other"}
	a.intern(nil) // not a member of the workspace: no role column
	if a.Role != RoleNone || a.Type != "other" {
		t.Fatalf("intern(nil) = %+v", a)
	}
	odd := fresh("superuser")
	a.intern(&odd)
	if a.Role != Role("superuser") {
		t.Fatalf("an unknown role must pass through unchanged, got %q", a.Role)
	}
}
