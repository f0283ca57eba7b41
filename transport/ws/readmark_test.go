package ws_test

import (
	"context"
	"strconv"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/parley-chat/parley/actors"
	"github.com/parley-chat/parley/persistence"
)

// accessQueries counts persistence.Store.ChannelAccess's query.
type accessQueries struct{ n atomic.Int64 }

func (q *accessQueries) TraceQueryStart(ctx context.Context, _ *pgx.Conn, d pgx.TraceQueryStartData) context.Context {
	if strings.Contains(d.SQL, "SELECT c.workspace_id, c.type, c.archived, c.created_by, c.last_seq, wm.role") {
		q.n.Add(1)
	}
	return ctx
}

func (*accessQueries) TraceQueryEnd(context.Context, *pgx.Conn, pgx.TraceQueryEndData) {}

// A session subscribed to a channel marks read a seq this node has delivered without an
// access check in PostgreSQL; a seq beyond what it has delivered is still checked and
// clamped to the channel's last.
func TestMarkReadOfDeliveredSeqSkipsAccessCheck(t *testing.T) {
	t.Parallel()
	q := &accessQueries{}
	e := newEnv(t, envOptions{tracer: q})
	aliceTok, alice := e.user("alice")
	cid := e.channel(alice, "reads", persistence.ChannelPublic)
	a := e.dial(aliceTok)
	sub, err := a.Subscribe(dest(cid))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := e.sys.Post(ctxT(t, 5*time.Second), alice, cid, persistence.NewMessage{Content: "one"}); err != nil {
		t.Fatal(err)
	}
	next(t, sub, 5*time.Second)
	read := func(seq int64) int64 {
		t.Helper()
		body := `{"channelId":"` + strconv.FormatInt(cid, 10) + `","seq":` + strconv.FormatInt(seq, 10) + `}`
		before := q.n.Load()
		if _, err := a.SendWithReceipt(ctxT(t, 5*time.Second), actors.DestMessageRead, []byte(body)); err != nil {
			t.Fatal(err)
		}
		return q.n.Load() - before
	}
	if n := read(1); n != 0 {
		t.Errorf("marking read a delivered seq made %d access queries, want 0", n)
	}
	if n := read(7); n != 1 {
		t.Errorf("marking read a seq beyond the delivered one made %d access queries, want 1", n)
	}
	var marker int64
	if err := e.store.Pool().QueryRow(context.Background(),
		`SELECT last_read_seq FROM read_receipts WHERE user_id = $1 AND channel_id = $2`, alice, cid).Scan(&marker); err != nil || marker != 1 {
		t.Errorf("read marker %d (%v), want 1 (7 clamped to the channel's last)", marker, err)
	}
}

// A SEND from a session subscribed to the channel asks PostgreSQL nothing before the
// commit; the commit itself still refuses an archived channel.
func TestSendFromSubscriberSkipsAccessCheck(t *testing.T) {
	t.Parallel()
	q := &accessQueries{}
	// A cached check expires at once: only the subscription can spare the query.
	e := newEnv(t, envOptions{tracer: q, actors: actors.Config{AccessTTL: time.Nanosecond}})
	aliceTok, alice := e.user("alice")
	cid := e.channel(alice, "sends", persistence.ChannelPublic)
	a := e.dial(aliceTok)
	send := func(content string) error {
		t.Helper()
		body := `{"channelId":"` + strconv.FormatInt(cid, 10) + `","content":"` + content + `"}`
		_, err := a.SendWithReceipt(ctxT(t, 5*time.Second), actors.DestMessageSend, []byte(body))
		return err
	}
	before := q.n.Load()
	if err := send("not subscribed"); err != nil {
		t.Fatal(err)
	}
	if n := q.n.Load() - before; n != 1 {
		t.Errorf("a SEND without a subscription made %d access queries, want 1", n)
	}
	if _, err := a.Subscribe(dest(cid)); err != nil {
		t.Fatal(err)
	}
	before = q.n.Load()
	if err := send("subscribed"); err != nil {
		t.Fatal(err)
	}
	if n := q.n.Load() - before; n != 0 {
		t.Errorf("a SEND from a subscriber made %d access queries, want 0", n)
	}
	if _, err := e.store.Pool().Exec(context.Background(), `UPDATE channels SET archived = true WHERE id = $1`, cid); err != nil {
		t.Fatal(err)
	}
	err := send("archived")
	if err == nil || !strings.Contains(err.Error(), "archived") {
		t.Fatalf("SEND to an archived channel from a subscriber: %v, want an archived ERROR", err)
	}
	var n int64
	if err := e.store.Pool().QueryRow(context.Background(), `SELECT count(*) FROM messages WHERE channel_id = $1`, cid).Scan(&n); err != nil || n != 2 {
		t.Errorf("%d messages stored (%v), want 2", n, err)
	}
}
