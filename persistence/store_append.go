package persistence

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"time"

	"github.com/jackc/pgx/v5"
)

// AppendMessages is the message write path (REST and the channel actor's group commit).
// Whatever len(batch), it costs one round trip in the common case and two otherwise:
//
//   - fast path (store_append_fast.go): when no message replies to a thread or names
//     anyone with @, one statement checks clientMsgId duplicates, advances
//     channels.last_seq, inserts the messages and advances the posters' read markers, in
//     the implicit transaction of a single round trip. It writes nothing and the general
//     path runs instead when it finds a duplicate or cannot write (missing or archived
//     channel, a concurrent retry);
//   - general path: BEGIN, then lock the channel row and look up clientMsgId duplicates,
//     parents (with their thread statistics) and the users named by @mentions, in one
//     pipeline; then advance last_seq, insert the messages in one multi-row statement,
//     update thread statistics, insert mentions, advance each poster's read marker and
//     COMMIT, in a second pipeline.
//
// Results are in batch order. A whole-batch failure is an error (ErrNotFound: no such
// channel; ErrArchived); a per-message rejection (ErrBadParent, a ValidationError) is that
// result's Err and the rest commits. A retry (same user, channel and ClientMsgID as a
// stored message, or as an earlier message of the batch) returns the first message with
// Duplicate set. A NewMessage with ID 0 gets a fresh id. The caller has checked that each
// UserID may post in the channel.
func (s *Store) AppendMessages(ctx context.Context, channelID int64, batch []NewMessage) ([]AppendResult, error) {
	if len(batch) == 0 {
		return []AppendResult{}, nil
	}
	in := newAppendInput(batch)
	if in.here {
		in.online = s.onlineMembers(ctx, channelID)
	}
	conn, err := s.sendPool().Acquire(ctx)
	if err != nil {
		return nil, fmt.Errorf("append to channel %d: %w", channelID, err)
	}
	var out []AppendResult
	for attempt := 1; ; attempt++ {
		out, err = s.appendOn(ctx, conn.Conn(), channelID, batch, in)
		// PostgreSQL rolled a deadlock's victim back whole, so running the append again is
		// safe. Replies take thread rows the persister's thread markers and deletions take
		// too (ADR 0040); the channel's own serial order is untouched.
		if pgCode(err) != pgDeadlockDetected || attempt == maxAppendDeadlockAttempts || ctx.Err() != nil {
			break
		}
	}
	conn.Release() // first: settling an append in doubt needs a connection of its own
	if d, ok := errors.AsType[*inDoubtAppend](err); ok {
		out, err = s.settle(ctx, d)
	}
	if err != nil {
		return nil, fmt.Errorf("append to channel %d: %w", channelID, err)
	}
	s.noteAuthors(batch)
	return out, nil
}

// maxAppendDeadlockAttempts bounds AppendMessages's runs of one batch that PostgreSQL
// chose as a deadlock's victim.
const maxAppendDeadlockAttempts = 3

func (s *Store) appendOn(ctx context.Context, conn *pgx.Conn, channelID int64, batch []NewMessage, in appendInput) ([]AppendResult, error) {
	if in.fast() {
		out, ok, err := s.appendFast(ctx, conn, channelID, batch, in)
		if err != nil || ok {
			return out, err
		}
	}
	return s.appendGeneral(ctx, conn, channelID, batch, in)
}

// appendGeneral is the two-round-trip path: BEGIN travels with the first pipeline and
// COMMIT with the second, so the transaction costs no round trip of its own.
func (s *Store) appendGeneral(ctx context.Context, conn *pgx.Conn, channelID int64, batch []NewMessage, in appendInput) ([]AppendResult, error) {
	st, err := s.loadAppendState(ctx, conn, channelID, in)
	if err != nil {
		rollback(ctx, conn)
		return nil, err
	}
	plan := s.planAppend(channelID, batch, in, st)
	pid := conn.PgConn().PID()
	if err := s.writeAppend(ctx, conn, channelID, st, plan); err != nil {
		if inDoubt(err) {
			// COMMIT was on the wire. The seqs were planned under the row lock, so a
			// committed batch is exactly the plan.
			return nil, &inDoubtAppend{err: err, pid: pid, plan: plan}
		}
		rollback(ctx, conn)
		return nil, err
	}
	return plan.results, nil
}

// rollback ends a transaction that failed part way. When even that fails, the connection is
// left in its transaction and the pool closes it on release.
func rollback(ctx context.Context, conn *pgx.Conn) {
	if conn.PgConn().TxStatus() == 'I' {
		return
	}
	_, _ = conn.Exec(context.WithoutCancel(ctx), "ROLLBACK")
}

