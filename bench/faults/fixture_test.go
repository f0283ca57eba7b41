package faults

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"strconv"
	"testing"
	"time"

	"github.com/parley-chat/parley/transport"
	"github.com/parley-chat/parley/transport/auth"
)

// user is a person of the fixture: a token signed with the dev secret every test node
// uses, and the id the server gave it.
type user struct {
	name  string
	token string
	id    int64
}

// fixture is a workspace owned by users[0], its public channels, and every user a member
// of the workspace and of every channel.
type fixture struct {
	users    []*user
	channels []int64
}

var httpClient = &http.Client{Timeout: 30 * time.Second}

// apiResult is an answer of the REST API: its status, body, and content type.
type apiResult struct {
	status      int
	contentType string
	body        []byte
}

func (r apiResult) problemCode() string {
	var p struct {
		Code string `json:"code"`
	}
	_ = json.Unmarshal(r.body, &p)
	return p.Code
}

// call sends one REST request; an error is a transport failure, not a status.
func call(ctx context.Context, method, url, token string, body any) (apiResult, error) {
	var rd io.Reader
	if body != nil {
		b, err := json.Marshal(body)
		if err != nil {
			return apiResult{}, err
		}
		rd = bytes.NewReader(b)
	}
	req, err := http.NewRequestWithContext(ctx, method, url, rd)
	if err != nil {
		return apiResult{}, err
	}
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	resp, err := httpClient.Do(req)
	if err != nil {
		return apiResult{}, err
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	return apiResult{status: resp.StatusCode, contentType: resp.Header.Get("Content-Type"), body: b}, err
}

// callOK is call that wants a 2xx and decodes it into out (nil: discard).
func callOK(t *testing.T, method, url, token string, body, out any) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	r, err := call(ctx, method, url, token, body)
	if err != nil {
		t.Fatalf("%s %s: %v", method, url, err)
	}
	if r.status/100 != 2 {
		t.Fatalf("%s %s: %d %s", method, url, r.status, r.body)
	}
	if out != nil {
		if err := json.Unmarshal(r.body, out); err != nil {
			t.Fatalf("%s %s: decode %s: %v", method, url, r.body, err)
		}
	}
}

// idOf reads the decimal-string id the API renders.
type apiID struct {
	ID string `json:"id"`
}

func (a apiID) int(t *testing.T) int64 {
	t.Helper()
	v, err := strconv.ParseInt(a.ID, 10, 64)
	if err != nil {
		t.Fatalf("id %q: %v", a.ID, err)
	}
	return v
}

// newFixture creates nUsers users (their names start with prefix) and nChannels public
// channels through node base's REST API.
func newFixture(t *testing.T, base, prefix string, nUsers, nChannels int) *fixture {
	t.Helper()
	signer, err := auth.New(auth.Config{HS256Secret: transport.DevJWTSecret, DevTokenTTL: 24 * time.Hour},
		slog.New(slog.DiscardHandler), nil)
	must(t, err, "token signer")
	defer signer.Close()
	f := &fixture{}
	for i := range nUsers {
		u := &user{name: fmt.Sprintf("%s%d", prefix, i)}
		u.token, _, err = signer.Issue(u.name, 24*time.Hour)
		must(t, err, "sign token")
		var me apiID
		callOK(t, http.MethodGet, base+"/api/users/me", u.token, nil, &me)
		u.id = me.int(t)
		f.users = append(f.users, u)
	}
	owner := f.users[0]
	var ws apiID
	callOK(t, http.MethodPost, base+"/api/workspaces", owner.token, map[string]string{"name": prefix + " faults"}, &ws)
	wid := itoa(ws.int(t))
	for i := range nChannels {
		var ch apiID
		callOK(t, http.MethodPost, base+"/api/workspaces/"+wid+"/channels", owner.token,
			map[string]string{"name": fmt.Sprintf("%s-%d", prefix, i), "type": "public"}, &ch)
		f.channels = append(f.channels, ch.int(t))
	}
	for _, u := range f.users[1:] {
		var inv struct {
			Token string `json:"token"`
		}
		callOK(t, http.MethodPost, base+"/api/workspaces/"+wid+"/invitations", owner.token,
			map[string]string{"username": u.name, "role": "member"}, &inv)
		callOK(t, http.MethodPost, base+"/api/invitations/accept", u.token, map[string]string{"token": inv.Token}, nil)
		for _, c := range f.channels {
			callOK(t, http.MethodPost, base+"/api/channels/"+itoa(c)+"/members", u.token,
				map[string]string{"userId": itoa(u.id)}, nil)
		}
	}
	return f
}
