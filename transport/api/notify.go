package api

import (
	"context"

	"github.com/parley-chat/parley/persistence"
)

// Live-workspace notifications (SPEC "Notifications", ADR 0034): after a change commits,
// the handler finds who should hear of it in one query and hands the event, with that
// audience, to persistence.QueueNotifications. Events.UsersEvent delivers to the audience's
// sessions on this node at once and posts the event once, audience included, for the other
// nodes (one post per 10,000 users; before ADR 0052 one post per person, which a few joins
// in a large workspace made overflow the bus's queue). The audience is capped by
// Config.NotifyFanout: above it the event goes to the first NotifyFanout users found and
// the rest see the change on their next fetch (logged).

// notifyUsers posts ev to each of ids' notification queue.
func (a *API) notifyUsers(ids []int64, ev any) {
	a.events.UsersEvent(ids, persistence.QueueNotifications, ev)
}

// notifyChannelAudience posts ev to everyone who can see channelID. It runs after the
// change committed: a failure is logged, the change stands.
func (a *API) notifyChannelAudience(ctx context.Context, channelID int64, ev any) {
	ids, more, err := a.store.ChannelAudience(context.WithoutCancel(ctx), channelID, a.cfg.NotifyFanout)
	if err != nil {
		a.log.Warn("notification audience", "channel", channelID, "err", err)
		return
	}
	if more {
		a.log.Warn("notification audience truncated", "channel", channelID, "fanout", a.cfg.NotifyFanout)
	}
	a.notifyUsers(ids, ev)
}

// notifyWorkspace posts ev to every member of workspaceID but skip.
func (a *API) notifyWorkspace(ctx context.Context, workspaceID, skip int64, ev any) {
	ids, more, err := a.store.WorkspaceAudience(context.WithoutCancel(ctx), workspaceID, a.cfg.NotifyFanout)
	if err != nil {
		a.log.Warn("notification audience", "workspace", workspaceID, "err", err)
		return
	}
	if more {
		a.log.Warn("notification audience truncated", "workspace", workspaceID, "fanout", a.cfg.NotifyFanout)
	}
	for i, id := range ids {
		if id == skip {
			ids = append(ids[:i:i], ids[i+1:]...)
			break
		}
	}
	a.notifyUsers(ids, ev)
}

// notifyInvitee tells the user an invitation addresses, when they exist already.
func (a *API) notifyInvitee(ctx context.Context, inv persistence.Invitation) {
	uid, wsName, ok, err := a.store.Invitee(context.WithoutCancel(ctx), inv)
	if err != nil {
		a.log.Warn("invitee", "invitation", inv.ID, "err", err)
		return
	}
	if ok {
		a.events.UserEvent(uid, persistence.QueueNotifications,
			persistence.WorkspaceInvited{Type: persistence.EventWorkspaceInvited, Invitation: inv, WorkspaceName: wsName})
	}
}
