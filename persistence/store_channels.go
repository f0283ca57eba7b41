package persistence

import (
	"context"
	"errors"
	"fmt"
	"regexp"
	"strconv"
	"strings"
	"unicode/utf8"

	"github.com/jackc/pgx/v5"
)

// Channel is a channel's shared state (what a channel.updated event carries). A direct
// message has no name ("") and lists its fixed Members (every other type omits them).
type Channel struct {
	ID          int64  `json:"id,string"`
	WorkspaceID int64  `json:"workspaceId,string"`
	Name        string `json:"name"`
	Type        string `json:"type" openapi:"enum=public|private|dm"` // ChannelPublic, ChannelPrivate, ChannelDM
	Topic       string `json:"topic"`
	CreatedBy   int64  `json:"createdBy,string"`
	Archived    bool   `json:"archived"`
	LastSeq     int64  `json:"lastSeq"`
	CreatedAt   Time   `json:"createdAt"`
	UpdatedAt   Time   `json:"updatedAt"`
	Members     IDList `json:"members,omitempty"` // DMs: every member, the caller included, by id
}

// ChannelView is a channel as one user sees it: with their read marker and membership.
// UnreadCount is LastSeq − LastReadSeq (0 when not a member). MentionCount is the unread
// mentions of the user there; in a DM every unread message by someone else (Store.CountMentions).
type ChannelView struct {
	Channel
	IsMember     bool  `json:"isMember"`
	LastReadSeq  int64 `json:"lastReadSeq"`
	UnreadCount  int64 `json:"unreadCount"`
	MentionCount int64 `json:"mentionCount"`
	// The caller's notification preferences, where the API attaches them (the channel
	// list, GET /api/channels/{cid}).
	Prefs *ChannelPrefs `json:"prefs,omitempty"`
}

// ValidateChannelName lowercases name and checks it against [a-z0-9_-]{1,80}.
func ValidateChannelName(name string) (string, error) {
	name = strings.ToLower(strings.TrimSpace(name))
	if !channelNameRe.MatchString(name) {
		return "", &ValidationError{Field: "name", Reason: "must be 1-80 characters of a-z, 0-9, '-', '_'"}
	}
	return name, nil
}

var channelNameRe = regexp.MustCompile(`^[a-z0-9_-]{1,80}$`)

// MaxTopicRunes is the longest channel topic.
const MaxTopicRunes = 250

// ValidateTopic checks a channel topic.
func ValidateTopic(topic string) error {
	if utf8.RuneCountInString(topic) > MaxTopicRunes || !utf8.ValidString(topic) || strings.ContainsRune(topic, 0) {
		return &ValidationError{Field: "topic", Reason: fmt.Sprintf("at most %d characters", MaxTopicRunes)}
	}
	return nil
}

// CreateChannel creates a channel with its creator as first member. A name already used in
// the workspace is ErrConflict.
func (s *Store) CreateChannel(ctx context.Context, workspaceID, userID int64, name, typ, topic string) (Channel, error) {
	name, err := ValidateChannelName(name)
	if err != nil {
		return Channel{}, err
	}
	if typ != ChannelPublic && typ != ChannelPrivate {
		return Channel{}, &ValidationError{Field: "type", Reason: "must be public or private"}
	}
	if err := ValidateTopic(topic); err != nil {
		return Channel{}, err
	}
	now := s.nowUTC()
	c := Channel{ID: s.ids.Next(), WorkspaceID: workspaceID, Name: name, Type: typ, Topic: topic,
		CreatedBy: userID, CreatedAt: Time{now}, UpdatedAt: Time{now}}
	err = s.inTx(ctx, func(tx pgx.Tx) error {
		b := &pgx.Batch{}
		b.Queue(`INSERT INTO channels (id, workspace_id, name, type, topic, created_by, created_at, updated_at)
			VALUES ($1, $2, $3, $4, $5, $6, $7, $7)`, c.ID, workspaceID, name, typ, topic, userID, now)
		b.Queue(`INSERT INTO channel_members (channel_id, user_id) VALUES ($1, $2)`, c.ID, userID)
		return tx.SendBatch(ctx, b).Close()
	})
	if pgCode(err) == pgUniqueViolation {
		return Channel{}, fmt.Errorf("channel %q: %w: name taken", name, ErrConflict)
	}
	if err != nil {
		return Channel{}, fmt.Errorf("create channel: %w", err)
	}
	return c, nil
}

