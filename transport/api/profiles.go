package api

import (
	"context"
	"net/http"

	"github.com/parley-chat/parley/persistence"
)

type patchProfileRequest struct {
	DisplayName *string `json:"displayName,omitempty"`
	StatusText  *string `json:"statusText,omitempty"`
	StatusEmoji *string `json:"statusEmoji,omitempty"`
	Timezone    *string `json:"timezone,omitempty"`
	// AvatarFileID is an image the caller uploaded; "" removes the avatar.
	AvatarFileID *string `json:"avatarFileId,omitempty"`
}

// patchMe changes the caller's profile: every given field is checked before any is
// written, so a bad one (400 naming it) changes nothing. "" clears a field.
func (a *API) patchMe(ctx context.Context, r *http.Request, me persistence.User) (int, any, error) {
	var req patchProfileRequest
	if err := decodeBody(r, &req); err != nil {
		return 0, nil, err
	}
	upd := persistence.ProfileUpdate{
		DisplayName: req.DisplayName, StatusText: req.StatusText, StatusEmoji: req.StatusEmoji, Timezone: req.Timezone}
	if req.AvatarFileID != nil {
		var id int64
		if *req.AvatarFileID != "" {
			var err error
			if id, err = parseID(*req.AvatarFileID); err != nil {
				return 0, nil, &persistence.ValidationError{Field: "avatarFileId", Reason: err.Error()}
			}
		}
		upd.AvatarFileID = &id
	}
	u, err := a.store.UpdateProfile(ctx, me.ID, upd)
	return http.StatusOK, u, err
}

// getUser answers a user who shares a workspace with the caller (or the caller); anyone
// else is a 404, as if they did not exist.
func (a *API) getUser(ctx context.Context, r *http.Request, me persistence.User) (int, any, error) {
	uid, err := pathID(r, "uid")
	if err != nil {
		return 0, nil, err
	}
	u, err := a.store.VisibleUser(ctx, me.ID, uid)
	return http.StatusOK, u, err
}

// withPresence sets each member's presence from the presence source: "offline" without
// one, for users it does not list, and (logged) when it fails, since a members list is
// worth more than its dots.
func (a *API) withPresence(ctx context.Context, ms []persistence.Member) {
	for i := range ms {
		ms[i].Presence = presenceOffline
	}
	if a.presenceSrc == nil || len(ms) == 0 {
		return
	}
	ids := make([]int64, len(ms))
	for i, m := range ms {
		ids[i] = m.UserID
	}
	st, err := a.presenceSrc.Statuses(ctx, ids)
	if err != nil {
		a.log.Warn("presence unavailable, members shown offline", "err", err)
		return
	}
	for i := range ms {
		switch s := st[ms[i].UserID]; s {
		case presenceOnline, presenceAway:
			ms[i].Presence = s
		}
	}
}

// Presence states of a member.
const (
	presenceOnline  = "online"
	presenceAway    = "away"
	presenceOffline = "offline"
)
