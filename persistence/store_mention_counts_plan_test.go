package persistence_test

import (
	"context"
	"encoding/json"
	"fmt"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/parley-chat/parley/cluster"
	"github.com/parley-chat/parley/persistence"
	"github.com/parley-chat/parley/persistence/pgtest"
)

// The channel list's two new statements (mention counts, the caller's DMs) must keep
// their plans on a database of a few hundred thousand rows with no statistics (this
// machine's PostgreSQL runs without autovacuum, as a young or bulk-loaded database does;
// ADR 0010), both as custom and as generic plans: per channel one range on
// mentions_user_channel_unread or messages' (channel_id, seq) key, and the DMs from the
// caller's memberships, never a scan of a whole table. ADR 0032 has the timings.
func TestChannelListPlansWithoutStatistics(t *testing.T) {
	if testing.Short() {
		t.Skip("loads ~300,000 rows")
	}
	t.Parallel()
	pool, _ := pgtest.NewPool(t, nil)
	ctx := context.Background()
	start := time.Now()
	for _, q := range []string{
		// The full-text index has nothing to do with these plans and is most of the load's time.
		`DROP INDEX messages_tsv`,
		`INSERT INTO users (id, subject, username) SELECT i, 's' || i, 'u' || i FROM generate_series(1, 2000) i`,
		`INSERT INTO workspaces (id, name, created_by) VALUES (1, 'w', 1)`,
		`INSERT INTO workspace_members (workspace_id, user_id, role)
		 SELECT 1, i, CASE WHEN i = 1 THEN 'owner' ELSE 'member' END FROM generate_series(1, 2000) i`,
		// 1,000 public channels of 100 messages each.
		`INSERT INTO channels (id, workspace_id, name, type, created_by, last_seq)
		 SELECT 100000 + i, 1, 'c' || i, 'public', 1, 100 FROM generate_series(1, 1000) i`,
		// ~19,700 DMs between other people, 30 of the viewer's (user 1) of 100 messages.
		`INSERT INTO channels (id, workspace_id, type, created_by, dm_members)
		 SELECT 200000 + x * 1000 + y, 1, 'dm', x, ARRAY[x, y]::bigint[] FROM generate_series(2, 200) x, generate_series(x + 1, 200) y`,
		`INSERT INTO channels (id, workspace_id, type, created_by, dm_members, last_seq)
		 SELECT 900000 + y, 1, 'dm', 1, ARRAY[1, y]::bigint[], 100 FROM generate_series(2, 31) y`,
		`INSERT INTO channel_members (channel_id, user_id) SELECT id, unnest(dm_members) FROM channels WHERE type = 'dm'`,
		`INSERT INTO channel_members (channel_id, user_id)
		 SELECT 100000 + c, u FROM generate_series(1, 1000) c, generate_series(1, 2000) u WHERE (c + u) % 100 = 0 OR (u = 1 AND c <= 100)
		 ON CONFLICT DO NOTHING`,
		`INSERT INTO messages (id, channel_id, seq, user_id, content)
		 SELECT 10000000 + i, 100001 + i % 1000, i / 1000 + 1, 2 + i % 1999, 'hello @u1 number ' || i FROM generate_series(0, 99999) i`,
		`INSERT INTO messages (id, channel_id, seq, user_id, content)
		 SELECT 20000000 + y * 1000 + s, 900000 + y, s, CASE WHEN s % 2 = 0 THEN 1 ELSE y END, 'dm ' || s
		 FROM generate_series(2, 31) y, generate_series(1, 100) s`,
		// Every other channel message mentions someone: the viewer in every 5th seq
		// (10,000 mentions, none read), others in the rest (40,000).
		`INSERT INTO mentions (id, message_id, channel_id, user_id, seq)
		 SELECT m.id, m.id, m.channel_id, CASE WHEN m.seq % 5 = 0 THEN 1 ELSE 2 + m.id % 1999 END, m.seq
		 FROM messages m WHERE m.channel_id < 200000 AND (m.seq % 5 = 0 OR m.seq % 2 = 0)`,
		`INSERT INTO read_receipts (user_id, channel_id, last_read_seq)
		 SELECT 1, 100000 + c, 90 FROM generate_series(1, 100) c`,
	} {
		s := time.Now()
		if _, err := pool.Exec(ctx, q); err != nil {
			t.Fatalf("%s: %v", q, err)
		}
		if d := time.Since(s); d > 2*time.Second {
			t.Logf("%v: %.60s", d.Round(time.Millisecond), q)
		}
	}
	t.Logf("loaded in %v", time.Since(start).Round(time.Millisecond))

	// The viewer's list: 100 channels read to 90 of 100, 30 DMs never read.
	var chans, floors []int64
	var dms []bool
	for c := int64(1); c <= 100; c++ {
		chans, floors, dms = append(chans, 100000+c), append(floors, 90), append(dms, false)
	}
	for y := int64(2); y <= 31; y++ {
		chans, floors, dms = append(chans, 900000+y), append(floors, 0), append(dms, true)
	}
	conn, err := pool.Acquire(ctx)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Release()
	for _, c := range []struct {
		name, query, params string
		args                []any
		wantIndex           []string
	}{
		{"mention counts", persistence.MentionCountsQuery, "bigint, bigint[], bigint[], boolean[]",
			[]any{int64(1), chans, floors, dms}, []string{"mentions_user_channel_unread", "messages_channel_id_seq_key"}},
		{"DM list", persistence.DMListQuery, "bigint, bigint, bigint, integer",
			[]any{int64(1), int64(1), int64(0), 100}, []string{"channel_members_user", "channels_pkey|channels_workspace_id", "read_receipts_pkey"}},
	} {
		for _, mode := range []string{"force_custom_plan", "force_generic_plan"} {
			plan := explain(t, conn.Conn(), mode, c.query, c.params, c.args)
			for _, scan := range seqScans(plan) {
				t.Errorf("%s (%s): sequential scan of %s", c.name, mode, scan)
			}
			// "a|b": either index serves (channels_workspace_id, migration 00016, is a unique
			// probe on the same id with the workspace the query names).
			for _, idx := range c.wantIndex {
				if !slices.ContainsFunc(strings.Split(idx, "|"), func(i string) bool { return strings.Contains(plan, `"Index Name": "`+i+`"`) }) {
					t.Errorf("%s (%s): plan does not use %s:\n%s", c.name, mode, idx, plan)
				}
			}
		}
		var took time.Duration
		for range 5 {
			s := time.Now()
			rows, err := conn.Query(ctx, c.query, c.args...)
			if err != nil {
				t.Fatal(err)
			}
			rows.Close()
			took = time.Since(s)
		}
		t.Logf("%s: %v per call", c.name, took.Round(time.Microsecond))
	}

	// And the answer is right: 2 unread mentions of the viewer per channel (seq 91-100,
	// every 5th message), 50 unread messages by the other person per DM.
	views := make([]persistence.ChannelView, len(chans))
	for i := range chans {
		views[i] = persistence.ChannelView{Channel: persistence.Channel{ID: chans[i], Type: map[bool]string{false: "public", true: "dm"}[dms[i]]},
			IsMember: true, LastReadSeq: floors[i], UnreadCount: 1}
	}
	ids, err := cluster.NewIDGenerator(3, nil)
	if err != nil {
		t.Fatal(err)
	}
	store := persistence.NewStore(pool, ids, persistence.StoreConfig{})
	if err := store.CountMentions(ctx, 1, views); err != nil {
		t.Fatal(err)
	}
	for _, v := range views {
		want := int64(2)
		if v.Type == "dm" {
			want = 50
		}
		if v.MentionCount != want {
			t.Fatalf("channel %d: %d mentions, want %d", v.ID, v.MentionCount, want)
		}
	}
}

