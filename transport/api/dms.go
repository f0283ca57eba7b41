package api

import (
	"context"
	"net/http"

	"github.com/parley-chat/parley/persistence"
)

type openDMRequest struct {
	// UserIDs are the 1-7 other workspace members (the caller may be listed too).
	UserIDs []ID `json:"userIds"`
}

// openDM opens the direct message between the caller and userIds: 201 with a new channel,
// 200 with the existing one for exactly that set of people (persistence.Store.OpenDM).
// Guests may open DMs too; anyone named who is not in the workspace is a 404.
func (a *API) openDM(ctx context.Context, r *http.Request, me persistence.User) (int, any, error) {
	wa, err := a.workspaceAccess(ctx, r, me)
	if err != nil {
		return 0, nil, err
	}
	if err := wa.CanSee(); err != nil {
		return 0, nil, err
	}
	var req openDMRequest
	if err := decodeBody(r, &req); err != nil {
		return 0, nil, err
	}
	others := make([]int64, len(req.UserIDs))
	for i, id := range req.UserIDs {
		others[i] = int64(id)
	}
	c, created, err := a.store.OpenDM(ctx, wa.WorkspaceID, me.ID, others)
	if err != nil {
		return 0, nil, err
	}
	v, err := a.channelView(ctx, me.ID, c.ID)
	if err != nil {
		return 0, nil, err
	}
	if !created {
		return http.StatusOK, v, nil
	}
	for _, uid := range c.Members {
		if uid != me.ID {
			a.notifyChannelAdded(uid, c, me.ID)
		}
	}
	return http.StatusCreated, v, nil
}

// notifyChannelAdded tells userID, on /user/queue/notifications, that by opened a DM with
// them, so that their open pages show it without polling the channel list.
func (a *API) notifyChannelAdded(userID int64, c persistence.Channel, by int64) {
	a.events.UserEvent(userID, persistence.QueueNotifications,
		persistence.ChannelNotification{Type: persistence.EventChannelAdded, Channel: c, ByUserID: by})
}
