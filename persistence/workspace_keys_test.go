package persistence_test

import (
	"bytes"
	"errors"
	"slices"
	"testing"
	"time"

	"github.com/jackc/pgx/v5/pgconn"

	"github.com/parley-chat/parley/persistence"
)

// The tables that are not keyed by workspace, and why (ADR 0049, docs/DISTRIBUTED-POSTGRES.md).
var (
	// Reference (global) tables: a user and their tokens span workspaces.
	globalTables = []string{"users", "api_tokens", "goose_db_version"}
	// workspaces is the key itself (its id).
	// Written by the append (store_append*.go): a workspace_id there changes the hot
	// statements, which is the rest of ADR 0049, not done. Shrink this list when one gets it.
	appendTables = []string{"messages", "threads", "mentions", "read_receipts", "thread_follows", "thread_reads", "message_files"}
)

// Every other table carries workspace_id NOT NULL, so that it can be distributed (or routed)
// by workspace. Fails for a new table without it unless it is added to a list above.
func TestEveryTableIsKeyedByWorkspace(t *testing.T) {
	t.Parallel()
	f := newFixture(t, "alice")
	rows, err := f.store.Pool().Query(f.ctx, `
		SELECT t.table_name, c.is_nullable
		FROM information_schema.tables t
		LEFT JOIN information_schema.columns c
		       ON c.table_schema = t.table_schema AND c.table_name = t.table_name AND c.column_name = 'workspace_id'
		WHERE t.table_schema = 'public' AND t.table_type = 'BASE TABLE'
		ORDER BY t.table_name`)
	if err != nil {
		t.Fatal(err)
	}
	defer rows.Close()
	seen := 0
	for rows.Next() {
		var table string
		var nullable *string
		if err := rows.Scan(&table, &nullable); err != nil {
			t.Fatal(err)
		}
		seen++
		switch {
		case table == "workspaces":
		case slices.Contains(globalTables, table):
		case slices.Contains(appendTables, table):
			if nullable != nil {
				t.Errorf("%s has workspace_id now: take it off the list of append tables", table)
			}
		case nullable == nil:
			t.Errorf("%s has no workspace_id", table)
		case *nullable != "NO":
			t.Errorf("%s.workspace_id is nullable", table)
		}
	}
	if err := rows.Err(); err != nil {
		t.Fatal(err)
	}
	if seen < 20 {
		t.Fatalf("saw %d tables: is the schema migrated?", seen)
	}
}