const channelColumns = `c.id, c.workspace_id, COALESCE(c.name, ''), c.type, c.topic, c.created_by, c.archived, c.last_seq, c.created_at, c.updated_at, c.dm_members`

func channelDest(c *Channel) []any {
	return []any{&c.ID, &c.WorkspaceID, &c.Name, &c.Type, &c.Topic, &c.CreatedBy, &c.Archived, &c.LastSeq, &c.CreatedAt.Time, &c.UpdatedAt.Time, (*[]int64)(&c.Members)}
}

// viewColumns extend channelColumns with the viewer ($1) facts of a ChannelView.
const viewColumns = channelColumns + `, cm.user_id IS NOT NULL, COALESCE(rr.last_read_seq, 0)`

const viewFrom = ` FROM channels c
	LEFT JOIN channel_members cm ON cm.channel_id = c.id AND cm.user_id = $1
	LEFT JOIN read_receipts rr ON rr.channel_id = c.id AND rr.user_id = $1 `

func scanView(row pgx.Row, v *ChannelView) error {
	var seq int64
	if err := row.Scan(append(channelDest(&v.Channel), &v.IsMember, &seq)...); err != nil {
		return err
	}
	v.RaiseLastRead(seq)
	return nil
}

// RaiseLastRead raises LastReadSeq to seq, if higher, and keeps UnreadCount in step: the
// API raises it to the cached marker that PostgreSQL has not caught up with yet, and then
// counts mentions (CountMentions) above the raised marker.
func (v *ChannelView) RaiseLastRead(seq int64) {
	v.LastReadSeq = max(v.LastReadSeq, seq)
	v.UnreadCount = 0
	if v.IsMember && v.LastSeq > v.LastReadSeq {
		v.UnreadCount = v.LastSeq - v.LastReadSeq
	}
}

// ChannelView returns channel id as userID sees it (access already checked).
func (s *Store) ChannelView(ctx context.Context, userID, id int64) (ChannelView, error) {
	var v ChannelView
	err := scanView(s.pool.QueryRow(ctx, `SELECT `+viewColumns+viewFrom+` WHERE c.id = $2`, userID, id), &v)
	if errors.Is(err, pgx.ErrNoRows) {
		return ChannelView{}, ErrNotFound
	}
	if err != nil {
		return ChannelView{}, fmt.Errorf("channel %d: %w", id, err)
	}
	return v, nil
}

// dmCursorPrefix starts the list cursor of a DM ("dm:<id>"): no channel name has a ':'.
const dmCursorPrefix = "dm:"

// Cursor is v's place in the channel list (VisibleChannels' after): named channels by
// name, then DMs by id.
func (v ChannelView) Cursor() string {
	if v.Type == ChannelDM {
		return dmCursorPrefix + strconv.FormatInt(v.ID, 10)
	}
	return v.Name
}

// VisibleChannels lists the channels of a workspace that a member with access wa can see
// (Access.CanSee decides, row by row): the named ones by name, then the DMs wa's user is
// in by id, after the cursor after (a ChannelView.Cursor, "" from the start), at most
// limit. DMs come from the user's own memberships, so a workspace's many DMs between
// other people cost the list nothing.
func (s *Store) VisibleChannels(ctx context.Context, wa WorkspaceAccess, after string, limit int) ([]ChannelView, error) {
	out := []ChannelView{}
	var afterDM int64
	if rest, ok := strings.CutPrefix(after, dmCursorPrefix); ok {
		id, err := strconv.ParseInt(rest, 10, 64)
		if err != nil {
			return nil, &ValidationError{Field: "after", Reason: "not a cursor of this list"}
		}
		afterDM = id
	} else {
		rows, err := s.pool.Query(ctx, `SELECT `+viewColumns+viewFrom+`
			WHERE c.workspace_id = $2 AND c.name > $3 ORDER BY c.name`, wa.UserID, wa.WorkspaceID, after)
		if err != nil {
			return nil, fmt.Errorf("channels of %d: %w", wa.WorkspaceID, err)
		}
		defer rows.Close()
		for rows.Next() && len(out) < limit {
			var v ChannelView
			if err := scanView(rows, &v); err != nil {
				return nil, err
			}
			if accessOf(wa, v).CanSee() {
				out = append(out, v)
			}
		}
		if err := rows.Err(); err != nil {
			return nil, fmt.Errorf("channels of %d: %w", wa.WorkspaceID, err)
		}
		rows.Close()
	}
	if len(out) == limit || !wa.Role.isMember() {
		return out, nil
	}
	rows, err := s.pool.Query(ctx, dmListQuery, wa.UserID, wa.WorkspaceID, afterDM, limit-len(out))
	if err != nil {
		return nil, fmt.Errorf("direct messages of %d: %w", wa.UserID, err)
	}
	dms, err := collect(rows, scanView)
	if err != nil {
		return nil, fmt.Errorf("direct messages of %d: %w", wa.UserID, err)
	}
	return append(out, dms...), nil
}

