package api

import (
	"context"
	"net/http"

	"github.com/parley-chat/parley/persistence"
)

// search runs a full-text query over the messages of the workspace's channels the caller
// can read (the policy picks the channels, PostgreSQL the messages), newest first.
func (a *API) search(ctx context.Context, r *http.Request, me persistence.User) (int, any, error) {
	wa, err := a.workspaceAccess(ctx, r, me)
	if err != nil {
		return 0, nil, err
	}
	if err := wa.CanSee(); err != nil {
		return 0, nil, err
	}
	q, err := persistence.ValidateSearch(r.URL.Query().Get("q"))
	if err != nil {
		return 0, nil, err
	}
	before, limit, err := idCursor(r)
	if err != nil {
		return 0, nil, err
	}
	chans, err := a.store.ReadableChannels(ctx, wa)
	if err != nil {
		return 0, nil, err
	}
	ms, err := a.store.Search(ctx, me.ID, chans, q, before, limit+1)
	return http.StatusOK, pageOf(ms, limit, func(m persistence.Message) string { return idString(m.ID) }), err
}
