package persistence

import (
	"fmt"
	"regexp"
	"strings"
	"time"
	"unicode"
	"unicode/utf8"
)

// SearchQuery is a parsed search (SPEC.md "Search", ADR 0039): the full-text part, kept in
// PostgreSQL's websearch syntax so that PostgreSQL's own parser turns it into a tsquery,
// and the filters, which become plain SQL conditions.
type SearchQuery struct {
	// Text is the words, "phrases" and -excluded words rebuilt in websearch_to_tsquery
	// syntax ("" when the query has none).
	Text string
	// From: authors' usernames (any of them). InChannels: channel names; InDMs: usernames
	// whose one-to-one DM with the caller is searched. Both in: lists are one union.
	From       []string
	InChannels []string
	InDMs      []string
	// Since (inclusive) and Until (exclusive) bound created_at; zero: unbounded. Dates are
	// days in UTC: before:D is < D, after:D is >= D+1 day, on:D is [D, D+1 day).
	Since, Until time.Time
	HasFile      bool
	HasLink      bool
	IsThread     bool
}

// HasFilters tells whether anything but Text narrows the search.
func (q SearchQuery) HasFilters() bool {
	return len(q.From) > 0 || len(q.InChannels) > 0 || len(q.InDMs) > 0 || !q.Since.IsZero() ||
		!q.Until.IsZero() || q.HasFile || q.HasLink || q.IsThread
}

var (
	searchUsername = regexp.MustCompile(`^[a-z0-9_.-]{1,64}$`)
	searchChannel  = regexp.MustCompile(`^[a-z0-9_-]{1,80}$`)
	searchKey      = regexp.MustCompile(`^[a-z]{1,20}$`)
)

// ParseSearch parses q: words, "phrases", -word, -"phrase", and the filters from:@user,
// in:#channel, in:@user, before:/after:/on:YYYY-MM-DD, has:file, has:link, is:thread.
// A token key:value whose key is letters is a filter; an unknown or malformed one is a
// ValidationError on field "q" that names it. A token whose value starts with "/" (a URL
// such as https://…) is a word. An unterminated quote runs to the end of q.
func ParseSearch(q string) (SearchQuery, error) {
	q, err := ValidateSearch(q)
	if err != nil {
		return SearchQuery{}, err
	}
	var out SearchQuery
	var text []string
	for _, tok := range tokenize(q) {
		if tok.phrase {
			if p := strings.TrimSpace(tok.s); p != "" {
				text = append(text, neg(tok.neg)+`"`+p+`"`)
			}
			continue
		}
		word := tok.s
		if key, val, ok := strings.Cut(word, ":"); ok && searchKey.MatchString(strings.ToLower(key)) && !strings.HasPrefix(val, "/") {
			if tok.neg {
				return SearchQuery{}, badFilter(word, "a filter cannot be excluded")
			}
			if err := out.filter(strings.ToLower(key), val, word); err != nil {
				return SearchQuery{}, err
			}
			continue
		}
		if word = strings.TrimSpace(strings.ReplaceAll(word, `"`, " ")); word != "" {
			text = append(text, neg(tok.neg)+word)
		}
	}
	out.Text = strings.Join(text, " ")
	if !out.Since.IsZero() && !out.Until.IsZero() && !out.Since.Before(out.Until) {
		return SearchQuery{}, badFilter("before:/after:/on:", "the dates leave no day to search")
	}
	return out, nil
}

func neg(b bool) string {
	if b {
		return "-"
	}
	return ""
}

func badFilter(tok, reason string) error {
	return &ValidationError{Field: "q", Reason: fmt.Sprintf("%s: %s", tok, reason)}
}

func (out *SearchQuery) filter(key, val, tok string) error {
	val = strings.ToLower(val)
	switch key {
	case "from":
		u := strings.TrimPrefix(val, "@")
		if !searchUsername.MatchString(u) {
			return badFilter(tok, "want from:@username")
		}
		out.From = append(out.From, u)
	case "in":
		switch {
		case strings.HasPrefix(val, "@") && searchUsername.MatchString(val[1:]):
			out.InDMs = append(out.InDMs, val[1:])
		case searchChannel.MatchString(strings.TrimPrefix(val, "#")):
			out.InChannels = append(out.InChannels, strings.TrimPrefix(val, "#"))
		default:
			return badFilter(tok, "want in:#channel or in:@username")
		}
	case "before", "after", "on":
		d, err := time.Parse("2006-01-02", val)
		if err != nil {
			return badFilter(tok, "want a date YYYY-MM-DD")
		}
		lo, hi := d, d // [lo, hi) in UTC days
		switch key {
		case "before":
			lo = time.Time{}
		case "after":
			lo, hi = d.AddDate(0, 0, 1), time.Time{}
		case "on":
			hi = d.AddDate(0, 0, 1)
		}
		if !lo.IsZero() && (out.Since.IsZero() || lo.After(out.Since)) {
			out.Since = lo
		}
		if !hi.IsZero() && (out.Until.IsZero() || hi.Before(out.Until)) {
			out.Until = hi
		}
	case "has":
		switch val {
		case "file":
			out.HasFile = true
		case "link":
			out.HasLink = true
		default:
			return badFilter(tok, "want has:file or has:link")
		}
	case "is":
		if val != "thread" {
			return badFilter(tok, "want is:thread")
		}
		out.IsThread = true
	default:
		return badFilter(tok, "unknown filter (from:, in:, before:, after:, on:, has:, is:)")
	}
	return nil
}

type searchToken struct {
	s      string
	phrase bool
	neg    bool
}

// tokenize splits q on white space; a `"` at the start of a token (after an optional -)
// opens a phrase that runs to the next `"` or the end.
func tokenize(q string) []searchToken {
	var toks []searchToken
	for i := 0; i < len(q); {
		r, n := utf8.DecodeRuneInString(q[i:])
		if unicode.IsSpace(r) {
			i += n
			continue
		}
		t := searchToken{}
		if q[i] == '-' && i+1 < len(q) && !isSpaceAt(q, i+1) {
			t.neg = true
			i++
		}
		if q[i] == '"' {
			end := strings.IndexByte(q[i+1:], '"')
			if end < 0 {
				t.s, i = q[i+1:], len(q)
			} else {
				t.s, i = q[i+1:i+1+end], i+2+end
			}
			t.phrase = true
			toks = append(toks, t)
			continue
		}
		j := i
		for j < len(q) {
			r, n := utf8.DecodeRuneInString(q[j:])
			if unicode.IsSpace(r) {
				break
			}
			j += n
		}
		t.s, i = q[i:j], j
		toks = append(toks, t)
	}
	return toks
}

func isSpaceAt(s string, i int) bool {
	r, _ := utf8.DecodeRuneInString(s[i:])
	return unicode.IsSpace(r)
}
