package api

import (
	"context"
	"net/http"

	"github.com/parley-chat/parley/persistence"
)

func (a *API) putReaction(ctx context.Context, r *http.Request, me persistence.User) (int, any, error) {
	return a.setReaction(ctx, r, me, true)
}

func (a *API) deleteReaction(ctx context.Context, r *http.Request, me persistence.User) (int, any, error) {
	return a.setReaction(ctx, r, me, false)
}

// setReaction adds or removes the caller's {emoji}; both are idempotent and answer the
// emoji's tally. Reacting is writing: an archived channel refuses it, a tombstone is gone.
func (a *API) setReaction(ctx context.Context, r *http.Request, me persistence.User, on bool) (int, any, error) {
	emoji := r.PathValue("emoji")
	check := persistence.ValidateEmoji
	if !on {
		check = persistence.ValidateEmojiRemoval // reactions stored before the rule can go
	}
	if err := check(emoji); err != nil {
		return 0, nil, err
	}
	acc, ref, err := a.messageAccess(ctx, r, me)
	if err != nil {
		return 0, nil, err
	}
	if err := acc.CanPost(); err != nil {
		return 0, nil, err
	}
	if ref.Deleted {
		return 0, nil, persistence.ErrGone
	}
	count, changed, err := a.store.SetReaction(ctx, ref.ID, me.ID, emoji, on)
	if err != nil {
		return 0, nil, err
	}
	if changed {
		a.events.ChannelEvent(ref.ChannelID, persistence.ReactionEvent{
			Type: persistence.EventReaction, ChannelID: ref.ChannelID, ID: ref.ID, Seq: ref.Seq,
			Emoji: emoji, UserID: me.ID, Added: on, Count: count,
		})
	}
	return http.StatusOK, persistence.Reaction{Emoji: emoji, Count: count, Me: on}, nil
}
