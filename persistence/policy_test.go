package persistence_test

import (
	"errors"
	"fmt"
	"testing"

	. "github.com/parley-chat/parley/persistence"
)

func name(err error) string {
	switch {
	case err == nil:
		return "ok"
	case errors.Is(err, ErrNotFound):
		return "404"
	case errors.Is(err, ErrForbidden):
		return "403"
	case errors.Is(err, ErrArchived):
		return "409"
	case errors.Is(err, ErrConflict):
		return "conflict"
	case errors.Is(err, ErrInvalid):
		return "400"
	}
	return err.Error()
}

func TestChannelPolicyTable(t *testing.T) {
	t.Parallel()
	const me, other = 1, 2
	type want struct{ see, read, post, join, add, manage, receipts, edit, del string }
	cases := []struct {
		role     Role
		typ      string
		member   bool
		creator  bool
		archived bool
		want     want
	}{
		// Outside the workspace nothing exists.
		{RoleNone, ChannelPublic, false, false, false, want{"no", "404", "404", "404", "404", "404", "404", "404", "404"}},
		{RoleNone, ChannelPrivate, true, true, false, want{"no", "404", "404", "404", "404", "404", "404", "404", "404"}},
		// Public channels: every non-guest reads and posts; guests only inside.
		{RoleMember, ChannelPublic, false, false, false, want{"yes", "ok", "ok", "ok", "ok", "403", "403", "403", "403"}},
		{RoleMember, ChannelPublic, true, true, false, want{"yes", "ok", "ok", "ok", "ok", "ok", "ok", "ok", "ok"}},
		{RoleAdmin, ChannelPublic, false, false, false, want{"yes", "ok", "ok", "ok", "ok", "ok", "403", "403", "ok"}},
		{RoleOwner, ChannelPublic, false, false, false, want{"yes", "ok", "ok", "ok", "ok", "ok", "403", "403", "ok"}},
		{RoleGuest, ChannelPublic, false, false, false, want{"no", "404", "404", "404", "404", "404", "404", "404", "404"}},
		{RoleGuest, ChannelPublic, true, false, false, want{"yes", "ok", "ok", "ok", "ok", "403", "ok", "403", "403"}},
		// Private channels: members only; owners and admins see and manage but do not read.
		{RoleMember, ChannelPrivate, false, false, false, want{"no", "404", "404", "404", "404", "404", "404", "404", "404"}},
		{RoleMember, ChannelPrivate, true, false, false, want{"yes", "ok", "ok", "ok", "ok", "403", "ok", "403", "403"}},
		{RoleMember, ChannelPrivate, true, true, false, want{"yes", "ok", "ok", "ok", "ok", "ok", "ok", "ok", "ok"}},
		{RoleAdmin, ChannelPrivate, false, false, false, want{"yes", "403", "403", "403", "403", "ok", "403", "403", "ok"}},
		{RoleOwner, ChannelPrivate, false, false, false, want{"yes", "403", "403", "403", "403", "ok", "403", "403", "ok"}},
		{RoleGuest, ChannelPrivate, true, false, false, want{"yes", "ok", "ok", "ok", "ok", "403", "ok", "403", "403"}},
		// A creator made a guest still reads and posts there, but has no say over it.
		{RoleGuest, ChannelPublic, true, true, false, want{"yes", "ok", "ok", "ok", "ok", "403", "ok", "ok", "ok"}},
		{RoleGuest, ChannelPrivate, true, true, false, want{"yes", "ok", "ok", "ok", "ok", "403", "ok", "ok", "ok"}},
		// Archived: read-only for everyone who can read.
		{RoleMember, ChannelPublic, true, true, true, want{"yes", "ok", "409", "409", "409", "409", "ok", "409", "409"}},
		{RoleOwner, ChannelPublic, false, false, true, want{"yes", "ok", "409", "409", "409", "409", "403", "403", "409"}},
		{RoleGuest, ChannelPublic, false, false, true, want{"no", "404", "404", "404", "404", "404", "404", "404", "404"}},
		// Direct messages: members only, admins and the owner included; nobody joins, adds
		// or manages (ErrDMFixed, a 403); a guest member reads and writes.
		{RoleOwner, ChannelDM, false, false, false, want{"no", "404", "404", "404", "404", "404", "404", "404", "404"}},
		{RoleAdmin, ChannelDM, false, false, false, want{"no", "404", "404", "404", "404", "404", "404", "404", "404"}},
		{RoleMember, ChannelDM, true, true, false, want{"yes", "ok", "ok", "403", "403", "403", "ok", "ok", "ok"}},
		{RoleGuest, ChannelDM, true, false, false, want{"yes", "ok", "ok", "403", "403", "403", "ok", "403", "403"}},
		{RoleNone, ChannelDM, true, true, false, want{"no", "404", "404", "404", "404", "404", "404", "404", "404"}},
	}
	for _, c := range cases {
		a := Access{UserID: me, ChannelID: 10, WorkspaceID: 20, Role: c.role, Type: c.typ, Member: c.member, Creator: c.creator, Archived: c.archived}
		see := map[bool]string{true: "yes", false: "no"}[a.CanSee()]
		// edit/delete are of a message by me when I am the creator, else by someone else.
		author := int64(other)
		if c.creator {
			author = me
		}
		got := want{see, name(a.CanRead()), name(a.CanPost()), name(a.CanJoin()), name(a.CanAddMember()),
			name(a.CanManage(false)), name(a.CanListReceipts()), name(a.CanEditMessage(author)), name(a.CanDeleteMessage(author))}
		if got != c.want {
			t.Errorf("%s/%s member=%v creator=%v archived=%v:\n got %+v\nwant %+v", c.role, c.typ, c.member, c.creator, c.archived, got, c.want)
		}
	}
}

