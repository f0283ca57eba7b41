package multinode_test

import (
	"context"
	"encoding/json"
	"net/http"
	"strconv"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/parley-chat/parley/actors"
	"github.com/parley-chat/parley/persistence"
)

// Threads you follow across nodes (ADR 0040): bob, on node 2, follows alice's thread by
// replying; alice's reply sent over STOMP on node 1 (the channel actor's commit) reaches bob
// as thread.updated with one unread reply; bob's thread-read on node 2 (Redis → Kafka →
// PostgreSQL) shows at once in GET /api/threads on node 1 and reaches PostgreSQL.
func TestFollowedThreadAcrossNodes(t *testing.T) {
	t.Parallel()
	nodes := startCluster(t, clusterOptions{nodes: 2})
	alice, bob := newUser(t, nodes[0], "alice"), newUser(t, nodes[1], "bob")
	chans := workspace(t, nodes, alice, []*user{bob}, "alpha")
	cid := strconv.FormatInt(chans[0], 10)
	call(t, nodes[1], http.MethodPost, "/api/channels/"+cid+"/members", bob, map[string]string{"userId": strconv.FormatInt(bob.id, 10)}, nil)

	var root persistence.Message
	call(t, nodes[0], http.MethodPost, "/api/channels/"+cid+"/messages", alice, map[string]string{"content": "a question"}, &root)
	rid := strconv.FormatInt(root.ID, 10)
	call(t, nodes[1], http.MethodPost, "/api/channels/"+cid+"/messages", bob, map[string]string{"content": "following", "parentId": rid}, nil)

	cb := dial(t, nodes[1], bob)
	notes, err := cb.Subscribe(persistence.QueueNotifications)
	if err != nil {
		t.Fatal(err)
	}
	waitTopic(t, nodes[0], "u:"+strconv.FormatInt(bob.id, 10), 1)

	body, _ := json.Marshal(map[string]string{"channelId": cid, "content": "an answer", "parentId": rid})
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	rcpt, err := dial(t, nodes[0], alice).SendWithReceipt(ctx, actors.DestMessageSend, body)
	if err != nil {
		t.Fatal(err)
	}
	seq, _ := strconv.ParseInt(rcpt.Value("seq"), 10, 64)
	ev, took := nextNotification(t, notes.C, persistence.EventThreadUpdated, time.Now())
	if ev["rootId"] != rid || ev["unreadReplies"] != float64(1) || ev["replyCount"] != float64(2) || ev["lastReplySeq"] != float64(seq) {
		t.Fatalf("thread.updated %v", ev)
	}
	t.Logf("thread.updated reached node 2 %v after the receipt", took)

	type page struct {
		Items []persistence.FollowedThread `json:"items"`
	}
	var p page
	call(t, nodes[0], http.MethodGet, "/api/threads?unread=true", bob, nil, &p)
	if len(p.Items) != 1 || p.Items[0].UnreadReplies != 1 {
		t.Fatalf("bob's unread threads before reading: %+v", p.Items)
	}
	var rd struct {
		LastReadSeq   int64 `json:"lastReadSeq"`
		UnreadReplies int64 `json:"unreadReplies"`
	}
	call(t, nodes[1], http.MethodPut, "/api/messages/"+rid+"/thread-read", bob, map[string]int64{"seq": seq}, &rd)
	if rd.LastReadSeq != seq || rd.UnreadReplies != 0 {
		t.Fatalf("thread-read: %+v", rd)
	}
	call(t, nodes[0], http.MethodGet, "/api/threads?unread=true", bob, nil, &p)
	if len(p.Items) != 0 {
		t.Fatalf("node 1 still lists the read thread as unread: %+v", p.Items)
	}
	conn, err := pgx.Connect(context.Background(), nodes[0].db)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close(context.Background())
	var stored int64
	deadline := time.Now().Add(30 * time.Second)
	for stored != seq {
		if time.Now().After(deadline) {
			t.Fatalf("PostgreSQL holds bob's thread marker %d, want %d", stored, seq)
		}
		time.Sleep(50 * time.Millisecond)
		if err := conn.QueryRow(context.Background(), `SELECT COALESCE((SELECT last_read_seq FROM thread_reads WHERE user_id = $1 AND root_id = $2), 0)`,
			bob.id, root.ID).Scan(&stored); err != nil {
			t.Fatal(err)
		}
	}
}