// The store's writes name no workspace; every row still gets its parent's, and a row cannot
// name another workspace than its channel's.
func TestWorkspaceIDFollowsItsParent(t *testing.T) {
	t.Parallel()
	f := newFixture(t, "alice", "bob")
	alice, bob := f.users["alice"], f.users["bob"]
	ctx := f.ctx
	must := func(err error) {
		t.Helper()
		if err != nil {
			t.Fatal(err)
		}
	}
	// A second workspace and channel, so that a wrong key has somewhere to point.
	other := f.store.NextID()
	f.exec(t, `INSERT INTO workspaces (id, name, created_by) VALUES ($1, 'other', $2)`, other, alice)
	otherCh := f.store.NextID()
	f.exec(t, `INSERT INTO channels (id, workspace_id, name, type, created_by) VALUES ($1, $2, 'elsewhere', 'public', $3)`, otherCh, other, alice)
	f.exec(t, `INSERT INTO channel_members (channel_id, user_id) VALUES ($1, $2)`, otherCh, bob) // no workspace named

	res, err := f.store.AppendMessages(ctx, f.ch, []persistence.NewMessage{{UserID: alice, Content: "hello"}})
	must(err)
	msg := res[0].Message.ID
	_, err = f.store.SetChannelPrefs(ctx, bob, f.ch, persistence.ChannelPrefs{Notify: persistence.NotifyAll, Muted: true})
	must(err)
	bot, err := f.store.CreateBotUser(ctx, f.ws, "hookbot", "Hook bot")
	must(err)
	_, err = f.store.CreateIncomingWebhook(ctx, persistence.NewIncomingWebhook{ID: f.store.NextID(), ChannelID: f.ch, BotUserID: bot.ID,
		Name: "ci", SecretHash: bytes.Repeat([]byte{1}, 32), CreatedBy: alice})
	must(err)
	hook, err := f.store.CreateOutgoingWebhook(ctx, persistence.NewOutgoingWebhook{ID: f.store.NextID(), ChannelID: f.ch, CreatorID: alice,
		BotUserID: bot.ID, URL: "https://example.com/hook", Secret: "s", Events: []string{"message.created"}})
	must(err)
	must(f.store.RecordOutgoingDelivery(ctx, hook.ID, "d1", 1, persistence.DeliveryAttempt{Status: "pending", Attempts: 1}))
	cmd, err := f.store.CreateSlashCommand(ctx, persistence.NewSlashCommand{WorkspaceID: f.ws, Name: "/deploy", URL: "https://example.com/slash", Secret: "s", CreatedBy: alice})
	must(err)
	must(f.store.CreateSlashResponse(ctx, bytes.Repeat([]byte{2}, 32), persistence.SlashResponse{CommandID: cmd.ID, UserID: alice, ChannelID: f.ch},
		1, time.Now().Add(time.Hour)))
	_, _, err = f.store.PinMessage(ctx, msg, alice)
	must(err)
	_, _, err = f.store.SetReaction(ctx, msg, bob, ":tada:", true)
	must(err)
	_, err = f.store.EditMessage(ctx, alice, msg, "hello, edited")
	must(err)

	// Each table's rows against the workspace of the parent they hang from.
	for table, parent := range map[string]string{
		"channel_members":     "JOIN channels p ON p.id = t.channel_id",
		"channel_prefs":       "JOIN channels p ON p.id = t.channel_id",
		"incoming_webhooks":   "JOIN channels p ON p.id = t.channel_id",
		"outgoing_webhooks":   "JOIN channels p ON p.id = t.channel_id",
		"pins":                "JOIN channels p ON p.id = t.channel_id",
		"outgoing_deliveries": "JOIN outgoing_webhooks h ON h.id = t.hook_id JOIN channels p ON p.id = h.channel_id",
		"slash_responses":     "JOIN slash_commands p ON p.id = t.command_id",
		"reactions":           "JOIN messages m ON m.id = t.message_id JOIN channels p ON p.id = m.channel_id",
		"message_versions":    "JOIN messages m ON m.id = t.message_id JOIN channels p ON p.id = m.channel_id",
	} {
		var rows, agree int64
		err := f.store.Pool().QueryRow(ctx, `SELECT count(*), count(*) FILTER (WHERE t.workspace_id = p.workspace_id) FROM `+table+` t `+parent).Scan(&rows, &agree)
		if err != nil {
			t.Fatalf("%s: %v", table, err)
		}
		if rows == 0 || agree != rows {
			t.Errorf("%s: %d of %d rows carry their parent's workspace", table, agree, rows)
		}
	}

	// Naming the wrong workspace is refused by the composite key; a missing channel is still
	// a foreign-key violation (SetChannelPrefs maps it to ErrNotFound).
	_, err = f.store.Pool().Exec(ctx, `INSERT INTO channel_members (workspace_id, channel_id, user_id) VALUES ($1, $2, $3)`, other, f.ch, bot.ID)
	if sqlState(err) != "23503" {
		t.Errorf("member row naming another workspace than its channel's: %v, want a foreign-key violation", err)
	}
	if _, err := f.store.SetChannelPrefs(ctx, bob, f.store.NextID(), persistence.ChannelPrefs{Notify: persistence.NotifyAll}); !errors.Is(err, persistence.ErrNotFound) {
		t.Errorf("prefs of a missing channel: %v, want ErrNotFound", err)
	}
	_, err = f.store.Pool().Exec(ctx, `INSERT INTO reactions (message_id, emoji, user_id) VALUES ($1, 'x', $2)`, f.store.NextID(), bob)
	if sqlState(err) != "23503" {
		t.Errorf("reaction to a missing message: %v, want a foreign-key violation", err)
	}
	// Deleting a channel still takes its members with it (the composite key cascades).
	f.exec(t, `DELETE FROM channels WHERE id = $1`, otherCh)
	if n := f.count(t, `SELECT count(*) FROM channel_members WHERE channel_id = $1`, otherCh); n != 0 {
		t.Errorf("%d member rows outlived their channel", n)
	}
}

func sqlState(err error) string {
	var pgErr *pgconn.PgError
	if errors.As(err, &pgErr) {
		return pgErr.Code
	}
	return ""
}
