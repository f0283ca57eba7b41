package main

import (
	"context"
	"fmt"
	"math/rand/v2"
	"strconv"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/parley-chat/parley/cluster"
)

// The seeded workspace: users user0…user199 (user0 owns it, user1 searches); public
// channels chan-0…chan-49 (everyone in them), private chan-50…chan-59 (user1 in three),
// and 20 DMs of user1 with user2…user21. Messages spread evenly over seedDays from
// seedStart, ids made from their time as cluster.IDGenerator would; 8-16 words drawn
// Zipf-distributed from a vocabulary of vocabulary words; 4 % carry a link, 8 % are
// replies to a recent root of their channel.
const (
	users      = 200
	publics    = 50
	privates   = 10
	dms        = 20
	vocabulary = 20_000
	seedDays   = 360
	baseID     = 1 << 40 // users, workspace and channel ids: far below any message id
)

var seedStart = time.Date(2025, 1, 1, 0, 0, 0, 0, time.UTC)

// w is the vocabulary word of frequency rank r (0: the most common).
func w(r int) string { return "w" + strconv.Itoa(r) }

type seeded struct {
	workspace, searcher int64
	messages            int64
}

func seed(ctx context.Context, pool *pgxpool.Pool, n int) (seeded, error) {
	s := seeded{workspace: baseID, searcher: baseID + 1 + 1}
	if err := pool.QueryRow(ctx, `SELECT count(*) FROM messages`).Scan(&s.messages); err != nil {
		return s, err
	}
	if s.messages > 0 {
		return s, nil // built by an earlier run: reuse
	}
	t0 := time.Now()
	conn, err := pool.Acquire(ctx)
	if err != nil {
		return s, err
	}
	defer conn.Release()
	c := conn.Conn()
	exec := func(sql string, args ...any) error {
		_, err := c.Exec(ctx, sql, args...)
		return err
	}
	uid := func(i int) int64 { return baseID + 1 + int64(i) }
	// Skip foreign-key triggers while loading (superuser): the data are made consistent here.
	if err := exec(`SET session_replication_role = replica`); err != nil {
		return s, err
	}
	var userRows, wmRows [][]any
	for i := range users {
		userRows = append(userRows, []any{uid(i), "seed|" + strconv.Itoa(i), "user" + strconv.Itoa(i)})
		role := "member"
		if i == 0 {
			role = "owner"
		}
		wmRows = append(wmRows, []any{s.workspace, uid(i), role})
	}
	if _, err := c.CopyFrom(ctx, pgx.Identifier{"users"}, []string{"id", "subject", "username"}, pgx.CopyFromRows(userRows)); err != nil {
		return s, err
	}
	if err := exec(`INSERT INTO workspaces (id, name, created_by) VALUES ($1, 'Search bench', $2)`, s.workspace, uid(0)); err != nil {
		return s, err
	}
	if _, err := c.CopyFrom(ctx, pgx.Identifier{"workspace_members"}, []string{"workspace_id", "user_id", "role"}, pgx.CopyFromRows(wmRows)); err != nil {
		return s, err
	}
	// Channels: ids baseID+1000+k; members: who may post there.
	type channel struct {
		id      int64
		members []int
	}
	var chans []channel
	var chanRows, cmRows [][]any
	for k := range publics + privates + dms {
		ch := channel{id: baseID + 1000 + int64(k)}
		var name, typ any
		var dm any
		switch {
		case k < publics:
			name, typ = "chan-"+strconv.Itoa(k), "public"
			for i := range users {
				ch.members = append(ch.members, i)
			}
		case k < publics+privates:
			name, typ = "chan-"+strconv.Itoa(k), "private"
			for i := range 20 {
				ch.members = append(ch.members, (k*7+i)%users)
			}
			if k < publics+3 && !contains(ch.members, 1) {
				ch.members = append(ch.members, 1)
			}
		default:
			typ = "dm"
			other := 2 + k - publics - privates
			ch.members = []int{1, other}
			dm = []int64{uid(1), uid(other)}
		}
		chans = append(chans, ch)
		chanRows = append(chanRows, []any{ch.id, s.workspace, name, typ, uid(0), dm})
		for _, m := range ch.members {
			cmRows = append(cmRows, []any{ch.id, uid(m)})
		}
	}
	if _, err := c.CopyFrom(ctx, pgx.Identifier{"channels"}, []string{"id", "workspace_id", "name", "type", "created_by", "dm_members"}, pgx.CopyFromRows(chanRows)); err != nil {
		return s, fmt.Errorf("channels: %w", err)
	}
	if _, err := c.CopyFrom(ctx, pgx.Identifier{"channel_members"}, []string{"channel_id", "user_id"}, pgx.CopyFromRows(cmRows)); err != nil {
		return s, err
	}
	// The full-text and link indexes are built after the load (as pg_restore does).
	if err := exec(`DROP INDEX messages_tsv; DROP INDEX messages_has_link`); err != nil {
		return s, err
	}
	rng := rand.New(rand.NewPCG(1, 2))
	zipf := rand.NewZipf(rng, 1.1, 1, vocabulary-1)
	seqs := make([]int64, len(chans))
	roots := make([][]int64, len(chans))
	step := time.Duration(seedDays) * 24 * time.Hour / time.Duration(n)
	i := 0
	src := pgx.CopyFromFunc(func() ([]any, error) {
		if i >= n {
			return nil, nil
		}
		at := seedStart.Add(time.Duration(i) * step)
		id := cluster.IDFloor(at) | int64(i&0xfff)
		k := rng.IntN(len(chans))
		ch := chans[k]
		seqs[k]++
		var b strings.Builder
		for j := range 8 + rng.IntN(9) {
			if j > 0 {
				b.WriteByte(' ')
			}
			b.WriteString(w(int(zipf.Uint64())))
		}
		if rng.IntN(100) < 4 {
			fmt.Fprintf(&b, " https://example.com/p/%d", i)
		}
		var parent any
		if rs := roots[k]; len(rs) > 0 && rng.IntN(100) < 8 {
			parent = rs[rng.IntN(len(rs))]
		} else {
			roots[k] = append(roots[k], id)
			if len(roots[k]) > 20 {
				roots[k] = roots[k][1:]
			}
		}
		i++
		return []any{id, ch.id, seqs[k], uid(ch.members[rng.IntN(len(ch.members))]), parent, b.String(), at}, nil
	})
	if _, err := c.CopyFrom(ctx, pgx.Identifier{"messages"}, []string{"id", "channel_id", "seq", "user_id", "parent_id", "content", "created_at"}, src); err != nil {
		return s, fmt.Errorf("messages: %w", err)
	}
	for k, ch := range chans {
		if err := exec(`UPDATE channels SET last_seq = $2 WHERE id = $1`, ch.id, seqs[k]); err != nil {
			return s, err
		}
	}
	for _, sql := range []string{
		`INSERT INTO threads (root_id, channel_id, reply_count, last_reply_at, last_reply_seq)
		 SELECT parent_id, channel_id, count(*), max(created_at), max(seq) FROM messages
		 WHERE parent_id IS NOT NULL GROUP BY parent_id, channel_id`,
		`SET maintenance_work_mem = '256MB'`,
		`CREATE INDEX messages_tsv ON messages USING GIN (tsv) WITH (gin_pending_list_limit = 64)`,
		`CREATE INDEX messages_has_link ON messages (id) WHERE strpos(content, '://') > 0 AND content ~* 'https?://[^[:space:]]'`,
		`SET session_replication_role = origin`,
		`VACUUM ANALYZE`,
	} {
		if err := exec(sql); err != nil {
			return s, fmt.Errorf("%.40s: %w", sql, err)
		}
	}
	s.messages = int64(n)
	fmt.Printf("seeded %d messages in %s\n", n, time.Since(t0).Round(time.Second))
	return s, nil
}

func contains(xs []int, x int) bool {
	for _, y := range xs {
		if y == x {
			return true
		}
	}
	return false
}
