package api

import (
	"context"
	"net/http"
	"time"

	"github.com/parley-chat/parley/persistence"
)

// putPrefsRequest changes the caller's preferences for a channel; absent fields keep their
// value (the defaults when none was stored).
type putPrefsRequest struct {
	Notify *string `json:"notify,omitempty" openapi:"enum=all|mentions|none"`
	Muted  *bool   `json:"muted,omitempty"`
	Hidden *bool   `json:"hidden,omitempty"`
}

// visibleChannel is channelAccess for the caller's own settings of a channel: 404 unless
// they can see it.
func (a *API) visibleChannel(ctx context.Context, r *http.Request, me persistence.User) (persistence.Access, error) {
	acc, err := a.channelAccess(ctx, r, me)
	if err != nil {
		return acc, err
	}
	if !acc.CanSee() {
		return acc, persistence.ErrNotFound
	}
	return acc, nil
}

func (a *API) getPrefs(ctx context.Context, r *http.Request, me persistence.User) (int, any, error) {
	acc, err := a.visibleChannel(ctx, r, me)
	if err != nil {
		return 0, nil, err
	}
	p, err := a.store.ChannelPrefs(ctx, me.ID, acc.ChannelID)
	return http.StatusOK, p, err
}

func (a *API) putPrefs(ctx context.Context, r *http.Request, me persistence.User) (int, any, error) {
	acc, err := a.visibleChannel(ctx, r, me)
	if err != nil {
		return 0, nil, err
	}
	var req putPrefsRequest
	if err := decodeBody(r, &req); err != nil {
		return 0, nil, err
	}
	if req.Notify == nil && req.Muted == nil && req.Hidden == nil {
		return 0, nil, &persistence.ValidationError{Reason: "nothing to change: give notify, muted or hidden"}
	}
	p, err := a.store.ChannelPrefs(ctx, me.ID, acc.ChannelID)
	if err != nil {
		return 0, nil, err
	}
	if req.Notify != nil {
		p.Notify = *req.Notify
	}
	if req.Muted != nil {
		p.Muted = *req.Muted
	}
	if req.Hidden != nil {
		p.Hidden = *req.Hidden
	}
	p, err = a.store.SetChannelPrefs(ctx, me.ID, acc.ChannelID, p)
	return http.StatusOK, p, err
}

// attachPrefs sets the caller's preferences on views, in one query.
func (a *API) attachPrefs(ctx context.Context, userID int64, views []persistence.ChannelView) error {
	ids := make([]int64, len(views))
	for i, v := range views {
		ids[i] = v.ID
	}
	stored, err := a.store.ChannelPrefsIn(ctx, userID, ids)
	if err != nil {
		return err
	}
	for i := range views {
		p, ok := stored[views[i].ID]
		if !ok {
			p = persistence.DefaultChannelPrefs
		}
		views[i].Prefs = &p
	}
	return nil
}

// dndRequest sets do-not-disturb until a time (RFC 3339), or turns it off (null).
type dndRequest struct {
	Until *persistence.Time `json:"until" openapi:"required"`
}

type dndResponse struct {
	DNDUntil *persistence.Time `json:"dndUntil"`
}

func (a *API) putDND(ctx context.Context, r *http.Request, me persistence.User) (int, any, error) {
	var req dndRequest
	if err := decodeBody(r, &req); err != nil {
		return 0, nil, err
	}
	var until *time.Time
	if req.Until != nil {
		until = &req.Until.Time
	}
	v, err := a.store.SetDND(ctx, me.ID, until)
	return http.StatusOK, dndResponse{DNDUntil: v}, err
}

// meResponse is GET /api/users/me: the caller, with their do-not-disturb deadline (null
// when off or past).
type meResponse struct {
	persistence.User
	DNDUntil *persistence.Time `json:"dndUntil"`
}
