package api_test

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"testing"
	"time"

	"github.com/parley-chat/parley/files"
	"github.com/parley-chat/parley/persistence"
)

// How files go away (ADR 0041): with their messages, unattached after 24 h, as replaced
// avatars; and avatars' visibility.

func TestFilesGoWithTheirMessages(t *testing.T) {
	stores(t, func(t *testing.T, o harnessOpts) {
		tm := newTeam(t, o)
		f := tm.alice.mustUpload(tm.ws, "shared.txt", []byte("shared"))
		g := tm.alice.mustUpload(tm.ws, "once.txt", []byte("once"))
		var m1, m2 persistence.Message
		tm.alice.ok("POST", tm.msgs(), map[string]any{"content": "one", "fileIds": []string{id(f.ID), id(g.ID)}}, &m1)
		tm.alice.ok("POST", tm.msgs(), map[string]any{"content": "two", "fileIds": []string{id(f.ID)}}, &m2)
		jan := newJanitor(t, tm.h, time.Now)
		tm.alice.ok("DELETE", fmt.Sprintf("/api/messages/%d", m1.ID), nil, nil)
		// g was only in m1: gone at once; f is still in m2.
		if code, _, _ := tm.bob.download(g.URL); code != http.StatusNotFound {
			t.Fatalf("file of a deleted message: %d, want 404", code)
		}
		if code, _, _ := tm.alice.download(g.URL); code != http.StatusNotFound {
			t.Fatalf("its uploader: %d, want 404", code)
		}
		if code, _, _ := tm.bob.download(f.URL); code != http.StatusOK {
			t.Fatalf("file still in another message: %d, want 200", code)
		}
		var tomb persistence.Message
		tm.bob.ok("GET", fmt.Sprintf("/api/messages/%d", m1.ID), nil, &tomb)
		if len(tomb.Files) != 0 {
			t.Fatalf("tombstone carries %+v", tomb.Files)
		}
		if _, removed, err := jan.Sweep(context.Background()); err != nil || removed != 1 {
			t.Fatalf("sweep: removed %d, %v; want 1", removed, err)
		}
		if _, err := tm.h.blobs.Open(context.Background(), files.ContentKey(g.ID)); !errors.Is(err, files.ErrNotExist) {
			t.Fatalf("blob of the removed file: %v, want ErrNotExist", err)
		}
		tm.alice.ok("DELETE", fmt.Sprintf("/api/messages/%d", m2.ID), nil, nil)
		if _, removed, err := jan.Sweep(context.Background()); err != nil || removed != 1 {
			t.Fatalf("second sweep: removed %d, %v; want 1", removed, err)
		}
		if n := tm.h.count(`SELECT count(*) FROM files`); n != 0 {
			t.Fatalf("%d file rows left", n)
		}
	})
}

func newJanitor(t *testing.T, h *harness, now func() time.Time) *files.Janitor {
	j, err := files.NewJanitor(files.JanitorConfig{Now: now}, h.store, h.blobs, nil)
	if err != nil {
		t.Fatal(err)
	}
	return j
}

func TestUnattachedUploadsAreCollected(t *testing.T) {
	stores(t, func(t *testing.T, o harnessOpts) {
		tm := newTeam(t, o)
		lone := tm.alice.mustUpload(tm.ws, "lone.png", pngOf(40, 40))
		used := tm.alice.mustUpload(tm.ws, "used.txt", []byte("used"))
		tm.alice.ok("POST", tm.msgs(), map[string]any{"content": "x", "fileIds": []string{id(used.ID)}}, nil)
		start := time.Now()
		clock := start.Add(23 * time.Hour)
		jan := newJanitor(t, tm.h, func() time.Time { return clock })
		if exp, rem, err := jan.Sweep(context.Background()); err != nil || exp+rem != 0 {
			t.Fatalf("sweep at 23 h: expired %d removed %d, %v; want nothing", exp, rem, err)
		}
		if code, _, _ := tm.alice.download(lone.URL); code != http.StatusOK {
			t.Fatalf("upload at 23 h: %d", code)
		}
		clock = start.Add(25 * time.Hour)
		if exp, rem, err := jan.Sweep(context.Background()); err != nil || exp != 1 || rem != 1 {
			t.Fatalf("sweep at 25 h: expired %d removed %d, %v; want 1 and 1", exp, rem, err)
		}
		if code, _, _ := tm.alice.download(lone.URL); code != http.StatusNotFound {
			t.Fatalf("collected upload: %d, want 404", code)
		}
		for _, k := range []string{files.ContentKey(lone.ID), files.ThumbnailKey(lone.ID)} {
			if _, err := tm.h.blobs.Open(context.Background(), k); !errors.Is(err, files.ErrNotExist) {
				t.Fatalf("blob %s after collection: %v", k, err)
			}
		}
		if code, _, _ := tm.bob.download(used.URL); code != http.StatusOK {
			t.Fatalf("attached upload after 25 h: %d, want 200", code)
		}
		// A collected upload can no longer be attached.
		tm.alice.expect(http.StatusBadRequest, "POST", tm.msgs(), map[string]any{"content": "y", "fileIds": []string{id(lone.ID)}})
	})
}

