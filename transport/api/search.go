package api

import (
	"context"
	"net/http"

	"github.com/parley-chat/parley/persistence"
)

// search runs a query (SPEC.md "Search", ADR 0039) over the messages the caller can read
// at this moment, in the workspace's channels and the caller's DMs: the parser turns q into
// full text and filters, the store picks the readable channels and ranks.
func (a *API) search(ctx context.Context, r *http.Request, me persistence.User) (int, any, error) {
	wa, err := a.workspaceAccess(ctx, r, me)
	if err != nil {
		return 0, nil, err
	}
	if err := wa.CanSee(); err != nil {
		return 0, nil, err
	}
	qs := r.URL.Query()
	q, err := persistence.ParseSearch(qs.Get("q"))
	if err != nil {
		return 0, nil, err
	}
	o := persistence.SearchOptions{Sort: qs.Get("sort")}
	switch o.Sort {
	case "":
		o.Sort = persistence.SortRelevance
	case persistence.SortRelevance, persistence.SortNewest:
	default:
		return 0, nil, &persistence.ValidationError{Field: "sort", Reason: "must be relevance or newest"}
	}
	// `cursor` (SPEC.md) and `after` (every other list) are the same parameter.
	cur := qs.Get("cursor")
	if cur == "" {
		cur = qs.Get("after")
	}
	if cur != "" {
		if o.After, err = persistence.ParseSearchCursor(cur, o.Sort); err != nil {
			return 0, nil, err
		}
	}
	if o.Limit, err = queryLimit(r, defaultPage, maxPage); err != nil {
		return 0, nil, err
	}
	limit := o.Limit
	o.Limit++
	hits, err := a.store.SearchMessages(ctx, wa, q, o)
	if err != nil {
		return 0, nil, err
	}
	return http.StatusOK, pageOf(hits, limit, func(h persistence.SearchHit) string { return h.Cursor().String(o.Sort) }), nil
}

// listMessagesAround answers GET …/messages?around_seq=N: the page centred on seq N,
// ascending, where a search hit opens its channel. It takes no other cursor; next is null
// (the client pages on with before_seq / after_seq from either end).
func (a *API) listMessagesAround(ctx context.Context, r *http.Request, me persistence.User) (int, any, error) {
	q := r.URL.Query()
	if q.Has("before_seq") || q.Has("after_seq") {
		return 0, nil, &persistence.ValidationError{Field: "around_seq", Reason: "give around_seq alone, without before_seq or after_seq"}
	}
	around, err := queryInt(r, "around_seq", 0)
	if err != nil {
		return 0, nil, err
	}
	if around < 1 {
		return 0, nil, &persistence.ValidationError{Field: "around_seq", Reason: "must be a seq, at least 1"}
	}
	limit, err := queryLimit(r, defaultPage, maxPage)
	if err != nil {
		return 0, nil, err
	}
	acc, err := a.readableChannel(ctx, r, me)
	if err != nil {
		return 0, nil, err
	}
	ms, err := a.store.MessagesAround(ctx, me.ID, acc.ChannelID, around, limit)
	return http.StatusOK, Page[persistence.Message]{Items: ms}, err
}
