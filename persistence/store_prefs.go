package persistence

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5"
)

// Notify levels of ChannelPrefs.Notify (SPEC "Notifications").
const (
	NotifyAll      = "all"      // every message may notify (the client decides how)
	NotifyMentions = "mentions" // the default: mentions of the user, and @channel/@here
	NotifyNone     = "none"     // nothing notifies; @channel/@here do not mention the user
)

// ChannelPrefs are one user's notification preferences for one channel. A channel without
// stored preferences has DefaultChannelPrefs.
type ChannelPrefs struct {
	Notify string `json:"notify" openapi:"enum=all|mentions|none"`
	Muted  bool   `json:"muted"`
	Hidden bool   `json:"hidden"`
}

// DefaultChannelPrefs are the preferences of a channel nobody changed.
var DefaultChannelPrefs = ChannelPrefs{Notify: NotifyMentions}

// Validate reports a Notify outside all, mentions, none.
func (p ChannelPrefs) Validate() error {
	switch p.Notify {
	case NotifyAll, NotifyMentions, NotifyNone:
		return nil
	}
	return &ValidationError{Field: "notify", Reason: `one of "all", "mentions", "none"`}
}

// quiet reports whether the preferences keep a channel-wide mention (@channel, @all,
// @here) from mentioning the user at all: muted, or notify "none" (Mattermost's "ignore
// channel-wide mentions", ADR 0034).
func (p ChannelPrefs) quiet() bool { return p.Muted || p.Notify == NotifyNone }

// ChannelPrefs returns userID's preferences for channelID (the defaults when none are
// stored). The caller has checked that the user can see the channel.
func (s *Store) ChannelPrefs(ctx context.Context, userID, channelID int64) (ChannelPrefs, error) {
	p := DefaultChannelPrefs
	err := s.pool.QueryRow(ctx, `SELECT notify, muted, hidden FROM channel_prefs WHERE user_id = $1 AND channel_id = $2`,
		userID, channelID).Scan(&p.Notify, &p.Muted, &p.Hidden)
	if err != nil && !errors.Is(err, pgx.ErrNoRows) {
		return p, fmt.Errorf("prefs of %d in %d: %w", userID, channelID, err)
	}
	return p, nil
}

// ChannelPrefsIn returns userID's stored preferences in channelIDs, in one query; a channel
// missing from the map has the defaults.
func (s *Store) ChannelPrefsIn(ctx context.Context, userID int64, channelIDs []int64) (map[int64]ChannelPrefs, error) {
	out := make(map[int64]ChannelPrefs)
	if len(channelIDs) == 0 {
		return out, nil
	}
	rows, err := s.pool.Query(ctx, `SELECT channel_id, notify, muted, hidden FROM channel_prefs
		WHERE user_id = $1 AND channel_id = ANY($2)`, userID, channelIDs)
	if err != nil {
		return nil, fmt.Errorf("prefs of %d: %w", userID, err)
	}
	defer rows.Close()
	for rows.Next() {
		var id int64
		var p ChannelPrefs
		if err := rows.Scan(&id, &p.Notify, &p.Muted, &p.Hidden); err != nil {
			return nil, fmt.Errorf("prefs of %d: %w", userID, err)
		}
		out[id] = p
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("prefs of %d: %w", userID, err)
	}
	return out, nil
}

// SetChannelPrefs stores userID's preferences for channelID (validated first: bad values
// change nothing) and returns them. The caller has checked that the user can see the
// channel.
func (s *Store) SetChannelPrefs(ctx context.Context, userID, channelID int64, p ChannelPrefs) (ChannelPrefs, error) {
	if err := p.Validate(); err != nil {
		return p, err
	}
	_, err := s.pool.Exec(ctx, `INSERT INTO channel_prefs (user_id, channel_id, notify, muted, hidden, updated_at)
		VALUES ($1, $2, $3, $4, $5, $6)
		ON CONFLICT (user_id, channel_id) DO UPDATE
		   SET notify = EXCLUDED.notify, muted = EXCLUDED.muted, hidden = EXCLUDED.hidden, updated_at = EXCLUDED.updated_at`,
		userID, channelID, p.Notify, p.Muted, p.Hidden, s.nowUTC())
	if pgCode(err) == pgForeignKeyViolation {
		return p, ErrNotFound // the channel was deleted meanwhile
	}
	if err != nil {
		return p, fmt.Errorf("set prefs of %d in %d: %w", userID, channelID, err)
	}
	return p, nil
}

// MaxDND is how far ahead do-not-disturb may be set.
const MaxDND = 366 * 24 * time.Hour

// DNDUntil returns userID's do-not-disturb deadline, nil when it is not set or has passed.
func (s *Store) DNDUntil(ctx context.Context, userID int64) (*Time, error) {
	var until *time.Time
	err := s.pool.QueryRow(ctx, `SELECT dnd_until FROM users WHERE id = $1`, userID).Scan(&until)
	if errors.Is(err, pgx.ErrNoRows) {
		return nil, ErrNotFound
	}
	if err != nil {
		return nil, fmt.Errorf("dnd of %d: %w", userID, err)
	}
	if until == nil || !until.After(s.now()) {
		return nil, nil
	}
	return &Time{until.UTC()}, nil
}

// SetDND sets (until not nil) or clears (nil) userID's do-not-disturb deadline, which must
// lie in the future and within MaxDND. It returns the deadline stored, at millisecond
// precision (the API's).
func (s *Store) SetDND(ctx context.Context, userID int64, until *time.Time) (*Time, error) {
	var v *time.Time
	if until != nil {
		t := until.UTC().Truncate(time.Millisecond)
		now := s.now()
		if !t.After(now) {
			return nil, &ValidationError{Field: "until", Reason: "must be in the future (null turns do-not-disturb off)"}
		}
		if t.Sub(now) > MaxDND {
			return nil, &ValidationError{Field: "until", Reason: "at most 366 days ahead"}
		}
		v = &t
	}
	tag, err := s.pool.Exec(ctx, `UPDATE users SET dnd_until = $2 WHERE id = $1`, userID, v)
	if err != nil {
		return nil, fmt.Errorf("set dnd of %d: %w", userID, err)
	}
	if tag.RowsAffected() == 0 {
		return nil, ErrNotFound
	}
	if v == nil {
		return nil, nil
	}
	return &Time{*v}, nil
}