// dmListQuery is the DM part of VisibleChannels ($1 user, $2 workspace, $3 after this
// channel id, $4 limit): the user's memberships first (channel_members_user), then each
// channel by its key in a LATERAL subquery, which PostgreSQL can only run inside the loop
// over the memberships. Joined plainly (even with the memberships kept apart by OFFSET 0)
// a database without statistics started from the workspace's DMs on channels_dm_members
// and took 4 s per call among 20,000 DMs of other people (ADR 0010, ADR 0032).
const dmListQuery = `SELECT ` + channelColumns + `, true, COALESCE(rr.last_read_seq, 0)
	FROM (SELECT channel_id FROM channel_members WHERE user_id = $1 AND channel_id > $3 OFFSET 0) mine
	CROSS JOIN LATERAL (SELECT * FROM channels c
	      WHERE c.id = mine.channel_id AND c.workspace_id = $2 AND c.type = 'dm' OFFSET 0) c
	LEFT JOIN read_receipts rr ON rr.channel_id = c.id AND rr.user_id = $1
	ORDER BY c.id LIMIT $4`

// ReadableChannels returns the ids of the channels of a workspace that wa may read.
func (s *Store) ReadableChannels(ctx context.Context, wa WorkspaceAccess) ([]int64, error) {
	rows, err := s.pool.Query(ctx, `SELECT `+viewColumns+viewFrom+`
		WHERE c.workspace_id = $2 AND (c.type <> 'dm' OR cm.user_id IS NOT NULL)`, wa.UserID, wa.WorkspaceID)
	if err != nil {
		return nil, fmt.Errorf("channels of %d: %w", wa.WorkspaceID, err)
	}
	views, err := collect(rows, scanView)
	if err != nil {
		return nil, err
	}
	var ids []int64
	for _, v := range views {
		if accessOf(wa, v).CanRead() == nil {
			ids = append(ids, v.ID)
		}
	}
	return ids, nil
}

func accessOf(wa WorkspaceAccess, v ChannelView) Access {
	return Access{UserID: wa.UserID, ChannelID: v.ID, WorkspaceID: wa.WorkspaceID, Role: wa.Role, Type: v.Type,
		Member: v.IsMember, Creator: v.CreatedBy == wa.UserID, Archived: v.Archived, LastSeq: v.LastSeq}
}

// ChannelUpdate is a partial change of a channel; nil fields stay.
type ChannelUpdate struct {
	Name     *string
	Topic    *string
	Archived *bool
}

// UpdateChannel applies u. A taken name is ErrConflict.
func (s *Store) UpdateChannel(ctx context.Context, id int64, u ChannelUpdate) (Channel, error) {
	if u.Name != nil {
		n, err := ValidateChannelName(*u.Name)
		if err != nil {
			return Channel{}, err
		}
		u.Name = &n
	}
	if u.Topic != nil {
		if err := ValidateTopic(*u.Topic); err != nil {
			return Channel{}, err
		}
	}
	var c Channel
	err := s.pool.QueryRow(ctx, `UPDATE channels c SET name = COALESCE($2, c.name), topic = COALESCE($3, c.topic),
		archived = COALESCE($4, c.archived), updated_at = now() WHERE c.id = $1 RETURNING `+channelColumns,
		id, u.Name, u.Topic, u.Archived).Scan(channelDest(&c)...)
	switch {
	case errors.Is(err, pgx.ErrNoRows):
		return Channel{}, ErrNotFound
	case pgCode(err) == pgUniqueViolation:
		return Channel{}, fmt.Errorf("%w: name taken", ErrConflict)
	case err != nil:
		return Channel{}, fmt.Errorf("update channel %d: %w", id, err)
	}
	return c, nil
}
