package api

import (
	"context"
	"net/http"

	"github.com/parley-chat/parley/persistence"
)

type createChannelRequest struct {
	Name  string `json:"name"`
	Type  string `json:"type" openapi:"enum=public|private"`
	Topic string `json:"topic,omitempty"`
}

func (a *API) createChannel(ctx context.Context, r *http.Request, me persistence.User) (int, any, error) {
	wa, err := a.workspaceAccess(ctx, r, me)
	if err != nil {
		return 0, nil, err
	}
	if err := wa.CanCreateChannel(); err != nil {
		return 0, nil, err
	}
	var req createChannelRequest
	if err := decodeBody(r, &req); err != nil {
		return 0, nil, err
	}
	c, err := a.store.CreateChannel(ctx, wa.WorkspaceID, me.ID, req.Name, req.Type, req.Topic)
	if err != nil {
		return 0, nil, err
	}
	if c.Type == persistence.ChannelPublic {
		// The web client's channel list updates live instead of polling.
		a.notifyChannelAudience(ctx, c.ID, persistence.ChannelNotification{Type: persistence.EventChannelCreated, Channel: c, ByUserID: me.ID})
	}
	return http.StatusCreated, persistence.ChannelView{Channel: c, IsMember: true}, nil
}

// listChannels lists the channels the caller can see, by name; `after` is a channel name.
func (a *API) listChannels(ctx context.Context, r *http.Request, me persistence.User) (int, any, error) {
	wa, err := a.workspaceAccess(ctx, r, me)
	if err != nil {
		return 0, nil, err
	}
	if err := wa.CanSee(); err != nil {
		return 0, nil, err
	}
	limit, err := queryLimit(r, defaultPage, maxPage)
	if err != nil {
		return 0, nil, err
	}
	cs, err := a.store.VisibleChannels(ctx, wa, r.URL.Query().Get("after"), limit+1)
	if err != nil {
		return 0, nil, err
	}
	if err := a.finishViews(ctx, me.ID, cs); err != nil {
		return 0, nil, err
	}
	return http.StatusOK, pageOf(cs, limit, persistence.ChannelView.Cursor), nil
}

// channelAccess loads the caller's access to the channel of the {cid} path parameter.
func (a *API) channelAccess(ctx context.Context, r *http.Request, me persistence.User) (persistence.Access, error) {
	cid, err := pathID(r, "cid")
	if err != nil {
		return persistence.Access{}, err
	}
	return a.store.ChannelAccess(ctx, me.ID, cid)
}

// readableChannel is channelAccess for handlers that read the channel's content: it also
// applies CanRead (404 outside the workspace or for an invisible channel, 403 otherwise).
func (a *API) readableChannel(ctx context.Context, r *http.Request, me persistence.User) (persistence.Access, error) {
	acc, err := a.channelAccess(ctx, r, me)
	if err != nil {
		return acc, err
	}
	return acc, acc.CanRead()
}

func (a *API) getChannel(ctx context.Context, r *http.Request, me persistence.User) (int, any, error) {
	acc, err := a.channelAccess(ctx, r, me)
	if err != nil {
		return 0, nil, err
	}
	if !acc.CanSee() {
		return 0, nil, persistence.ErrNotFound
	}
	v, err := a.channelView(ctx, me.ID, acc.ChannelID)
	return http.StatusOK, v, err
}

// channelView is channel id as userID sees it, with their newest read marker.
func (a *API) channelView(ctx context.Context, userID, id int64) (persistence.ChannelView, error) {
	v, err := a.store.ChannelView(ctx, userID, id)
	if err != nil {
		return v, err
	}
	views := []persistence.ChannelView{v}
	err = a.finishViews(ctx, userID, views)
	return views[0], err
}

// finishViews completes views as userID sees them: read markers raised to the cached ones,
// mentions counted above them, and the caller's notification preferences.
func (a *API) finishViews(ctx context.Context, userID int64, views []persistence.ChannelView) error {
	a.raiseViews(ctx, userID, views)
	if err := a.store.CountMentions(ctx, userID, views); err != nil {
		return err
	}
	return a.attachPrefs(ctx, userID, views)
}

type patchChannelRequest struct {
	Name     *string `json:"name,omitempty"`
	Topic    *string `json:"topic,omitempty"`
	Archived *bool   `json:"archived,omitempty"`
}

