package persistence

import (
	"regexp"
	"strings"
)

// mentionRe finds @username (SPEC: @([a-z0-9_.-]+), case-insensitive). The @ must start
// the text or follow a character that cannot be part of a username, so that the domain of
// an e-mail address (alice@example.com) is not a mention.
var mentionRe = regexp.MustCompile(`(?i)(?:^|[^a-z0-9_.-])@([a-z0-9_.-]+)`)

// maxMentionsPerMessage bounds the names one message can look up.
const maxMentionsPerMessage = 50

// ParseMentions returns the lowercase usernames content mentions, deduplicated, in order of
// first appearance.
func ParseMentions(content string) []string {
	if strings.IndexByte(content, '@') < 0 {
		return nil
	}
	var out []string
	seen := map[string]bool{}
	for _, m := range mentionRe.FindAllStringSubmatch(content, -1) {
		n := strings.ToLower(m[1])
		if len(n) > 64 || seen[n] {
			continue
		}
		seen[n] = true
		out = append(out, n)
		if len(out) == maxMentionsPerMessage {
			break
		}
	}
	return out
}

// trimMentionTail drops the punctuation a sentence can put right after a name ("@bob.").
func trimMentionTail(n string) string {
	return strings.TrimRight(n, ".-")
}
