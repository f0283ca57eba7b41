#!/bin/bash
# bench/outgoing/outbox.sh — what a transactional outbox would cost the message append path,
# against what the relay of ADR 0037 costs it (nothing on the append, one poll query): pgbench
# rounds of one-message appends into 100 channels (the fast path's statement), alternating
#   append  the append alone (what parley does),
#   outbox  the append plus, in the same transaction, one outbox row per live hook of the
#           channel (every channel has one hook: the outbox's worst case),
#   probe   the append plus the outbox's INSERT … SELECT on a database where no channel has a
#           hook (what every channel pays once an outbox exists),
# and times the relay's poll query with 100 live hooks. Needs a migrated database:
#
#   createdb -h 127.0.0.1 -U postgres outbox
#   go run ./cmd/parley migrate --database-url 'postgres://postgres@127.0.0.1:5432/outbox?sslmode=disable' up
#   bench/outgoing/outbox.sh outbox [SECONDS_PER_ROUND] [ROUNDS] [CLIENTS]
set -euo pipefail
DB=$1 SECS=${2:-10} ROUNDS=${3:-3} CLIENTS=${4:-2}
H=${PGHOST:-127.0.0.1} U=${PGUSER:-postgres}
PSQL=(psql -h "$H" -U "$U" "$DB" -v ON_ERROR_STOP=1 -Atq)
DIR=$(mktemp -d)
trap 'rm -rf "$DIR"' EXIT
"${PSQL[@]}" <<'SQL'
INSERT INTO users (id, subject, username) VALUES (1, 'outbox-1', 'alice'), (2, 'outbox-2', 'hookbot') ON CONFLICT DO NOTHING;
INSERT INTO workspaces (id, name, created_by) VALUES (10, 'ws', 1) ON CONFLICT DO NOTHING;
INSERT INTO channels (id, workspace_id, name, type, created_by)
SELECT 1000 + g, 10, 'c' || g, 'public', 1 FROM generate_series(1, 100) g ON CONFLICT DO NOTHING;
CREATE TABLE IF NOT EXISTS outbox_measure (channel_id bigint NOT NULL, seq bigint NOT NULL, hook_id bigint NOT NULL,
  message_id bigint NOT NULL, PRIMARY KEY (channel_id, seq, hook_id));
CREATE SEQUENCE IF NOT EXISTS outbox_measure_ids START 1000000000;
VACUUM ANALYZE;
SQL
hooks() { # on|off: every channel has one live hook, or none
  if [ "$1" = on ]; then
    "${PSQL[@]}" -c "INSERT INTO outgoing_webhooks (id, channel_id, creator_id, bot_user_id, url, secret, events, cursor_seq)
      SELECT 5000 + c.id, c.id, 1, 2, 'https://example.com/h', 'x', '{message}', c.last_seq FROM channels c WHERE c.workspace_id = 10
      ON CONFLICT (id) DO UPDATE SET revoked_at = NULL"
  else
    "${PSQL[@]}" -c "UPDATE outgoing_webhooks SET revoked_at = now()"
  fi
}
cat >"$DIR/append.sql" <<'SQL'
\set c random(1001, 1100)
BEGIN;
WITH ch AS (UPDATE channels SET last_seq = last_seq + 1 WHERE id = :c AND NOT archived RETURNING last_seq AS seq)
INSERT INTO messages (id, channel_id, seq, user_id, content, created_at)
SELECT nextval('outbox_measure_ids'), :c, ch.seq, 1, 'hello @bob how are you? a message of ordinary length', now() FROM ch;
COMMIT;
SQL
cat >"$DIR/outbox.sql" <<'SQL'
\set c random(1001, 1100)
BEGIN;
WITH ch AS (UPDATE channels SET last_seq = last_seq + 1 WHERE id = :c AND NOT archived RETURNING last_seq AS seq),
ins AS (INSERT INTO messages (id, channel_id, seq, user_id, content, created_at)
  SELECT nextval('outbox_measure_ids'), :c, ch.seq, 1, 'hello @bob how are you? a message of ordinary length', now() FROM ch
  RETURNING id, seq)
