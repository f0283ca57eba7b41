package api

import (
	"context"
	"net/http"
	"strconv"

	"github.com/parley-chat/parley/persistence"
)

// MarkerCache is where read markers land first (cluster.Markers, in Redis); they reach
// PostgreSQL through Kafka a moment later. Readers of read state take the larger of the
// two: the cache is newest, PostgreSQL the floor when the cache lost a marker (a flush, a
// TTL). Both methods answer in the order of the ids given, 0 where nothing is cached.
type MarkerCache interface {
	// GetMany returns userID's markers in channelIDs.
	GetMany(ctx context.Context, userID int64, channelIDs []int64) ([]int64, error)
	// GetForUsers returns the markers of userIDs in channelID.
	GetForUsers(ctx context.Context, channelID int64, userIDs []int64) ([]int64, error)
	// ThreadMarkers returns userID's cached thread markers, root id → seq (ADR 0040).
	ThreadMarkers(ctx context.Context, userID int64) (map[int64]int64, error)
}

type markReadRequest struct {
	Seq *int64 `json:"seq" openapi:"required"` // SPEC: {seq}; a pointer tells {} from 0
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
	if a.cache != nil {
		// With a cache, MarkRead answers the cache's value, which is below PostgreSQL's
		// when the cache lost the marker.
		stored, err := a.store.ReadMarker(ctx, me.ID, acc.ChannelID)
		if err != nil {
			return 0, nil, err
		}
		marker = max(marker, stored)
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
	a.raiseReceipts(ctx, acc.ChannelID, rs)
	out := make(map[string]int64, len(rs))
	for u, seq := range rs {
		out[strconv.FormatInt(u, 10)] = seq
	}
	return http.StatusOK, out, nil
}

// raiseReceipts raises the members' stored markers (user → seq) to the cached ones.
func (a *API) raiseReceipts(ctx context.Context, channelID int64, rs map[int64]int64) {
	if a.cache == nil || len(rs) == 0 {
		return
	}
	users := make([]int64, 0, len(rs))
	for u := range rs {
		users = append(users, u)
	}
	seqs, err := a.cache.GetForUsers(ctx, channelID, users)
	if err != nil {
		a.log.Warn("read markers cache unavailable, answering from PostgreSQL", "channel", channelID, "err", err)
		return
	}
	for i, u := range users {
		rs[u] = max(rs[u], seqs[i])
	}
}

// cachedMarkers returns userID's cached markers in channelIDs (channel → seq, cached ones
// only). Without a cache, or when it fails, it returns nil: PostgreSQL's values stand.
func (a *API) cachedMarkers(ctx context.Context, userID int64, channelIDs []int64) map[int64]int64 {
	if a.cache == nil || len(channelIDs) == 0 {
		return nil
	}
	seqs, err := a.cache.GetMany(ctx, userID, channelIDs)
	if err != nil {
		a.log.Warn("read markers cache unavailable, answering from PostgreSQL", "user", userID, "err", err)
		return nil
	}
	out := make(map[int64]int64, len(channelIDs))
	for i, c := range channelIDs {
		if seqs[i] > 0 {
			out[c] = seqs[i]
		}
	}
	return out
}

// raiseViews raises the caller's marker in each channel view to the cached one.
func (a *API) raiseViews(ctx context.Context, userID int64, views []persistence.ChannelView) {
	if a.cache == nil {
		return
	}
	ids := make([]int64, len(views))
	for i, v := range views {
		ids[i] = v.ID
	}
	cached := a.cachedMarkers(ctx, userID, ids)
	for i := range views {
		views[i].RaiseLastRead(cached[views[i].ID])
	}
}