func TestAvatar(t *testing.T) {
	stores(t, func(t *testing.T, o harnessOpts) {
		tm := newTeam(t, o)
		img := tm.alice.mustUpload(tm.ws, "me.png", pngOf(64, 64))
		txt := tm.alice.mustUpload(tm.ws, "me.txt", []byte("not an image"))
		bobs := tm.bob.mustUpload(tm.ws, "bob.png", pngOf(8, 8))
		tm.alice.expect(http.StatusBadRequest, "PATCH", "/api/users/me", map[string]any{"avatarFileId": id(txt.ID)})
		tm.alice.expect(http.StatusBadRequest, "PATCH", "/api/users/me", map[string]any{"avatarFileId": id(bobs.ID)})
		tm.alice.expect(http.StatusBadRequest, "PATCH", "/api/users/me", map[string]any{"avatarFileId": "nope"})
		var u persistence.User
		tm.alice.ok("PATCH", "/api/users/me", map[string]any{"avatarFileId": id(img.ID)}, &u)
		if u.AvatarFileID == nil || *u.AvatarFileID != img.ID || u.AvatarURL == nil || *u.AvatarURL != img.URL {
			t.Fatalf("profile after setting the avatar: %+v", u.Profile)
		}
		var seen persistence.User
		tm.bob.ok("GET", fmt.Sprintf("/api/users/%d", tm.alice.id), nil, &seen)
		if seen.AvatarURL == nil || *seen.AvatarURL != img.URL {
			t.Fatalf("bob sees avatar %v", seen.AvatarURL)
		}
		var members struct{ Items []persistence.Member }
		tm.bob.ok("GET", fmt.Sprintf("/api/workspaces/%d/members", tm.ws), nil, &members)
		found := false
		for _, m := range members.Items {
			found = found || m.UserID == tm.alice.id && m.AvatarURL != nil && *m.AvatarURL == img.URL
		}
		if !found {
			t.Fatalf("members list without alice's avatar: %+v", members.Items)
		}
		if code, _, _ := tm.bob.download(img.URL); code != http.StatusOK {
			t.Fatalf("bob downloads alice's avatar: %d", code)
		}
		erin := tm.h.user("erin")
		if code, _, _ := erin.download(img.URL); code != http.StatusNotFound {
			t.Fatalf("erin, who shares no workspace: %d, want 404", code)
		}
		// An avatar is never collected as unattached; replaced, the old one goes.
		jan := newJanitor(t, tm.h, func() time.Time { return time.Now().Add(48 * time.Hour) })
		if _, _, err := jan.Sweep(context.Background()); err != nil {
			t.Fatal(err)
		}
		if code, _, _ := tm.bob.download(img.URL); code != http.StatusOK {
			t.Fatalf("avatar after 48 h: %d", code)
		}
		var cleared persistence.User
		tm.alice.ok("PATCH", "/api/users/me", map[string]any{"avatarFileId": ""}, &cleared)
		if cleared.AvatarURL != nil || cleared.AvatarFileID != nil {
			t.Fatalf("avatar not cleared: %+v", cleared.Profile)
		}
		if code, _, _ := tm.alice.download(img.URL); code != http.StatusNotFound {
			t.Fatalf("a replaced avatar: %d, want 404", code)
		}
	})
}
