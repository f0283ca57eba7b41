package api_test

import (
	"encoding/json"
	"fmt"
	"net/url"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/parley-chat/parley/cluster"
	"github.com/parley-chat/parley/persistence"
	"github.com/parley-chat/parley/transport/api"
)

// searchTeam is newDMTeam's people (alice owner, bob and carol members, gus guest) with
// search unthrottled, and a #dev channel (public) beside #general.
type searchTeam struct {
	*dmTeam
	dev persistence.ChannelView
}

func newSearchTeam(t *testing.T) *searchTeam {
	fast := api.Limit{Rate: 1000, Burst: 1000}
	tm := &searchTeam{dmTeam: &dmTeam{team: newTeam(t, harnessOpts{cfg: api.Config{Limits: api.Limits{Search: fast}}})}}
	tm.carol, tm.gus, tm.erin = tm.h.user("carol"), tm.h.user("gus"), tm.h.user("erin")
	tm.join(tm.carol, "member")
	tm.join(tm.gus, "guest")
	tm.alice.ok("POST", fmt.Sprintf("/api/workspaces/%d/channels", tm.ws), map[string]any{"name": "dev", "type": "public"}, &tm.dev)
	for _, c := range []*client{tm.bob, tm.carol} {
		c.ok("POST", fmt.Sprintf("/api/channels/%d/members", tm.dev.ID), map[string]any{"userId": id(c.id)}, nil)
	}
	return tm
}

type searchItem struct {
	Message   persistence.Message `json:"message"`
	ChannelID string              `json:"channelId"`
	Highlight string              `json:"highlight"`
}

type searchPage struct {
	Items []searchItem `json:"items"`
	Next  *string      `json:"next"`
}

func (tm *searchTeam) search(c *client, q string, extra ...string) searchPage {
	tm.h.t.Helper()
	var p searchPage
	c.ok("GET", fmt.Sprintf("/api/workspaces/%d/search?q=%s%s", tm.ws, url.QueryEscape(q), strings.Join(extra, "")), nil, &p)
	return p
}

func (tm *searchTeam) postIn(c *client, ch int64, content string, parent ...int64) persistence.Message {
	tm.h.t.Helper()
	body := map[string]any{"content": content}
	if len(parent) > 0 {
		body["parentId"] = id(parent[0])
	}
	var m persistence.Message
	c.ok("POST", fmt.Sprintf("/api/channels/%d/messages", ch), body, &m)
	return m
}

// contents lists the hits' contents, sorted, for order-insensitive comparisons.
func contents(p searchPage) string {
	var out []string
	for _, it := range p.Items {
		out = append(out, it.Message.Content)
	}
	slices.Sort(out)
	return strings.Join(out, "|")
}

