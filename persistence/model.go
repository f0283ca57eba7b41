package persistence

import (
	"encoding/json"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/parley-chat/parley/errcode"
)

// The wire model: rows as the API and the real-time events render them. Ids are int64 in
// Go and decimal strings in JSON (`,string`), because JavaScript numbers cannot hold 64 bits.

// Time renders as RFC 3339 UTC with exactly three fractional digits, as SPEC.md fixes
// (time.RFC3339Nano would drop trailing zeros).
type Time struct{ time.Time }

// TimeLayout is the API's time format.
const TimeLayout = "2006-01-02T15:04:05.000Z07:00"

// MarshalJSON implements json.Marshaler.
func (t Time) MarshalJSON() ([]byte, error) {
	b := make([]byte, 0, len(TimeLayout)+2)
	b = append(b, '"')
	b = t.UTC().AppendFormat(b, TimeLayout)
	return append(b, '"'), nil
}

// UnmarshalJSON implements json.Unmarshaler.
func (t *Time) UnmarshalJSON(b []byte) error {
	if len(b) < 2 || b[0] != '"' || b[len(b)-1] != '"' {
		return errors.New("time must be a JSON string")
	}
	v, err := time.Parse(time.RFC3339Nano, string(b[1:len(b)-1]))
	if err != nil {
		return err
	}
	t.Time = v
	return nil
}

// Message is a channel message or thread reply in its current state: edits change Content
// and set EditedAt; a deletion leaves a tombstone (Deleted, empty Content).
type Message struct {
	ID          int64      `json:"id,string"`
	ChannelID   int64      `json:"channelId,string"`
	Seq         int64      `json:"seq"`
	UserID      int64      `json:"userId,string"`
	ParentID    *int64     `json:"parentId,string,omitempty"`
	Content     string     `json:"content"`
	ClientMsgID string     `json:"clientMsgId,omitempty"`
	CreatedAt   Time       `json:"createdAt"`
	EditedAt    *Time      `json:"editedAt,omitempty"`
	Deleted     bool       `json:"deleted"`
	Reactions   []Reaction `json:"reactions"`
	// Thread statistics, present on roots that have replies.
	ReplyCount  int   `json:"replyCount,omitempty"`
	LastReplyAt *Time `json:"lastReplyAt,omitempty"`
	// Files attached when it was posted, in the order given (absent when none, which keeps
	// the common MESSAGE frame as it was; ADR 0041). A tombstone has none.
	Files []File `json:"files,omitempty"`
}

// Reaction is one emoji's tally on a message; Me is relative to the reader (false in
// broadcast events, which go to everyone).
type Reaction struct {
	Emoji string `json:"emoji"`
	Count int    `json:"count"`
	Me    bool   `json:"me"`
}

// Mention is a user named with @username in a message they can read.
type Mention struct {
	ID        int64 `json:"id,string"`
	MessageID int64 `json:"messageId,string"`
	ChannelID int64 `json:"channelId,string"`
	UserID    int64 `json:"userId,string"`
	Seq       int64 `json:"seq"`
	CreatedAt Time  `json:"createdAt"`
	Read      bool  `json:"read"`
	// Set by the append, not stored: what made the mention (MentionViaUser, …Channel,
	// …Here) and whether it notifies (not muted, notify not "none", no do-not-disturb).
	Via    string `json:"-"`
	Notify bool   `json:"-"`
}

// NewMessage is a message to append: the caller (the channel actor, or REST through it)
// has already checked that UserID may post in the channel and made ID.
type NewMessage struct {
	ID          int64
	UserID      int64
	ParentID    int64 // 0: a root message
	Content     string
	ClientMsgID string // "" when the client gave none
	// FileIDs are uploads of UserID in the channel's workspace to attach (at most
	// MaxFilesPerMessage); the append checks them in its transaction.
	FileIDs []int64
}

// AppendResult is the outcome of one NewMessage in a batch.
type AppendResult struct {
	Message Message
	// Duplicate: a message with the same (channel, user, clientMsgId) already existed;
	// Message is that earlier message and nothing new was written.
	Duplicate bool
	// Mentions made by this message (users who can read the channel, never the author).
	Mentions []Mention
	// ThreadUpdates are the followers to tell of this reply's thread (on the batch's last
	// reply to each thread; never the only replier of the batch): ADR 0040.
	ThreadUpdates []ThreadUpdate
	// Err is a per-message rejection (ErrBadParent); the rest of the batch still commits.
	Err error
}

