package api

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/base64"
	"errors"
	"fmt"
	"net/http"
	"strconv"
	"strings"
	"unicode"
	"unicode/utf8"

	"github.com/parley-chat/parley/errcode"
	"github.com/parley-chat/parley/persistence"
)

// Incoming webhooks (SPEC "Integrations", ADR 0036): a URL /hooks/{id}/{secret} that posts
// into one channel as the hook's own bot user, through the same Poster as every message.
// The secret is 256 bits of crypto/rand; only its SHA-256 is stored, compared in constant
// time. The hook is read from PostgreSQL on every post, so a revocation holds at once on
// every node.

const (
	hookSecretBytes = 32
	maxHookName     = 64
)

// HookPathPrefix starts every incoming webhook's URL.
const HookPathPrefix = "/hooks/"

type createIncomingWebhookRequest struct {
	Name string `json:"name"`
}

type createIncomingWebhookResponse struct {
	persistence.IncomingWebhook
	// URL is /hooks/{id}/{secret}, relative to the server: shown once, only the secret's
	// hash is stored.
	URL string `json:"url"`
}

type incomingWebhookList struct {
	Items []persistence.IncomingWebhook `json:"items"`
}

// incomingHookRequest is what a hook is POSTed: content, or Slack's text. Other fields are
// ignored (Slack payloads carry username, icon_emoji, blocks, …), so that a Slack client
// works unchanged as far as the text goes.
type incomingHookRequest struct {
	Content     string `json:"content,omitempty"`
	Text        string `json:"text,omitempty"` // Slack's name for content
	ClientMsgID string `json:"clientMsgId,omitempty"`
}

// errHookNotFound is every refusal of an unknown, revoked or mistyped hook URL alike.
var errHookNotFound error = errcode.New(errcode.NotFound, "no such webhook (unknown or revoked)").Within(persistence.ErrNotFound)

// errHookCannotPost: the hook's bot may no longer post in its channel (removed from it).
var errHookCannotPost error = errcode.New(errcode.Forbidden, "the webhook's bot may no longer post in its channel").Within(persistence.ErrForbidden)

func newHookSecret() (raw string, hash []byte, err error) {
	b := make([]byte, hookSecretBytes)
	if _, err := rand.Read(b); err != nil {
		return "", nil, fmt.Errorf("webhook secret: %w", err)
	}
	raw = base64.RawURLEncoding.EncodeToString(b)
	sum := sha256.Sum256([]byte(raw))
	return raw, sum[:], nil
}

// createIncomingWebhook makes the hook's bot user, adds it to the channel, and stores the
// hook. Three statements, not one transaction: a failure after the first leaves a bot user
// that belongs to no hook and can do nothing (it has no token).
func (a *API) createIncomingWebhook(ctx context.Context, r *http.Request, me persistence.User) (int, any, error) {
	if err := persistence.RefuseBot(me); err != nil {
		return 0, nil, err
	}
	cid, err := pathID(r, "cid")
	if err != nil {
		return 0, nil, err
	}
	var req createIncomingWebhookRequest
	if err := decodeBody(r, &req); err != nil {
		return 0, nil, err
	}
	name := strings.TrimSpace(req.Name)
	if name == "" || utf8.RuneCountInString(name) > maxHookName || strings.ContainsFunc(name, unicode.IsControl) {
		return 0, nil, &persistence.ValidationError{Field: "name", Reason: "1-64 characters, no control characters"}
	}
	acc, err := a.store.ChannelAccess(ctx, me.ID, cid)
	if err != nil {
		return 0, nil, err
	}
	if err := acc.CanCreateIncomingWebhook(); err != nil {
		return 0, nil, err
	}
	raw, hash, err := newHookSecret()
	if err != nil {
		return 0, nil, err
	}
	hookID := a.ids.Next()
	bot, err := a.store.CreateBotUser(ctx, acc.WorkspaceID, "hook-"+strconv.FormatInt(hookID, 10), name)
	if err != nil {
		return 0, nil, err
	}
	if _, err := a.store.AddChannelMember(ctx, cid, bot.ID); err != nil {
		return 0, nil, err
	}
	h, err := a.store.CreateIncomingWebhook(ctx, persistence.NewIncomingWebhook{
		ID: hookID, ChannelID: cid, BotUserID: bot.ID, Name: name, SecretHash: hash, CreatedBy: me.ID})
	if err != nil {
		return 0, nil, err
	}
	a.events.ChannelEvent(cid, persistence.MemberEvent{Type: persistence.EventMemberJoined, ChannelID: cid, UserID: bot.ID, ByUserID: me.ID})
	return http.StatusCreated, createIncomingWebhookResponse{IncomingWebhook: h, URL: HookPathPrefix + strconv.FormatInt(h.ID, 10) + "/" + raw}, nil
}