// appendInput is what the first round trip looks up, gathered from the batch.
type appendInput struct {
	dupUsers  []int64
	dupIDs    []string
	parents   []int64
	usernames []string
	mentions  [][]string    // per batch index, candidate usernames
	wide      []channelWide // per batch index, @channel/@all/@here
	// widePosters are the authors of messages with channel-wide mentions; here says one
	// has @here, whose online members AppendMessages looks up first (online).
	widePosters []int64
	here        bool
	online      map[int64]bool
	// files are the ids the batch attaches (ADR 0041): only then does the append look
	// files up, on the general path.
	files []int64
}

func newAppendInput(batch []NewMessage) appendInput {
	var in appendInput
	in.mentions = make([][]string, len(batch))
	in.wide = make([]channelWide, len(batch))
	seenParent := map[int64]bool{}
	seenName := map[string]bool{}
	for i, m := range batch {
		if m.ClientMsgID != "" {
			in.dupUsers = append(in.dupUsers, m.UserID)
			in.dupIDs = append(in.dupIDs, m.ClientMsgID)
		}
		in.files = append(in.files, m.FileIDs...)
		if m.ParentID != 0 && !seenParent[m.ParentID] {
			seenParent[m.ParentID] = true
			in.parents = append(in.parents, m.ParentID)
		}
		in.mentions[i], in.wide[i] = splitChannelWide(ParseMentions(m.Content))
		if in.wide[i] != 0 {
			in.widePosters = append(in.widePosters, m.UserID)
			in.here = in.here || in.wide[i]&wideChannel == 0
		}
		for _, n := range in.mentions[i] {
			for _, cand := range [2]string{n, trimMentionTail(n)} {
				if cand != "" && !seenName[cand] {
					seenName[cand] = true
					in.usernames = append(in.usernames, cand)
				}
			}
		}
	}
	return in
}

type dupKey struct {
	user int64
	cmid string
}

type parentInfo struct {
	channelID    int64
	isRoot       bool
	replyCount   int
	participants []int64
	author       int64 // the root's author, who follows the thread from its first reply
}

type mentionCandidate struct {
	id     int64
	role   Role
	member bool
	prefs  ChannelPrefs
	dnd    bool
}

// fast reports whether the batch can take the one-statement path: it looks nothing up
// but clientMsgId duplicates.
func (in appendInput) fast() bool {
	return len(in.parents) == 0 && len(in.usernames) == 0 && len(in.widePosters) == 0 && len(in.files) == 0
}

// appendState is what the first round trip found.
type appendState struct {
	workspaceID int64
	chanType    string
	archived    bool
	lastSeq     int64
	dups        map[dupKey]Message
	parents     map[int64]parentInfo
	users       map[string]mentionCandidate
	// Only for a batch with channel-wide mentions (store_mentions_channel.go).
	posterRoles map[int64]Role
	readers     []channelReader
	files       map[int64]FileRow // the batch's attachments that exist (store_files.go)
}

