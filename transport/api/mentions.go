package api

import (
	"context"
	"net/http"
	"strconv"

	"github.com/parley-chat/parley/persistence"
)

// listMentions lists the caller's mentions newest first (?unread=true: unread only).
func (a *API) listMentions(ctx context.Context, r *http.Request, me persistence.User) (int, any, error) {
	unread := false
	if s := r.URL.Query().Get("unread"); s != "" {
		var err error
		if unread, err = strconv.ParseBool(s); err != nil {
			return 0, nil, &persistence.ValidationError{Field: "unread", Reason: "true or false"}
		}
	}
	before, limit, err := idCursor(r)
	if err != nil {
		return 0, nil, err
	}
	ms, err := a.store.Mentions(ctx, me.ID, unread, before, limit+1)
	return http.StatusOK, pageOf(ms, limit, func(m persistence.MentionItem) string { return idString(m.ID) }), err
}

// markMentionRead marks one of the caller's own mentions read (others': 404).
func (a *API) markMentionRead(ctx context.Context, r *http.Request, me persistence.User) (int, any, error) {
	id, err := pathID(r, "id")
	if err != nil {
		return 0, nil, err
	}
	return http.StatusNoContent, nil, a.store.MarkMentionRead(ctx, me.ID, id)
}