func (a *API) patchChannel(ctx context.Context, r *http.Request, me persistence.User) (int, any, error) {
	acc, err := a.channelAccess(ctx, r, me)
	if err != nil {
		return 0, nil, err
	}
	var req patchChannelRequest
	if err := decodeBody(r, &req); err != nil {
		return 0, nil, err
	}
	if req.Name == nil && req.Topic == nil && req.Archived == nil {
		return 0, nil, &persistence.ValidationError{Reason: "nothing to change: give name, topic or archived"}
	}
	if req.Name == nil && req.Archived == nil {
		err = acc.CanSetTopic()
	} else {
		err = acc.CanManage(req.Archived != nil && !*req.Archived)
	}
	if err != nil {
		return 0, nil, err
	}
	c, err := a.store.UpdateChannel(ctx, acc.ChannelID, persistence.ChannelUpdate{Name: req.Name, Topic: req.Topic, Archived: req.Archived})
	if err != nil {
		return 0, nil, err
	}
	a.events.ChannelEvent(c.ID, persistence.ChannelUpdatedEvent{Type: persistence.EventChannelUpdated, Channel: c})
	// Also to everyone who lists the channel, subscribed to its topic or not.
	a.notifyChannelAudience(ctx, c.ID, persistence.ChannelNotification{Type: persistence.EventChannelUpdated, Channel: c, ByUserID: me.ID})
	v, err := a.channelView(ctx, me.ID, c.ID)
	return http.StatusOK, v, err
}

type addChannelMemberRequest struct {
	UserID ID `json:"userId"`
}

// addChannelMember adds userId to the channel: the caller themselves (joining a public
// channel) or someone else (see persistence.Access.CanAddMember).
func (a *API) addChannelMember(ctx context.Context, r *http.Request, me persistence.User) (int, any, error) {
	acc, err := a.channelAccess(ctx, r, me)
	if err != nil {
		return 0, nil, err
	}
	var req addChannelMemberRequest
	if err := decodeBody(r, &req); err != nil {
		return 0, nil, err
	}
	uid := int64(req.UserID)
	if uid == 0 {
		return 0, nil, &persistence.ValidationError{Field: "userId", Reason: "required"}
	}
	if uid == me.ID {
		err = acc.CanJoin()
	} else {
		err = acc.CanAddMember()
	}
	if err != nil {
		return 0, nil, err
	}
	added, err := a.store.AddChannelMember(ctx, acc.ChannelID, uid)
	if err != nil {
		return 0, nil, err
	}
	if added {
		ev := persistence.MemberEvent{Type: persistence.EventMemberJoined, ChannelID: acc.ChannelID, UserID: uid, ByUserID: me.ID}
		a.events.ChannelEvent(acc.ChannelID, ev)
		if uid != me.ID {
			// The added user learns of a channel they may not have seen before.
			if c, err := a.store.ChannelView(ctx, uid, acc.ChannelID); err == nil {
				a.events.UserEvent(uid, persistence.QueueNotifications,
					persistence.ChannelNotification{Type: persistence.EventChannelAdded, Channel: c.Channel, ByUserID: me.ID})
			} else {
				a.log.Warn("channel.added", "channel", acc.ChannelID, "err", err)
			}
		}
		return http.StatusCreated, nil, nil
	}
	return http.StatusNoContent, nil, nil
}

func (a *API) removeChannelMember(ctx context.Context, r *http.Request, me persistence.User) (int, any, error) {
	acc, err := a.channelAccess(ctx, r, me)
	if err != nil {
		return 0, nil, err
	}
	uid, err := pathID(r, "uid")
	if err != nil {
		return 0, nil, err
	}
	if err := acc.CanRemoveMember(uid); err != nil {
		return 0, nil, err
	}
	removed, err := a.store.RemoveChannelMember(ctx, acc.ChannelID, uid)
	if err != nil {
		return 0, nil, err
	}
	if !removed {
		return 0, nil, persistence.ErrNotFound
	}
	a.events.ChannelEvent(acc.ChannelID, persistence.MemberEvent{Type: persistence.EventMemberLeft, ChannelID: acc.ChannelID, UserID: uid, ByUserID: me.ID})
	a.events.AccessChanged(uid, acc.ChannelID)
	return http.StatusNoContent, nil, nil
}

func (a *API) listChannelMembers(ctx context.Context, r *http.Request, me persistence.User) (int, any, error) {
	acc, err := a.readableChannel(ctx, r, me)
	if err != nil {
		return 0, nil, err
	}
	after, limit, err := idCursor(r)
	if err != nil {
		return 0, nil, err
	}
	ms, err := a.store.ChannelMembers(ctx, acc.ChannelID, after, limit+1)
	a.withPresence(ctx, ms)
	return http.StatusOK, pageOf(ms, limit, func(m persistence.Member) string { return idString(m.UserID) }), err
}
