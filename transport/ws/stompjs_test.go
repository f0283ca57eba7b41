package ws_test

import (
	"bytes"
	"context"
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"testing"
	"time"

	"github.com/parley-chat/parley/persistence"
)

// TestStompJS runs the real @stomp/stompjs client under Node against a real server:
// connect, subscribe (with a receipt), send with a receipt, receive. `make test` installs
// its packages with `npm ci --prefix transport/ws/testdata/stompjs`.
func TestStompJS(t *testing.T) {
	t.Parallel()
	dir := filepath.Join("testdata", "stompjs")
	if _, err := os.Stat(filepath.Join(dir, "node_modules", "@stomp", "stompjs")); err != nil {
		t.Skip("node_modules missing: run `npm ci --prefix transport/ws/testdata/stompjs` (make test does)")
	}
	node, err := exec.LookPath("node")
	if err != nil {
		t.Skip("node not installed")
	}
	e := newEnv(t, envOptions{})
	tok, uid := e.user("jsuser")
	cid := e.channel(uid, "stompjs", persistence.ChannelPublic)

	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	cmd := exec.CommandContext(ctx, node, "script.mjs")
	cmd.Dir = dir
	cmd.Env = append(os.Environ(), "PARLEY_WS_URL="+e.url, "PARLEY_TOKEN="+tok, "PARLEY_CHANNEL="+strconv.FormatInt(cid, 10))
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("node script.mjs: %v\nstdout: %s\nstderr: %s", err, out, stderr.String())
	}
	var res struct {
		Connected        map[string]string
		Receipt          map[string]string
		SubscribeReceipt bool
		Message          struct {
			Headers map[string]string
			Body    struct {
				Type    string
				Message persistence.Message
			}
		}
	}
	if err := json.Unmarshal(bytes.TrimSpace(out), &res); err != nil {
		t.Fatalf("script output %q: %v", out, err)
	}
	if res.Connected["version"] != "1.2" || res.Connected["user-name"] != "jsuser" {
		t.Errorf("CONNECTED headers %v", res.Connected)
	}
	if !res.SubscribeReceipt || res.Receipt["seq"] != "1" || res.Receipt["message-id"] == "" {
		t.Errorf("receipts: subscribe %v, send %v", res.SubscribeReceipt, res.Receipt)
	}
	m := res.Message.Body.Message
	if res.Message.Body.Type != "message" || m.Content != "hello from stompjs" || m.Seq != 1 ||
		strconv.FormatInt(m.ID, 10) != res.Receipt["message-id"] {
		t.Errorf("message %+v (headers %v)", res.Message.Body, res.Message.Headers)
	}
}
