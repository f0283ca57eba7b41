package api_test

import (
	"context"
	"encoding/json"
	"fmt"
	"log/slog"
	"math/rand/v2"
	"net/http"
	"sync"
	"testing"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"

	actorsys "github.com/parley-chat/parley/actors"
	"github.com/parley-chat/parley/cluster"
	"github.com/parley-chat/parley/cluster/redistest"
	"github.com/parley-chat/parley/persistence"
)

// The proof that followed-thread counts are right by construction: four users
// reply (mentioning each other), read and delete concurrently in six threads, through
// both posters (the System one commits concurrent replies in shared group commits);
// afterwards every item of every user's GET /api/threads equals a recount from
// PostgreSQL, and every thread the user follows by the rules is listed.
func TestFollowedThreadCountsUnderConcurrency(t *testing.T) {
	posters(t, func(t *testing.T, o harnessOpts) {
		tm := newTeam(t, o)
		concurrentThreads(t, tm, 0)
	})
}

// The same through the production read path: thread markers go Redis → aggregator → Kafka
// (kfake) → persister → PostgreSQL, the list reads the larger of Redis and PostgreSQL, and
// once the markers have settled every count equals the recount from PostgreSQL.
func TestFollowedThreadCountsThroughTheReceiptPipeline(t *testing.T) {
	t.Parallel()
	rc, markers, startPersister := receiptPipeline(t)
	tm := newTeam(t, harnessOpts{system: true, readMarkers: rc, markerCache: markers})
	startPersister(tm.h.store.Pool())
	concurrentThreads(t, tm, 30*time.Second)
}

func concurrentThreads(t *testing.T, tm *team, settle time.Duration) {
	users := []*client{tm.alice, tm.bob, tm.join("carol", "member"), tm.join("dave", "member")}
	var roots []int64
	for i := range 6 {
		roots = append(roots, tm.post(users[i%2], fmt.Sprintf("root %d", i)).ID)
	}
	const ops = 40
	var wg sync.WaitGroup
	for ui, c := range users {
		wg.Go(func() {
			rng := rand.New(rand.NewPCG(uint64(ui), 42))
			var mine []int64
			for range ops {
				root := roots[rng.IntN(len(roots))]
				switch p := rng.IntN(100); {
				case p < 50:
					content := "reply"
					if rng.IntN(3) == 0 {
						content = "ping @" + users[rng.IntN(len(users))].name
					}
					st, b := c.do("POST", tm.msgs(), map[string]any{"content": content, "parentId": id(root)})
					var m persistence.Message
					if st != http.StatusCreated || json.Unmarshal(b, &m) != nil {
						t.Errorf("reply: %d %s", st, b)
						return
					}
					mine = append(mine, m.ID)
				case p < 80:
					seq := rng.Int64N(ops * int64(len(users)))
					if st, b := c.do("PUT", fmt.Sprintf("/api/messages/%d/thread-read", root), map[string]any{"seq": seq}); st != http.StatusOK {
						t.Errorf("thread-read: %d %s", st, b)
						return
					}
				case len(mine) > 0:
					k := rng.IntN(len(mine))
					if st, b := c.do("DELETE", fmt.Sprintf("/api/messages/%d", mine[k]), nil); st != http.StatusNoContent {
						t.Errorf("delete: %d %s", st, b)
						return
					}
					mine = append(mine[:k], mine[k+1:]...)
				}
			}
		})
	}
	wg.Wait()
	if t.Failed() {
		return
	}
	// Markers through Kafka reach PostgreSQL a moment later: wait until the list and
	// the recount agree, then check (and report) every count.
	deadline := time.Now().Add(settle)
	for time.Now().Before(deadline) && !threadCountsAgree(t, tm.h, users) {
		time.Sleep(100 * time.Millisecond)
	}
	checked := 0
	for _, c := range users {
		got, _ := followed(c, "", 4)
		want := recountFollowed(t, tm.h, c.id)
		if len(got) != len(want) {
			t.Errorf("%s lists %d threads, the rules make %d", c.name, len(got), len(want))
		}
		for root, w := range want {
			g, ok := got[root]
			switch {
			case !ok:
				t.Errorf("%s: thread %d not listed", c.name, root)
			case g.ReplyCount != w.ReplyCount || g.UnreadReplies != w.UnreadReplies || g.LastReplySeq != w.LastReplySeq || g.LastReadSeq != w.LastReadSeq:
				t.Errorf("%s: thread %d listed %d replies, %d unread, last %d, read %d; PostgreSQL: %d, %d, %d, %d", c.name, root,
					g.ReplyCount, g.UnreadReplies, g.LastReplySeq, g.LastReadSeq, w.ReplyCount, w.UnreadReplies, w.LastReplySeq, w.LastReadSeq)
			}
			checked++
		}
		unread, _ := followed(c, "&unread=true", 3)
		for root, w := range want {
			if _, ok := unread[root]; ok != (w.UnreadReplies > 0) {
				t.Errorf("%s: thread %d in the unread list: %v, with %d unread", c.name, root, ok, w.UnreadReplies)
			}
		}
	}
	t.Logf("%d thread counts checked against PostgreSQL", checked)
}

