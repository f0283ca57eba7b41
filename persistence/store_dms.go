package persistence

import (
	"context"
	"errors"
	"fmt"
	"slices"

	"github.com/jackc/pgx/v5"
)

// MaxDMOthers is how many people besides the caller a direct message can have (SPEC: 1-7).
const MaxDMOthers = 7

// DMMembers returns the member set of a DM that callerID opens with others: the caller
// and the others, sorted, without repeats (the caller may name themselves). Fewer than one
// or more than MaxDMOthers others is a ValidationError on userIds.
func DMMembers(callerID int64, others []int64) ([]int64, error) {
	ms := make([]int64, 0, len(others)+1)
	ms = append(ms, callerID)
	for _, id := range others {
		if id <= 0 {
			return nil, &ValidationError{Field: "userIds", Reason: "ids must be positive"}
		}
		ms = append(ms, id)
	}
	slices.Sort(ms)
	ms = slices.Compact(ms)
	if n := len(ms) - 1; n < 1 || n > MaxDMOthers {
		return nil, &ValidationError{Field: "userIds", Reason: fmt.Sprintf("1 to %d other members, got %d", MaxDMOthers, n)}
	}
	return ms, nil
}

// OpenDM returns the direct message of workspaceID between callerID and others, creating
// it (created true) when there is none for exactly that set of people. Every one of them
// must belong to the workspace (else ErrNotFound: a stranger and a missing user look the
// same). The set, sorted, is the channel's key (channels.dm_members, unique per
// workspace): concurrent opens of one set, on any node, make one channel, because the
// second INSERT waits on the first's index entry and then finds it (ADR 0032).
func (s *Store) OpenDM(ctx context.Context, workspaceID, callerID int64, others []int64) (c Channel, created bool, err error) {
	members, err := DMMembers(callerID, others)
	if err != nil {
		return Channel{}, false, err
	}
	now := s.nowUTC()
	id := s.ids.Next()
	err = s.inTx(ctx, func(tx pgx.Tx) error {
		// KEY SHARE: nobody leaves the workspace until the DM and its memberships are in.
		var n int
		if err := tx.QueryRow(ctx, `SELECT count(*) FROM (SELECT 1 FROM workspace_members
			WHERE workspace_id = $1 AND user_id = ANY($2) FOR KEY SHARE) wm`, workspaceID, members).Scan(&n); err != nil {
			return err
		}
		if n != len(members) {
			return fmt.Errorf("a user of the direct message: %w in this workspace", ErrNotFound)
		}
		err := tx.QueryRow(ctx, `INSERT INTO channels AS c (id, workspace_id, name, type, created_by, created_at, updated_at, dm_members)
			VALUES ($1, $2, NULL, 'dm', $3, $4, $4, $5)
			ON CONFLICT (workspace_id, dm_members) WHERE type = 'dm' DO NOTHING
			RETURNING `+channelColumns, id, workspaceID, callerID, now, members).Scan(channelDest(&c)...)
		if errors.Is(err, pgx.ErrNoRows) {
			// Someone opened it first; their transaction has committed (the INSERT waited
			// for it), so this statement's snapshot sees the channel.
			return tx.QueryRow(ctx, `SELECT `+channelColumns+` FROM channels c
				WHERE c.workspace_id = $1 AND c.type = 'dm' AND c.dm_members = $2`, workspaceID, members).Scan(channelDest(&c)...)
		}
		if err != nil {
			return err
		}
		created = true
		_, err = tx.Exec(ctx, `INSERT INTO channel_members (channel_id, user_id) SELECT $1, unnest($2::bigint[])`, id, members)
		return err
	})
	if err != nil {
		return Channel{}, false, fmt.Errorf("open direct message in %d: %w", workspaceID, err)
	}
	return c, created, nil
}

// CountMentions sets the MentionCount of each view the user is a member of and has unread
// messages in (the others' are 0): their unread mentions there (mentions above
// LastReadSeq not marked read), and in a DM every message by someone else above it. Call
// it after the views' markers are final (RaiseLastRead). One statement for the whole
// list; each channel is one range on an index, mentions_user_channel_unread or messages'
// (channel_id, seq), whatever the statistics say, so a call costs the unread rows.
func (s *Store) CountMentions(ctx context.Context, userID int64, views []ChannelView) error {
	var chans, floors []int64
	var dms []bool
	at := map[int64]int{}
	for i := range views {
		v := &views[i]
		v.MentionCount = 0
		if !v.IsMember || v.UnreadCount == 0 {
			continue
		}
		at[v.ID] = i
		chans, floors, dms = append(chans, v.ID), append(floors, v.LastReadSeq), append(dms, v.Type == ChannelDM)
	}
	if len(chans) == 0 {
		return nil
	}
	rows, err := s.pool.Query(ctx, mentionCountsQuery, userID, chans, floors, dms)
	if err != nil {
		return fmt.Errorf("mention counts of %d: %w", userID, err)
	}
	defer rows.Close()
	for rows.Next() {
		var c, n int64
		if err := rows.Scan(&c, &n); err != nil {
			return fmt.Errorf("mention counts of %d: %w", userID, err)
		}
		views[at[c]].MentionCount = n
	}
	if err := rows.Err(); err != nil {
		return fmt.Errorf("mention counts of %d: %w", userID, err)
	}
	return nil
}

// mentionCountsQuery is CountMentions' statement ($1 user; parallel arrays of channel ids
// $2, read markers $3 and is-a-DM flags $4). "(read_at IS NULL) IS TRUE" is the predicate
// of mentions_user_channel_unread word for word: only that index serves the count (see
// migration 00005 for why).
const mentionCountsQuery = `
	SELECT x.c, CASE WHEN x.dm
		THEN (SELECT count(*) FROM messages m
		      WHERE m.channel_id = x.c AND m.seq > x.floor AND m.user_id <> $1 AND m.deleted_at IS NULL)
		ELSE (SELECT count(*) FROM mentions mn
		      WHERE mn.user_id = $1 AND mn.channel_id = x.c AND mn.seq > x.floor AND (mn.read_at IS NULL) IS TRUE)
		END
	FROM unnest($2::bigint[], $3::bigint[], $4::bool[]) AS x(c, floor, dm)`
