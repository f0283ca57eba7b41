package attacks_test

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/golang-jwt/jwt/v5"

	"github.com/parley-chat/parley/actors"
	"github.com/parley-chat/parley/stomp"
	"github.com/parley-chat/parley/transport"
)

// metas are SQL metacharacters and the classic injections built from them.
var metas = []string{
	`'`, `''`, `;`, `--`, `\`, `%`, `_`, `$1`, "\x00", `%_\`,
	`' OR '1'='1`, `'; DROP TABLE messages; --`, `$1$2 $$ $tag$`, `\'; SELECT pg_sleep(5); --`,
	"a\x00b", `"; --`, `/* */`, `ARRAY[1]::text`, `E'\x41'`, `%%`, `__`, `\\%`,
}

// noServerError fails for a 5xx answer or one that leaks a database error.
func noServerError(t *testing.T, what string, status int, raw []byte) {
	t.Helper()
	low := strings.ToLower(string(raw))
	if status >= 500 || strings.Contains(low, "syntax error") || strings.Contains(low, "sqlstate") || strings.Contains(low, "pq:") {
		t.Errorf("%s: %d %s", what, status, raw)
	}
}

// TestSQLMetacharactersAreLiterals sends SQL metacharacters in search queries, workspace
// and channel names, channel topics, message content (REST and STOMP), invitations,
// reactions, query parameters and token claims (usernames). Each answer is 400 or a
// success whose data holds the input literally; never a 5xx, never a database error.
func TestSQLMetacharactersAreLiterals(t *testing.T) {
	t.Parallel()
	n := startNode(t, openRESTLimits) // a write and a search per metacharacter string
	u := n.user("alice")
	s := n.workspace(u, "acme")
	wid, cid := strconv.FormatInt(s.id, 10), strconv.FormatInt(s.general, 10)
	plain := n.post(u, s.general, "plain words without symbols")
	stompc := n.raw(u)
	var stored []string // contents accepted, to find again

	for i, m := range metas {
		// Message content: the exact string comes back.
		status, raw := n.do(http.MethodPost, "/api/channels/"+cid+"/messages", u, map[string]string{"content": "x " + m})
		noServerError(t, "post "+strconv.Quote(m), status, raw)
		if status == http.StatusCreated {
			var got message
			_ = json.Unmarshal(raw, &got)
			if got.Content != "x "+m {
				t.Errorf("post %q stored %q", m, got.Content)
			}
			var back message
			n.must(http.MethodGet, fmt.Sprintf("/api/messages/%d", got.ID), u, nil, &back)
			if back.Content != "x "+m {
				t.Errorf("post %q reads back %q", m, back.Content)
			}
			stored = append(stored, "x "+m)
		} else if status != http.StatusBadRequest {
			t.Errorf("post %q: %d %s", m, status, raw)
		}
		// The same over STOMP.
		stompc.write(frame(stomp.CmdSend, sendBody(s.general, "y "+m), stomp.HdrDestination, actors.DestMessageSend, stomp.HdrReceipt, "r"+strconv.Itoa(i)))
		f := stompc.next()
		switch {
		case f.Command == stomp.CmdReceipt:
			var back message
			n.must(http.MethodGet, "/api/messages/"+f.Value(stomp.HdrMessageID), u, nil, &back)
			if back.Content != "y "+m {
				t.Errorf("STOMP send %q reads back %q", m, back.Content)
			}
		case f.Command == stomp.CmdError && f.Value("code") == "validation_failed":
		default:
			t.Errorf("STOMP send %q: %s %v %q", m, f.Command, f.Headers, f.Body)
		}

		// Search: 200 or 400, never everything.
		status, raw = n.do(http.MethodGet, "/api/workspaces/"+wid+"/search?q="+url.QueryEscape(m), u, nil)
		noServerError(t, "search "+strconv.Quote(m), status, raw)
		if status == http.StatusOK && strings.Contains(string(raw), plain.Content) {
			t.Errorf("search %q matches a message without it: %s", m, raw)
		}

		// Workspace names are free text: literal, or 400.
		status, raw = n.do(http.MethodPost, "/api/workspaces", u, map[string]string{"name": "w " + m})
		noServerError(t, "workspace "+strconv.Quote(m), status, raw)
		if status == http.StatusCreated && !strings.Contains(string(raw), jsonString("w "+m)) {
			t.Errorf("workspace %q: %s", m, raw)
		}
		// Channel names are [a-z0-9_-]: 201 with the same name, or 400.
		status, raw = n.do(http.MethodPost, "/api/workspaces/"+wid+"/channels", u, map[string]string{"name": "c" + strconv.Itoa(i) + m, "type": "public"})
		noServerError(t, "channel "+strconv.Quote(m), status, raw)
		if status != http.StatusCreated && status != http.StatusBadRequest {
			t.Errorf("channel %q: %d %s", m, status, raw)
		}
		// Topics are free text.
		status, raw = n.do(http.MethodPatch, "/api/channels/"+cid, u, map[string]string{"topic": "t " + m})
		noServerError(t, "topic "+strconv.Quote(m), status, raw)
		if status == http.StatusOK && !strings.Contains(string(raw), jsonString("t "+m)) {
			t.Errorf("topic %q: %s", m, raw)
		}
		// Invitations by username and by e-mail.
		for _, body := range []map[string]string{{"username": "u" + m}, {"email": "e" + m + "@example.com"}, {"username": "bob", "role": m}} {
			status, raw = n.do(http.MethodPost, "/api/workspaces/"+wid+"/invitations", u, body)
			noServerError(t, fmt.Sprintf("invitation %q", body), status, raw)
		}
		// Reactions: the emoji is a path segment.
		status, raw = n.do(http.MethodPut, fmt.Sprintf("/api/messages/%d/reactions/%s", plain.ID, url.PathEscape("r"+m)), u, nil)
		noServerError(t, "reaction "+strconv.Quote(m), status, raw)
		// Query parameters that are numbers or cursors.
		for _, q := range []string{"limit", "before_seq", "after_seq", "after", "sort", "unread"} {
			for _, path := range []string{"/api/channels/" + cid + "/messages", "/api/unreads", "/api/mentions", "/api/workspaces/" + wid + "/members"} {
				status, raw = n.do(http.MethodGet, path+"?"+q+"="+url.QueryEscape("1"+m), u, nil)
				noServerError(t, fmt.Sprintf("GET %s?%s=%q", path, q, "1"+m), status, raw)
			}
		}
		// Dev login usernames.
		status, raw = n.do(http.MethodPost, "/api/auth/dev/login", nil, map[string]string{"username": "d" + m})
		noServerError(t, "dev login "+strconv.Quote(m), status, raw)
	}

	// Every accepted content is found by a search for a word of it, literally.
	status, raw := n.do(http.MethodGet, "/api/workspaces/"+wid+"/search?limit=100&q=x", u, nil)
	if status != http.StatusOK {
		t.Fatalf("search: %d %s", status, raw)
	}
	if strings.Contains(string(raw), plain.Content) {
		t.Errorf("search x matched %q", plain.Content)
	}
	if got := n.count(`SELECT count(*) FROM messages WHERE channel_id = $1`, s.general); got < int64(len(stored)) {
		t.Errorf("%d messages stored, %d accepted", got, len(stored))
	}
	n.healthy()
}

