package persistence

import (
	"cmp"
	"slices"

	"github.com/jackc/pgx/v5"
)

// What the append does for threads you follow (ADR 0040). Only the general path gets here:
// a reply or a mention always takes it, and a root without mentions makes nobody a
// follower until its first reply (the root's author follows from then on), so the
// one-statement fast path writes nothing more than before.

type followKey struct{ user, root int64 }

// threadFollows is who starts following which thread in a batch.
type threadFollows struct {
	// acted: a reply's author follows again even after unfollowing by hand (a new act of
	// theirs); the seq is the newest of their replies in the batch, their thread marker.
	acted map[followKey]int64
	// implicit: the root's author and the mentioned follow unless they unfollowed by hand.
	implicit map[followKey]bool
	// repliers[root] are the authors of the batch's replies to root, and last[root] the
	// batch index of its last reply: followers hear of the replies by others (ThreadUpdates).
	repliers map[int64][]int64
	last     map[int64]int
}

// add records what message m (batch index i) starts: a reply makes its author and the root's
// author followers of the thread; a mention by name makes the mentioned a follower of the
// thread the message is in (the root itself for a root). Channel-wide mentions do not: a
// whole channel following every thread would be noise, not interest.
func (f *threadFollows) add(i int, m Message, parents map[int64]parentInfo, mentions []Mention) {
	if m.ParentID == nil && len(mentions) == 0 {
		return // the fast path's common case: nothing to allocate
	}
	if f.acted == nil {
		f.acted, f.implicit = map[followKey]int64{}, map[followKey]bool{}
		f.repliers, f.last = map[int64][]int64{}, map[int64]int{}
	}
	root := m.ID
	if m.ParentID != nil {
		root = *m.ParentID
		f.acted[followKey{m.UserID, root}] = m.Seq
		if a := parents[root].author; a != 0 {
			f.implicit[followKey{a, root}] = true
		}
		if !slices.Contains(f.repliers[root], m.UserID) {
			f.repliers[root] = append(f.repliers[root], m.UserID)
		}
		f.last[root] = i
	}
	for _, mn := range mentions {
		if mn.Via == MentionViaUser {
			f.implicit[followKey{mn.UserID, root}] = true
		}
	}
}

func (f *threadFollows) empty() bool { return len(f.acted) == 0 && len(f.implicit) == 0 }

// sortedKeys returns keys in (user, root) order: writers that lock several rows in one
// statement lock them in one order, so two appends cannot deadlock.
func sortedKeys[V any](m map[followKey]V) []followKey {
	ks := make([]followKey, 0, len(m))
	for k := range m {
		ks = append(ks, k)
	}
	slices.SortFunc(ks, func(a, b followKey) int { return cmp.Or(cmp.Compare(a.user, b.user), cmp.Compare(a.root, b.root)) })
	return ks
}

// followsSQL writes a batch's follows and its repliers' thread markers in one statement.
// The two follow inserts take disjoint keys (an acted key is left out of implicit), since
// one statement must not insert a key twice.
const followsSQL = `WITH acted AS (
	INSERT INTO thread_follows (user_id, root_id, channel_id, updated_at)
	SELECT u, r, $1, $8 FROM unnest($2::bigint[], $3::bigint[]) AS x(u, r)
	ON CONFLICT (user_id, root_id) DO UPDATE SET following = true, updated_at = EXCLUDED.updated_at
	   WHERE NOT thread_follows.following
), implicit AS (
	INSERT INTO thread_follows (user_id, root_id, channel_id, updated_at)
	SELECT u, r, $1, $8 FROM unnest($5::bigint[], $6::bigint[]) AS x(u, r)
	ON CONFLICT (user_id, root_id) DO NOTHING
)
INSERT INTO thread_reads (user_id, root_id, channel_id, last_read_seq, updated_at)
SELECT u, r, $1, s, $8 FROM unnest($2::bigint[], $3::bigint[], $4::bigint[]) AS x(u, r, s)
WHERE $7
ON CONFLICT (user_id, root_id) DO UPDATE
   SET last_read_seq = GREATEST(thread_reads.last_read_seq, EXCLUDED.last_read_seq), updated_at = EXCLUDED.updated_at
   WHERE thread_reads.last_read_seq < EXCLUDED.last_read_seq`

