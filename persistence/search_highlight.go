package persistence

import (
	"html"
	"strings"
	"unicode"
)

// Snippet sizes, in characters (runes).
const (
	snippetRunes  = 240 // the longest snippet before its ellipses
	snippetBefore = 60  // context kept before the first match
)

// queryLexemes returns the words of a tsquery's text form ('foo' <-> 'bar' & !'baz') that
// a match contains: every quoted lexeme except those under a negation. They are lower
// case, as the 'simple' configuration stores them.
func queryLexemes(tsq string) []string {
	var out []string
	depth, negDepth := 0, -1 // negDepth: the paren depth at which a negation began
	negNext := false
	for i := 0; i < len(tsq); i++ {
		switch c := tsq[i]; c {
		case '!':
			negNext = true
		case '(':
			if negNext && negDepth < 0 {
				negDepth = depth
			}
			negNext = false
			depth++
		case ')':
			depth--
			if depth == negDepth {
				negDepth = -1
			}
		case '\'':
			var b strings.Builder
			for i++; i < len(tsq); i++ {
				if tsq[i] == '\'' {
					if i+1 < len(tsq) && tsq[i+1] == '\'' {
						b.WriteByte('\'')
						i++
						continue
					}
					break
				}
				b.WriteByte(tsq[i])
			}
			if !negNext && negDepth < 0 && b.Len() > 0 {
				out = append(out, b.String())
			}
			negNext = false
		}
	}
	return out
}

// Highlight returns a snippet of content, HTML-escaped, with <mark>…</mark> around each
// whole-word, case-insensitive occurrence of a term. It does the escaping itself rather
// than trusting ts_headline, which drops what looks like markup and escapes nothing
// (ADR 0039). A long content is cut to a window around the first match, with "…".
func Highlight(content string, terms []string) string {
	rs := []rune(content)
	lower := make([]rune, len(rs))
	for i, r := range rs {
		lower[i] = unicode.ToLower(r)
	}
	marked := make([]bool, len(rs))
	first := -1
	for _, t := range terms {
		tr := []rune(t)
		if len(tr) == 0 {
			continue
		}
		for i := 0; i+len(tr) <= len(rs); i++ {
			if !wordStart(lower, i) || !runesEqual(lower[i:i+len(tr)], tr) || !wordEnd(lower, i+len(tr)) {
				continue
			}
			for j := i; j < i+len(tr); j++ {
				marked[j] = true
			}
			if first < 0 || i < first {
				first = i
			}
		}
	}
	start, end := 0, len(rs)
	if len(rs) > snippetRunes {
		if first > snippetBefore {
			start = first - snippetBefore
		}
		end = min(start+snippetRunes, len(rs))
	}
	var b strings.Builder
	if start > 0 {
		b.WriteString("…")
	}
	for i := start; i < end; {
		j := i
		for j < end && marked[j] == marked[i] {
			j++
		}
		text := html.EscapeString(string(rs[i:j]))
		if marked[i] {
			b.WriteString("<mark>" + text + "</mark>")
		} else {
			b.WriteString(text)
		}
		i = j
	}
	if end < len(rs) {
		b.WriteString("…")
	}
	return b.String()
}

func isWordRune(r rune) bool { return unicode.IsLetter(r) || unicode.IsDigit(r) }

func wordStart(rs []rune, i int) bool { return i == 0 || !isWordRune(rs[i-1]) }

func wordEnd(rs []rune, i int) bool { return i == len(rs) || !isWordRune(rs[i]) }

func runesEqual(a, b []rune) bool {
	for i := range a {
		if a[i] != b[i] {
			return false
		}
	}
	return true
}