func TestSearchFilters(t *testing.T) {
	t.Parallel()
	tm := newSearchTeam(t)
	root := tm.postIn(tm.alice, tm.gen, "kiwi release plan")
	tm.postIn(tm.bob, tm.gen, "kiwi reply in thread", root.ID)
	tm.postIn(tm.bob, tm.gen, "kiwi see https://example.com/notes")
	tm.postIn(tm.carol, tm.dev.ID, "kiwi in dev with http://x.io")
	tm.postIn(tm.carol, tm.dev.ID, "kiwi salad recipe")
	tm.postIn(tm.alice, tm.gen, "mango salad")
	dm := tm.open(tm.alice, 201, tm.bob)
	tm.postIn(tm.bob, dm.ID, "kiwi secret in the dm")
	f := tm.alice.mustUpload(tm.ws, "kiwi.txt", []byte("a kiwi file"))
	tm.alice.ok("POST", tm.msgs(), map[string]any{"content": "kiwi attachment", "fileIds": []string{id(f.ID)}}, nil)
	old := tm.postIn(tm.alice, tm.gen, "kiwi from long ago")
	// Backdated as if made then: ids carry their time (ADR 0001), search bounds dates by both.
	then := time.Date(2025, 3, 4, 12, 0, 0, 0, time.UTC)
	if n := tm.h.count(`WITH u AS (UPDATE messages SET created_at = $2, id = $3 WHERE id = $1 RETURNING 1) SELECT count(*) FROM u`,
		old.ID, then, cluster.IDFloor(then)+1); n != 1 {
		t.Fatal("backdating failed")
	}

	for _, c := range []struct{ q, want string }{
		{"kiwi -salad -long", "kiwi attachment|kiwi in dev with http://x.io|kiwi release plan|kiwi reply in thread|kiwi secret in the dm|kiwi see https://example.com/notes"},
		{`"salad recipe"`, "kiwi salad recipe"},
		{"salad", "kiwi salad recipe|mango salad"},
		{"kiwi from:@carol", "kiwi in dev with http://x.io|kiwi salad recipe"},
		{"kiwi from:@carol from:@bob -dm", "kiwi in dev with http://x.io|kiwi reply in thread|kiwi salad recipe|kiwi see https://example.com/notes"},
		{"kiwi in:#dev", "kiwi in dev with http://x.io|kiwi salad recipe"},
		{"in:#dev in:#general salad", "kiwi salad recipe|mango salad"},
		{"in:@bob", "kiwi secret in the dm"},
		{"kiwi in:@carol", ""}, // no DM with carol yet: a valid filter matching nothing
		{"has:link", "kiwi in dev with http://x.io|kiwi see https://example.com/notes"},
		{"kiwi is:thread", "kiwi release plan|kiwi reply in thread"},
		{"kiwi before:2026-01-01", "kiwi from long ago"},
		{"on:2025-03-04", "kiwi from long ago"},
		{"kiwi after:2025-03-04 -dm -salad -x.io -example.com", "kiwi attachment|kiwi release plan|kiwi reply in thread"},
		{"kiwi has:file", "kiwi attachment"},
		{"has:file in:#dev", ""},
		{"!!!", ""},
	} {
		if got := contents(tm.search(tm.alice, c.q)); got != c.want {
			t.Errorf("%q: got %q\nwant %q", c.q, got, c.want)
		}
	}
	// bob reads what alice does, but not her view of in:@bob: for him the DM is in:@alice.
	if got := contents(tm.search(tm.bob, "in:@alice")); got != "kiwi secret in the dm" {
		t.Errorf("bob in:@alice: %q", got)
	}
	// carol is not in the DM: the words alone do not find it.
	if got := contents(tm.search(tm.carol, "secret")); got != "" {
		t.Errorf("carol finds the DM: %q", got)
	}
}

func TestSearchBadFilter(t *testing.T) {
	t.Parallel()
	tm := newSearchTeam(t)
	tm.postIn(tm.alice, tm.gen, "nothing to see")
	priv := persistence.ChannelView{}
	tm.alice.ok("POST", fmt.Sprintf("/api/workspaces/%d/channels", tm.ws), map[string]any{"name": "secret", "type": "private"}, &priv)
	for q, name := range map[string]string{
		"see colour:red":      "colour:red",
		"see before:2026-2-1": "before:2026-2-1",
		"has:pdf":             "has:pdf",
		"is:pinned":           "is:pinned",
		"from:@nobody":        "from:@nobody",
		"from:@erin":          "from:@erin", // exists, but in another workspace
		"in:#nowhere":         "in:#nowhere",
		"in:#secret":          "in:#secret", // exists, but bob cannot read it
		"in:@nobody":          "in:@nobody",
	} {
		b := tm.bob.expect(400, "GET", fmt.Sprintf("/api/workspaces/%d/search?q=%s", tm.ws, url.QueryEscape(q)), nil)
		var p struct{ Field, Detail string }
		if err := json.Unmarshal(b, &p); err != nil || p.Field != "q" || !strings.Contains(p.Detail, name) {
			t.Errorf("%q: %s, want field q naming %q", q, b, name)
		}
	}
	for _, qs := range []string{"q=see&sort=oldest", "q=see&cursor=bogus", "q=see&sort=newest&cursor=1:2", "q=" + strings.Repeat("x", 201)} {
		tm.bob.expect(400, "GET", fmt.Sprintf("/api/workspaces/%d/search?%s", tm.ws, qs), nil)
	}
}

func TestSearchRemovedMemberAtOnce(t *testing.T) {
	t.Parallel()
	tm := newSearchTeam(t)
	var priv persistence.ChannelView
	tm.alice.ok("POST", fmt.Sprintf("/api/workspaces/%d/channels", tm.ws), map[string]any{"name": "plans", "type": "private"}, &priv)
	tm.alice.ok("POST", fmt.Sprintf("/api/channels/%d/members", priv.ID), map[string]any{"userId": id(tm.carol.id)}, nil)
	tm.postIn(tm.alice, priv.ID, "papaya strategy")
	if got := contents(tm.search(tm.carol, "papaya")); got != "papaya strategy" {
		t.Fatalf("member carol finds %q", got)
	}
	tm.alice.expect(204, "DELETE", fmt.Sprintf("/api/channels/%d/members/%d", priv.ID, tm.carol.id), nil)
	if got := contents(tm.search(tm.carol, "papaya")); got != "" {
		t.Fatalf("removed carol still finds %q", got)
	}
	tm.carol.expect(400, "GET", fmt.Sprintf("/api/workspaces/%d/search?q=%s", tm.ws, url.QueryEscape("in:#plans")), nil)
	// A guest reads only the channels they are in: not #dev, even though it is public.
	tm.postIn(tm.alice, tm.dev.ID, "papaya public")
	if got := contents(tm.search(tm.gus, "papaya")); got != "" {
		t.Fatalf("guest finds %q", got)
	}
}

