package multinode_test

import (
	"bytes"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"strconv"
	"sync"
	"testing"
	"time"

	"github.com/parley-chat/parley/stomp"
	"github.com/parley-chat/parley/stomp/stompclient"
)

// cmdCall is one call a command receiver got, its signature checked by the test's own
// HMAC (never integrations.Sign).
type cmdCall struct {
	Command     string `json:"command"`
	Text        string `json:"text"`
	UserID      string `json:"userId"`
	ChannelID   string `json:"channelId"`
	WorkspaceID string `json:"workspaceId"`
	ResponseURL string `json:"responseUrl"`
	delivery    string
	signed      bool // the signature matched the secret
}

// cmdReceiver is a slash command's receiver on loopback: it records each call and
// answers with reply.
type cmdReceiver struct {
	srv    *httptest.Server
	mu     sync.Mutex
	secret string
	calls  []cmdCall
	reply  func(cmdCall) (status int, body string, delay time.Duration)
}

func newCmdReceiver(t *testing.T) *cmdReceiver {
	t.Helper()
	r := &cmdReceiver{}
	r.srv = httptest.NewServer(http.HandlerFunc(r.serve))
	t.Cleanup(r.srv.Close)
	return r
}

func (r *cmdReceiver) serve(w http.ResponseWriter, req *http.Request) {
	body, _ := io.ReadAll(req.Body)
	var c cmdCall
	_ = json.Unmarshal(body, &c)
	c.delivery = req.Header.Get("X-Parley-Delivery")
	r.mu.Lock()
	mac := hmac.New(sha256.New, []byte(r.secret))
	ts := req.Header.Get("X-Parley-Timestamp")
	mac.Write([]byte(ts + "."))
	mac.Write(body)
	want := "sha256=" + hex.EncodeToString(mac.Sum(nil))
	sec, err := strconv.ParseInt(ts, 10, 64)
	c.signed = hmac.Equal([]byte(want), []byte(req.Header.Get("X-Parley-Signature"))) &&
		err == nil && time.Since(time.Unix(sec, 0)).Abs() < time.Minute &&
		req.Method == http.MethodPost && req.Header.Get("Content-Type") == "application/json"
	r.calls = append(r.calls, c)
	reply := r.reply
	r.mu.Unlock()
	status, out, delay := http.StatusOK, "", time.Duration(0)
	if reply != nil {
		status, out, delay = reply(c)
	}
	if delay > 0 {
		select {
		case <-time.After(delay):
		case <-req.Context().Done():
		}
	}
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	_, _ = io.WriteString(w, out)
}

func (r *cmdReceiver) answer(fn func(cmdCall) (int, string, time.Duration)) {
	r.mu.Lock()
	r.reply = fn
	r.mu.Unlock()
}

func (r *cmdReceiver) last(t *testing.T) cmdCall {
	t.Helper()
	r.mu.Lock()
	defer r.mu.Unlock()
	if len(r.calls) == 0 {
		t.Fatal("the receiver got no call")
	}
	return r.calls[len(r.calls)-1]
}

func (r *cmdReceiver) count() int {
	r.mu.Lock()
	defer r.mu.Unlock()
	return len(r.calls)
}

// restStatus does one REST call and returns its status and body, whatever they are
// (as nil: no Authorization header).
func restStatus(t *testing.T, url, method string, as *user, body any) (int, []byte) {
	t.Helper()
	var rd io.Reader
	if body != nil {
		b, _ := json.Marshal(body)
		rd = bytes.NewReader(b)
	}
	req, _ := http.NewRequest(method, url, rd)
	if as != nil {
		req.Header.Set("Authorization", "Bearer "+as.token)
	}
	req.Header.Set("Content-Type", "application/json")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatalf("%s %s: %v", method, url, err)
	}
	defer resp.Body.Close()
	raw, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, raw
}

// problemCode is the code of a problem+json body.
func problemCode(raw []byte) string {
	var p struct {
		Code string `json:"code"`
	}
	_ = json.Unmarshal(raw, &p)
	return p.Code
}

// frames collects what a subscription receives.
type frames struct {
	mu   sync.Mutex
	list []*stomp.Frame
}

func collect(t *testing.T, c *stompclient.Client, dest string) *frames {
	t.Helper()
	fs := &frames{}
	if _, err := c.SubscribeFunc(dest, func(f *stomp.Frame, _ time.Time) {
		fs.mu.Lock()
		fs.list = append(fs.list, f)
		fs.mu.Unlock()
	}); err != nil {
		t.Fatalf("subscribe %s: %v", dest, err)
	}
	return fs
}

func (fs *frames) snapshot() []*stomp.Frame {
	fs.mu.Lock()
	defer fs.mu.Unlock()
	return append([]*stomp.Frame(nil), fs.list...)
}

// bodies decodes the JSON bodies received so far.
func (fs *frames) bodies() []map[string]any {
	var out []map[string]any
	for _, f := range fs.snapshot() {
		var m map[string]any
		_ = json.Unmarshal(f.Body, &m)
		out = append(out, m)
	}
	return out
}

// contents are the contents of the message events received so far.
func (fs *frames) contents() []string {
	var out []string
	for _, b := range fs.bodies() {
		if b["type"] != "message" {
			continue
		}
		if m, ok := b["message"].(map[string]any); ok {
			out = append(out, fmt.Sprint(m["content"]))
		}
	}
	return out
}

// sendBody is a /app/message.send body.
func sendBody(channel int64, content string) []byte {
	b, _ := json.Marshal(map[string]string{"channelId": strconv.FormatInt(channel, 10), "content": content})
	return b
}