func (s *Store) loadAppendState(ctx context.Context, conn *pgx.Conn, channelID int64, in appendInput) (*appendState, error) {
	st := &appendState{dups: map[dupKey]Message{}, parents: map[int64]parentInfo{}, users: map[string]mentionCandidate{}}
	b := &pgx.Batch{}
	b.Queue("BEGIN")
	// The row lock orders concurrent appenders of a channel; the statements after it in
	// this pipeline run once it is held, with fresh READ COMMITTED snapshots, so they see
	// everything the previous holder committed.
	b.Queue(`SELECT workspace_id, type, archived, last_seq FROM channels WHERE id = $1 FOR UPDATE`, channelID).
		QueryRow(func(row pgx.Row) error {
			return row.Scan(&st.workspaceID, &st.chanType, &st.archived, &st.lastSeq)
		})
	if len(in.dupIDs) > 0 {
		// One index probe per key whatever the statistics say. As a plain IN (…) join, the
		// cached generic plan of a young table became a hash semi-join over every message
		// of the channel, making each commit O(channel size). LIMIT 1 (the key is unique)
		// keeps the planner from pulling the lateral subqueries up into joins.
		b.Queue(`SELECT `+messageColumns(4)+`
			FROM unnest($2::bigint[], $3::text[]) AS k(u, c)
			CROSS JOIN LATERAL (SELECT * FROM messages
			                    WHERE channel_id = $1 AND user_id = k.u AND client_msg_id = k.c LIMIT 1) m
			LEFT JOIN LATERAL (SELECT reply_count, last_reply_at FROM threads WHERE root_id = m.id LIMIT 1) t ON true`,
			channelID, in.dupUsers, in.dupIDs, 0).
			Query(func(rows pgx.Rows) error {
				for rows.Next() {
					var m Message
					if err := scanMessage(rows, &m); err != nil {
						return err
					}
					st.dups[dupKey{m.UserID, m.ClientMsgID}] = m
				}
				return rows.Err()
			})
	}
	if len(in.parents) > 0 {
		b.Queue(`SELECT m.id, m.channel_id, m.parent_id IS NULL, COALESCE(t.reply_count, 0), COALESCE(t.participants, '{}'), m.user_id
			FROM unnest($1::bigint[]) AS p(id)
			CROSS JOIN LATERAL (SELECT id, channel_id, parent_id, user_id FROM messages WHERE id = p.id LIMIT 1) m
			LEFT JOIN LATERAL (SELECT reply_count, participants FROM threads WHERE root_id = m.id LIMIT 1) t ON true`, in.parents).
			Query(func(rows pgx.Rows) error {
				for rows.Next() {
					var id int64
					var p parentInfo
					if err := rows.Scan(&id, &p.channelID, &p.isRoot, &p.replyCount, &p.participants, &p.author); err != nil {
						return err
					}
					st.parents[id] = p
				}
				return rows.Err()
			})
	}
	now := s.nowUTC()
	if len(in.usernames) > 0 {
		b.Queue(`SELECT u.id, u.username, wm.role,
			       EXISTS (SELECT 1 FROM channel_members cm WHERE cm.channel_id = $1 AND cm.user_id = u.id),
			       COALESCE(p.notify, 'mentions'), COALESCE(p.muted, false), COALESCE(u.dnd_until > $3, false)
			FROM users u
			JOIN workspace_members wm ON wm.user_id = u.id
			 AND wm.workspace_id = (SELECT workspace_id FROM channels WHERE id = $1)
			LEFT JOIN channel_prefs p ON p.user_id = u.id AND p.channel_id = $1
			WHERE u.username = ANY($2)`, channelID, in.usernames, now).
			Query(func(rows pgx.Rows) error {
				for rows.Next() {
					var name string
					var c mentionCandidate
					if err := rows.Scan(&c.id, &name, &c.role, &c.member, &c.prefs.Notify, &c.prefs.Muted, &c.dnd); err != nil {
						return err
					}
					st.users[name] = c
				}
				return rows.Err()
			})
	}
	if len(in.widePosters) > 0 {
		queueChannelWide(b, channelID, in, st, s.cfg.ChannelMentionMax, now)
	}
	if len(in.files) > 0 {
		st.files = make(map[int64]FileRow, len(in.files))
		queueFileLookup(b, in.files, st)
	}
	if err := conn.SendBatch(ctx, b).Close(); err != nil {
		if errors.Is(err, pgx.ErrNoRows) {
			return nil, ErrNotFound
		}
		return nil, err
	}
	if st.archived {
		return nil, ErrArchived
	}
	return st, nil
}

// appendPlan is the rows the second round trip writes.
type appendPlan struct {
	results  []AppendResult
	newMsgs  []int // batch indexes of the messages to insert, in seq order
	threads  map[int64]*threadUpdate
	roots    []int64 // keys of threads in first-reply order
	mentions []Mention
	readers  map[int64]int64 // poster → newest seq
	follows  threadFollows   // who starts following which thread (store_append_follows.go)
	now      time.Time
}

// readerMarks is readers as two arrays, in user order: every writer of read_receipts that
// locks several rows in one statement should lock them in one order, or two of them can
// deadlock.
func (p *appendPlan) readerMarks() (users, seqs []int64) {
	users = make([]int64, 0, len(p.readers))
	for u := range p.readers {
		users = append(users, u)
	}
	slices.Sort(users)
	seqs = make([]int64, len(users))
	for i, u := range users {
		seqs[i] = p.readers[u]
	}
	return users, seqs
}

type threadUpdate struct {
	added        int
	total        int // reply_count after the batch
	lastSeq      int64
	participants []int64
}

