package persistence

import (
	"errors"
	"html"
	"strings"
	"testing"
	"time"
	"unicode/utf8"
)

func day(s string) time.Time {
	d, err := time.Parse("2006-01-02", s)
	if err != nil {
		panic(err)
	}
	return d
}

func TestParseSearchFilters(t *testing.T) {
	q, err := ParseSearch(`deploy "release notes" -draft from:@Bob in:#general in:@carol after:2026-01-31 before:2026-03-01 has:link has:file is:thread https://x.io/a:b`)
	if err != nil {
		t.Fatal(err)
	}
	if q.Text != `deploy "release notes" -draft https://x.io/a:b` {
		t.Fatalf("text %q", q.Text)
	}
	if len(q.From) != 1 || q.From[0] != "bob" || len(q.InChannels) != 1 || q.InChannels[0] != "general" ||
		len(q.InDMs) != 1 || q.InDMs[0] != "carol" || !q.HasLink || !q.HasFile || !q.IsThread {
		t.Fatalf("filters %+v", q)
	}
	if !q.Since.Equal(day("2026-02-01")) || !q.Until.Equal(day("2026-03-01")) {
		t.Fatalf("dates %v %v", q.Since, q.Until)
	}
	q, err = ParseSearch(`on:2026-02-03 after:2026-01-01`)
	if err != nil || !q.Since.Equal(day("2026-02-03")) || !q.Until.Equal(day("2026-02-04")) || q.Text != "" || !q.HasFilters() {
		t.Fatalf("on: %+v %v", q, err)
	}
	q, err = ParseSearch(`-"not this" "unterminated phrase`)
	if err != nil || q.Text != `-"not this" "unterminated phrase"` || q.HasFilters() {
		t.Fatalf("phrases: %+v %v", q, err)
	}
}

func TestParseSearchBadFilters(t *testing.T) {
	for q, name := range map[string]string{
		"hello colour:red":                   "colour:red",
		"from:bob!":                          "from:bob!",
		"from:":                              "from:",
		"in:#Bad*Name":                       "in:#Bad*Name",
		"before:2026-13-01":                  "before:2026-13-01",
		"on:yesterday":                       "on:yesterday",
		"has:picture":                        "has:picture",
		"is:unread":                          "is:unread",
		"-from:@bob":                         "-from:@bob",
		"after:2026-02-01 before:2026-02-02": "before:/after:/on:",
	} {
		_, err := ParseSearch(q)
		var ve *ValidationError
		if !errors.As(err, &ve) || ve.Field != "q" || !strings.Contains(ve.Reason, strings.TrimPrefix(name, "-")) {
			t.Errorf("%q: %v, want a q error naming %q", q, err, name)
		}
	}
}

func TestHighlightEscapes(t *testing.T) {
	got := Highlight(`<script>alert("x")</script> & 'Deploy' deployer DEPLOY`, []string{"deploy", "script"})
	want := `&lt;<mark>script</mark>&gt;alert(&#34;x&#34;)&lt;/<mark>script</mark>&gt; &amp; &#39;<mark>Deploy</mark>&#39; deployer <mark>DEPLOY</mark>`
	if got != want {
		t.Fatalf("got  %s\nwant %s", got, want)
	}
	long := strings.Repeat("filler ", 100) + "needle " + strings.Repeat("tail ", 100)
	h := Highlight(long, []string{"needle"})
	if !strings.HasPrefix(h, "…") || !strings.HasSuffix(h, "…") || !strings.Contains(h, "<mark>needle</mark>") || utf8.RuneCountInString(h) > snippetRunes+20 {
		t.Fatalf("long snippet %q", h)
	}
}

func TestQueryLexemes(t *testing.T) {
	got := strings.Join(queryLexemes(`'foo' <-> 'it''s' & !'x' & !( 'y' <-> 'z' ) | 'w'`), ",")
	if got != "foo,it's,w" {
		t.Fatalf("lexemes %q", got)
	}
}

func FuzzParseSearch(f *testing.F) {
	for _, s := range []string{`a "b c" -d from:@e in:#f in:@g on:2026-01-02 has:link is:thread`,
		`-"x`, `"`, `-`, `a:b`, `http://x`, "\u00a0-\"\t", `before:2026-02-30`} {
		f.Add(s, "b")
	}
	f.Fuzz(func(t *testing.T, s, term string) {
		q, err := ParseSearch(s)
		if err == nil {
			if !utf8.ValidString(q.Text) || strings.ContainsRune(q.Text, 0) {
				t.Fatalf("text %q", q.Text)
			}
			if q.Text != "" {
				again, err := ParseSearch(q.Text)
				if err != nil || again.Text != q.Text || again.HasFilters() {
					t.Fatalf("%q rebuilt as %q reparses as %+v %v", s, q.Text, again, err)
				}
			}
		} else if !errors.As(err, new(*ValidationError)) {
			t.Fatalf("%q: %v", s, err)
		}
		if !utf8.ValidString(s) || utf8.RuneCountInString(s) > snippetRunes {
			return
		}
		h := Highlight(s, []string{strings.ToLower(term)})
		stripped := strings.ReplaceAll(strings.ReplaceAll(h, "<mark>", ""), "</mark>", "")
		if strings.ContainsAny(stripped, `<>"'`) || html.UnescapeString(stripped) != s {
			t.Fatalf("Highlight(%q, %q) = %q", s, term, h)
		}
	})
}
