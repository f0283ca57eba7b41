package api

import (
	"context"
	"errors"
	"net/http"
	"strings"
	"time"

	"github.com/parley-chat/parley/persistence"
	"github.com/parley-chat/parley/transport/auth"
)

type devLoginRequest struct {
	Username string `json:"username"`
}

type devLoginResponse struct {
	AccessToken string `json:"accessToken"`
	TokenType   string `json:"tokenType"`
	ExpiresIn   int64  `json:"expiresIn"` // seconds
}

// devLogin mints a token for any username; without DevMode the route does not exist (404).
func (a *API) devLogin(ctx context.Context, r *http.Request, _ persistence.User) (int, any, error) {
	if !a.cfg.DevMode {
		return 0, nil, persistence.ErrNotFound
	}
	var req devLoginRequest
	if err := decodeBody(r, &req); err != nil {
		return 0, nil, err
	}
	if bot, err := a.store.IsBotUsername(ctx, strings.ToLower(strings.TrimSpace(req.Username))); err != nil {
		return 0, nil, err
	} else if bot {
		return 0, nil, errBotDevLogin // bots authenticate with API tokens only (ADR 0036)
	}
	tok, exp, err := a.verify.Issue(req.Username, a.cfg.DevTokenTTL)
	if err != nil {
		if errors.Is(err, auth.ErrNoSecret) {
			return 0, nil, err
		}
		return 0, nil, &persistence.ValidationError{Field: "username", Reason: "1-64 characters of a-z, 0-9, '_', '.', '-'"}
	}
	return http.StatusOK, devLoginResponse{AccessToken: tok, TokenType: "Bearer", ExpiresIn: int64(time.Until(exp).Round(time.Second) / time.Second)}, nil
}

func (a *API) me(ctx context.Context, r *http.Request, me persistence.User) (int, any, error) {
	u, err := a.store.UserByID(ctx, me.ID)
	if err != nil {
		return 0, nil, err
	}
	dnd, err := a.store.DNDUntil(ctx, me.ID)
	return http.StatusOK, meResponse{User: u, DNDUntil: dnd}, err
}