// explain returns the JSON plan of query under plan_cache_mode mode.
func explain(t *testing.T, conn *pgx.Conn, mode, query, params string, args []any) string {
	t.Helper()
	ctx := context.Background()
	if _, err := conn.Exec(ctx, "SET plan_cache_mode = "+mode); err != nil {
		t.Fatal(err)
	}
	defer conn.Exec(ctx, "RESET plan_cache_mode") //nolint:errcheck
	if _, err := conn.Exec(ctx, "PREPARE plan_check ("+params+") AS "+query); err != nil {
		t.Fatal(err)
	}
	defer conn.Exec(ctx, "DEALLOCATE plan_check") //nolint:errcheck
	// EXECUTE takes no bind parameters: the values go in as literals.
	var lits []string
	for _, a := range args {
		lits = append(lits, literal(a))
	}
	var plan string
	if err := conn.QueryRow(ctx, "EXPLAIN (FORMAT JSON) EXECUTE plan_check ("+strings.Join(lits, ", ")+")").Scan(&plan); err != nil {
		t.Fatal(err)
	}
	return plan
}

func literal(v any) string {
	switch v := v.(type) {
	case []int64:
		parts := make([]string, len(v))
		for i, x := range v {
			parts[i] = strconv.FormatInt(x, 10)
		}
		return "'{" + strings.Join(parts, ",") + "}'"
	case []bool:
		parts := make([]string, len(v))
		for i, x := range v {
			parts[i] = strconv.FormatBool(x)
		}
		return "'{" + strings.Join(parts, ",") + "}'"
	default:
		return fmt.Sprint(v)
	}
}

// seqScans lists the relations plan reads with a sequential scan.
func seqScans(plan string) []string {
	var root []map[string]any
	if err := json.Unmarshal([]byte(plan), &root); err != nil {
		return []string{"unparsable plan: " + err.Error()}
	}
	var out []string
	var walk func(n map[string]any)
	walk = func(n map[string]any) {
		if n["Node Type"] == "Seq Scan" {
			out = append(out, n["Relation Name"].(string))
		}
		kids, _ := n["Plans"].([]any)
		for _, k := range kids {
			walk(k.(map[string]any))
		}
	}
	for _, r := range root {
		walk(r["Plan"].(map[string]any))
	}
	return out
}
