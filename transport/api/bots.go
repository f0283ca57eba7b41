package api

import (
	"context"
	"net/http"
	"strings"
	"unicode"
	"unicode/utf8"

	"github.com/parley-chat/parley/errcode"
	"github.com/parley-chat/parley/persistence"
)

// Bot accounts (SPEC "Integrations", ADR 0036): owners and admins of a workspace make bots,
// mint and revoke their API tokens (ADR 0035) and deactivate them. A bot is a workspace
// member with isBot that authenticates with those tokens only.

const maxBotDisplayName = 80

// errBotSignIn is a JWT naming a bot: 401, bots authenticate with API tokens only.
var errBotSignIn error = errcode.New(errcode.Unauthorized, "a bot signs in with its API tokens only").Within(errcode.ErrUnauthorized)

// errBotDevLogin refuses a dev login under a bot's username (403).
var errBotDevLogin error = errcode.New(errcode.Forbidden, "a bot cannot log in: it authenticates with an API token").Within(persistence.ErrForbidden)

type createBotRequest struct {
	Username    string `json:"username"`            // 1-64 characters of a-z, 0-9, '_', '.', '-'
	DisplayName string `json:"displayName"`         // at most 80 characters; default the username
	ExpiresIn   *int64 `json:"expiresIn,omitempty"` // of the first token, seconds; default 90 days
}

type createBotResponse struct {
	User persistence.User `json:"user"`
	// Token is the bot's first API token (plt_…), shown once; TokenInfo describes it.
	Token     string              `json:"token"`
	TokenInfo createTokenResponse `json:"tokenInfo"`
}

type botList struct {
	Items []persistence.Bot `json:"items"`
}

func (a *API) createBot(ctx context.Context, r *http.Request, me persistence.User) (int, any, error) {
	if err := persistence.RefuseBot(me); err != nil {
		return 0, nil, err
	}
	wa, err := a.workspaceAccess(ctx, r, me)
	if err != nil {
		return 0, nil, err
	}
	if err := wa.CanManageIntegrations(); err != nil {
		return 0, nil, err
	}
	var req createBotRequest
	if err := decodeBody(r, &req); err != nil {
		return 0, nil, err
	}
	if err := persistence.ValidateUsername(req.Username); err != nil {
		return 0, nil, err
	}
	display := strings.TrimSpace(req.DisplayName)
	if utf8.RuneCountInString(display) > maxBotDisplayName || !utf8.ValidString(display) || strings.ContainsFunc(display, unicode.IsControl) {
		return 0, nil, &persistence.ValidationError{Field: "displayName", Reason: "at most 80 characters, no control characters"}
	}
	if display == "" {
		display = req.Username
	}
	tokReq := createTokenRequest{Name: "default", ExpiresIn: req.ExpiresIn}
	if _, _, err := checkTokenRequest(tokReq); err != nil { // before anything is stored
		return 0, nil, err
	}
	b, err := a.store.CreateBot(ctx, wa.WorkspaceID, me.ID, req.Username, display)
	if err != nil {
		return 0, nil, err
	}
	t, err := a.mintToken(ctx, b.User.ID, tokReq)
	if err != nil {
		return 0, nil, err
	}
	return http.StatusCreated, createBotResponse{User: b.User, Token: t.Token, TokenInfo: t}, nil
}

func (a *API) listBots(ctx context.Context, r *http.Request, me persistence.User) (int, any, error) {
	wa, err := a.workspaceAccess(ctx, r, me)
	if err != nil {
		return 0, nil, err
	}
	if err := wa.CanSee(); err != nil {
		return 0, nil, err
	}
	bs, err := a.store.Bots(ctx, wa.WorkspaceID)
	return http.StatusOK, botList{Items: bs}, err
}

// botAccess loads the {uid} bot account and checks that the caller manages its workspace:
// someone outside that workspace learns nothing (404).
func (a *API) botAccess(ctx context.Context, r *http.Request, me persistence.User) (persistence.Bot, error) {
	if err := persistence.RefuseBot(me); err != nil {
		return persistence.Bot{}, err
	}
	uid, err := pathID(r, "uid")
	if err != nil {
		return persistence.Bot{}, err
	}
	b, err := a.store.Bot(ctx, uid)
	if err != nil {
		return persistence.Bot{}, err
	}
	wa, err := a.store.WorkspaceAccess(ctx, me.ID, b.WorkspaceID)
	if err != nil {
		return persistence.Bot{}, err
	}
	if err := wa.CanSee(); err != nil {
		return persistence.Bot{}, err
	}
	return b, wa.CanManageIntegrations()
}

// deactivateBot revokes every token of the bot (its sessions end on every node, ADR 0035)
// and refuses it new ones; its membership and messages stay.
func (a *API) deactivateBot(ctx context.Context, r *http.Request, me persistence.User) (int, any, error) {
	b, err := a.botAccess(ctx, r, me)
	if err != nil {
		return 0, nil, err
	}
	ids, err := a.store.DeactivateBot(ctx, b.User.ID)
	if err != nil {
		return 0, nil, err
	}
	for _, id := range ids {
		a.events.TokenRevoked(b.User.ID, id)
	}
	return http.StatusNoContent, nil, nil
}

func (a *API) createBotToken(ctx context.Context, r *http.Request, me persistence.User) (int, any, error) {
	b, err := a.botAccess(ctx, r, me)
	if err != nil {
		return 0, nil, err
	}
	var req createTokenRequest
	if err := decodeBody(r, &req); err != nil {
		return 0, nil, err
	}
	if b.DeactivatedAt != nil {
		return 0, nil, persistence.ErrBotDeactivated
	}
	t, err := a.mintToken(ctx, b.User.ID, req)
	if err != nil {
		return 0, nil, err
	}
	return http.StatusCreated, t, nil
}

func (a *API) listBotTokens(ctx context.Context, r *http.Request, me persistence.User) (int, any, error) {
	b, err := a.botAccess(ctx, r, me)
	if err != nil {
		return 0, nil, err
	}
	ts, err := a.store.APITokens(ctx, b.User.ID)
	return http.StatusOK, tokenList{Items: ts}, err
}

func (a *API) revokeBotToken(ctx context.Context, r *http.Request, me persistence.User) (int, any, error) {
	b, err := a.botAccess(ctx, r, me)
	if err != nil {
		return 0, nil, err
	}
	id, err := pathID(r, "id")
	if err != nil {
		return 0, nil, err
	}
	if err := a.store.RevokeAPIToken(ctx, b.User.ID, id); err != nil {
		return 0, nil, err
	}
	a.events.TokenRevoked(b.User.ID, id)
	return http.StatusNoContent, nil, nil
}
