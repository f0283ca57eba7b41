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
