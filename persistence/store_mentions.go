package persistence

import (
	"context"
	"fmt"
	"regexp"
	"strings"

	"github.com/jackc/pgx/v5"
)

// mentionRe finds @username (SPEC: @([a-z0-9_.-]+), case-insensitive). The @ must start
// the text or follow a character that cannot be part of a username, so that the domain of
// an e-mail address (alice@example.com) is not a mention.
var mentionRe = regexp.MustCompile(`(?i)(?:^|[^a-z0-9_.-])@([a-z0-9_.-]+)`)

// maxMentionsPerMessage bounds the names one message can look up.
const maxMentionsPerMessage = 50

// ParseMentions returns the lowercase usernames content mentions, deduplicated, in order of
// first appearance.
func ParseMentions(content string) []string {
	if strings.IndexByte(content, '@') < 0 {
		return nil
	}
	var out []string
	seen := map[string]bool{}
	for _, m := range mentionRe.FindAllStringSubmatch(content, -1) {
		n := strings.ToLower(m[1])
		if len(n) > 64 || seen[n] {
			continue
		}
		seen[n] = true
		out = append(out, n)
		if len(out) == maxMentionsPerMessage {
			break
		}
	}
	return out
}

// trimMentionTail drops the punctuation a sentence can put right after a name ("@bob.").
func trimMentionTail(n string) string {
	return strings.TrimRight(n, ".-")
}

// MentionItem is a mention with the message it is in.
type MentionItem struct {
	Mention
	Message Message `json:"message"`
}

// readableMention keeps the mentions (of user $1, whose message is m) in messages the user
// can read now: Access.CanRead in SQL, so that a user taken out of a private channel or out
// of the workspace, or made a guest, no longer lists or marks what GET /api/messages/{id}
// refuses them. A mention they can no longer read is skipped, not deleted: it is back if
// they are. As a LATERAL subquery kept apart by OFFSET 0 it is one probe of the channels,
// workspace_members and channel_members primary keys per mention, whatever the statistics
// say (ADR 0010): the list still walks mentions_user newest first and stops at the limit.
// Joined plainly, PostgreSQL without statistics compared every mention it walked with
// every readable channel of the user's workspaces (the plans are in ADR 0027).
const readableMention = `
	CROSS JOIN LATERAL (SELECT FROM channels c
	      JOIN workspace_members wm ON wm.workspace_id = c.workspace_id AND wm.user_id = $1
	      WHERE c.id = m.channel_id
	        AND (c.type = 'public' AND wm.role <> 'guest'
	             OR EXISTS (SELECT 1 FROM channel_members cm WHERE cm.channel_id = c.id AND cm.user_id = $1))
	      OFFSET 0) readable`

// Mentions lists userID's mentions newest first, below beforeID (0: from the newest),
// only unread ones when unreadOnly, in the messages userID can read now.
func (s *Store) Mentions(ctx context.Context, userID int64, unreadOnly bool, beforeID int64, limit int) ([]MentionItem, error) {
	if beforeID <= 0 {
		beforeID = 1<<63 - 1
	}
	rows, err := s.pool.Query(ctx, mentionsQuery, userID, beforeID, unreadOnly, limit)
	if err != nil {
		return nil, fmt.Errorf("mentions of %d: %w", userID, err)
	}
	return collect(rows, func(row pgx.Row, it *MentionItem) error {
		if err := scanMessage(row, &it.Message, &it.ID, &it.CreatedAt.Time, &it.Read); err != nil {
			return err
		}
		it.MessageID, it.ChannelID, it.UserID, it.Seq = it.Message.ID, it.Message.ChannelID, userID, it.Message.Seq
		return nil
	})
}

// mentionsQuery is Mentions' statement ($1 user, $2 below this mention id, $3 unread only,
// $4 limit).
var mentionsQuery = `SELECT ` + messageColumns(1) + `, mn.id, mn.created_at, mn.read_at IS NOT NULL
	FROM mentions mn JOIN messages m ON m.id = mn.message_id LEFT JOIN threads t ON t.root_id = m.id` +
	readableMention + `
	WHERE mn.user_id = $1 AND mn.id < $2 AND (NOT $3 OR mn.read_at IS NULL)
	ORDER BY mn.id DESC LIMIT $4`

// MarkMentionRead marks one of userID's mentions read. Someone else's, and one in a message
// userID can no longer read, is ErrNotFound and changes nothing.
func (s *Store) MarkMentionRead(ctx context.Context, userID, id int64) error {
	tag, err := s.pool.Exec(ctx, `UPDATE mentions SET read_at = COALESCE(read_at, now())
		WHERE id = (SELECT mn.id FROM mentions mn JOIN messages m ON m.id = mn.message_id`+readableMention+`
		            WHERE mn.id = $2 AND mn.user_id = $1)`, userID, id)
	if err != nil {
		return fmt.Errorf("mark mention %d read: %w", id, err)
	}
	if tag.RowsAffected() == 0 {
		return ErrNotFound
	}
	return nil
}
