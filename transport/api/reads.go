package api

import (
	"context"
	"net/http"
	"strconv"

	"github.com/parley-chat/parley/persistence"
)

type markReadRequest struct {
	Seq *int64 `json:"seq"`
}

type readMarker struct {
	ChannelID   int64 `json:"channelId,string"`
	LastReadSeq int64 `json:"lastReadSeq"`
	UnreadCount int64 `json:"unreadCount"`
}

// markRead raises the caller's marker (clamped to the channel's last seq, never lowered)
// and tells the channel.
func (a *API) markRead(ctx context.Context, r *http.Request, me persistence.User) (int, any, error) {
	acc, err := a.channelAccess(ctx, r, me)
	if err != nil {
		return 0, nil, err
	}
	var req markReadRequest
	if err := decodeBody(r, &req); err != nil {
		return 0, nil, err
	}
	if req.Seq == nil || *req.Seq < 0 {
		return 0, nil, &persistence.ValidationError{Field: "seq", Reason: "a non-negative integer is required"}
	}
	if err := acc.CanRead(); err != nil {
		return 0, nil, err
	}
	seq := min(*req.Seq, acc.LastSeq)
	marker, err := a.markers.MarkRead(ctx, me.ID, acc.ChannelID, seq)
	if err != nil {
		return 0, nil, err
	}
	a.events.ChannelEvent(acc.ChannelID, persistence.ReadEvent{Type: persistence.EventRead, ChannelID: acc.ChannelID, UserID: me.ID, Seq: marker})
	return http.StatusOK, readMarker{ChannelID: acc.ChannelID, LastReadSeq: marker, UnreadCount: max(acc.LastSeq-marker, 0)}, nil
}

// readReceipts maps each member's user id (a decimal string) to their read marker.
func (a *API) readReceipts(ctx context.Context, r *http.Request, me persistence.User) (int, any, error) {
	acc, err := a.channelAccess(ctx, r, me)
	if err != nil {
		return 0, nil, err
	}
	if err := acc.CanListReceipts(); err != nil {
		return 0, nil, err
	}
	rs, err := a.store.ReadReceipts(ctx, acc.ChannelID)
	if err != nil {
		return 0, nil, err
	}
	out := make(map[string]int64, len(rs))
	for u, seq := range rs {
		out[strconv.FormatInt(u, 10)] = seq
	}
	return http.StatusOK, out, nil
}
