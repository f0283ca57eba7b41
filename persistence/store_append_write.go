package persistence

import (
	"context"
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
)

// writeAppend is the second round trip of the general path, ending with COMMIT: every
// statement is a single multi-row statement over arrays, so the number of statements does
// not grow with the batch.
func (s *Store) writeAppend(ctx context.Context, conn *pgx.Conn, channelID int64, st *appendState, p *appendPlan) error {
	n := len(p.newMsgs)
	if n == 0 {
		rollback(ctx, conn) // nothing to write: only the row lock to let go
		return nil
	}
	var (
		ids, seqs, users []int64
		parents          []*int64
		contents         []string
		cmids            []*string
	)
	for _, i := range p.newMsgs {
		m := &p.results[i].Message
		ids, seqs, users = append(ids, m.ID), append(seqs, m.Seq), append(users, m.UserID)
		parents = append(parents, m.ParentID)
		contents = append(contents, m.Content)
		if m.ClientMsgID != "" {
			cmids = append(cmids, &m.ClientMsgID)
		} else {
			cmids = append(cmids, nil)
		}
	}
	b := &pgx.Batch{}
	b.Queue(`UPDATE channels SET last_seq = last_seq + $2 WHERE id = $1 RETURNING last_seq`, channelID, n).
		QueryRow(func(row pgx.Row) error {
			var last int64
			if err := row.Scan(&last); err != nil {
				return err
			}
			if want := st.lastSeq + int64(n); last != want {
				// Impossible while the row lock is held; refuse rather than store a gap.
				return fmt.Errorf("channel %d last_seq is %d, expected %d", channelID, last, want)
			}
			return nil
		})
	b.Queue(`INSERT INTO messages (id, channel_id, seq, user_id, parent_id, content, client_msg_id, created_at)
		SELECT id, $1, seq, user_id, parent_id, content, cmid, $8
		FROM unnest($2::bigint[], $3::bigint[], $4::bigint[], $5::bigint[], $6::text[], $7::text[])
		     AS x(id, seq, user_id, parent_id, content, cmid)`,
		channelID, ids, seqs, users, parents, contents, cmids, p.now)
	if len(p.roots) > 0 {
		queueThreads(b, channelID, p)
	}
	if len(p.mentions) > 0 {
		queueMentions(b, p.mentions, p.now)
	}
	if st.files != nil {
		queueAttach(b, p)
	}
	queueFollows(b, channelID, p)
	readers, marks := p.readerMarks()
	b.Queue(`INSERT INTO read_receipts (user_id, channel_id, last_read_seq, updated_at)
		SELECT u, $1, s, $4 FROM unnest($2::bigint[], $3::bigint[]) AS x(u, s)
		ON CONFLICT (user_id, channel_id) DO UPDATE
		   SET last_read_seq = GREATEST(read_receipts.last_read_seq, EXCLUDED.last_read_seq),
		       updated_at = EXCLUDED.updated_at`, channelID, readers, marks, p.now)
	queueCommit(b)
	return conn.SendBatch(ctx, b).Close()
}

// queueCommit ends a pipeline with COMMIT. A statement that failed earlier in the pipeline
// makes PostgreSQL skip the rest, COMMIT included, and the batch reports that error; a
// COMMIT that answers anything but COMMIT (a transaction already aborted) is an error too.
func queueCommit(b *pgx.Batch) {
	b.Queue("COMMIT").Exec(func(ct pgconn.CommandTag) error {
		if ct.String() != "COMMIT" {
			return fmt.Errorf("commit: transaction ended with %q", ct.String())
		}
		return nil
	})
}

// queueThreads upserts the statistics of every thread the batch replied to. The channel
// row lock serialises all replies of a channel, so the participants computed from the
// first round trip's read are still current.
func queueThreads(b *pgx.Batch, channelID int64, p *appendPlan) {
	roots := make([]int64, 0, len(p.roots))
	added := make([]int32, 0, len(p.roots))
	lastSeqs := make([]int64, 0, len(p.roots))
	parts := make([]string, 0, len(p.roots))
	for _, r := range p.roots {
		t := p.threads[r]
		roots, added, lastSeqs = append(roots, r), append(added, int32(t.added)), append(lastSeqs, t.lastSeq)
		parts = append(parts, pgBigintArray(t.participants))
	}
	b.Queue(`INSERT INTO threads (root_id, channel_id, reply_count, last_reply_at, last_reply_seq, participants)
		SELECT r, $1, n, $6, s, p::bigint[] FROM unnest($2::bigint[], $3::int[], $4::bigint[], $5::text[]) AS x(r, n, s, p)
		ON CONFLICT (root_id) DO UPDATE
		   SET reply_count = threads.reply_count + EXCLUDED.reply_count,
		       last_reply_at = GREATEST(threads.last_reply_at, EXCLUDED.last_reply_at),
		       last_reply_seq = GREATEST(threads.last_reply_seq, EXCLUDED.last_reply_seq),
		       participants = EXCLUDED.participants`,
		channelID, roots, added, lastSeqs, parts, p.now)
}

func queueMentions(b *pgx.Batch, ms []Mention, now time.Time) {
	ids := make([]int64, len(ms))
	msgs := make([]int64, len(ms))
	users := make([]int64, len(ms))
	seqs := make([]int64, len(ms))
	for i, m := range ms {
		ids[i], msgs[i], users[i], seqs[i] = m.ID, m.MessageID, m.UserID, m.Seq
	}
	// seq is the message's: the channel list counts unread mentions by it (ADR 0032).
	b.Queue(`INSERT INTO mentions (id, message_id, channel_id, user_id, created_at, seq)
		SELECT id, msg, $1, u, $5, s FROM unnest($2::bigint[], $3::bigint[], $4::bigint[], $6::bigint[]) AS x(id, msg, u, s)
		ON CONFLICT (message_id, user_id) DO NOTHING`,
		ms[0].ChannelID, ids, msgs, users, now, seqs)
}

// pgBigintArray renders ids as a PostgreSQL array literal ({1,2,3}), so that a list of
// arrays can travel as one text[] parameter (unnest flattens a 2-D array).
func pgBigintArray(ids []int64) string {
	var sb strings.Builder
	sb.WriteByte('{')
	for i, id := range ids {
		if i > 0 {
			sb.WriteByte(',')
		}
		sb.WriteString(strconv.FormatInt(id, 10))
	}
	sb.WriteByte('}')
	return sb.String()
}
