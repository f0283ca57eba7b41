package api

import (
	"context"
	"net/http"
	"strconv"

	"github.com/parley-chat/parley/persistence"
)

// maxThreadPage bounds a page of the thread list.
const maxThreadPage = 100

// listReplies pages through a thread ascending by seq (next is the after_seq of the next
// page) or, with before_seq, descending below it (next is the before_seq of the next page).
func (a *API) listReplies(ctx context.Context, r *http.Request, me persistence.User) (int, any, error) {
	after, err := queryInt(r, "after_seq", 0)
	if err != nil {
		return 0, nil, err
	}
	before, err := queryInt(r, "before_seq", 0)
	if err != nil {
		return 0, nil, err
	}
	if before > 0 && after > 0 {
		return 0, nil, &persistence.ValidationError{Field: "before_seq", Reason: "give before_seq or after_seq, not both"}
	}
	limit, err := queryLimit(r, defaultPage, maxPage)
	if err != nil {
		return 0, nil, err
	}
	acc, ref, err := a.messageAccess(ctx, r, me)
	if err != nil {
		return 0, nil, err
	}
	if err := acc.CanRead(); err != nil {
		return 0, nil, err
	}
	if ref.ParentID != nil {
		return 0, nil, &persistence.ValidationError{Field: "mid", Reason: "a reply has no replies; ask its root"}
	}
	var ms []persistence.Message
	if before > 0 {
		ms, err = a.store.RepliesBefore(ctx, me.ID, ref.ID, before, limit+1)
	} else {
		ms, err = a.store.Replies(ctx, me.ID, ref.ID, after, limit+1)
	}
	return http.StatusOK, pageOf(ms, limit, seqCursor), err
}

// listThreads lists a channel's threads, most recent reply first, in two queries whatever
// the page size: the access check and one read of the threads table joined to the roots.
// `after` is the next cursor of the previous page.
func (a *API) listThreads(ctx context.Context, r *http.Request, me persistence.User) (int, any, error) {
	before, err := queryInt(r, "after", 0)
	if err != nil {
		return 0, nil, err
	}
	limit, err := queryLimit(r, defaultPage, maxThreadPage)
	if err != nil {
		return 0, nil, err
	}
	acc, err := a.readableChannel(ctx, r, me)
	if err != nil {
		return 0, nil, err
	}
	ts, err := a.store.Threads(ctx, me.ID, acc.ChannelID, before, limit+1)
	return http.StatusOK, pageOf(ts, limit, func(t persistence.Thread) string { return strconv.FormatInt(t.LastReplySeq, 10) }), err
}