func TestChannelPolicyInvariants(t *testing.T) {
	t.Parallel()
	roles := []Role{RoleNone, RoleOwner, RoleAdmin, RoleMember, RoleGuest}
	for _, role := range roles {
		for _, typ := range []string{ChannelPublic, ChannelPrivate} {
			for i := range 8 {
				a := Access{UserID: 1, Role: role, Type: typ, Member: i&1 != 0, Creator: i&2 != 0, Archived: i&4 != 0}
				label := fmt.Sprintf("%+v", a)
				// Whatever cannot be seen answers 404 for every action, never 403.
				if !a.CanSee() {
					for _, err := range []error{a.CanRead(), a.CanPost(), a.CanJoin(), a.CanManage(true), a.CanRemoveMember(2)} {
						if !errors.Is(err, ErrNotFound) {
							t.Errorf("%s: unseen channel answered %v", label, err)
						}
					}
				}
				// Posting implies reading; archived channels refuse posts.
				if a.CanPost() == nil && (a.CanRead() != nil || a.Archived) {
					t.Errorf("%s: can post without reading or while archived", label)
				}
				// A channel member of the workspace always reads (the private creator is never locked out).
				if role != RoleNone && a.Member && a.CanRead() != nil {
					t.Errorf("%s: member cannot read", label)
				}
				// Leaving is always allowed to whoever sees the channel.
				if a.CanSee() && a.CanRemoveMember(1) != nil {
					t.Errorf("%s: cannot leave", label)
				}
				// Unarchiving is allowed to managers even when archived, and to the creator
				// while they may read there with a role that creates channels.
				creator := a.Creator && role != RoleGuest && a.CanRead() == nil
				if a.CanSee() && (creator || role == RoleOwner || role == RoleAdmin) && a.CanManage(true) != nil {
					t.Errorf("%s: manager cannot unarchive", label)
				}
			}
		}
	}
}

