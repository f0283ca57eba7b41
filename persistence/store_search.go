package persistence

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/jackc/pgx/v5"

	"github.com/parley-chat/parley/cluster"
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

// SortRelevance orders search hits by ts_rank (the default); SortNewest, shared with
// unreads, by id.
const SortRelevance = "relevance"

// SearchOptions is a page request: Sort is SortRelevance (default) or SortNewest; After
// the cursor of the previous page (zero: the first page).
type SearchOptions struct {
	Sort  string
	After SearchCursor
	Limit int
	// Window is how many of the newest matches relevance order ranks (0: RankWindow, or
	// RankWindowSparse with is:thread, has:link or has:file); the benchmark varies it.
	Window int
}

// SearchCursor is where a page ended: the last hit's rank (relevance order only) and id.
type SearchCursor struct {
	Rank float32
	ID   int64
}

// String encodes c for the `next` field: "id" in newest order, "rank:id" in relevance order.
func (c SearchCursor) String(sort string) string {
	if sort == SortNewest {
		return strconv.FormatInt(c.ID, 10)
	}
	return strconv.FormatFloat(float64(c.Rank), 'g', -1, 32) + ":" + strconv.FormatInt(c.ID, 10)
}

// ParseSearchCursor decodes a cursor made by String for the same sort.
func ParseSearchCursor(s, sort string) (SearchCursor, error) {
	bad := &ValidationError{Field: "cursor", Reason: "not a cursor of this search"}
	var c SearchCursor
	idPart := s
	if sort != SortNewest {
		r, id, ok := strings.Cut(s, ":")
		if !ok {
			return c, bad
		}
		f, err := strconv.ParseFloat(r, 32)
		if err != nil || f < 0 || f != f {
			return c, bad
		}
		c.Rank, idPart = float32(f), id
	}
	id, err := strconv.ParseInt(idPart, 10, 64)
	if err != nil || id <= 0 {
		return c, bad
	}
	c.ID = id
	return c, nil
}

// SearchHit is one search result: the message as the caller sees it, its channel, and a
// snippet of its content, HTML-escaped, with <mark>…</mark> around the matched words.
type SearchHit struct {
	Message   Message `json:"message"`
	ChannelID int64   `json:"channelId,string"`
	Highlight string  `json:"highlight"`
	rank      float32
}

// Cursor is where a page ending at h continues.
func (h SearchHit) Cursor() SearchCursor { return SearchCursor{Rank: h.rank, ID: h.Message.ID} }

// dateSlack widens the primary-key bound of a date filter: ids carry the millisecond they
// were made in (cluster.IDFloor) and created_at is the commit's clock a few milliseconds
// later, so the bound only lets PostgreSQL start its walk near the date; created_at decides.
const dateSlack = time.Hour

// RankWindow is how many of the newest matches relevance order ranks; older matches are
// reached with sort=newest (ADR 0039 has the measurement behind the number).
const RankWindow = 1000

// RankWindowSparse is the window when is:thread, has:link or has:file also filter: their candidates
// are found by walking the primary key (or the link index) past the rows they reject, and a
// smaller window is a shorter walk (3x faster for "word is:thread" at 1,000,000 messages).
const RankWindowSparse = 300

// SearchMessages runs q over the messages wa's user can read at this moment (public
// channels they may read, private channels and DMs they are in, all of the workspace;
// ReadableChannels decides, so a removal takes effect at the next search), excluding
// tombstones. It returns up to o.Limit hits after o.After. A filter naming a channel or
// user that the caller cannot see is a ValidationError on "q".
func (s *Store) SearchMessages(ctx context.Context, wa WorkspaceAccess, q SearchQuery, o SearchOptions) ([]SearchHit, error) {
	sql, args, tsq, err := s.searchSQL(ctx, wa, q, o)
	if err != nil || sql == "" {
		return []SearchHit{}, err
	}
	// An unnamed statement, planned for these arguments every time: a cached prepared
	// statement switches to a generic plan after five runs, which cannot tell a rare word
	// from a common one and ranked every match of a common word (0.7-1.2 s instead of
	// ~2 ms at 1,000,000 messages; ADR 0039).
	terms := queryLexemes(tsq)
	hits, err := readRows(ctx, s, func(row pgx.Row, h *SearchHit) error { // a routed read (ADR 0044)
		if err := scanMessage(row, &h.Message, &h.rank); err != nil {
			return err
		}
		h.ChannelID = h.Message.ChannelID
		h.Highlight = Highlight(h.Message.Content, terms)
		return nil
	}, sql, append([]any{pgx.QueryExecModeCacheDescribe}, args...)...)
	if err != nil {
		return nil, fmt.Errorf("search: %w", err)
	}
	return hits, nil
}