func (s *Store) planAppend(channelID int64, batch []NewMessage, in appendInput, st *appendState) *appendPlan {
	p := &appendPlan{
		results: make([]AppendResult, len(batch)),
		threads: map[int64]*threadUpdate{},
		readers: map[int64]int64{},
		now:     s.nowUTC(),
	}
	firstInBatch := map[dupKey]int{}
	var dupOfBatch [][2]int // (later index, earlier index)
	seq := st.lastSeq
	for i, nm := range batch {
		res := &p.results[i]
		key := dupKey{nm.UserID, nm.ClientMsgID}
		if nm.ClientMsgID != "" {
			if m, ok := st.dups[key]; ok {
				res.Message, res.Duplicate = m, true
				continue
			}
			if j, ok := firstInBatch[key]; ok {
				dupOfBatch = append(dupOfBatch, [2]int{i, j})
				continue
			}
		}
		if err := validateNew(nm); err != nil {
			res.Err = err
			continue
		}
		if in.wide[i] != 0 {
			if err := checkChannelWide(nm, st, s.cfg.ChannelMentionMax); err != nil {
				res.Err = err
				continue
			}
		}
		var files []File
		if len(nm.FileIDs) > 0 {
			var err error
			if files, err = filesOf(nm, st); err != nil {
				res.Err = err
				continue
			}
		}
		var parent *int64
		if nm.ParentID != 0 {
			pi, ok := st.parents[nm.ParentID]
			if !ok || pi.channelID != channelID || !pi.isRoot {
				res.Err = ErrBadParent
				continue
			}
			parent = &nm.ParentID
		}
		if nm.ClientMsgID != "" {
			firstInBatch[key] = i
		}
		seq++
		id := nm.ID
		if id == 0 {
			id = s.ids.Next()
		}
		res.Message = Message{
			ID: id, ChannelID: channelID, Seq: seq, UserID: nm.UserID, ParentID: parent,
			Content: nm.Content, ClientMsgID: nm.ClientMsgID, CreatedAt: Time{p.now}, Reactions: []Reaction{},
			Files: files,
		}
		p.newMsgs = append(p.newMsgs, i)
		p.readers[nm.UserID] = seq
		if parent != nil {
			p.addReply(*parent, nm.UserID, seq, st.parents[*parent])
		}
		res.Mentions = s.mentionsOf(res.Message, in.mentions[i], in.wide[i], in.online, st, p.now)
		p.mentions = append(p.mentions, res.Mentions...)
		p.follows.add(i, res.Message, st.parents, res.Mentions)
	}
	for _, d := range dupOfBatch {
		p.results[d[0]] = AppendResult{Message: p.results[d[1]].Message, Duplicate: true}
	}
	return p
}

func validateNew(nm NewMessage) error {
	if nm.UserID == 0 {
		return &ValidationError{Field: "userId", Reason: "missing"}
	}
	if err := ValidateContent(nm.Content); err != nil {
		return err
	}
	return ValidateClientMsgID(nm.ClientMsgID)
}

func (p *appendPlan) addReply(root, user, seq int64, pi parentInfo) {
	t, ok := p.threads[root]
	if !ok {
		t = &threadUpdate{participants: append([]int64(nil), pi.participants...)}
		p.threads[root] = t
		p.roots = append(p.roots, root)
	}
	t.added++
	t.total = pi.replyCount + t.added
	t.lastSeq = seq
	if len(t.participants) < maxParticipants && !containsID(t.participants, user) {
		t.participants = append(t.participants, user)
	}
}

// maxParticipants is how many repliers a thread lists (schema: cardinality ≤ 5).
const maxParticipants = 5

func containsID(ids []int64, id int64) bool {
	for _, v := range ids {
		if v == id {
			return true
		}
	}
	return false
}

// mentionsOf resolves the candidate names of m to users who can read the channel, then adds
// the channel-wide mentions (wide) of those not named.
func (s *Store) mentionsOf(m Message, names []string, wide channelWide, online map[int64]bool, st *appendState, now time.Time) []Mention {
	var out []Mention
	seen := map[int64]bool{}
	for _, n := range names {
		c, ok := st.users[n]
		if !ok {
			// "@bob." at the end of a sentence names bob unless someone is called "bob.".
			c, ok = st.users[trimMentionTail(n)]
		}
		if !ok || c.id == m.UserID || seen[c.id] {
			continue
		}
		a := Access{UserID: c.id, ChannelID: m.ChannelID, WorkspaceID: st.workspaceID, Role: c.role, Type: st.chanType, Member: c.member}
		if a.CanRead() != nil {
			continue
		}
		seen[c.id] = true
		out = append(out, Mention{ID: s.ids.Next(), MessageID: m.ID, ChannelID: m.ChannelID, UserID: c.id, Seq: m.Seq,
			CreatedAt: Time{now}, Via: MentionViaUser, Notify: !c.prefs.quiet() && !c.dnd})
	}
	if wide != 0 {
		out = s.channelWideMentions(out, m, wide, st, online, seen, now)
	}
	return out
}
