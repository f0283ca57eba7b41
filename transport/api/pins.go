package api

import (
	"context"
	"net/http"

	"github.com/parley-chat/parley/persistence"
)

// Pins, edit history and who reacted (SPEC "Rich text, pins, history, reactions", ADR 0042).
// Pinning is writing, like reacting: whoever may post in the channel (not in an archived
// one); reading the pins, a message's history or its reactions is reading the channel, and
// whoever cannot read it gets 404 for the message, as GET /api/messages/{mid} does.

// putPin pins {mid}; pinning a pinned message answers its pin and announces nothing.
func (a *API) putPin(ctx context.Context, r *http.Request, me persistence.User) (int, any, error) {
	acc, ref, err := a.readableMessage(ctx, r, me)
	if err != nil {
		return 0, nil, err
	}
	if err := acc.CanPost(); err != nil {
		return 0, nil, err
	}
	if ref.Deleted {
		return 0, nil, persistence.ErrGone
	}
	pin, changed, err := a.store.PinMessage(ctx, ref.ID, me.ID)
	if err != nil {
		return 0, nil, err
	}
	if changed {
		a.events.ChannelEvent(pin.ChannelID, persistence.PinEvent{
			Type: persistence.EventMessagePinned, ChannelID: pin.ChannelID, ID: pin.MessageID, Seq: pin.Seq,
			ByUserID: me.ID, PinnedAt: &pin.PinnedAt,
		})
	}
	return http.StatusOK, pin, nil
}

// deletePin unpins {mid}; unpinning a message without a pin is a no-op (204 all the same).
func (a *API) deletePin(ctx context.Context, r *http.Request, me persistence.User) (int, any, error) {
	acc, ref, err := a.readableMessage(ctx, r, me)
	if err != nil {
		return 0, nil, err
	}
	if err := acc.CanPost(); err != nil {
		return 0, nil, err
	}
	changed, err := a.store.UnpinMessage(ctx, ref.ID)
	if err != nil {
		return 0, nil, err
	}
	if changed {
		a.events.ChannelEvent(ref.ChannelID, persistence.PinEvent{
			Type: persistence.EventMessageUnpinned, ChannelID: ref.ChannelID, ID: ref.ID, Seq: ref.Seq, ByUserID: me.ID,
		})
	}
	return http.StatusNoContent, nil, nil
}

// listPins answers a channel's pinned messages, the latest pinned first; there are at most
// persistence.MaxPinsPerChannel, so one page holds them all (next is always null).
func (a *API) listPins(ctx context.Context, r *http.Request, me persistence.User) (int, any, error) {
	acc, err := a.readableChannel(ctx, r, me)
	if err != nil {
		return 0, nil, err
	}
	ps, err := a.store.ChannelPins(ctx, me.ID, acc.ChannelID)
	if err != nil {
		return 0, nil, err
	}
	return http.StatusOK, Page[persistence.PinnedMessage]{Items: ps}, nil
}

// messageHistory answers the earlier versions of {mid}, the newest first.
func (a *API) messageHistory(ctx context.Context, r *http.Request, me persistence.User) (int, any, error) {
	_, ref, err := a.readableMessage(ctx, r, me)
	if err != nil {
		return 0, nil, err
	}
	vs, err := a.store.MessageHistory(ctx, ref.ID)
	return http.StatusOK, vs, err
}

// messageReactions answers {mid}'s reactions with who reacted.
func (a *API) messageReactions(ctx context.Context, r *http.Request, me persistence.User) (int, any, error) {
	_, ref, err := a.readableMessage(ctx, r, me)
	if err != nil {
		return 0, nil, err
	}
	rs, err := a.store.MessageReactionUsers(ctx, ref.ID)
	return http.StatusOK, rs, err
}

// readableMessage is messageAccess for the caller who may read {mid}'s channel; to anyone
// else the message is 404, as if it did not exist, rather than the 403 that would confirm
// it does.
func (a *API) readableMessage(ctx context.Context, r *http.Request, me persistence.User) (persistence.Access, persistence.MessageRef, error) {
	acc, ref, err := a.messageAccess(ctx, r, me)
	if err == nil && acc.CanRead() != nil {
		err = persistence.ErrNotFound
	}
	return acc, ref, err
}
