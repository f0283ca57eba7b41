package api

import (
	"context"
	"net/http"
	"strings"

	"github.com/parley-chat/parley/persistence"
)

type createInvitationRequest struct {
	Email    string `json:"email,omitempty"`
	Username string `json:"username,omitempty"`
	Role     string `json:"role,omitempty"` // default member
}

func (a *API) createInvitation(ctx context.Context, r *http.Request, me persistence.User) (int, any, error) {
	wa, err := a.workspaceAccess(ctx, r, me)
	if err != nil {
		return 0, nil, err
	}
	if err := wa.CanManageMembers(); err != nil {
		return 0, nil, err
	}
	var req createInvitationRequest
	if err := decodeBody(r, &req); err != nil {
		return 0, nil, err
	}
	role := persistence.RoleMember
	if req.Role != "" {
		if role, err = persistence.ParseRole(req.Role); err != nil {
			return 0, nil, err
		}
	}
	inv, err := a.store.CreateInvitation(ctx, persistence.NewInvitation{
		WorkspaceID: wa.WorkspaceID, InvitedBy: me.ID, Email: req.Email, Username: req.Username,
		Role: role, TTL: a.cfg.InvitationTTL,
	})
	if err != nil {
		return 0, nil, err
	}
	a.notifyInvitee(ctx, inv)
	return http.StatusCreated, inv, nil
}

func (a *API) listInvitations(ctx context.Context, r *http.Request, me persistence.User) (int, any, error) {
	wa, err := a.workspaceAccess(ctx, r, me)
	if err != nil {
		return 0, nil, err
	}
	if err := wa.CanManageMembers(); err != nil {
		return 0, nil, err
	}
	after, limit, err := idCursor(r)
	if err != nil {
		return 0, nil, err
	}
	invs, err := a.store.PendingInvitations(ctx, wa.WorkspaceID, after, limit+1)
	return http.StatusOK, pageOf(invs, limit, func(i persistence.Invitation) string { return idString(i.ID) }), err
}

type acceptInvitationRequest struct {
	Token string `json:"token"`
}

func (a *API) acceptInvitation(ctx context.Context, r *http.Request, me persistence.User) (int, any, error) {
	if err := persistence.RefuseBot(me); err != nil { // a bot belongs to the workspace that made it (ADR 0036)
		return 0, nil, err
	}
	var req acceptInvitationRequest
	if err := decodeBody(r, &req); err != nil {
		return 0, nil, err
	}
	tok := strings.TrimSpace(req.Token)
	if len(tok) < 16 || len(tok) > 128 {
		// Not a token we could have issued: unknown.
		if tok == "" {
			return 0, nil, &persistence.ValidationError{Field: "token", Reason: "required"}
		}
		return 0, nil, persistence.ErrNotFound
	}
	w, joined, newMember, err := a.store.AcceptInvitation(ctx, tok, me)
	if err != nil {
		return 0, nil, err
	}
	if joined != 0 {
		a.events.ChannelEvent(joined, persistence.MemberEvent{Type: persistence.EventMemberJoined, ChannelID: joined, UserID: me.ID, ByUserID: me.ID})
	}
	if !newMember {
		return http.StatusOK, w, nil
	}
	a.notifyWorkspace(ctx, w.ID, me.ID, persistence.WorkspaceMemberJoined{Type: persistence.EventMemberJoined,
		WorkspaceID: w.ID, UserID: me.ID, Username: me.Username, Role: w.Role})
	return http.StatusOK, w, nil
}
