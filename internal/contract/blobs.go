package contract

import (
	"bytes"
	"context"
	"errors"
	"io"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/parley-chat/parley/files"
)

// RunBlobs runs the files.Blobs contract against the stores newBlobs makes (a fresh, empty
// one per call). A store that is also a files.Presigner must serve its presigned URLs.
func RunBlobs(t *testing.T, newBlobs func(t *testing.T) files.Blobs) {
	ctx := context.Background()
	read := func(t *testing.T, b files.Blobs, key string) []byte {
		t.Helper()
		r, err := b.Open(ctx, key)
		if err != nil {
			t.Fatalf("Open(%s): %v", key, err)
		}
		defer r.Close()
		got, err := io.ReadAll(r)
		if err != nil {
			t.Fatalf("read %s: %v", key, err)
		}
		return got
	}
	t.Run("PutOpen", func(t *testing.T) {
		b := newBlobs(t)
		data := bytes.Repeat([]byte("parley-"), 40_000) // 280 kB: more than one read buffer
		if err := b.Put(ctx, "files/1", bytes.NewReader(data), int64(len(data)), "text/plain"); err != nil {
			t.Fatal(err)
		}
		if got := read(t, b, "files/1"); !bytes.Equal(got, data) {
			t.Fatalf("read back %d bytes, want the %d put", len(got), len(data))
		}
	})
	t.Run("Seek", func(t *testing.T) {
		b := newBlobs(t)
		if err := b.Put(ctx, "files/2", strings.NewReader("0123456789"), 10, "text/plain"); err != nil {
			t.Fatal(err)
		}
		r, err := b.Open(ctx, "files/2")
		if err != nil {
			t.Fatal(err)
		}
		defer r.Close()
		if n, err := r.Seek(0, io.SeekEnd); err != nil || n != 10 {
			t.Fatalf("Seek(end) = %d, %v; want 10", n, err)
		}
		if _, err := r.Seek(6, io.SeekStart); err != nil {
			t.Fatal(err)
		}
		got, err := io.ReadAll(r)
		if err != nil || string(got) != "6789" {
			t.Fatalf("after Seek(6): %q, %v", got, err)
		}
	})
	t.Run("Replace", func(t *testing.T) {
		b := newBlobs(t)
		for _, s := range []string{"first version", "second"} {
			if err := b.Put(ctx, "thumbnails/3", strings.NewReader(s), int64(len(s)), "text/plain"); err != nil {
				t.Fatal(err)
			}
		}
		if got := read(t, b, "thumbnails/3"); string(got) != "second" {
			t.Fatalf("got %q after replacing", got)
		}
	})
	t.Run("Missing", func(t *testing.T) {
		b := newBlobs(t)
		if _, err := b.Open(ctx, "files/404"); !errors.Is(err, files.ErrNotExist) {
			t.Fatalf("Open of a missing key: %v, want ErrNotExist", err)
		}
		if err := b.Delete(ctx, "files/404"); err != nil {
			t.Fatalf("Delete of a missing key: %v", err)
		}
	})
	t.Run("Delete", func(t *testing.T) {
		b := newBlobs(t)
		if err := b.Put(ctx, "files/5", strings.NewReader("x"), 1, "text/plain"); err != nil {
			t.Fatal(err)
		}
		if err := b.Delete(ctx, "files/5"); err != nil {
			t.Fatal(err)
		}
		if _, err := b.Open(ctx, "files/5"); !errors.Is(err, files.ErrNotExist) {
			t.Fatalf("Open after Delete: %v, want ErrNotExist", err)
		}
	})
	t.Run("ShortBodyStoresNothing", func(t *testing.T) {
		b := newBlobs(t)
		if err := b.Put(ctx, "files/6", strings.NewReader("only 12 byte"), 100, "text/plain"); err == nil {
			t.Fatal("Put of a body shorter than its size succeeded")
		}
		if _, err := b.Open(ctx, "files/6"); !errors.Is(err, files.ErrNotExist) {
			t.Fatalf("Open after a failed Put: %v, want ErrNotExist", err)
		}
	})
	t.Run("BadKeys", func(t *testing.T) {
		b := newBlobs(t)
		for _, k := range []string{"", "../etc/passwd", "/abs", "files/../x", "Files/1", "a//b"} {
			if err := b.Put(ctx, k, strings.NewReader("x"), 1, "text/plain"); err == nil {
				t.Errorf("Put(%q) accepted", k)
			}
			if _, err := b.Open(ctx, k); err == nil || errors.Is(err, files.ErrNotExist) {
				t.Errorf("Open(%q) = %v, want a key error", k, err)
			}
		}
	})
	t.Run("Presign", func(t *testing.T) {
		b := newBlobs(t)
		p, ok := b.(files.Presigner)
		if !ok {
			t.Skip("not a Presigner")
		}
		if err := b.Put(ctx, "files/7", strings.NewReader("signed bytes"), 12, "text/plain"); err != nil {
			t.Fatal(err)
		}
		u, err := p.PresignGet(ctx, "files/7", 5*time.Minute, "text/plain", "attachment")
		if err != nil {
			t.Fatal(err)
		}
		resp, err := http.Get(u)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		got, _ := io.ReadAll(resp.Body)
		if resp.StatusCode != http.StatusOK || string(got) != "signed bytes" {
			t.Fatalf("GET presigned URL: %d %q", resp.StatusCode, got)
		}
	})
}
