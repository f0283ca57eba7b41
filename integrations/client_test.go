package integrations

import (
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"net/netip"
	"strconv"
	"testing"
	"time"
)

// The signature is checked by an implementation written here from the SPEC's words, not
// by Sign.
func TestNewRequestIsSignedAsTheSpecSays(t *testing.T) {
	secret, err := NewSecret()
	if err != nil || len(secret) != 64 {
		t.Fatalf("secret %q, %v", secret, err)
	}
	got := make(chan *http.Request, 1)
	bodies := make(chan []byte, 1)
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		b, _ := io.ReadAll(r.Body)
		got <- r
		bodies <- b
		w.Write([]byte(`{"content":"ok"}`))
	}))
	defer srv.Close()
	c, err := NewClient(ClientConfig{AllowPrivate: true})
	if err != nil {
		t.Fatal(err)
	}
	body := []byte(`{"type":"message"}`)
	now := time.Unix(1_800_000_000, 0)
	req, err := NewRequest(context.Background(), srv.URL, []byte(secret), "d-1", body, now)
	if err != nil {
		t.Fatal(err)
	}
	status, resp, err := c.Do(req)
	if err != nil || status != 200 || string(resp) != `{"content":"ok"}` {
		t.Fatalf("status %d body %q err %v", status, resp, err)
	}
	r, b := <-got, <-bodies
	ts := r.Header.Get("X-Parley-Timestamp")
	if ts != strconv.FormatInt(now.Unix(), 10) || r.Header.Get("X-Parley-Delivery") != "d-1" {
		t.Fatalf("headers %v", r.Header)
	}
	m := hmac.New(sha256.New, []byte(secret))
	m.Write([]byte(ts + "." + string(b)))
	if want := "sha256=" + hex.EncodeToString(m.Sum(nil)); r.Header.Get("X-Parley-Signature") != want {
		t.Fatalf("signature %q, want %q", r.Header.Get("X-Parley-Signature"), want)
	}
	if !Verify([]byte(secret), now.Unix(), b, r.Header.Get("X-Parley-Signature")) || Verify([]byte("other"), now.Unix(), b, r.Header.Get("X-Parley-Signature")) {
		t.Fatal("Verify disagrees")
	}
}

// Without AllowPrivate a loopback receiver is refused when dialled, whatever the URL said,
// and CheckURL refuses literal internal addresses and localhost names.
func TestPrivateDestinationsAreRefusedUnlessAllowed(t *testing.T) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {}))
	defer srv.Close()
	guarded, _ := NewClient(ClientConfig{})
	open, _ := NewClient(ClientConfig{AllowPrivate: true})
	_, port, _ := net.SplitHostPort(srv.Listener.Addr().String())
	for _, u := range []string{srv.URL, "http://localhost:" + port + "/x"} {
		req, _ := NewRequest(context.Background(), u, []byte("k"), "", nil, time.Now())
		if _, _, err := guarded.Do(req); !errors.Is(err, ErrPrivateAddress) {
			t.Fatalf("%s: err %v, want ErrPrivateAddress", u, err)
		}
		req, _ = NewRequest(context.Background(), u, []byte("k"), "", nil, time.Now())
		if status, _, err := open.Do(req); err != nil || status != 200 {
			t.Fatalf("%s allowed: %d %v", u, status, err)
		}
	}
	for _, u := range []string{"http://127.0.0.1/", "http://10.1.2.3/", "https://[::1]/", "http://169.254.169.254/latest",
		"http://[::ffff:192.168.0.1]/", "http://100.64.0.1/", "http://0.0.0.0:80/", "http://app.localhost/", "http://LOCALHOST./"} {
		if err := guarded.CheckURL(u); !errors.Is(err, ErrPrivateAddress) {
			t.Errorf("CheckURL(%s) = %v, want ErrPrivateAddress", u, err)
		}
		if err := open.CheckURL(u); err != nil {
			t.Errorf("allowed CheckURL(%s) = %v", u, err)
		}
	}
	for _, u := range []string{"ftp://example.com/", "http://user:pw@example.com/", "/relative", "http://", "javascript:alert(1)"} {
		if err := guarded.CheckURL(u); !errors.Is(err, ErrBadURL) {
			t.Errorf("CheckURL(%s) = %v, want ErrBadURL", u, err)
		}
	}
	if err := guarded.CheckURL("https://hooks.example.com/x?y=1"); err != nil {
		t.Errorf("public URL refused: %v", err)
	}
	for _, a := range []string{"8.8.8.8", "2001:4860:4860::8888"} {
		if internal(netip.MustParseAddr(a)) {
			t.Errorf("%s counted internal", a)
		}
	}
}

// A redirect is answered as it is: following it could lead inside.
func TestRedirectsAreNotFollowed(t *testing.T) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == "/in" {
			t.Error("redirect followed")
		}
		http.Redirect(w, r, "/in", http.StatusFound)
	}))
	defer srv.Close()
	c, _ := NewClient(ClientConfig{AllowPrivate: true})
	req, _ := NewRequest(context.Background(), srv.URL+"/out", []byte("k"), "", nil, time.Now())
	if status, _, err := c.Do(req); err != nil || status != http.StatusFound {
		t.Fatalf("status %d err %v", status, err)
	}
}

// A response body is read up to MaxResponseBytes and no further.
func TestResponseBodyIsBounded(t *testing.T) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Write(make([]byte, 10_000))
	}))
	defer srv.Close()
	c, _ := NewClient(ClientConfig{AllowPrivate: true, MaxResponseBytes: 100})
	req, _ := NewRequest(context.Background(), srv.URL, []byte("k"), "", nil, time.Now())
	if _, b, err := c.Do(req); err != nil || len(b) != 100 {
		t.Fatalf("read %d bytes, err %v", len(b), err)
	}
}
