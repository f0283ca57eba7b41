package persistence

import "time"

// Statements whose plans persistence_test checks.
const (
	MentionCountsQuery = mentionCountsQuery
	DMListQuery        = dmListQuery
)

// SetNow replaces the store's clock (tests of time windows).
func (s *Store) SetNow(now func() time.Time) { s.now = now }