// threadUpdatesSQL reads, inside the append's transaction and so with its replies, every
// follower of the threads $2 who can read the channel now, with their unread replies (live
// replies by others above their thread marker), counted up to $3 (ThreadUpdateCountCap): the
// count runs under the channel's row lock, so a follower who never reads must not make every
// reply scan the whole thread.
const threadUpdatesSQL = `SELECT f.root_id, f.user_id, u.n
FROM thread_follows f
JOIN channels c ON c.id = f.channel_id
JOIN workspace_members wm ON wm.workspace_id = c.workspace_id AND wm.user_id = f.user_id
LEFT JOIN thread_reads tr ON tr.user_id = f.user_id AND tr.root_id = f.root_id
CROSS JOIN LATERAL (SELECT count(*) AS n FROM (SELECT FROM messages r
                    WHERE r.parent_id = f.root_id AND r.seq > COALESCE(tr.last_read_seq, 0)
                      AND r.deleted_at IS NULL AND r.parent_id IS NOT NULL AND r.user_id <> f.user_id
                    LIMIT $3) capped) u
WHERE f.root_id = ANY($2) AND f.following AND c.id = $1
  AND (EXISTS (SELECT 1 FROM channel_members cm WHERE cm.channel_id = c.id AND cm.user_id = f.user_id)
       OR (c.type = 'public' AND wm.role <> 'guest'))`

// queueFollows adds the follows, the repliers' thread markers and the followers' counts to
// the append's second pipeline (before COMMIT): one or two statements, no round trip.
func queueFollows(b *pgx.Batch, channelID int64, p *appendPlan) {
	f := &p.follows
	if f.empty() {
		return
	}
	acted := sortedKeys(f.acted)
	au, ar, as := make([]int64, len(acted)), make([]int64, len(acted)), make([]int64, len(acted))
	for i, k := range acted {
		au[i], ar[i], as[i] = k.user, k.root, f.acted[k]
	}
	var iu, ir []int64
	for _, k := range sortedKeys(f.implicit) {
		if _, ok := f.acted[k]; !ok {
			iu, ir = append(iu, k.user), append(ir, k.root)
		}
	}
	b.Queue(followsSQL, channelID, au, ar, as, iu, ir, len(acted) > 0, p.now)
	if len(f.last) == 0 {
		return
	}
	roots := make([]int64, 0, len(f.last))
	for r := range f.last {
		roots = append(roots, r)
	}
	b.Queue(threadUpdatesSQL, channelID, roots, ThreadUpdateCountCap).Query(func(rows pgx.Rows) error {
		for rows.Next() {
			var root, user, n int64
			if err := rows.Scan(&root, &user, &n); err != nil {
				return err
			}
			if rs := f.repliers[root]; len(rs) == 1 && rs[0] == user {
				continue // not to the replier of their own reply
			}
			t := p.threads[root]
			res := &p.results[f.last[root]]
			res.ThreadUpdates = append(res.ThreadUpdates, ThreadUpdate{
				UserID: user, RootID: root, ChannelID: channelID, UnreadReplies: n,
				ReplyCount: t.total, LastReplySeq: t.lastSeq, LastReplyAt: Time{p.now},
			})
		}
		return rows.Err()
	})
}

// ThreadUpdateCountCap caps UnreadReplies in thread.updated: a client shows "99+" past 99
// anyway, and GET /api/threads counts exactly.
const ThreadUpdateCountCap = 100

// ThreadUpdate is a follower to tell that a thread they follow got replies, with their
// unread replies counted in the append's transaction against their thread marker in
// PostgreSQL (a marker still on its way through Kafka is not seen: the event's count may
// be high by the replies read in the last moment; GET /api/threads is exact).
type ThreadUpdate struct {
	UserID        int64
	RootID        int64
	ChannelID     int64
	ReplyCount    int
	UnreadReplies int64
	LastReplySeq  int64
	LastReplyAt   Time
}

// ThreadUpdatedEvent is thread.updated on a follower's QueueNotifications.
type ThreadUpdatedEvent struct {
	Type          string `json:"type"` // EventThreadUpdated
	RootID        int64  `json:"rootId,string"`
	ChannelID     int64  `json:"channelId,string"`
	ReplyCount    int    `json:"replyCount"`
	UnreadReplies int64  `json:"unreadReplies"` // at most ThreadUpdateCountCap
	LastReplySeq  int64  `json:"lastReplySeq"`
	LastReplyAt   Time   `json:"lastReplyAt"`
}

// EventThreadUpdated: a thread the user follows got a reply by someone else.
const EventThreadUpdated = "thread.updated"

// NewThreadUpdatedEvent is the event of u.
func NewThreadUpdatedEvent(u ThreadUpdate) ThreadUpdatedEvent {
	return ThreadUpdatedEvent{Type: EventThreadUpdated, RootID: u.RootID, ChannelID: u.ChannelID, ReplyCount: u.ReplyCount,
		UnreadReplies: u.UnreadReplies, LastReplySeq: u.LastReplySeq, LastReplyAt: u.LastReplyAt}
}
