package persistence

import (
	"context"
	"errors"
	"fmt"
	"regexp"
	"strings"
	"unicode/utf8"

	"github.com/jackc/pgx/v5"
)

// Channel is a channel's shared state (what a channel.updated event carries).
type Channel struct {
	ID          int64  `json:"id,string"`
	WorkspaceID int64  `json:"workspaceId,string"`
	Name        string `json:"name"`
	Type        string `json:"type" openapi:"enum=public|private"` // ChannelPublic, ChannelPrivate
	Topic       string `json:"topic"`
	CreatedBy   int64  `json:"createdBy,string"`
	Archived    bool   `json:"archived"`
	LastSeq     int64  `json:"lastSeq"`
	CreatedAt   Time   `json:"createdAt"`
	UpdatedAt   Time   `json:"updatedAt"`
}

// ChannelView is a channel as one user sees it: with their read marker and membership.
// UnreadCount is LastSeq − LastReadSeq (0 when not a member).
type ChannelView struct {
	Channel
	IsMember    bool  `json:"isMember"`
	LastReadSeq int64 `json:"lastReadSeq"`
	UnreadCount int64 `json:"unreadCount"`
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

const channelColumns = `c.id, c.workspace_id, c.name, c.type, c.topic, c.created_by, c.archived, c.last_seq, c.created_at, c.updated_at`

func channelDest(c *Channel) []any {
	return []any{&c.ID, &c.WorkspaceID, &c.Name, &c.Type, &c.Topic, &c.CreatedBy, &c.Archived, &c.LastSeq, &c.CreatedAt.Time, &c.UpdatedAt.Time}
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
// API raises it to the cached marker that PostgreSQL has not caught up with yet.
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

// VisibleChannels lists the channels of a workspace that a member with access wa can see
// (Access.CanSee decides, row by row), by name after afterName, at most limit.
func (s *Store) VisibleChannels(ctx context.Context, wa WorkspaceAccess, afterName string, limit int) ([]ChannelView, error) {
	rows, err := s.pool.Query(ctx, `SELECT `+viewColumns+viewFrom+`
		WHERE c.workspace_id = $2 AND c.name > $3 ORDER BY c.name`, wa.UserID, wa.WorkspaceID, afterName)
	if err != nil {
		return nil, fmt.Errorf("channels of %d: %w", wa.WorkspaceID, err)
	}
	defer rows.Close()
	out := []ChannelView{}
	for rows.Next() && len(out) < limit {
		var v ChannelView
		if err := scanView(rows, &v); err != nil {
			return nil, err
		}
		if accessOf(wa, v).CanSee() {
			out = append(out, v)
		}
	}
	return out, rows.Err()
}

// ReadableChannels returns the ids of the channels of a workspace that wa may read.
func (s *Store) ReadableChannels(ctx context.Context, wa WorkspaceAccess) ([]int64, error) {
	rows, err := s.pool.Query(ctx, `SELECT `+viewColumns+viewFrom+` WHERE c.workspace_id = $2`, wa.UserID, wa.WorkspaceID)
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
