package persistence

import (
	"strings"
	"unicode"
)

// What a slash command is (ADR 0038), shared by the STOMP and REST paths.
//
// A message is a command call when its first word is a slash followed by 1-32 letters,
// digits, "_" or "-" and nothing else up to the first space or the end ("/deploy prod",
// "/Deploy"): Slack's rule, a leading /word. Anything else is text: "/usr/bin is …" (the
// word goes on with "/"), "/ is a slash", "//deploy" (Mattermost's escape: one slash is
// removed and "/deploy" is posted), "// a comment" (no command word: posted unchanged).
// Names are compared in lower case.

// Visibilities of a command's response.
const (
	VisibilityEphemeral = "ephemeral" // only the caller's sessions, on QueueEphemeral
	VisibilityChannel   = "channel"   // posted in the channel as the command's bot
)

// QueueEphemeral carries command responses meant for the caller alone.
const QueueEphemeral = "/user/queue/ephemeral"

// ParseSlash reports whether content calls a command, and which: name in lower case with
// its slash ("/deploy"), text the rest without surrounding space.
func ParseSlash(content string) (name, text string, ok bool) {
	word, ok := commandWord(content)
	if !ok {
		return "", "", false
	}
	return strings.ToLower(word), strings.TrimSpace(content[len(word):]), true
}

// UnescapeSlash is the content to post for a message that is not a command call: a
// command word escaped with a second slash ("//deploy x") loses one slash; anything else is
// posted as it is.
func UnescapeSlash(content string) string {
	if strings.HasPrefix(content, "//") {
		if _, ok := commandWord(content[1:]); ok {
			return content[1:]
		}
	}
	return content
}

// commandWord is content's leading "/word" when it is a command word.
func commandWord(content string) (string, bool) {
	if len(content) < 2 || content[0] != '/' {
		return "", false
	}
	end := 1
	for end < len(content) && end <= 33 && isCommandByte(content[end]) {
		end++
	}
	if end == 1 || end > 33 {
		return "", false
	}
	if end < len(content) {
		r := rune(content[end])
		if r >= 0x80 { // a multibyte rune: spaces there are not ASCII
			r = []rune(content[end:])[0]
		}
		if !unicode.IsSpace(r) {
			return "", false
		}
	}
	return content[:end], true
}

func isCommandByte(b byte) bool {
	return b >= 'a' && b <= 'z' || b >= 'A' && b <= 'Z' || b >= '0' && b <= '9' || b == '_' || b == '-'
}

// ValidateCommandReply checks a command's response and returns it normalised: content as
// any message's (blank: say nothing, returned as ""), visibility ephemeral or channel (""
// is ephemeral, Slack's default).
func ValidateCommandReply(content, visibility string) (string, string, error) {
	switch visibility {
	case "":
		visibility = VisibilityEphemeral
	case VisibilityEphemeral, VisibilityChannel:
	default:
		return "", "", &ValidationError{Field: "visibility", Reason: `"ephemeral" or "channel"`}
	}
	if strings.TrimSpace(content) == "" {
		return "", visibility, nil
	}
	if err := ValidateContent(content); err != nil {
		return "", "", err
	}
	return content, visibility, nil
}

// CommandOutcome is what a command call did, the REST answer to it: Visibility says where
// Content went; Message is the post of a "channel" response. Content "" showed nothing.
type CommandOutcome struct {
	Command    string   `json:"command"`
	Visibility string   `json:"visibility"`
	Content    string   `json:"content"`
	Message    *Message `json:"message,omitempty"`
}

// EphemeralEvent is a command response on the caller's QueueEphemeral.
type EphemeralEvent struct {
	Type      string `json:"type"` // "ephemeral"
	ID        string `json:"id"`   // unique per event, for a client to key it
	ChannelID int64  `json:"channelId,string"`
	ParentID  int64  `json:"parentId,string,omitempty"`
	Command   string `json:"command"`
	Content   string `json:"content"`
}
