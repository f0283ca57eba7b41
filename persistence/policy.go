package persistence

import (
	"fmt"

	"github.com/parley-chat/parley/errcode"
)

// The permission table of SPEC.md "Roles and permissions", and nothing else: every decision
// is a pure function of facts loaded in one query (ChannelAccess, WorkspaceAccess), so REST
// and STOMP ask the same questions and get the same answers. A denial is ErrNotFound when
// the caller may not know the resource exists (another workspace, a channel they cannot
// see), ErrForbidden when they can see it but may not act, ErrArchived when the channel is
// read-only.
//
// Decisions beyond the table (also listed in the transport/api package documentation):
//   - Owners and admins see every channel of their workspace, private ones included, and may
//     rename/archive them, but read and post in a private channel only as its members.
//   - Guests see and read only the channels they belong to; someone else adds them.
//   - Removing someone from a channel: themselves (leaving), the channel's creator, admins
//     and the owner. Adding someone to a public channel: anyone who can read it.
//   - The creator's powers (rename, topic, archive, removing others) last only while the
//     creator may still post there and holds a role that creates channels: demoted to
//     guest, or out of a private channel, they are gone (ADR 0027).
//   - Every write into an archived channel (post, edit, delete, react, join, add) is
//     ErrArchived; leaving it, reading it and unarchiving it are not.
//   - A direct message (type dm) is seen, read and written by its members only, workspace
//     admins included; its members are fixed (nobody joins, is added, leaves or is
//     removed: a new set of people is a new DM) and it is never renamed or archived. Any
//     member may set its topic. Its members keep it when they leave the workspace (their
//     role, not the membership, then shuts them out), so its key stays its member set (ADR 0032).
//   - Ownership moves only by transfer (PATCH member role "owner", by the owner, who
//     becomes an admin); the owner cannot leave or be removed or demoted.

// Role is a workspace role; RoleNone means "not a member of this workspace".
type Role string

// Workspace roles.
const (
	RoleNone   Role = ""
	RoleOwner  Role = "owner"
	RoleAdmin  Role = "admin"
	RoleMember Role = "member"
	RoleGuest  Role = "guest"
)

// ParseRole parses a role name; RoleOwner is accepted here and means an ownership
// transfer where a role is being set.
func ParseRole(s string) (Role, error) {
	switch r := Role(s); r {
	case RoleOwner, RoleAdmin, RoleMember, RoleGuest:
		return r, nil
	}
	return RoleNone, &ValidationError{Field: "role", Reason: fmt.Sprintf("must be one of owner, admin, member, guest, got %q", s)}
}

// Channel types.
const (
	ChannelPublic  = "public"
	ChannelPrivate = "private"
	ChannelDM      = "dm" // a direct message: fixed members, no name (ADR 0032)
)

// ErrDMFixed refuses what a direct message does not allow its members: changing who is in
// it, renaming or archiving it. It is a 403 (ErrForbidden).
var ErrDMFixed error = errcode.New(errcode.Forbidden,
	"a direct message's members are fixed and it cannot be renamed or archived; open a new one with everyone").Within(ErrForbidden)

func (r Role) isMember() bool  { return r != RoleNone }
func (r Role) isManager() bool { return r == RoleOwner || r == RoleAdmin }

// WorkspaceAccess is what a user is in a workspace.
type WorkspaceAccess struct {
	WorkspaceID int64
	UserID      int64
	Role        Role
	Bot         bool // the user is a bot (policy_integrations.go, ADR 0036)
}

// CanSee: the workspace, its members and its public channels are visible to its members.
func (a WorkspaceAccess) CanSee() error {
	if !a.Role.isMember() {
		return ErrNotFound
	}
	return nil
}

// CanCreateChannel: owner, admin, member; not a bot (ADR 0036).
func (a WorkspaceAccess) CanCreateChannel() error {
	if err := a.require(RoleOwner, RoleAdmin, RoleMember); err != nil || !a.Bot {
		return err
	}
	return ErrBot
}

