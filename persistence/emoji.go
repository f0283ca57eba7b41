package persistence

import (
	"strings"
	"unicode"
	"unicode/utf8"
)

// MaxEmojiBytes bounds a reaction's emoji; the longest RGI sequences (a kiss with two skin
// tones, a subdivision flag) take about 35 bytes.
const MaxEmojiBytes = 64

// Characters of emoji sequences (Unicode TS #51).
const (
	zwj           = '\u200D'
	vs15, vs16    = '\uFE0E', '\uFE0F' // text and emoji presentation selectors
	keycapMark    = '\u20E3'
	blackFlag     = '\U0001F3F4' // base of the subdivision flags (tag sequences)
	tagFirst      = '\U000E0020'
	tagLast       = '\U000E007E'
	cancelTag     = '\U000E007F'
	modifierFirst = '\U0001F3FB' // skin tones
	modifierLast  = '\U0001F3FF'
)

// ValidateEmoji checks the emoji of a new reaction: one Unicode emoji sequence, or a
// :shortcode: of 1-32 characters of a-z, 0-9, '_', '+' and '-' (issue 21: an arbitrary
// string was accepted, and a thousand distinct ones on one message).
func ValidateEmoji(e string) error {
	if len(e) <= MaxEmojiBytes && (isShortcode(e) || isEmojiSequence(e)) {
		return nil
	}
	return &ValidationError{Field: "emoji", Reason: "one Unicode emoji (a sequence counts as one) or a :shortcode: of 1-32 characters a-z, 0-9, _, +, -"}
}

// ValidateEmojiRemoval checks the emoji of a reaction to remove: the rule before
// ValidateEmoji (1-64 printable characters, no spaces or '/'), so that reactions stored
// under it can still be taken back.
func ValidateEmojiRemoval(e string) error {
	if e == "" || len(e) > MaxEmojiBytes || !utf8.ValidString(e) ||
		strings.IndexFunc(e, func(r rune) bool { return unicode.IsSpace(r) || unicode.IsControl(r) || r == '/' }) >= 0 {
		return &ValidationError{Field: "emoji", Reason: "1-64 bytes of printable characters, no spaces or '/'"}
	}
	return nil
}

func isShortcode(e string) bool {
	if len(e) < 3 || len(e) > 34 || e[0] != ':' || e[len(e)-1] != ':' {
		return false
	}
	name := e[1 : len(e)-1]
	for _, c := range []byte(name) {
		if !('a' <= c && c <= 'z' || '0' <= c && c <= '9' || c == '_' || c == '+' || c == '-') {
			return false
		}
	}
	return true
}

// isEmojiSequence reports whether e is one emoji: a flag (two regional indicators), a
// keycap ([0-9#*] FE0F? 20E3), or elements joined by ZWJ, each a pictographic character
// with an optional presentation selector and skin tone, or a black flag with tags.
func isEmojiSequence(e string) bool {
	rs := []rune(e)
	if len(rs) == 0 || !utf8.ValidString(e) {
		return false
	}
	if unicode.Is(unicode.Regional_Indicator, rs[0]) {
		return len(rs) == 2 && unicode.Is(unicode.Regional_Indicator, rs[1])
	}
	if r := rs[0]; r == '#' || r == '*' || '0' <= r && r <= '9' {
		return len(rs) == 2 && rs[1] == keycapMark || len(rs) == 3 && rs[1] == vs16 && rs[2] == keycapMark
	}
	for i := 0; ; i++ {
		n := element(rs[i:])
		if n == 0 {
			return false
		}
		i += n
		if i == len(rs) {
			return true
		}
		if rs[i] != zwj || i+1 == len(rs) {
			return false
		}
	}
}

// element is the length of the emoji element at the start of rs (0: none).
func element(rs []rune) int {
	if !unicode.Is(extendedPictographic, rs[0]) {
		return 0
	}
	n := 1
	if rs[0] == blackFlag && n < len(rs) && tagFirst <= rs[n] && rs[n] <= tagLast {
		for n < len(rs) && tagFirst <= rs[n] && rs[n] <= tagLast {
			n++
		}
		if n == len(rs) || rs[n] != cancelTag {
			return 0
		}
		return n + 1
	}
	if n < len(rs) && (rs[n] == vs16 || rs[n] == vs15) {
		n++
	}
	if n < len(rs) && modifierFirst <= rs[n] && rs[n] <= modifierLast {
		n++
	}
	return n
}