// SearchSQL is the statement SearchMessages runs for q and its arguments ("" when it
// runs none), for the benchmark's EXPLAIN (bench/searchload).
func (s *Store) SearchSQL(ctx context.Context, wa WorkspaceAccess, q SearchQuery, o SearchOptions) (string, []any, error) {
	sql, args, _, err := s.searchSQL(ctx, wa, q, o)
	return sql, args, err
}

// searchSQL resolves q's filters and returns the search statement, its arguments and the
// tsquery's text.
func (s *Store) searchSQL(ctx context.Context, wa WorkspaceAccess, q SearchQuery, o SearchOptions) (string, []any, string, error) {
	chans, err := s.ReadableChannels(ctx, wa)
	if err != nil {
		return "", nil, "", err
	}
	if chans, err = s.searchScope(ctx, wa, q, chans); err != nil {
		return "", nil, "", err
	}
	from, err := s.searchAuthors(ctx, wa, q.From)
	if err != nil {
		return "", nil, "", err
	}
	var tsq, tree string
	if q.Text != "" {
		if err := s.pool.QueryRow(ctx, `SELECT websearch_to_tsquery('simple', $1)::text,
			querytree(websearch_to_tsquery('simple', $1))`, q.Text).Scan(&tsq, &tree); err != nil {
			return "", nil, "", fmt.Errorf("search query %q: %w", q.Text, err)
		}
	}
	if len(chans) == 0 || (tsq == "" && !q.HasFilters()) {
		// Nothing readable, or only punctuation: PostgreSQL finds no word in it.
		return "", nil, "", nil
	}
	ranked := tsq != "" && tree != "T" && o.Sort != SortNewest

	args := []any{chans}
	arg := func(v any) string { args = append(args, v); return "$" + strconv.Itoa(len(args)) }
	where := []string{"m.channel_id = ANY($1)", "m.deleted_at IS NULL"}
	rank := "0::real"
	if tsq != "" {
		p := arg(tsq) + "::tsquery"
		where = append(where, "m.tsv @@ "+p)
		if ranked {
			rank = "ts_rank(m.tsv, " + p + ")"
		}
	}
	if len(from) > 0 {
		where = append(where, "m.user_id = ANY("+arg(from)+")")
	}
	if !q.Since.IsZero() {
		where = append(where, "m.created_at >= "+arg(q.Since), "m.id >= "+arg(cluster.IDFloor(q.Since.Add(-dateSlack))))
	}
	if !q.Until.IsZero() {
		where = append(where, "m.created_at < "+arg(q.Until), "m.id < "+arg(cluster.IDFloor(q.Until.Add(dateSlack))))
	}
	if q.HasLink {
		where = append(where, hasLinkCondition)
	}
	if q.HasFile {
		where = append(where, hasFileCondition)
	}
	if q.IsThread {
		// A probe of threads per candidate row (not a hashed subplan, which reads all of
		// threads on every search: 76,000 rows at 1,000,000 messages; ADR 0039).
		where = append(where, "(m.parent_id IS NOT NULL OR (SELECT true FROM threads th WHERE th.root_id = m.id) IS NOT NULL)")
	}
	var hits string
	window := o.Window
	switch {
	case window > 0:
	case q.IsThread || q.HasLink || q.HasFile:
		window = RankWindowSparse
	default:
		window = RankWindow
	}
	if ranked {
		// Relevance ranks the newest RankWindow matches only (ADR 0039): ranking every
		// match of a common word reads hundreds of thousands of rows; the newest few
		// thousand are one short walk of the primary key or one bitmap scan.
		cursor := ""
		if o.After.ID > 0 {
			cursor = "WHERE (c.rank, c.id) < (" + arg(o.After.Rank) + "::real, " + arg(o.After.ID) + ")"
		}
		hits = `cand AS (SELECT m.id, ` + rank + ` AS rank FROM messages m
		WHERE ` + strings.Join(where, " AND ") + `
		ORDER BY m.id DESC LIMIT ` + arg(window) + `),
	hits AS (SELECT c.id, c.rank FROM cand c ` + cursor + ` ORDER BY c.rank DESC, c.id DESC LIMIT `
	} else {
		if o.After.ID > 0 {
			where = append(where, "m.id < "+arg(o.After.ID))
		}
		hits = `hits AS (SELECT m.id, ` + rank + ` AS rank FROM messages m
		WHERE ` + strings.Join(where, " AND ") + `
		ORDER BY m.id DESC LIMIT `
	}
	arg(wa.UserID)
	viewer := len(args)
	sql := `WITH ` + hits + arg(o.Limit) + `)
	SELECT ` + messageColumns(viewer) + `, h.rank FROM hits h JOIN messages m ON m.id = h.id
		LEFT JOIN threads t ON t.root_id = m.id
	ORDER BY h.rank DESC, m.id DESC`
	return sql, args, tsq, nil
}

