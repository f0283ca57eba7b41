package ws_test

import (
	"context"
	"crypto/sha256"
	"errors"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/parley-chat/parley/persistence"
	"github.com/parley-chat/parley/stomp/stompclient"
)

// TestSendWithFiles: a STOMP SEND attaches fileIds, the MESSAGE carries files, and a
// refused list (someone else's upload, eleven files) is ERROR validation_failed that posts
// nothing.
func TestSendWithFiles(t *testing.T) {
	t.Parallel()
	e := newEnv(t, envOptions{})
	tok, alice := e.user("alice")
	_, bob := e.user("bob")
	cid := e.channel(alice, "files", persistence.ChannelPublic)
	file := func(owner int64, name string) int64 {
		sum := sha256.Sum256([]byte(name))
		f, err := e.store.CreateFile(context.Background(), persistence.NewFile{ID: e.store.NextID(), WorkspaceID: e.ws,
			UploaderID: owner, Name: name, Size: 1, ContentType: "text/plain; charset=utf-8", SHA256: sum[:]})
		if err != nil {
			t.Fatal(err)
		}
		return f.ID
	}
	mine, bobs := file(alice, "mine.txt"), file(bob, "bobs.txt")
	c := e.dial(tok)
	s, err := c.Subscribe(dest(cid))
	if err != nil {
		t.Fatal(err)
	}
	body := func(content string, ids ...int64) []byte {
		q := make([]string, len(ids))
		for i, id := range ids {
			q[i] = `"` + strconv.FormatInt(id, 10) + `"`
		}
		return []byte(`{"channelId":"` + strconv.FormatInt(cid, 10) + `","content":"` + content + `","fileIds":[` + strings.Join(q, ",") + `]}`)
	}
	eleven := make([]int64, 11)
	for i := range eleven {
		eleven[i] = file(alice, "f"+strconv.Itoa(i))
	}
	for name, b := range map[string][]byte{"someone else's": body("x", bobs), "eleven": body("x", eleven...),
		"missing": body("x", 999999)} {
		_, err := c.SendWithReceipt(ctxT(t, 5*time.Second), "/app/message.send", b)
		var se *stompclient.ServerError
		if !errors.As(err, &se) || se.Frame.Value("code") != "validation_failed" {
			t.Errorf("SEND with %s file ids: %v, want ERROR validation_failed", name, err)
		}
		c = e.dial(tok) // an ERROR ends the session
		if s, err = c.Subscribe(dest(cid)); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := c.SendWithReceipt(ctxT(t, 5*time.Second), "/app/message.send", body("with a file", mine)); err != nil {
		t.Fatal(err)
	}
	m := decodeMessage(t, next(t, s, 5*time.Second))
	if m.Seq != 1 || len(m.Files) != 1 || m.Files[0].ID != mine || m.Files[0].Name != "mine.txt" ||
		m.Files[0].URL != "/api/files/"+strconv.FormatInt(mine, 10)+"/content" {
		t.Fatalf("MESSAGE %+v with files %+v", m, m.Files)
	}
}