// CanManageMembers covers inviting, changing roles and removing members: owner, admin.
func (a WorkspaceAccess) CanManageMembers() error {
	return a.require(RoleOwner, RoleAdmin)
}

// CanChangeRole decides a role change of a member whose role is target, to role to.
// Setting the owner role is an ownership transfer, which only the owner may do; the
// owner's own role never changes any other way.
func (a WorkspaceAccess) CanChangeRole(targetUserID int64, target, to Role) error {
	if err := a.CanManageMembers(); err != nil {
		return err
	}
	if to == RoleOwner {
		return a.CanTransferOwnership(targetUserID)
	}
	if target == RoleOwner {
		return ErrForbidden
	}
	return nil
}

// CanRemoveMember: admins and the owner remove others (never the owner); anyone but the
// owner may leave. The owner must transfer ownership first (ErrConflict).
func (a WorkspaceAccess) CanRemoveMember(targetUserID int64, target Role) error {
	if err := a.CanSee(); err != nil {
		return err
	}
	if target == RoleOwner {
		if targetUserID == a.UserID {
			return ErrConflict
		}
		return ErrForbidden
	}
	if targetUserID == a.UserID {
		return nil
	}
	return a.CanManageMembers()
}

// CanTransferOwnership: the owner only, to another member.
func (a WorkspaceAccess) CanTransferOwnership(toUserID int64) error {
	if err := a.require(RoleOwner); err != nil {
		return err
	}
	if toUserID == a.UserID {
		return &ValidationError{Field: "userId", Reason: "already the owner"}
	}
	return nil
}

func (a WorkspaceAccess) require(roles ...Role) error {
	if err := a.CanSee(); err != nil {
		return err
	}
	for _, r := range roles {
		if a.Role == r {
			return nil
		}
	}
	return ErrForbidden
}

// Access is what a user is in a channel and its workspace: the facts every channel
// decision needs, loaded by Store.ChannelAccess in one query.
type Access struct {
	UserID      int64
	ChannelID   int64
	WorkspaceID int64
	Role        Role   // in the channel's workspace; RoleNone if not a member of it
	Type        string // ChannelPublic, ChannelPrivate or ChannelDM
	Member      bool   // of the channel
	Creator     bool   // of the channel
	Archived    bool
	LastSeq     int64 // the channel's last seq when loaded
}

// intern sets a's role from a scanned column and swaps both of a's strings for this
// package's constants. Sessions cache an Access per subscribed channel: at 10,000 users
// that was ~280,000 small strings kept alive, one more object each for every GC cycle to
// mark (ADR 0013).
func (a *Access) intern(role *string) {
	if role != nil {
		a.Role = internRole(*role)
	}
	switch a.Type {
	case ChannelPublic:
		a.Type = ChannelPublic
	case ChannelPrivate:
		a.Type = ChannelPrivate
	case ChannelDM:
		a.Type = ChannelDM
	}
}

func internRole(s string) Role {
	switch r := Role(s); r {
	case RoleOwner:
		return RoleOwner
	case RoleAdmin:
		return RoleAdmin
	case RoleMember:
		return RoleMember
	case RoleGuest:
		return RoleGuest
	default:
		return r
	}
}

// Workspace is the workspace part of a.
func (a Access) Workspace() WorkspaceAccess {
	return WorkspaceAccess{WorkspaceID: a.WorkspaceID, UserID: a.UserID, Role: a.Role}
}

// CanSee: guests see only their channels, private channels are visible to their members
// and to the workspace's owner and admins, public ones to every other workspace member,
// direct messages to their members only.
func (a Access) CanSee() bool {
	switch {
	case !a.Role.isMember():
		return false
	case a.Member:
		return true
	case a.Role == RoleGuest, a.Type == ChannelDM:
		return false
	case a.Type == ChannelPublic:
		return true
	default:
		return a.Role.isManager()
	}
}

func (a Access) see() error {
	if !a.CanSee() {
		return ErrNotFound
	}
	return nil
}

