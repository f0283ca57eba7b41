package persistence

import (
	"context"
	"fmt"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/parley-chat/parley/errcode"
)

// Channel-wide mentions (SPEC "Notifications", ADR 0034): @channel and @all mention every
// member of the channel who can read it, @here those of them who are online. The names are
// reserved: a user called "here" is not mentioned by @here.
const (
	MentionViaUser    = "user"    // @username
	MentionViaChannel = "channel" // @channel or @all
	MentionViaHere    = "here"    // @here
)

// DefaultChannelMentionMax is StoreConfig.ChannelMentionMax's default.
const DefaultChannelMentionMax = 1000

// ErrChannelMentionGuest refuses a guest's @channel, @all or @here (nothing is posted).
var ErrChannelMentionGuest error = errcode.New(errcode.Forbidden, "guests may not use @channel, @all or @here").Within(ErrForbidden)

// Presence says which users are online, for @here (the presence service implements it).
// Values are "online", "away" or "offline"; a user missing from the map is offline.
type Presence interface {
	Statuses(ctx context.Context, userIDs []int64) (map[int64]string, error)
}

// channelWide is what a message's content asks of channel-wide mentions.
type channelWide uint8

const (
	wideChannel channelWide = 1 << iota // @channel or @all
	wideHere                            // @here
)

// splitChannelWide takes the reserved names out of names (as parsed by ParseMentions) and
// reports which ones there were.
func splitChannelWide(names []string) ([]string, channelWide) {
	var w channelWide
	out := names[:0:0]
	for _, n := range names {
		switch t := trimMentionTail(n); t {
		case "channel", "all":
			w |= wideChannel
		case "here":
			w |= wideHere
		default:
			out = append(out, n)
		}
	}
	return out, w
}

// channelReader is a member of the channel, as a channel-wide mention sees them.
type channelReader struct {
	id    int64
	role  Role
	prefs ChannelPrefs
	dnd   bool
}

// queueChannelWide adds to b (the first pipeline of the general path) the lookups a batch
// with channel-wide mentions needs: the posters' roles, and the channel's members with
// their preferences, at most max+1 of them (one more than a channel may have for its
// @channel to be allowed). One statement each, whatever the channel's size: no round trip
// per member.
func queueChannelWide(b *pgx.Batch, channelID int64, in appendInput, st *appendState, max int, now time.Time) {
	st.posterRoles = map[int64]Role{}
	b.Queue(`SELECT user_id, role FROM workspace_members
		WHERE workspace_id = (SELECT workspace_id FROM channels WHERE id = $1) AND user_id = ANY($2)`,
		channelID, in.widePosters).
		Query(func(rows pgx.Rows) error {
			for rows.Next() {
				var id int64
				var role Role
				if err := rows.Scan(&id, &role); err != nil {
					return err
				}
				st.posterRoles[id] = role
			}
			return rows.Err()
		})
	b.Queue(`SELECT cm.user_id, wm.role, COALESCE(p.notify, 'mentions'), COALESCE(p.muted, false),
		       COALESCE(u.dnd_until > $3, false)
		FROM channel_members cm
		JOIN workspace_members wm ON wm.user_id = cm.user_id
		 AND wm.workspace_id = (SELECT workspace_id FROM channels WHERE id = $1)
		JOIN users u ON u.id = cm.user_id
		LEFT JOIN channel_prefs p ON p.user_id = cm.user_id AND p.channel_id = $1
		WHERE cm.channel_id = $1
		LIMIT $2`, channelID, max+1, now).
		Query(func(rows pgx.Rows) error {
			for rows.Next() {
				var r channelReader
				if err := rows.Scan(&r.id, &r.role, &r.prefs.Notify, &r.prefs.Muted, &r.dnd); err != nil {
					return err
				}
				st.readers = append(st.readers, r)
			}
			return rows.Err()
		})
}

// checkChannelWide refuses a channel-wide mention by a guest, or in a channel with more
// than max members.
func checkChannelWide(nm NewMessage, st *appendState, max int) error {
	if st.posterRoles[nm.UserID] == RoleGuest {
		return ErrChannelMentionGuest
	}
	if len(st.readers) > max {
		return &ValidationError{Field: "content",
			Reason: fmt.Sprintf("@channel, @all and @here are not allowed in channels with more than %d members", max)}
	}
	return nil
}

// channelWideMentions appends to out the mentions m's channel-wide names make: every
// member who can read the channel and has not muted it or set notify "none" (for @here:
// who is also online), but for the author and those in seen.
func (s *Store) channelWideMentions(out []Mention, m Message, w channelWide, st *appendState, online map[int64]bool, seen map[int64]bool, now time.Time) []Mention {
	for _, r := range st.readers {
		if r.id == m.UserID || seen[r.id] || r.prefs.quiet() {
			continue
		}
		via := MentionViaChannel
		if w&wideChannel == 0 {
			if !online[r.id] {
				continue
			}
			via = MentionViaHere
		}
		a := Access{UserID: r.id, ChannelID: m.ChannelID, WorkspaceID: st.workspaceID, Role: r.role, Type: st.chanType, Member: true}
		if a.CanRead() != nil {
			continue
		}
		seen[r.id] = true
		out = append(out, Mention{ID: s.ids.Next(), MessageID: m.ID, ChannelID: m.ChannelID, UserID: r.id, Seq: m.Seq,
			CreatedAt: Time{now}, Via: via, Notify: !r.dnd})
	}
	return out
}

// presenceTimeout bounds the presence lookup of an @here message: a slow Redis delays that
// message (and its channel's later sends) by at most this, then @here mentions nobody.
const presenceTimeout = 500 * time.Millisecond

// onlineMembers asks Presence which of the channel's members are online, before the append
// takes the channel's row lock (no Redis round trip while it is held, ADR 0034). No
// Presence, or a failing one, is nobody online: @here then mentions nobody, and the message
// is still posted.
func (s *Store) onlineMembers(ctx context.Context, channelID int64) map[int64]bool {
	if s.cfg.Presence == nil {
		return nil
	}
	rows, err := s.pool.Query(ctx, `SELECT user_id FROM channel_members WHERE channel_id = $1 LIMIT $2`,
		channelID, s.cfg.ChannelMentionMax+1)
	if err != nil {
		return nil
	}
	ids, err := pgx.CollectRows(rows, pgx.RowTo[int64])
	if err != nil || len(ids) == 0 || len(ids) > s.cfg.ChannelMentionMax {
		return nil // too many: the message is refused anyway
	}
	pctx, cancel := context.WithTimeout(ctx, presenceTimeout)
	defer cancel()
	st, err := s.cfg.Presence.Statuses(pctx, ids)
	if err != nil {
		return nil
	}
	online := make(map[int64]bool, len(st))
	for id, v := range st {
		if strings.EqualFold(v, "online") {
			online[id] = true
		}
	}
	return online
}