// hasLinkCondition is the predicate of the partial index messages_has_link (migrations
// 00012, 00017): written the same way so that the planner can use the index.
const hasLinkCondition = `strpos(m.content, '://') > 0 AND m.content ~* 'https?://[^[:space:]]'`

// hasFileCondition: the message has an attachment (message_files, migration 00014),
// probed per candidate row on message_files' primary key, not hashed whole (see is:thread).
const hasFileCondition = `(SELECT true FROM message_files mf WHERE mf.message_id = m.id LIMIT 1) IS NOT NULL`

// searchScope narrows chans (the readable channels) to the in: filters, if any.
func (s *Store) searchScope(ctx context.Context, wa WorkspaceAccess, q SearchQuery, chans []int64) ([]int64, error) {
	if len(q.InChannels) == 0 && len(q.InDMs) == 0 {
		return chans, nil
	}
	var scope []int64
	if len(q.InChannels) > 0 {
		found := map[string]int64{}
		rows, err := s.pool.Query(ctx, `SELECT name, id FROM channels WHERE workspace_id = $1 AND name = ANY($2)`, wa.WorkspaceID, q.InChannels)
		if err != nil {
			return nil, fmt.Errorf("search channels: %w", err)
		}
		if err := scanPairs(rows, found); err != nil {
			return nil, err
		}
		for _, n := range q.InChannels {
			id, ok := found[n]
			if !ok || !slices.Contains(chans, id) {
				return nil, badFilter("in:#"+n, "no channel you can read has that name")
			}
			scope = append(scope, id)
		}
	}
	if len(q.InDMs) > 0 {
		users, err := s.usersNamed(ctx, q.InDMs, 0)
		if err != nil {
			return nil, err
		}
		for _, n := range q.InDMs {
			uid, ok := users[n]
			if !ok {
				return nil, badFilter("in:@"+n, "no such user")
			}
			pair := []int64{wa.UserID, uid}
			slices.Sort(pair)
			var id int64
			err := s.pool.QueryRow(ctx, `SELECT id FROM channels WHERE workspace_id = $1 AND type = 'dm' AND dm_members = $2`,
				wa.WorkspaceID, pair).Scan(&id)
			switch {
			case errors.Is(err, pgx.ErrNoRows):
				// No conversation with them yet: a valid filter that matches nothing.
			case err != nil:
				return nil, fmt.Errorf("search dm with %d: %w", uid, err)
			case slices.Contains(chans, id):
				scope = append(scope, id)
			}
		}
	}
	return scope, nil
}

// searchAuthors resolves from: usernames among the workspace's members.
func (s *Store) searchAuthors(ctx context.Context, wa WorkspaceAccess, names []string) ([]int64, error) {
	if len(names) == 0 {
		return nil, nil
	}
	users, err := s.usersNamed(ctx, names, wa.WorkspaceID)
	if err != nil {
		return nil, err
	}
	ids := make([]int64, 0, len(names))
	for _, n := range names {
		id, ok := users[n]
		if !ok {
			return nil, badFilter("from:@"+n, "no member of this workspace has that username")
		}
		ids = append(ids, id)
	}
	return ids, nil
}

// usersNamed maps usernames to ids; with workspaceID > 0 only that workspace's members.
func (s *Store) usersNamed(ctx context.Context, names []string, workspaceID int64) (map[string]int64, error) {
	rows, err := s.pool.Query(ctx, `SELECT u.username, u.id FROM users u
		WHERE u.username = ANY($1::text[]) AND ($2::bigint = 0 OR EXISTS (
			SELECT 1 FROM workspace_members wm WHERE wm.workspace_id = $2 AND wm.user_id = u.id))`, names, workspaceID)
	if err != nil {
		return nil, fmt.Errorf("search users: %w", err)
	}
	out := map[string]int64{}
	return out, scanPairs(rows, out)
}

func scanPairs(rows pgx.Rows, into map[string]int64) error {
	defer rows.Close()
	for rows.Next() {
		var k string
		var v int64
		if err := rows.Scan(&k, &v); err != nil {
			return err
		}
		into[k] = v
	}
	return rows.Err()
}