INSERT INTO outbox_measure (channel_id, seq, hook_id, message_id)
SELECT :c, ins.seq, h.id, ins.id FROM ins JOIN outgoing_webhooks h ON h.channel_id = :c AND h.revoked_at IS NULL;
COMMIT;
SQL
run() { # script → "tps latency_ms"
  pgbench -h "$H" -U "$U" -n -c "$CLIENTS" -j "$CLIENTS" -T "$SECS" -f "$DIR/$1.sql" "$DB" 2>/dev/null |
    awk '/^latency average/ {lat=$4} /^tps/ {tps=$3} END {printf "%s %s\n", tps, lat}'
}
for r in $(seq 1 "$ROUNDS"); do
  hooks off; a=$(run append)
  hooks on;  o=$(run outbox)
  hooks off; p=$(run outbox)
  echo "round $r: append tps/ms $a | outbox (every channel hooked) $o | outbox probe (no hooks) $p"
done
# The backend's CPU time per append (from /proc, so run this on the database's machine as a
# user that may read it): 5,000 one-message transactions per run, the three modes
# interleaved. (WAL bytes would be the machine-independent measure, but pg_current_wal_lsn
# is the whole server's, and on a shared server other databases write into the same WAL.)
cpu() { # mode label
  "${PSQL[@]}" <<SQL
SELECT pg_backend_pid() AS pid \gset
\setenv BPID :pid
\! awk '{print \$14+\$15}' /proc/\$BPID/stat > $DIR/cpu0
DO \$\$
DECLARE s bigint; c bigint;
BEGIN
  FOR i IN 1..5000 LOOP
    c := 1001 + i % 100;
    UPDATE channels SET last_seq = last_seq + 1 WHERE id = c RETURNING last_seq INTO s;
    INSERT INTO messages (id, channel_id, seq, user_id, content, created_at)
      VALUES (nextval('outbox_measure_ids'), c, s, 1, 'hello @bob how are you? a message of ordinary length', now());
    IF '$1' = 'outbox' THEN
      INSERT INTO outbox_measure (channel_id, seq, hook_id, message_id)
        SELECT c, s, h.id, currval('outbox_measure_ids') FROM outgoing_webhooks h WHERE h.channel_id = c AND h.revoked_at IS NULL;
    END IF;
    COMMIT;
  END LOOP;
END \$\$;
\! awk '{print \$14+\$15}' /proc/\$BPID/stat > $DIR/cpu1
\! echo "$2: \$(( ( \$(cat $DIR/cpu1) - \$(cat $DIR/cpu0) ) * 10000 / 5000 )) µs backend CPU per append"
DELETE FROM outbox_measure;
SQL
}
for r in 1 2 3; do
  hooks off; cpu append "append alone"
  hooks on;  cpu outbox "append + outbox row (every channel hooked)"
  hooks off; cpu outbox "append + outbox probe (no hook)"
done
hooks on
"${PSQL[@]}" -c "UPDATE outgoing_webhooks SET cursor_seq = cursor_seq - 1" # every hook has one message to relay
"${PSQL[@]}" <<'SQL'
CREATE TEMP TABLE d (ms float8);
DO $$
DECLARE t0 timestamptz; n int;
BEGIN
  FOR i IN 1..500 LOOP
    t0 := clock_timestamp();
    SELECT count(*) INTO n FROM (SELECT h.id FROM outgoing_webhooks h JOIN channels c ON c.id = h.channel_id
      WHERE h.revoked_at IS NULL AND c.last_seq > h.cursor_seq ORDER BY h.id LIMIT 100 FOR UPDATE OF h SKIP LOCKED) x;
    INSERT INTO d VALUES (extract(epoch FROM clock_timestamp() - t0) * 1000);
  END LOOP;
END $$;
SELECT format('relay poll (100 live hooks, all behind): p50=%s ms p99=%s ms',
  round(percentile_cont(0.5) WITHIN GROUP (ORDER BY ms)::numeric, 3), round(percentile_cont(0.99) WITHIN GROUP (ORDER BY ms)::numeric, 3)) FROM d;
SQL
"${PSQL[@]}" -c "UPDATE outgoing_webhooks SET revoked_at = now()"
