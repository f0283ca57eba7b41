package api

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"slices"
	"strings"
	"unicode"
	"unicode/utf8"

	"github.com/parley-chat/parley/integrations"
	"github.com/parley-chat/parley/persistence"
)

// Outgoing webhooks (SPEC "Integrations", ADR 0037): the REST side. Delivery is
// integrations/outgoing's; these handlers only store hooks and read their log.

// Bounds of an outgoing webhook's fields.
const (
	maxOutgoingURL          = 2048
	maxTriggerWords         = 10
	maxTriggerWordLen       = 64
	defaultDeliveriesListed = 50
	maxDeliveriesListed     = 100
)

type createOutgoingRequest struct {
	URL          string   `json:"url"`
	Events       []string `json:"events"`                 // ["message"]
	TriggerWords []string `json:"triggerWords,omitempty"` // at most 10, 1-64 characters, no spaces
}

type createOutgoingResponse struct {
	persistence.OutgoingWebhook
	Secret string `json:"secret"` // shown once: signs every delivery (HMAC-SHA256)
}

type outgoingList struct {
	Items []persistence.OutgoingWebhook `json:"items"`
}

type deliveryList struct {
	Items []persistence.OutgoingDelivery `json:"items"`
}

func (a *API) createOutgoingWebhook(ctx context.Context, r *http.Request, me persistence.User) (int, any, error) {
	cid, err := pathID(r, "cid")
	if err != nil {
		return 0, nil, err
	}
	var req createOutgoingRequest
	if err := decodeBody(r, &req); err != nil {
		return 0, nil, err
	}
	if err := a.validateOutgoing(&req); err != nil {
		return 0, nil, err
	}
	if err := persistence.RefuseBot(me); err != nil {
		return 0, nil, err
	}
	acc, err := a.outgoingAccess(ctx, me, cid, persistence.Access.CanCreateIncomingWebhook)
	if err != nil {
		return 0, nil, err
	}
	secret, err := integrations.NewSecret()
	if err != nil {
		return 0, nil, err
	}
	id := a.ids.Next()
	// The hook's replies are posted by a bot of its own, a member of the channel.
	bot, err := a.store.CreateBotUser(ctx, acc.WorkspaceID, fmt.Sprintf("outgoing-%d", id), "Outgoing webhook")
	if err != nil {
		return 0, nil, err
	}
	if _, err := a.store.AddChannelMember(ctx, cid, bot.ID); err != nil {
		return 0, nil, err
	}
	h, err := a.store.CreateOutgoingWebhook(ctx, persistence.NewOutgoingWebhook{ID: id, ChannelID: cid, CreatorID: me.ID,
		BotUserID: bot.ID, URL: req.URL, Secret: secret, Events: req.Events, TriggerWords: req.TriggerWords})
	if err != nil {
		return 0, nil, err
	}
	a.log.Info("outgoing webhook created", "hook", h.ID, "channel", cid, "by", me.ID)
	return http.StatusCreated, createOutgoingResponse{OutgoingWebhook: h, Secret: secret}, nil
}

func (a *API) validateOutgoing(req *createOutgoingRequest) error {
	req.URL = strings.TrimSpace(req.URL)
	if req.URL == "" || len(req.URL) > maxOutgoingURL {
		return &persistence.ValidationError{Field: "url", Reason: fmt.Sprintf("an http or https URL of at most %d bytes", maxOutgoingURL)}
	}
	if err := a.urls.CheckURL(req.URL); err != nil {
		reason := "an http or https URL with a host and no user info"
		if errors.Is(err, integrations.ErrPrivateAddress) {
			reason = "refused: loopback, link-local and private addresses need the operator's --webhook-allow-private"
		}
		return &persistence.ValidationError{Field: "url", Reason: reason}
	}
	if len(req.Events) == 0 {
		return &persistence.ValidationError{Field: "events", Reason: `give the events to deliver: ["message"]`}
	}
	for _, e := range req.Events {
		if e != "message" {
			return &persistence.ValidationError{Field: "events", Reason: fmt.Sprintf("unknown event %q: only \"message\"", e)}
		}
	}
	req.Events = slices.Compact(req.Events)
	if len(req.TriggerWords) > maxTriggerWords {
		return &persistence.ValidationError{Field: "triggerWords", Reason: fmt.Sprintf("at most %d", maxTriggerWords)}
	}
	for _, w := range req.TriggerWords {
		if w == "" || utf8.RuneCountInString(w) > maxTriggerWordLen || !utf8.ValidString(w) ||
			strings.ContainsFunc(w, func(r rune) bool { return unicode.IsSpace(r) || unicode.IsControl(r) }) {
			return &persistence.ValidationError{Field: "triggerWords", Reason: fmt.Sprintf("each 1-%d characters, no spaces", maxTriggerWordLen)}
		}
	}
	return nil
}