func (a *API) listIncomingWebhooks(ctx context.Context, r *http.Request, me persistence.User) (int, any, error) {
	if err := persistence.RefuseBot(me); err != nil {
		return 0, nil, err
	}
	cid, err := pathID(r, "cid")
	if err != nil {
		return 0, nil, err
	}
	acc, err := a.store.ChannelAccess(ctx, me.ID, cid)
	if err != nil {
		return 0, nil, err
	}
	if err := acc.CanListIncomingWebhooks(); err != nil {
		return 0, nil, err
	}
	hs, err := a.store.IncomingWebhooks(ctx, cid)
	return http.StatusOK, incomingWebhookList{Items: hs}, err
}

// revokeIncomingWebhook deletes the hook: the next post to its URL, on any node, is 404.
func (a *API) revokeIncomingWebhook(ctx context.Context, r *http.Request, me persistence.User) (int, any, error) {
	if err := persistence.RefuseBot(me); err != nil {
		return 0, nil, err
	}
	id, err := pathID(r, "id")
	if err != nil {
		return 0, nil, err
	}
	h, _, err := a.store.IncomingWebhookByID(ctx, id)
	if err != nil {
		return 0, nil, err
	}
	acc, err := a.store.ChannelAccess(ctx, me.ID, h.ChannelID)
	if err != nil {
		return 0, nil, err
	}
	if err := acc.CanRevokeIncomingWebhook(h.CreatedBy); err != nil {
		return 0, nil, err
	}
	if err := a.store.RevokeIncomingWebhook(ctx, id); err != nil {
		return 0, nil, err
	}
	return http.StatusNoContent, nil, nil
}

// postIncomingHook is POST /hooks/{id}/{secret}, without credentials: the URL is the
// credential. Unknown, revoked and wrong secrets are the same 404; the hook's own rate
// limit is spent only once the hook is known, so unknown ids hold no bucket.
func (a *API) postIncomingHook(ctx context.Context, r *http.Request, _ persistence.User) (int, any, error) {
	id, err := strconv.ParseInt(r.PathValue("id"), 10, 64)
	if err != nil || id <= 0 {
		return 0, nil, errHookNotFound
	}
	h, hash, err := a.store.IncomingWebhookByID(ctx, id)
	if errors.Is(err, persistence.ErrNotFound) {
		return 0, nil, errHookNotFound
	}
	if err != nil {
		return 0, nil, err
	}
	sum := sha256.Sum256([]byte(r.PathValue("secret")))
	if subtle.ConstantTimeCompare(sum[:], hash) != 1 {
		return 0, nil, errHookNotFound
	}
	if err := a.limits.hook(h.ID); err != nil {
		return 0, nil, err
	}
	var req incomingHookRequest
	if err := decodeJSON(r, &req, false); err != nil {
		return 0, nil, err
	}
	content := req.Content
	if content == "" {
		content = req.Text
	}
	if err := persistence.ValidateContent(content); err != nil {
		return 0, nil, err
	}
	if err := persistence.ValidateClientMsgID(req.ClientMsgID); err != nil {
		return 0, nil, err
	}
	acc, err := a.store.ChannelAccess(ctx, h.BotUserID, h.ChannelID)
	if err != nil {
		return 0, nil, err
	}
	if err := acc.CanPost(); err != nil {
		if errors.Is(err, persistence.ErrArchived) {
			return 0, nil, err
		}
		return 0, nil, errHookCannotPost
	}
	res, err := a.poster.Post(ctx, h.BotUserID, h.ChannelID, persistence.NewMessage{
		ID: a.ids.Next(), UserID: h.BotUserID, Content: content, ClientMsgID: req.ClientMsgID})
	if err != nil {
		return 0, nil, err
	}
	return http.StatusOK, res.Message, nil
}
