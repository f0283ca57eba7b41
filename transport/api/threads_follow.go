package api

import (
	"context"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/parley-chat/parley/persistence"
)

// Threads you follow (SPEC "Threads you follow", ADR 0040): follow and unfollow by hand,
// the list of followed threads with unread replies, and per-thread read markers through
// the same ReadMarkers as channel markers.

type followResponse struct {
	RootID    int64 `json:"rootId,string"`
	Following bool  `json:"following"`
}

type threadReadResponse struct {
	RootID        int64 `json:"rootId,string"`
	LastReadSeq   int64 `json:"lastReadSeq"`
	UnreadReplies int64 `json:"unreadReplies"`
}

// threadRoot loads the root message {mid} and checks that the caller can read it now; a
// reply is refused (threads are named by their root).
func (a *API) threadRoot(ctx context.Context, r *http.Request, me persistence.User) (persistence.Access, persistence.MessageRef, error) {
	acc, ref, err := a.messageAccess(ctx, r, me)
	if err != nil {
		return acc, ref, err
	}
	if err := acc.CanRead(); err != nil {
		return acc, ref, err
	}
	if ref.ParentID != nil {
		return acc, ref, &persistence.ValidationError{Field: "mid", Reason: "a reply is not a thread; name its root"}
	}
	return acc, ref, nil
}

// putFollow and deleteFollow follow and unfollow the thread of {mid} (idempotent).
func (a *API) putFollow(ctx context.Context, r *http.Request, me persistence.User) (int, any, error) {
	return a.setFollow(ctx, r, me, true)
}

func (a *API) deleteFollow(ctx context.Context, r *http.Request, me persistence.User) (int, any, error) {
	return a.setFollow(ctx, r, me, false)
}

func (a *API) setFollow(ctx context.Context, r *http.Request, me persistence.User, following bool) (int, any, error) {
	_, ref, err := a.threadRoot(ctx, r, me)
	if err != nil {
		return 0, nil, err
	}
	if err := a.store.SetFollow(ctx, me.ID, ref.ChannelID, ref.ID, following); err != nil {
		return 0, nil, err
	}
	return http.StatusOK, followResponse{RootID: ref.ID, Following: following}, nil
}

// maxFollowedPage bounds a page of GET /api/threads.
const maxFollowedPage = 100

// listFollowed lists the caller's followed threads across their workspaces, most recent
// reply first, in channels they can read now; ?unread=true keeps those with unread
// replies. One query for the page whatever its size, plus one Redis read of the caller's
// cached thread markers (the larger of the cache and PostgreSQL counts).
func (a *API) listFollowed(ctx context.Context, r *http.Request, me persistence.User) (int, any, error) {
	unread := false
	if s := r.URL.Query().Get("unread"); s != "" {
		var err error
		if unread, err = strconv.ParseBool(s); err != nil {
			return 0, nil, &persistence.ValidationError{Field: "unread", Reason: "true or false"}
		}
	}
	limit, err := queryLimit(r, defaultPage, maxFollowedPage)
	if err != nil {
		return 0, nil, err
	}
	cur, err := parseThreadCursor(r.URL.Query().Get("cursor"))
	if err != nil {
		return 0, nil, err
	}
	var newer map[int64]int64
	if a.cache != nil {
		if newer, err = a.cache.ThreadMarkers(ctx, me.ID); err != nil {
			a.log.Warn("read markers cache unavailable, answering from PostgreSQL", "user", me.ID, "err", err)
			newer = nil
		}
	}
	ts, err := a.store.FollowedThreads(ctx, me.ID, unread, cur, limit+1, newer)
	return http.StatusOK, pageOf(ts, limit, threadCursor), err
}

// A followed-thread cursor is "<lastReplyAt in Unix microseconds>.<root id>": the order's
// key at the stored precision, which the API's millisecond times would lose.
func threadCursor(t persistence.FollowedThread) string {
	return strconv.FormatInt(t.LastReplyAt.UnixMicro(), 10) + "." + strconv.FormatInt(t.Root.ID, 10)
}

func parseThreadCursor(s string) (persistence.ThreadCursor, error) {
	if s == "" {
		return persistence.ThreadCursor{}, nil
	}
	bad := &persistence.ValidationError{Field: "cursor", Reason: "not a cursor of this list"}
	at, id, ok := strings.Cut(s, ".")
	if !ok {
		return persistence.ThreadCursor{}, bad
	}
	us, err1 := strconv.ParseInt(at, 10, 64)
	root, err2 := strconv.ParseInt(id, 10, 64)
	if err1 != nil || err2 != nil || us <= 0 || root <= 0 {
		return persistence.ThreadCursor{}, bad
	}
	return persistence.ThreadCursor{LastReplyAt: time.UnixMicro(us).UTC(), RootID: root}, nil
}

// markThreadRead raises the caller's marker in the thread of {mid} (clamped to the
// channel's last seq, never lowered), through the same ReadMarkers as channel markers.
func (a *API) markThreadRead(ctx context.Context, r *http.Request, me persistence.User) (int, any, error) {
	var req markReadRequest
	if err := decodeBody(r, &req); err != nil {
		return 0, nil, err
	}
	if req.Seq == nil || *req.Seq < 0 {
		return 0, nil, &persistence.ValidationError{Field: "seq", Reason: "a non-negative integer is required"}
	}
	acc, ref, err := a.threadRoot(ctx, r, me)
	if err != nil {
		return 0, nil, err
	}
	marker, err := a.markers.MarkThreadRead(ctx, me.ID, ref.ChannelID, ref.ID, min(*req.Seq, acc.LastSeq))
	if err != nil {
		return 0, nil, err
	}
	if a.cache != nil {
		// As for channel markers: the cache does not see what the append wrote (a reply
		// advances its author's thread marker in PostgreSQL).
		stored, err := a.store.ThreadReadMarker(ctx, me.ID, ref.ID)
		if err != nil {
			return 0, nil, err
		}
		marker = max(marker, stored)
	}
	n, err := a.store.ThreadUnread(ctx, me.ID, ref.ID, marker)
	return http.StatusOK, threadReadResponse{RootID: ref.ID, LastReadSeq: marker, UnreadReplies: n}, err
}