// Who may do what with outgoing webhooks is the incoming webhooks' policy (ADR 0036,
// persistence/policy_integrations.go): a non-guest member who may post creates one (never a
// bot, never in a DM); those members and whoever manages the channel list them and read
// their log; the creator or a manager of the channel revokes.
func (a *API) outgoingAccess(ctx context.Context, me persistence.User, cid int64, check func(persistence.Access) error) (persistence.Access, error) {
	acc, err := a.store.ChannelAccess(ctx, me.ID, cid)
	if err != nil {
		return acc, err
	}
	return acc, check(acc)
}

func (a *API) listOutgoingWebhooks(ctx context.Context, r *http.Request, me persistence.User) (int, any, error) {
	cid, err := pathID(r, "cid")
	if err != nil {
		return 0, nil, err
	}
	if _, err := a.outgoingAccess(ctx, me, cid, persistence.Access.CanListIncomingWebhooks); err != nil {
		return 0, nil, err
	}
	hs, err := a.store.OutgoingWebhooks(ctx, cid)
	if err != nil {
		return 0, nil, err
	}
	return http.StatusOK, outgoingList{Items: hs}, nil
}

// outgoingHook loads a live hook the caller may list; another channel's, unknown, revoked,
// or one the caller may not list: 404.
func (a *API) outgoingHook(ctx context.Context, r *http.Request, me persistence.User) (persistence.OutgoingWebhook, persistence.Access, error) {
	id, err := pathID(r, "id")
	if err != nil {
		return persistence.OutgoingWebhook{}, persistence.Access{}, err
	}
	h, err := a.store.OutgoingWebhookByID(ctx, id)
	if err != nil {
		return h, persistence.Access{}, err
	}
	if cid := r.PathValue("cid"); cid != "" && cid != fmt.Sprint(h.ChannelID) || h.Revoked {
		return h, persistence.Access{}, persistence.ErrNotFound
	}
	acc, err := a.outgoingAccess(ctx, me, h.ChannelID, persistence.Access.CanListIncomingWebhooks)
	if err != nil {
		if errors.Is(err, persistence.ErrForbidden) {
			err = persistence.ErrNotFound // do not confirm a hook's existence to outsiders
		}
		return h, acc, err
	}
	return h, acc, nil
}

// revokeOutgoingWebhook: the hook's creator, or whoever manages its channel.
func (a *API) revokeOutgoingWebhook(ctx context.Context, r *http.Request, me persistence.User) (int, any, error) {
	h, acc, err := a.outgoingHook(ctx, r, me)
	if err != nil {
		return 0, nil, err
	}
	if err := acc.CanRevokeIncomingWebhook(h.CreatorID); err != nil {
		return 0, nil, err
	}
	if err := a.store.RevokeOutgoingWebhook(ctx, h.ID); err != nil {
		return 0, nil, err
	}
	a.log.Info("outgoing webhook revoked", "hook", h.ID, "by", me.ID)
	return http.StatusNoContent, nil, nil
}

func (a *API) listOutgoingDeliveries(ctx context.Context, r *http.Request, me persistence.User) (int, any, error) {
	limit, err := queryLimit(r, defaultDeliveriesListed, maxDeliveriesListed)
	if err != nil {
		return 0, nil, err
	}
	h, _, err := a.outgoingHook(ctx, r, me)
	if err != nil {
		return 0, nil, err
	}
	ds, err := a.store.OutgoingDeliveries(ctx, h.ID, limit)
	if err != nil {
		return 0, nil, err
	}
	return http.StatusOK, deliveryList{Items: ds}, nil
}
