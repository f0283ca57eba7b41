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
