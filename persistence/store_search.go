package persistence

import (
	"context"
	"fmt"
	"strings"
	"unicode/utf8"
)

// MaxSearchRunes bounds a search query.
const MaxSearchRunes = 200

// ValidateSearch checks a search query: required, at most MaxSearchRunes characters.
func ValidateSearch(q string) (string, error) {
	q = strings.TrimSpace(q)
	if q == "" {
		return "", &ValidationError{Field: "q", Reason: "required"}
	}
	if utf8.RuneCountInString(q) > MaxSearchRunes || !utf8.ValidString(q) || strings.ContainsRune(q, 0) {
		return "", &ValidationError{Field: "q", Reason: fmt.Sprintf("at most %d characters", MaxSearchRunes)}
	}
	return q, nil
}

// Search finds messages matching q (web-search syntax: words, "phrases", -excluded, or)
// in channelIDs, newest first below beforeID (0: from the newest), excluding tombstones.
// The caller passes only channels the reader may read (ReadableChannels).
func (s *Store) Search(ctx context.Context, viewerID int64, channelIDs []int64, q string, beforeID int64, limit int) ([]Message, error) {
	q, err := ValidateSearch(q)
	if err != nil {
		return nil, err
	}
	if len(channelIDs) == 0 {
		return []Message{}, nil
	}
	if beforeID <= 0 {
		beforeID = 1<<63 - 1
	}
	ms, err := s.readMessages(ctx, `SELECT `+messageColumns(5)+messageFrom+`
		WHERE m.channel_id = ANY($1) AND m.deleted_at IS NULL AND m.id < $3
		  AND m.tsv @@ websearch_to_tsquery('simple', $2)
		ORDER BY m.id DESC LIMIT $4`, channelIDs, q, beforeID, limit, viewerID)
	if err != nil {
		return nil, fmt.Errorf("search: %w", err)
	}
	return ms, nil
}
