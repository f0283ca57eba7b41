package api

import (
	"context"
	"net/http"
	"strconv"

	"github.com/parley-chat/parley/persistence"
)

type postMessageRequest struct {
	Content     string `json:"content"`
	ParentID    *ID    `json:"parentId,omitempty"`
	ClientMsgID string `json:"clientMsgId,omitempty"`
	// FileIDs attaches up to 10 of the caller's uploads in the channel's workspace.
	FileIDs persistence.IDList `json:"fileIds,omitempty"`
}

// postMessage appends through the Poster (the same path as a WebSocket send). 201 for a
// new message, 200 with the original for a retry with the same clientMsgId.
func (a *API) postMessage(ctx context.Context, r *http.Request, me persistence.User) (int, any, error) {
	cid, err := pathID(r, "cid")
	if err != nil {
		return 0, nil, err
	}
	var req postMessageRequest
	if err := decodeBody(r, &req); err != nil {
		return 0, nil, err
	}
	if err := persistence.ValidateContent(req.Content); err != nil {
		return 0, nil, err
	}
	if err := persistence.ValidateClientMsgID(req.ClientMsgID); err != nil {
		return 0, nil, err
	}
	if err := persistence.ValidateFileIDs(req.FileIDs); err != nil {
		return 0, nil, err
	}
	acc, err := a.store.ChannelAccess(ctx, me.ID, cid)
	if err != nil {
		return 0, nil, err
	}
	if err := acc.CanPost(); err != nil {
		return 0, nil, err
	}
	if _, _, ok := persistence.ParseSlash(req.Content); ok { // not posted (slash.go, ADR 0038)
		var parent int64
		if req.ParentID != nil {
			parent = int64(*req.ParentID)
		}
		return a.runCommand(ctx, me, cid, parent, req.Content)
	}
	req.Content = persistence.UnescapeSlash(req.Content)
	nm := persistence.NewMessage{ID: a.ids.Next(), UserID: me.ID, Content: req.Content, ClientMsgID: req.ClientMsgID, FileIDs: req.FileIDs}
	if req.ParentID != nil {
		nm.ParentID = int64(*req.ParentID)
	}
	res, err := a.poster.Post(ctx, me.ID, cid, nm)
	if err != nil {
		return 0, nil, err
	}
	if res.Duplicate {
		return http.StatusOK, res.Message, nil
	}
	return http.StatusCreated, res.Message, nil
}

// listMessages pages through a channel: newest first below before_seq, or ascending above
// after_seq. next is the seq to pass back as the same parameter.
func (a *API) listMessages(ctx context.Context, r *http.Request, me persistence.User) (int, any, error) {
	q := r.URL.Query()
	if q.Has("before_seq") && q.Has("after_seq") {
		return 0, nil, &persistence.ValidationError{Field: "after_seq", Reason: "give before_seq or after_seq, not both"}
	}
	if q.Has("around_seq") {
		return a.listMessagesAround(ctx, r, me)
	}
	before, err := queryInt(r, "before_seq", 0)
	if err != nil {
		return 0, nil, err
	}
	after, err := queryInt(r, "after_seq", 0)
	if err != nil {
		return 0, nil, err
	}
	limit, err := queryLimit(r, defaultPage, maxPage)
	if err != nil {
		return 0, nil, err
	}
	acc, err := a.readableChannel(ctx, r, me)
	if err != nil {
		return 0, nil, err
	}
	if q.Has("after_seq") {
		ms, err := a.store.ChannelMessages(ctx, me.ID, acc.ChannelID, 0, after, limit+1)
		return http.StatusOK, pageOf(ms, limit, seqCursor), err
	}
	if q.Has("before_seq") && before == 0 {
		return http.StatusOK, pageOf([]persistence.Message{}, limit, seqCursor), nil
	}
	ms, err := a.store.ChannelMessages(ctx, me.ID, acc.ChannelID, before, -1, limit+1)
	return http.StatusOK, pageOf(ms, limit, seqCursor), err
}

func seqCursor(m persistence.Message) string { return strconv.FormatInt(m.Seq, 10) }

// messageAccess loads the {mid} message and the caller's access to its channel.
func (a *API) messageAccess(ctx context.Context, r *http.Request, me persistence.User) (persistence.Access, persistence.MessageRef, error) {
	mid, err := pathID(r, "mid")
	if err != nil {
		return persistence.Access{}, persistence.MessageRef{}, err
	}
	return a.store.MessageAccess(ctx, me.ID, mid)
}

func (a *API) getMessage(ctx context.Context, r *http.Request, me persistence.User) (int, any, error) {
	acc, ref, err := a.messageAccess(ctx, r, me)
	if err != nil {
		return 0, nil, err
	}
	if err := acc.CanRead(); err != nil {
		return 0, nil, err
	}
	m, err := a.store.Message(ctx, me.ID, ref.ID)
	return http.StatusOK, m, err
}

type patchMessageRequest struct {
	Content string `json:"content"`
}

func (a *API) patchMessage(ctx context.Context, r *http.Request, me persistence.User) (int, any, error) {
	acc, ref, err := a.messageAccess(ctx, r, me)
	if err != nil {
		return 0, nil, err
	}
	var req patchMessageRequest
	if err := decodeBody(r, &req); err != nil {
		return 0, nil, err
	}
	if err := persistence.ValidateContent(req.Content); err != nil {
		return 0, nil, err
	}
	if err := acc.CanEditMessage(ref.UserID); err != nil {
		return 0, nil, err
	}
	if ref.Deleted {
		return 0, nil, persistence.ErrGone
	}
	m, err := a.store.EditMessage(ctx, me.ID, ref.ID, req.Content)
	if err != nil {
		return 0, nil, err
	}
	a.events.ChannelEvent(m.ChannelID, persistence.MessageEditedEvent{
		Type: persistence.EventMessageEdited, ChannelID: m.ChannelID, ID: m.ID, Seq: m.Seq,
		ParentID: m.ParentID, Content: m.Content, EditedAt: *m.EditedAt,
	})
	return http.StatusOK, m, nil
}

// deleteMessage leaves a tombstone; deleting a tombstone again is a no-op (204).
func (a *API) deleteMessage(ctx context.Context, r *http.Request, me persistence.User) (int, any, error) {
	acc, ref, err := a.messageAccess(ctx, r, me)
	if err != nil {
		return 0, nil, err
	}
	if err := acc.CanDeleteMessage(ref.UserID); err != nil {
		return 0, nil, err
	}
	deleted, err := a.store.DeleteMessage(ctx, ref.ID)
	if err != nil {
		return 0, nil, err
	}
	if deleted {
		a.events.ChannelEvent(ref.ChannelID, persistence.MessageDeletedEvent{
			Type: persistence.EventMessageDeleted, ChannelID: ref.ChannelID, ID: ref.ID, Seq: ref.Seq,
			ParentID: ref.ParentID, DeletedBy: me.ID,
		})
	}
	return http.StatusNoContent, nil, nil
}