// A channel's creator has its powers (rename, topic, archive, removing others) only while
// they may still post there with a role that creates channels (issue 21, finding 7).
func TestCreatorPowersLastWhileTheCreatorMayPost(t *testing.T) {
	t.Parallel()
	cases := []struct {
		role           Role
		typ            string
		member         bool
		archived       bool
		manage, remove string // CanManage(false) (CanManage(true) when archived), CanRemoveMember(other)
	}{
		{RoleMember, ChannelPublic, true, false, "ok", "ok"},
		{RoleMember, ChannelPrivate, true, false, "ok", "ok"},
		{RoleMember, ChannelPublic, false, false, "ok", "ok"}, // left, still posts in a public channel
		{RoleMember, ChannelPublic, true, true, "ok", "409"},  // unarchives; removing is a write
		{RoleGuest, ChannelPublic, true, false, "403", "403"}, // demoted: reads and posts, no say
		{RoleGuest, ChannelPrivate, true, false, "403", "403"},
		{RoleGuest, ChannelPublic, true, true, "403", "403"},
		{RoleGuest, ChannelPublic, false, false, "404", "404"},
		{RoleMember, ChannelPrivate, false, false, "404", "404"}, // left a private channel
		{RoleNone, ChannelPublic, true, false, "404", "404"},     // out of the workspace
	}
	for _, c := range cases {
		a := Access{UserID: 1, ChannelID: 10, WorkspaceID: 20, Role: c.role, Type: c.typ, Member: c.member, Creator: true, Archived: c.archived}
		if got := [2]string{name(a.CanManage(c.archived)), name(a.CanRemoveMember(2))}; got != [2]string{c.manage, c.remove} {
			t.Errorf("creator %s/%s member=%v archived=%v: manage, remove = %v, want %s, %s",
				c.role, c.typ, c.member, c.archived, got, c.manage, c.remove)
		}
	}
}

func TestWorkspacePolicy(t *testing.T) {
	t.Parallel()
	const me, other = 1, 2
	type want struct{ see, create, manage, promote, demoteOwner, removeOther, removeOwner, leave, transfer string }
	cases := map[Role]want{
		RoleNone:   {"404", "404", "404", "404", "404", "404", "404", "404", "404"},
		RoleGuest:  {"ok", "403", "403", "403", "403", "403", "403", "ok", "403"},
		RoleMember: {"ok", "ok", "403", "403", "403", "403", "403", "ok", "403"},
		RoleAdmin:  {"ok", "ok", "ok", "ok", "403", "ok", "403", "ok", "403"},
		RoleOwner:  {"ok", "ok", "ok", "ok", "403", "ok", "conflict", "conflict", "ok"},
	}
	for role, w := range cases {
		a := WorkspaceAccess{WorkspaceID: 5, UserID: me, Role: role}
		removeOwner := a.CanRemoveMember(other, RoleOwner)
		leave := a.CanRemoveMember(me, role)
		if role == RoleOwner {
			removeOwner = a.CanRemoveMember(me, RoleOwner) // the owner is me
		}
		got := want{name(a.CanSee()), name(a.CanCreateChannel()), name(a.CanManageMembers()),
			name(a.CanChangeRole(other, RoleMember, RoleAdmin)), name(a.CanChangeRole(other, RoleOwner, RoleMember)),
			name(a.CanRemoveMember(other, RoleMember)), name(removeOwner), name(leave), name(a.CanChangeRole(other, RoleAdmin, RoleOwner))}
		if role == RoleNone {
			got.leave = name(a.CanRemoveMember(me, RoleMember))
		}
		if got != w {
			t.Errorf("%s:\n got %+v\nwant %+v", role, got, w)
		}
	}
	if _, err := ParseRole("king"); !errors.Is(err, ErrInvalid) {
		t.Fatalf("ParseRole(king) = %v", err)
	}
}

// A DM's members are fixed and its name too: whoever sees it gets ErrDMFixed for every
// change of membership, rename or archive, and only its topic is its members'.
func TestDMPolicy(t *testing.T) {
	t.Parallel()
	for _, role := range []Role{RoleOwner, RoleAdmin, RoleMember, RoleGuest} {
		for i := range 4 {
			a := Access{UserID: 1, Role: role, Type: ChannelDM, Member: i&1 != 0, Creator: i&2 != 0}
			if a.CanSee() != a.Member {
				t.Errorf("%+v: sees %v", a, a.CanSee())
			}
			if !a.Member {
				continue
			}
			for what, err := range map[string]error{"join": a.CanJoin(), "add": a.CanAddMember(), "leave": a.CanRemoveMember(1),
				"remove": a.CanRemoveMember(2), "manage": a.CanManage(false), "unarchive": a.CanManage(true)} {
				if !errors.Is(err, ErrDMFixed) || !errors.Is(err, ErrForbidden) {
					t.Errorf("%+v %s: %v, want ErrDMFixed", a, what, err)
				}
			}
			if err := a.CanSetTopic(); err != nil {
				t.Errorf("%+v: set topic: %v", a, err)
			}
		}
	}
}
