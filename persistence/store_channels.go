package persistence

// Channel is a channel's shared state (what a channel.updated event carries).
type Channel struct {
	ID          int64  `json:"id,string"`
	WorkspaceID int64  `json:"workspaceId,string"`
	Name        string `json:"name"`
	Type        string `json:"type"`
	Topic       string `json:"topic"`
	CreatedBy   int64  `json:"createdBy,string"`
	Archived    bool   `json:"archived"`
	LastSeq     int64  `json:"lastSeq"`
	CreatedAt   Time   `json:"createdAt"`
	UpdatedAt   Time   `json:"updatedAt"`
}

// ChannelView is a channel as one user sees it: with their read marker and membership.
// UnreadCount is LastSeq − LastReadSeq (0 when not a member).
type ChannelView struct {
	Channel
	IsMember    bool  `json:"isMember"`
	LastReadSeq int64 `json:"lastReadSeq"`
	UnreadCount int64 `json:"unreadCount"`
}
