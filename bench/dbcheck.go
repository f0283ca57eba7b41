package bench

import (
	"context"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5"
)

// withDB runs fn on a connection to the server's PostgreSQL, within 5 minutes. A busy shared
// server may be out of connection slots for a moment: connecting retries for about 20 s.
func withDB(ctx context.Context, url string, fn func(ctx context.Context, conn *pgx.Conn) error) error {
	ctx, cancel := context.WithTimeout(ctx, 5*time.Minute)
	defer cancel()
	for attempt := 0; ; attempt++ {
		conn, err := pgx.Connect(ctx, url)
		if err == nil {
			defer conn.Close(context.Background())
			return fn(ctx, conn)
		}
		if attempt == 20 || ctx.Err() != nil {
			return fmt.Errorf("connect: %w", err)
		}
		sleep(ctx, time.Second)
	}
}

// analyzeDB refreshes the planner's statistics after the setup phase has bulk-loaded
// users, memberships and channels, as pgbench does after its load (pgbench -i runs VACUUM
// ANALYZE). Without it the run measures whatever plans an empty-looking database gets until
// autovacuum's analyze comes by (never, where autovacuum is off, as on this project's CI
// machine): the unread queries then scanned every message, 80 ms instead of 5 ms each at
// 10,000 users, and the pool's waiters grew without bound (docs/BENCHMARKS.md).
func analyzeDB(ctx context.Context, url string) error {
	return withDB(ctx, url, func(ctx context.Context, conn *pgx.Conn) error {
		if _, err := conn.Exec(ctx, "ANALYZE"); err != nil {
			return fmt.Errorf("analyze: %w", err)
		}
		return nil
	})
}

// checkDB looks every acknowledged message up in PostgreSQL (SPEC guarantee 1: a message
// acknowledged to its sender is committed): MissingInDB counts ids not found, DBMismatched
// ids stored in another channel or at another seq than their RECEIPT said.
func checkDB(ctx context.Context, url string, acks []Ack, res *CheckResult) error {
	return withDB(ctx, url, func(ctx context.Context, conn *pgx.Conn) error {
		return checkAcks(ctx, conn, acks, res)
	})
}

func checkAcks(ctx context.Context, conn *pgx.Conn, acks []Ack, res *CheckResult) error {
	const batch = 10_000
	for lo := 0; lo < len(acks); lo += batch {
		part := acks[lo:min(lo+batch, len(acks))]
		ids := make([]int64, len(part))
		want := make(map[int64]Ack, len(part))
		for i, a := range part {
			ids[i] = a.MessageID
			want[a.MessageID] = a
		}
		rows, err := conn.Query(ctx, `SELECT id, channel_id, seq FROM messages WHERE id = ANY($1)`, ids)
		if err != nil {
			return fmt.Errorf("query messages: %w", err)
		}
		found := 0
		for rows.Next() {
			var id, ch, seq int64
			if err := rows.Scan(&id, &ch, &seq); err != nil {
				rows.Close()
				return err
			}
			found++
			if a := want[id]; a.Channel != ch || a.Seq != seq {
				res.DBMismatched++
				res.example("message %d: acknowledged in channel %d at seq %d, stored in %d at %d", id, a.Channel, a.Seq, ch, seq)
			}
			delete(want, id)
		}
		rows.Close()
		if err := rows.Err(); err != nil {
			return fmt.Errorf("query messages: %w", err)
		}
		for id, a := range want {
			res.MissingInDB++
			res.example("message %d (channel %d seq %d) acknowledged but not in PostgreSQL", id, a.Channel, a.Seq)
		}
	}
	res.DBChecked = true
	return nil
}
