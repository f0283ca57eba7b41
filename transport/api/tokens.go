package api

import (
	"context"
	"net/http"
	"strings"
	"time"
	"unicode"
	"unicode/utf8"

	"github.com/parley-chat/parley/persistence"
	"github.com/parley-chat/parley/transport/auth"
)

// API token lifetimes (ADR 0035): expiresIn is in seconds, like OAuth's expires_in and the
// dev login's; a token always expires, 90 days unless asked otherwise (GitHub's and
// GitLab's practice: bounded, with a default the owner renews), at most 366 days.
const (
	DefaultAPITokenTTL = 90 * 24 * time.Hour
	MaxAPITokenTTL     = 366 * 24 * time.Hour
	MinAPITokenTTL     = time.Minute
	maxAPITokenName    = 64
)

type createTokenRequest struct {
	Name      string `json:"name"`
	ExpiresIn *int64 `json:"expiresIn,omitempty"` // seconds, 60 .. 31,622,400; default 90 days
}

type createTokenResponse struct {
	ID        int64            `json:"id,string"`
	Name      string           `json:"name"`
	Token     string           `json:"token"` // shown once: only its hash is stored
	Prefix    string           `json:"prefix"`
	CreatedAt persistence.Time `json:"createdAt"`
	ExpiresAt persistence.Time `json:"expiresAt"`
}

type tokenList struct {
	Items []persistence.APIToken `json:"items"`
}

func (a *API) createToken(ctx context.Context, r *http.Request, me persistence.User) (int, any, error) {
	// A bot's tokens are minted by the managers of its workspace (POST /api/bots/{uid}/tokens):
	// a leaked bot token must not be able to outlive the bot's revocation by minting more.
	if err := persistence.RefuseBot(me); err != nil {
		return 0, nil, err
	}
	var req createTokenRequest
	if err := decodeBody(r, &req); err != nil {
		return 0, nil, err
	}
	t, err := a.mintToken(ctx, me.ID, req)
	if err != nil {
		return 0, nil, err
	}
	return http.StatusCreated, t, nil
}

// mintToken validates req and stores a new API token of userID (ADR 0035).
func (a *API) mintToken(ctx context.Context, userID int64, req createTokenRequest) (createTokenResponse, error) {
	name, ttl, err := checkTokenRequest(req)
	if err != nil {
		return createTokenResponse{}, err
	}
	raw, hash, shown, err := auth.NewAPIToken()
	if err != nil {
		return createTokenResponse{}, err
	}
	t, err := a.store.CreateAPIToken(ctx, persistence.NewAPIToken{
		UserID: userID, Name: name, Hash: hash, Prefix: shown, ExpiresAt: time.Now().Add(ttl).Truncate(time.Millisecond)})
	if err != nil {
		return createTokenResponse{}, err
	}
	return createTokenResponse{ID: t.ID, Name: t.Name, Token: raw, Prefix: t.Prefix,
		CreatedAt: t.CreatedAt, ExpiresAt: t.ExpiresAt}, nil
}

func (a *API) listTokens(ctx context.Context, _ *http.Request, me persistence.User) (int, any, error) {
	ts, err := a.store.APITokens(ctx, me.ID)
	if err != nil {
		return 0, nil, err
	}
	return http.StatusOK, tokenList{Items: ts}, nil
}

// checkTokenRequest returns the token's name and lifetime, or why req is refused.
func checkTokenRequest(req createTokenRequest) (string, time.Duration, error) {
	name := strings.TrimSpace(req.Name)
	if name == "" || utf8.RuneCountInString(name) > maxAPITokenName || !utf8.ValidString(name) || strings.ContainsFunc(name, unicode.IsControl) {
		return "", 0, &persistence.ValidationError{Field: "name", Reason: "1-64 characters, no control characters"}
	}
	ttl := DefaultAPITokenTTL
	if req.ExpiresIn != nil {
		s := *req.ExpiresIn
		if s < int64(MinAPITokenTTL/time.Second) || s > int64(MaxAPITokenTTL/time.Second) {
			return "", 0, &persistence.ValidationError{Field: "expiresIn", Reason: "seconds, from 60 to 31622400 (366 days)"}
		}
		ttl = time.Duration(s) * time.Second
	}
	return name, ttl, nil
}

// revokeToken deletes the caller's token; REST refuses it at once on every node (each
// request looks the token up), and Events ends the sessions it opened (ADR 0035).
func (a *API) revokeToken(ctx context.Context, r *http.Request, me persistence.User) (int, any, error) {
	id, err := pathID(r, "id")
	if err != nil {
		return 0, nil, err
	}
	if err := a.store.RevokeAPIToken(ctx, me.ID, id); err != nil {
		return 0, nil, err
	}
	a.events.TokenRevoked(me.ID, id)
	return http.StatusNoContent, nil, nil
}