func TestSearchHighlightEscapes(t *testing.T) {
	t.Parallel()
	tm := newSearchTeam(t)
	tm.postIn(tm.alice, tm.gen, `<script>alert("Quince")</script> & 'quince' <b>tarts</b>`)
	p := tm.search(tm.bob, "quince")
	want := `&lt;script&gt;alert(&#34;<mark>Quince</mark>&#34;)&lt;/script&gt; &amp; &#39;<mark>quince</mark>&#39; &lt;b&gt;tarts&lt;/b&gt;`
	if len(p.Items) != 1 || p.Items[0].Highlight != want {
		t.Fatalf("highlight %+v\nwant %s", p.Items, want)
	}
	if p.Items[0].ChannelID != id(tm.gen) || p.Items[0].Message.ChannelID != tm.gen {
		t.Fatalf("channel %+v", p.Items[0])
	}
}

func TestSearchSortAndPages(t *testing.T) {
	t.Parallel()
	tm := newSearchTeam(t)
	var all []persistence.Message
	for i := range 7 {
		// Every other message says lime three times: those rank first in relevance order.
		c := fmt.Sprintf("lime %d", i)
		if i%2 == 1 {
			c = fmt.Sprintf("lime lime lime %d", i)
		}
		all = append(all, tm.postIn(tm.alice, tm.gen, c))
	}
	walk := func(sort string) []string {
		var got []string
		cursor := ""
		for range 10 {
			p := tm.search(tm.bob, "lime", "&limit=2&sort="+sort+cursor)
			for _, it := range p.Items {
				got = append(got, it.Message.Content)
			}
			if p.Next == nil {
				return got
			}
			cursor = "&cursor=" + url.QueryEscape(*p.Next)
		}
		t.Fatal("pages never end")
		return nil
	}
	newest := walk("newest")
	var want []string
	for i := len(all) - 1; i >= 0; i-- {
		want = append(want, all[i].Content)
	}
	if !slices.Equal(newest, want) {
		t.Fatalf("newest %q, want %q", newest, want)
	}
	ranked := walk("relevance")
	wantRanked := []string{"lime lime lime 5", "lime lime lime 3", "lime lime lime 1", "lime 6", "lime 4", "lime 2", "lime 0"}
	if !slices.Equal(ranked, wantRanked) {
		t.Fatalf("relevance %q, want %q", ranked, wantRanked)
	}
}

func TestMessagesAround(t *testing.T) {
	t.Parallel()
	tm := newSearchTeam(t)
	for i := 1; i <= 9; i++ {
		tm.postIn(tm.alice, tm.gen, fmt.Sprintf("m%d", i))
	}
	seqs := func(path string) []int64 {
		var p struct{ Items []persistence.Message }
		tm.bob.ok("GET", path, nil, &p)
		var s []int64
		for _, m := range p.Items {
			s = append(s, m.Seq)
		}
		return s
	}
	for q, want := range map[string][]int64{
		"around_seq=5&limit=5": {3, 4, 5, 6, 7},
		"around_seq=5&limit=4": {4, 5, 6, 7},
		"around_seq=1&limit=4": {1, 2, 3},
		"around_seq=9&limit=5": {7, 8, 9},
		"around_seq=50":        {1, 2, 3, 4, 5, 6, 7, 8, 9},
	} {
		if got := seqs(tm.msgs() + "?" + q); !slices.Equal(got, want) {
			t.Errorf("%s: %v, want %v", q, got, want)
		}
	}
	tm.bob.expect(400, "GET", tm.msgs()+"?around_seq=0", nil)
	tm.bob.expect(400, "GET", tm.msgs()+"?around_seq=3&before_seq=2", nil)
	tm.erin.expect(404, "GET", tm.msgs()+"?around_seq=3", nil)
}
