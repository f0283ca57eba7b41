package persistence

// Statements whose plans persistence_test checks.
const (
	MentionCountsQuery = mentionCountsQuery
	DMListQuery        = dmListQuery
)
