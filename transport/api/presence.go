package api

import (
	"context"
	"fmt"
	"net/http"
	"strconv"
	"strings"

	"github.com/parley-chat/parley/errcode"
	"github.com/parley-chat/parley/persistence"
)

// MaxPresenceIDs is the most user ids one presence snapshot may name, as many as a
// /app/presence.watch.
const MaxPresenceIDs = 500

// presence is GET /api/workspaces/{wid}/presence?userIds=1,2,…: {userId: status} for the
// named users who are members of the workspace; others are left out, so a member list that
// went stale does not fail the whole request (ADR 0033).
func (a *API) presence(ctx context.Context, r *http.Request, me persistence.User) (int, any, error) {
	wa, err := a.workspaceAccess(ctx, r, me)
	if err != nil {
		return 0, nil, err
	}
	if err := wa.CanSee(); err != nil {
		return 0, nil, err
	}
	ids, err := presenceIDs(r.URL.Query().Get("userIds"))
	if err != nil {
		return 0, nil, err
	}
	if a.presenceSrc == nil {
		return 0, nil, fmt.Errorf("%w: presence is not available on this node", errcode.ErrUnavailable)
	}
	members, err := a.store.WorkspaceMemberIDs(ctx, wa.WorkspaceID, ids)
	if err != nil {
		return 0, nil, err
	}
	out := make(map[string]string, len(members))
	if len(members) == 0 {
		return http.StatusOK, out, nil
	}
	sts, err := a.presenceSrc.Statuses(ctx, members)
	if err != nil {
		return 0, nil, fmt.Errorf("%w: %w", errcode.ErrUnavailable, err)
	}
	for _, id := range members {
		out[strconv.FormatInt(id, 10)] = sts[id]
	}
	return http.StatusOK, out, nil
}

// presenceIDs parses userIds: 1..MaxPresenceIDs comma-separated decimal ids.
func presenceIDs(s string) ([]int64, error) {
	bad := func(reason string) error {
		return &persistence.ValidationError{Field: "userIds", Reason: reason}
	}
	if s == "" {
		return nil, bad("required: comma-separated user ids")
	}
	parts := strings.Split(s, ",")
	if len(parts) > MaxPresenceIDs {
		return nil, bad(fmt.Sprintf("at most %d ids", MaxPresenceIDs))
	}
	ids := make([]int64, 0, len(parts))
	seen := make(map[int64]struct{}, len(parts))
	for _, p := range parts {
		id, err := parseID(strings.TrimSpace(p))
		if err != nil {
			return nil, bad(err.Error())
		}
		if _, dup := seen[id]; !dup {
			seen[id] = struct{}{}
			ids = append(ids, id)
		}
	}
	return ids, nil
}
