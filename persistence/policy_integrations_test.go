package persistence_test

import (
	"errors"
	"testing"

	. "github.com/parley-chat/parley/persistence"
)

// The integrations' rows of the permission table (ADR 0036).
func TestIntegrationsPolicy(t *testing.T) {
	t.Parallel()
	ws := func(role Role, bot bool) WorkspaceAccess {
		return WorkspaceAccess{WorkspaceID: 1, UserID: 2, Role: role, Bot: bot}
	}
	for _, c := range []struct {
		what string
		err  error
		want string
	}{
		{"owner manages integrations", ws(RoleOwner, false).CanManageIntegrations(), "ok"},
		{"admin manages integrations", ws(RoleAdmin, false).CanManageIntegrations(), "ok"},
		{"member manages integrations", ws(RoleMember, false).CanManageIntegrations(), "403"},
		{"guest manages integrations", ws(RoleGuest, false).CanManageIntegrations(), "403"},
		{"outsider manages integrations", ws(RoleNone, false).CanManageIntegrations(), "404"},
		{"a bot (even with a manager's role) manages integrations", ws(RoleAdmin, true).CanManageIntegrations(), "403"},
		{"member creates a channel", ws(RoleMember, false).CanCreateChannel(), "ok"},
		{"bot creates a channel", ws(RoleMember, true).CanCreateChannel(), "403"},
		{"outside bot creates a channel", ws(RoleNone, true).CanCreateChannel(), "404"},
		{"bot becomes admin", ws(RoleMember, true).CanHoldRole(RoleAdmin), "403"},
		{"bot becomes owner", ws(RoleMember, true).CanHoldRole(RoleOwner), "403"},
		{"bot becomes guest", ws(RoleMember, true).CanHoldRole(RoleGuest), "ok"},
		{"person becomes admin", ws(RoleMember, false).CanHoldRole(RoleAdmin), "ok"},
		{"a bot refused", RefuseBot(User{IsBot: true}), "403"},
		{"a person passes", RefuseBot(User{}), "ok"},
	} {
		if got := name(c.err); got != c.want {
			t.Errorf("%s: %s (%v), want %s", c.what, got, c.err, c.want)
		}
		if c.want == "403" && c.what != "member manages integrations" && c.what != "guest manages integrations" && !errors.Is(c.err, ErrBot) {
			t.Errorf("%s: %v, want ErrBot", c.what, c.err)
		}
	}

	ch := func(role Role, typ string, member, creator, archived bool) Access {
		return Access{UserID: 2, ChannelID: 3, WorkspaceID: 1, Role: role, Type: typ, Member: member, Creator: creator, Archived: archived}
	}
	for _, c := range []struct {
		what   string
		a      Access
		create string
		list   string
		revoke string // another's hook
	}{
		{"member in the channel", ch(RoleMember, ChannelPublic, true, false, false), "ok", "ok", "403"},
		{"member outside a public channel", ch(RoleMember, ChannelPublic, false, false, false), "403", "403", "403"},
		{"guest in the channel", ch(RoleGuest, ChannelPublic, true, false, false), "403", "403", "403"},
		{"admin outside a public channel", ch(RoleAdmin, ChannelPublic, false, false, false), "403", "ok", "ok"},
		{"admin outside a private channel", ch(RoleAdmin, ChannelPrivate, false, false, false), "403", "ok", "ok"},
		{"member outside a private channel", ch(RoleMember, ChannelPrivate, false, false, false), "404", "404", "404"},
		{"the channel's creator", ch(RoleMember, ChannelPublic, true, true, false), "ok", "ok", "ok"},
		{"member, archived channel", ch(RoleMember, ChannelPublic, true, false, true), "409", "ok", "403"},
		{"member of a DM", ch(RoleMember, ChannelDM, true, false, false), "403", "403", "403"},
		{"outsider", ch(RoleNone, ChannelPublic, false, false, false), "404", "404", "404"},
	} {
		if got := name(c.a.CanCreateIncomingWebhook()); got != c.create {
			t.Errorf("%s creates a hook: %s, want %s", c.what, got, c.create)
		}
		if got := name(c.a.CanListIncomingWebhooks()); got != c.list {
			t.Errorf("%s lists hooks: %s, want %s", c.what, got, c.list)
		}
		if got := name(c.a.CanRevokeIncomingWebhook(99)); got != c.revoke {
			t.Errorf("%s revokes another's hook: %s, want %s", c.what, got, c.revoke)
		}
	}
	// The hook's own creator revokes it while they can read the channel, not as a guest.
	if err := ch(RoleMember, ChannelPublic, true, false, true).CanRevokeIncomingWebhook(2); err != nil {
		t.Errorf("creator revokes in an archived channel: %v", err)
	}
	if err := ch(RoleGuest, ChannelPublic, true, false, false).CanRevokeIncomingWebhook(2); !errors.Is(err, ErrForbidden) {
		t.Errorf("creator demoted to guest revokes: %v", err)
	}
}