// threadCountsAgree reports whether every user's list equals the recount now.
func threadCountsAgree(t *testing.T, h *harness, users []*client) bool {
	t.Helper()
	for _, c := range users {
		got, _ := followed(c, "", 100)
		want := recountFollowed(t, h, c.id)
		if len(got) != len(want) {
			return false
		}
		for root, w := range want {
			g := got[root]
			if g.UnreadReplies != w.UnreadReplies || g.LastReadSeq != w.LastReadSeq || g.ReplyCount != w.ReplyCount {
				return false
			}
		}
	}
	return true
}

// recountFollowed recounts userID's followed threads from the messages themselves: the
// threads with a reply whose root is theirs, or that they replied to or were mentioned in
// (by name, in a reply), with the replies counted, the live ones by others above their
// thread marker, and the newest reply's seq.
func recountFollowed(t *testing.T, h *harness, userID int64) map[int64]persistence.FollowedThread {
	t.Helper()
	rows, err := h.store.Pool().Query(context.Background(), `
		SELECT r.id,
		       (SELECT count(*) FROM messages m WHERE m.parent_id = r.id),
		       (SELECT count(*) FROM messages m WHERE m.parent_id = r.id AND m.deleted_at IS NULL AND m.user_id <> $1
		          AND m.seq > COALESCE((SELECT last_read_seq FROM thread_reads WHERE user_id = $1 AND root_id = r.id), 0)),
		       (SELECT max(seq) FROM messages m WHERE m.parent_id = r.id),
		       COALESCE((SELECT last_read_seq FROM thread_reads WHERE user_id = $1 AND root_id = r.id), 0)
		FROM messages r
		WHERE r.parent_id IS NULL AND EXISTS (SELECT 1 FROM messages m WHERE m.parent_id = r.id)
		  AND (r.user_id = $1
		       OR EXISTS (SELECT 1 FROM messages m WHERE m.parent_id = r.id AND m.user_id = $1)
		       OR EXISTS (SELECT 1 FROM messages m JOIN users u ON u.id = $1
		                  WHERE m.parent_id = r.id AND m.user_id <> $1 AND m.content LIKE '%@' || u.username || '%'))`, userID)
	if err != nil {
		t.Fatal(err)
	}
	defer rows.Close()
	out := map[int64]persistence.FollowedThread{}
	for rows.Next() {
		var f persistence.FollowedThread
		if err := rows.Scan(&f.Root.ID, &f.ReplyCount, &f.UnreadReplies, &f.LastReplySeq, &f.LastReadSeq); err != nil {
			t.Fatal(err)
		}
		out[f.Root.ID] = f
	}
	if err := rows.Err(); err != nil {
		t.Fatal(err)
	}
	return out
}

// receiptPipeline starts the production read-marker pipeline on real services: Redis
// markers, an embedded kfake broker, the producer and the aggregator (Receipts); the
// persister starts once the harness's database exists (startPersister).
func receiptPipeline(t *testing.T) (*actorsys.Receipts, *cluster.Markers, func(*pgxpool.Pool)) {
	t.Helper()
	ctx := context.Background()
	log := slog.New(slog.DiscardHandler)
	rdb, prefix := redistest.Client(t)
	markers, err := cluster.NewMarkers(rdb, cluster.MarkersConfig{KeyPrefix: prefix + "read:", ParkedKey: prefix + "parked"})
	if err != nil {
		t.Fatal(err)
	}
	kafka, err := persistence.StartEmbeddedKafka(ctx, persistence.EmbeddedKafkaConfig{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(kafka.Close)
	topics := persistence.ReceiptTopics{Brokers: kafka.Addrs()}
	prod, err := persistence.NewReceiptProducer(persistence.ReceiptProducerConfig{ReceiptTopics: topics}, log)
	if err != nil {
		t.Fatal(err)
	}
	rc, err := actorsys.NewReceipts(actorsys.ReceiptsConfig{FlushInterval: 20 * time.Millisecond},
		actorsys.ReceiptsDeps{Markers: markers, Kafka: prod, Parking: markers, Logger: log})
	if err != nil {
		t.Fatal(err)
	}
	if err := rc.Start(ctx); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		sctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		_ = rc.Shutdown(sctx)
		_ = prod.Close()
	})
	return rc, markers, func(pool *pgxpool.Pool) {
		p, err := persistence.NewReceiptPersister(persistence.ReceiptPersisterConfig{
			ReceiptConsumerConfig: persistence.ReceiptConsumerConfig{ReceiptTopics: topics}}, pool, nil, log)
		if err != nil {
			t.Fatal(err)
		}
		runCtx, stop := context.WithCancel(ctx)
		done := make(chan struct{})
		go func() {
			defer close(done)
			_ = p.Run(runCtx)
		}()
		t.Cleanup(func() {
			stop()
			<-done
			_ = p.Close()
		})
	}
}