// TestSQLMetacharactersInTokenClaims: a token whose claims (sub, preferred_username, name,
// email) carry SQL metacharacters identifies a user whose username is sanitised and whose
// other fields are stored literally or dropped; never a 5xx.
func TestSQLMetacharactersInTokenClaims(t *testing.T) {
	t.Parallel()
	n := startNode(t, nil)
	for i, m := range metas {
		claims := jwt.MapClaims{
			"sub":                "sub-" + strconv.Itoa(i) + m,
			"preferred_username": "p" + m,
			"name":               "Robert " + m,
			"email":              "e" + m + "@example.com",
			"exp":                time.Now().Add(time.Hour).Unix(),
		}
		tok, err := jwt.NewWithClaims(jwt.SigningMethodHS256, claims).SignedString([]byte(transport.DevJWTSecret))
		if err != nil {
			t.Fatal(err)
		}
		u := &user{name: "claims", token: tok}
		status, raw := n.do(http.MethodGet, "/api/users/me", u, nil)
		noServerError(t, fmt.Sprintf("claims with %q", m), status, raw)
		if status != http.StatusOK {
			if status != http.StatusUnauthorized && status != http.StatusBadRequest {
				t.Errorf("claims with %q: %d %s", m, status, raw)
			}
			continue
		}
		var me struct {
			Username    string `json:"username"`
			DisplayName string `json:"displayName"`
		}
		_ = json.Unmarshal(raw, &me)
		if strings.Trim(me.Username, "abcdefghijklmnopqrstuvwxyz0123456789_.-") != "" {
			t.Errorf("claims with %q: username %q", m, me.Username)
		}
		// The same token over STOMP.
		c, err := n.rawDial(nil, true)
		if err != nil {
			t.Fatal(err)
		}
		c.write(connectFrame(tok))
		if f := c.next(); f.Command != stomp.CmdConnected {
			t.Errorf("CONNECT with claims %q: %s %v %q", m, f.Command, f.Headers, f.Body)
		}
	}
	ctx := context.Background()
	var users int
	if err := n.db.QueryRow(ctx, `SELECT count(*) FROM users`).Scan(&users); err != nil || users == 0 {
		t.Fatalf("users: %d %v", users, err)
	}
	n.healthy()
}

func jsonString(s string) string {
	b, _ := json.Marshal(s)
	return string(b)
}
