package api

import (
	"context"
	"net/http"

	"github.com/parley-chat/parley/persistence"
)

// Page sizes of the lists (default, maximum).
const (
	defaultPage = 50
	maxPage     = 100
)

type createWorkspaceRequest struct {
	Name string `json:"name"`
}

func (a *API) createWorkspace(ctx context.Context, r *http.Request, me persistence.User) (int, any, error) {
	if err := persistence.RefuseBot(me); err != nil { // it would own it (ADR 0036)
		return 0, nil, err
	}
	var req createWorkspaceRequest
	if err := decodeBody(r, &req); err != nil {
		return 0, nil, err
	}
	w, err := a.store.CreateWorkspace(ctx, me.ID, req.Name)
	return http.StatusCreated, w, err
}

func (a *API) listWorkspaces(ctx context.Context, r *http.Request, me persistence.User) (int, any, error) {
	after, limit, err := idCursor(r)
	if err != nil {
		return 0, nil, err
	}
	ws, err := a.store.Workspaces(ctx, me.ID, after, limit+1)
	return http.StatusOK, pageOf(ws, limit, func(w persistence.Workspace) string { return idString(w.ID) }), err
}

// workspaceAccess loads the caller's access to the workspace of the {wid} path parameter.
func (a *API) workspaceAccess(ctx context.Context, r *http.Request, me persistence.User) (persistence.WorkspaceAccess, error) {
	wid, err := pathID(r, "wid")
	if err != nil {
		return persistence.WorkspaceAccess{}, err
	}
	return a.store.WorkspaceAccess(ctx, me.ID, wid)
}

func (a *API) getWorkspace(ctx context.Context, r *http.Request, me persistence.User) (int, any, error) {
	wa, err := a.workspaceAccess(ctx, r, me)
	if err != nil {
		return 0, nil, err
	}
	if err := wa.CanSee(); err != nil {
		return 0, nil, err
	}
	w, err := a.store.Workspace(ctx, me.ID, wa.WorkspaceID)
	return http.StatusOK, w, err
}

func (a *API) listMembers(ctx context.Context, r *http.Request, me persistence.User) (int, any, error) {
	wa, err := a.workspaceAccess(ctx, r, me)
	if err != nil {
		return 0, nil, err
	}
	if err := wa.CanSee(); err != nil {
		return 0, nil, err
	}
	after, limit, err := idCursor(r)
	if err != nil {
		return 0, nil, err
	}
	ms, err := a.store.Members(ctx, wa.WorkspaceID, after, limit+1)
	a.withPresence(ctx, ms)
	return http.StatusOK, pageOf(ms, limit, func(m persistence.Member) string { return idString(m.UserID) }), err
}

type patchMemberRequest struct {
	Role string `json:"role"`
}

// patchMember changes a member's role; role "owner" transfers ownership (owner only),
// making the previous owner an admin.
func (a *API) patchMember(ctx context.Context, r *http.Request, me persistence.User) (int, any, error) {
	wa, target, err := a.memberTarget(ctx, r, me)
	if err != nil {
		return 0, nil, err
	}
	var req patchMemberRequest
	if err := decodeBody(r, &req); err != nil {
		return 0, nil, err
	}
	to, err := persistence.ParseRole(req.Role)
	if err != nil {
		return 0, nil, err
	}
	if err := wa.CanChangeRole(target.UserID, target.Role, to); err != nil {
		return 0, nil, err
	}
	if err := target.CanHoldRole(to); err != nil { // a bot is never an owner or admin (ADR 0036)
		return 0, nil, err
	}
	var m persistence.Member
	if to == persistence.RoleOwner {
		m, err = a.store.TransferOwnership(ctx, wa.WorkspaceID, me.ID, target.UserID)
	} else {
		m, err = a.store.SetRole(ctx, wa.WorkspaceID, target.UserID, to)
	}
	if err != nil {
		return 0, nil, err
	}
	if to == persistence.RoleGuest {
		a.events.AccessChanged(target.UserID, 0) // a guest reads only the channels it belongs to
	}
	one := []persistence.Member{m}
	a.withPresence(ctx, one)
	return http.StatusOK, one[0], nil
}

// deleteMember removes a member (admins) or the caller (leaving), and takes them out of
// the workspace's channels.
func (a *API) deleteMember(ctx context.Context, r *http.Request, me persistence.User) (int, any, error) {
	wa, target, err := a.memberTarget(ctx, r, me)
	if err != nil {
		return 0, nil, err
	}
	if err := wa.CanRemoveMember(target.UserID, target.Role); err != nil {
		return 0, nil, err
	}
	left, err := a.store.RemoveMember(ctx, wa.WorkspaceID, target.UserID)
	if err != nil {
		return 0, nil, err
	}
	for _, cid := range left {
		a.events.ChannelEvent(cid, persistence.MemberEvent{Type: persistence.EventMemberLeft, ChannelID: cid, UserID: target.UserID, ByUserID: me.ID})
	}
	a.events.AccessChanged(target.UserID, 0) // the workspace's public channels too
	return http.StatusNoContent, nil, nil
}

// memberTarget loads the caller's access and the {uid} member; a caller outside the
// workspace gets ErrNotFound before anything about the target is revealed.
func (a *API) memberTarget(ctx context.Context, r *http.Request, me persistence.User) (persistence.WorkspaceAccess, persistence.WorkspaceAccess, error) {
	wa, err := a.workspaceAccess(ctx, r, me)
	if err != nil {
		return wa, wa, err
	}
	if err := wa.CanSee(); err != nil {
		return wa, wa, err
	}
	uid, err := pathID(r, "uid")
	if err != nil {
		return wa, wa, err
	}
	target, err := a.store.WorkspaceAccess(ctx, uid, wa.WorkspaceID)
	if err != nil {
		return wa, target, err
	}
	if target.Role == persistence.RoleNone {
		return wa, target, persistence.ErrNotFound
	}
	return wa, target, nil
}