// CanRead: public: any non-guest workspace member; private: channel members only.
func (a Access) CanRead() error {
	if err := a.see(); err != nil {
		return err
	}
	if a.Member || (a.Type == ChannelPublic && a.Role != RoleGuest) {
		return nil
	}
	return ErrForbidden
}

// CanPost: whoever can read, unless the channel is archived. Reacting is posting too.
func (a Access) CanPost() error {
	if err := a.CanRead(); err != nil {
		return err
	}
	return a.writable()
}

// CanJoin is joining by oneself: public channels, owner/admin/member.
func (a Access) CanJoin() error {
	if err := a.see(); err != nil {
		return err
	}
	if a.Type == ChannelDM {
		return ErrDMFixed
	}
	if a.Type != ChannelPublic && !a.Member {
		return ErrForbidden
	}
	if a.Role == RoleGuest && !a.Member {
		return ErrForbidden
	}
	return a.writable()
}

// CanAddMember is adding someone else: to a private channel, its members; to a public
// one, whoever can read it. The target must belong to the workspace (checked by the store).
func (a Access) CanAddMember() error {
	if err := a.see(); err != nil {
		return err
	}
	if a.Type == ChannelDM {
		return ErrDMFixed
	}
	if a.Type == ChannelPrivate && !a.Member {
		return ErrForbidden
	}
	if err := a.CanRead(); err != nil {
		return err
	}
	return a.writable()
}

// CanRemoveMember: oneself (leaving, allowed even when archived), the creator, admins, owner.
func (a Access) CanRemoveMember(targetUserID int64) error {
	if err := a.see(); err != nil {
		return err
	}
	if a.Type == ChannelDM {
		return ErrDMFixed
	}
	if targetUserID == a.UserID {
		return nil
	}
	if !a.creatorPowers() && !a.Role.isManager() {
		return ErrForbidden
	}
	return a.writable()
}

// CanManage covers rename, topic and archive: the creator, admins, owner. unarchiving
// says the change takes the channel out of the archive, the only change an archived
// channel accepts.
func (a Access) CanManage(unarchiving bool) error {
	if err := a.see(); err != nil {
		return err
	}
	if a.Type == ChannelDM {
		return ErrDMFixed
	}
	if !a.creatorPowers() && !a.Role.isManager() {
		return ErrForbidden
	}
	if unarchiving {
		return nil
	}
	return a.writable()
}

// CanSetTopic is a change of the topic alone: in a direct message any member who may post
// there, elsewhere CanManage.
func (a Access) CanSetTopic() error {
	if a.Type == ChannelDM {
		return a.CanPost()
	}
	return a.CanManage(false)
}

// creatorPowers: the creator keeps a say over the channel while they may still post in it
// (archived or not: unarchiving is theirs too) with a role that may create channels. A
// guest still in the channel may post, but creating it was a member's right, not a guest's.
func (a Access) creatorPowers() bool {
	return a.Creator && a.Role != RoleGuest && a.CanRead() == nil
}

// CanListReceipts: the read-receipt list of a channel is for its members.
func (a Access) CanListReceipts() error {
	if err := a.see(); err != nil {
		return err
	}
	if !a.Member {
		return ErrForbidden
	}
	return nil
}

// CanEditMessage: its author, who must still be able to post there.
func (a Access) CanEditMessage(authorID int64) error {
	if err := a.CanRead(); err != nil {
		return err
	}
	if authorID != a.UserID {
		return ErrForbidden
	}
	return a.writable()
}

// CanDeleteMessage: its author (who can still read the channel), admins, owner.
func (a Access) CanDeleteMessage(authorID int64) error {
	if a.Role.isManager() {
		if err := a.see(); err != nil {
			return err
		}
	} else {
		if err := a.CanRead(); err != nil {
			return err
		}
		if authorID != a.UserID {
			return ErrForbidden
		}
	}
	return a.writable()
}

func (a Access) writable() error {
	if a.Archived {
		return ErrArchived
	}
	return nil
}