// Errors of the store, checked with errors.Is by the API and the actors.
var (
	ErrNotFound  error = errcode.New(errcode.NotFound, "not found")
	ErrConflict  error = errcode.New(errcode.Conflict, "conflict")
	ErrArchived  error = errcode.New(errcode.Archived, "channel is archived")
	ErrBadParent error = errcode.New(errcode.Validation, "parent must be a root message of the same channel")
	ErrGone      error = errcode.New(errcode.Gone, "gone")
)

// More errors of the store. ErrForbidden: the caller can see the resource but may not do
// this (403); ErrNotFound doubles as "may not know it exists" (404). ErrInvalid is wrapped
// by every ValidationError.
var (
	ErrForbidden error = errcode.New(errcode.Forbidden, "forbidden")
	ErrInvalid   error = errcode.New(errcode.Validation, "invalid input")
)

// ValidationError is bad input the caller can fix; it matches ErrInvalid.
type ValidationError struct {
	Field  string // JSON name of the offending field or parameter, "" for the whole body
	Reason string
}

func (e *ValidationError) Error() string {
	if e.Field == "" {
		return e.Reason
	}
	return e.Field + ": " + e.Reason
}

// Is makes errors.Is(err, ErrInvalid) true.
func (e *ValidationError) Is(target error) bool { return target == ErrInvalid }

// ErrorCode is errcode.Validation, whatever wraps e.
func (e *ValidationError) ErrorCode() string { return errcode.Validation }

// PublicDetail is e's own text, without what wrapping added.
func (e *ValidationError) PublicDetail() string { return e.Error() }

// MaxContentRunes is the longest message content, in characters (SPEC: 4,000).
const MaxContentRunes = 4000

// ValidateContent checks message content as every send path must: not blank, at most
// MaxContentRunes characters, valid UTF-8.
func ValidateContent(s string) error {
	if !utf8.ValidString(s) {
		return &ValidationError{Field: "content", Reason: "must be valid UTF-8"}
	}
	if strings.TrimSpace(s) == "" {
		return &ValidationError{Field: "content", Reason: "must not be blank"}
	}
	if n := utf8.RuneCountInString(s); n > MaxContentRunes {
		return &ValidationError{Field: "content", Reason: fmt.Sprintf("%d characters, at most %d allowed", n, MaxContentRunes)}
	}
	if strings.IndexByte(s, 0) >= 0 {
		return &ValidationError{Field: "content", Reason: "must not contain NUL"}
	}
	return nil
}

// MaxClientMsgIDLen bounds clientMsgId (bytes).
const MaxClientMsgIDLen = 64

// ValidateClientMsgID checks an optional clientMsgId.
func ValidateClientMsgID(s string) error {
	if len(s) > MaxClientMsgIDLen || !utf8.ValidString(s) || strings.IndexByte(s, 0) >= 0 {
		return &ValidationError{Field: "clientMsgId", Reason: fmt.Sprintf("at most %d bytes of UTF-8", MaxClientMsgIDLen)}
	}
	return nil
}

// IDList is a list of ids rendered as JSON decimal strings.
type IDList []int64

// MarshalJSON implements json.Marshaler.
func (l IDList) MarshalJSON() ([]byte, error) {
	b := make([]byte, 0, 2+len(l)*22)
	b = append(b, '[')
	for i, id := range l {
		if i > 0 {
			b = append(b, ',')
		}
		b = append(b, '"')
		b = strconv.AppendInt(b, id, 10)
		b = append(b, '"')
	}
	return append(b, ']'), nil
}

// UnmarshalJSON implements json.Unmarshaler.
func (l *IDList) UnmarshalJSON(b []byte) error {
	var ss []string
	if err := json.Unmarshal(b, &ss); err != nil {
		return err
	}
	out := make(IDList, len(ss))
	for i, s := range ss {
		v, err := strconv.ParseInt(s, 10, 64)
		if err != nil {
			return fmt.Errorf("id %q: %w", s, err)
		}
		out[i] = v
	}
	*l = out
	return nil
}
