package persistence

import "github.com/parley-chat/parley/errcode"

// Bots and integrations in the permission table (ADR 0036). A bot (users.is_bot) is a
// workspace member that reads, posts, joins public channels and is added to channels like
// anyone, and never manages anything:
//   - it never holds the owner or admin role (refused here, and by a trigger of migration
//     00009 whatever path writes the row), so every check that wants a manager refuses it;
//   - it does not create workspaces or channels (a channel's creator may rename and archive
//     it), accept invitations, or make bots, webhooks, slash commands or API tokens: its
//     tokens are minted by the managers of its workspace;
//   - it does not log in interactively: a JWT or dev login naming a bot is refused, it
//     authenticates with its API tokens only.

// ErrBot refuses a bot what only people may do (403).
var ErrBot error = errcode.New(errcode.Forbidden,
	"bots cannot manage a workspace: no workspaces, channels, invitations, roles, bots, webhooks, commands or tokens of their own").Within(ErrForbidden)

// RefuseBot is ErrBot for a bot, nil for a person.
func RefuseBot(u User) error {
	if u.IsBot {
		return ErrBot
	}
	return nil
}

// CanHoldRole: a bot is never an owner or an admin; anyone may be a member or a guest.
func (a WorkspaceAccess) CanHoldRole(r Role) error {
	if a.Bot && r.isManager() {
		return ErrBot
	}
	return nil
}

// CanManageIntegrations covers bot accounts, their tokens and slash commands: owner, admin,
// never a bot.
func (a WorkspaceAccess) CanManageIntegrations() error {
	if err := a.require(RoleOwner, RoleAdmin); err != nil {
		return err
	}
	if a.Bot {
		return ErrBot
	}
	return nil
}

// CanCreateIncomingWebhook: a member of the channel, not a guest, who may post there. Never
// in a direct message: its members are fixed and the hook's bot would have to join it.
func (a Access) CanCreateIncomingWebhook() error {
	if err := a.CanPost(); err != nil {
		return err
	}
	if a.Type == ChannelDM {
		return ErrDMFixed
	}
	if !a.Member || a.Role == RoleGuest {
		return ErrForbidden
	}
	return nil
}

// CanListIncomingWebhooks: whoever may create one there, and whoever manages the channel
// (its creator, admins, the owner), archived or not.
func (a Access) CanListIncomingWebhooks() error {
	if err := a.see(); err != nil {
		return err
	}
	if a.Type == ChannelDM {
		return ErrDMFixed
	}
	if (a.Member && a.Role != RoleGuest) || a.creatorPowers() || a.Role.isManager() {
		return nil
	}
	return ErrForbidden
}

// CanRevokeIncomingWebhook: the hook's creator while still a non-guest who can read the
// channel, and whoever manages the channel; allowed in an archived channel.
func (a Access) CanRevokeIncomingWebhook(creatorID int64) error {
	if err := a.see(); err != nil {
		return err
	}
	if creatorID == a.UserID && a.Role != RoleGuest && a.CanRead() == nil {
		return nil
	}
	if a.creatorPowers() || a.Role.isManager() {
		return nil
	}
	return ErrForbidden
}
