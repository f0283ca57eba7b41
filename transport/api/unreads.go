package api

import (
	"context"
	"fmt"
	"net/http"
	"strconv"
	"strings"

	"github.com/parley-chat/parley/persistence"
)

// Unreads page sizes (SPEC: default 50, max 200).
const (
	defaultUnreadPage = 50
	maxUnreadPage     = 200
)

// UnreadsPage is the unreads list: a page of messages, how many unread messages there are
// in all, and the cursor of the next page.
type UnreadsPage struct {
	Items      []persistence.Message `json:"items"`
	TotalCount int64                 `json:"totalCount"`
	Next       *string               `json:"next"`
}

// listUnreads lists messages by others above the caller's read markers in their channels:
// the cached markers go into the query, which takes the larger of them and PostgreSQL's.
// Cursors: a message id for newest/oldest, "channelId:seq" for channel.
func (a *API) listUnreads(ctx context.Context, r *http.Request, me persistence.User) (int, any, error) {
	sort := r.URL.Query().Get("sort")
	if sort == "" {
		sort = persistence.SortNewest
	}
	limit, err := queryLimit(r, defaultUnreadPage, maxUnreadPage)
	if err != nil {
		return 0, nil, err
	}
	cur, err := parseUnreadCursor(sort, r.URL.Query().Get("after"))
	if err != nil {
		return 0, nil, err
	}
	var cached map[int64]int64
	if a.cache != nil {
		chans, err := a.store.MemberChannelIDs(ctx, me.ID)
		if err != nil {
			return 0, nil, err
		}
		cached = a.cachedMarkers(ctx, me.ID, chans)
	}
	ms, total, err := a.store.Unreads(ctx, me.ID, sort, cur, limit+1, cached)
	if err != nil {
		return 0, nil, err
	}
	p := pageOf(ms, limit, func(m persistence.Message) string {
		if sort == persistence.SortChannel {
			return fmt.Sprintf("%d:%d", m.ChannelID, m.Seq)
		}
		return idString(m.ID)
	})
	return http.StatusOK, UnreadsPage{Items: p.Items, TotalCount: total, Next: p.Next}, nil
}

func parseUnreadCursor(sort, s string) (persistence.UnreadCursor, error) {
	var cur persistence.UnreadCursor
	if s == "" {
		return cur, nil
	}
	bad := &persistence.ValidationError{Field: "after", Reason: "not a cursor of this list"}
	if sort != persistence.SortChannel {
		id, err := parseID(s)
		if err != nil {
			return cur, bad
		}
		cur.ID = id
		return cur, nil
	}
	c, q, ok := strings.Cut(s, ":")
	if !ok {
		return cur, bad
	}
	cid, err1 := parseID(c)
	seq, err2 := strconv.ParseInt(q, 10, 64)
	if err1 != nil || err2 != nil || seq < 0 {
		return cur, bad
	}
	cur.ChannelID, cur.Seq = cid, seq
	return cur, nil
}
