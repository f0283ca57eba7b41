#!/bin/bash
# bench/pgappend/run.sh — the PostgreSQL side of the message write path, without parley:
# ITERS transactions of BATCH rows into messages (and last_seq), timing each transaction and
# reading the backend's CPU time from /proc (the server must run on this machine; run as a
# user that may read /proc/<postgres pid>/stat). ADR 0006 used it to price the GIN index's
# pending list:
#
#   createdb -h 127.0.0.1 -U postgres pgappend
#   go run ./cmd/parley migrate --database-url postgres://postgres@127.0.0.1:5432/pgappend?sslmode=disable up
#   bench/pgappend/run.sh pgappend seed 200000
#   psql -h 127.0.0.1 -U postgres pgappend -c "ALTER INDEX messages_tsv SET (gin_pending_list_limit = 4096)"
#   psql -h 127.0.0.1 -U postgres pgappend -c "VACUUM messages"
#   bench/pgappend/run.sh pgappend 10 3000      # prints CPU µs/row and transaction ms p50/p99/p99.9/max
#
# Usage: run.sh DB seed ROWS | run.sh DB BATCH ITERS
set -euo pipefail
DB=$1
PSQL=(psql -h "${PGHOST:-127.0.0.1}" -U "${PGUSER:-postgres}" "$DB" -v ON_ERROR_STOP=1 -Atq)
if [ "$2" = seed ]; then
  "${PSQL[@]}" <<SQL
INSERT INTO users (id, subject, username) VALUES (1, 'pgappend-1', 'alice'), (2, 'pgappend-2', 'bob') ON CONFLICT DO NOTHING;
INSERT INTO workspaces (id, name, created_by) VALUES (10, 'ws', 1) ON CONFLICT DO NOTHING;
INSERT INTO channels (id, workspace_id, name, type, created_by) VALUES (100, 10, 'general', 'public', 1) ON CONFLICT DO NOTHING;
INSERT INTO messages (id, channel_id, seq, user_id, content, client_msg_id)
SELECT g, 100, g, 1 + g % 2, 'hello @bob how are you? w' || (g % 5000) || ' message number ' || g, 'c' || g
FROM generate_series(1, $3) g;
UPDATE channels SET last_seq = $3 WHERE id = 100;
VACUUM ANALYZE;
SQL
  exit 0
fi
N=$2 IT=$3
"${PSQL[@]}" <<SQL | tail -2
SELECT pg_backend_pid() AS pid \gset
\setenv BPID :pid
\! awk '{print \$14+\$15}' /proc/\$BPID/stat > /tmp/pgappend.cpu0
CREATE TEMP TABLE d (ms float8);
DO \$\$
DECLARE last bigint; t0 timestamptz; base bigint;
BEGIN
  SELECT coalesce(max(id), 0) + 1 INTO base FROM messages;
  FOR i IN 1..$IT LOOP
    t0 := clock_timestamp();
    UPDATE channels SET last_seq = last_seq + $N WHERE id = 100 RETURNING last_seq INTO last;
    INSERT INTO messages (id, channel_id, seq, user_id, content, client_msg_id, created_at)
      SELECT base + s, 100, s, 1, 'hello @bob how are you? w' || (s % 5000) || ' t=' || (1700000000000000000 + s * 7919) || ' from ' || (s % 20) || ' and then some more words here', 'k' || s, now()
      FROM generate_series(last - $N + 1, last) s;
    INSERT INTO d VALUES (extract(epoch FROM clock_timestamp() - t0) * 1000);
    COMMIT;
  END LOOP;
END
\$\$;
\! awk '{print \$14+\$15}' /proc/\$BPID/stat > /tmp/pgappend.cpu1
\setenv ROWS $((N * IT))
\! echo "cpu_us_per_row=\$(( ( \$(cat /tmp/pgappend.cpu1) - \$(cat /tmp/pgappend.cpu0) ) * 10000 / \$ROWS ))"
SELECT format('transaction ms p50=%s p99=%s p99.9=%s max=%s',
  round(percentile_cont(0.5) WITHIN GROUP (ORDER BY ms)::numeric, 2), round(percentile_cont(0.99) WITHIN GROUP (ORDER BY ms)::numeric, 2),
  round(percentile_cont(0.999) WITHIN GROUP (ORDER BY ms)::numeric, 2), round(max(ms)::numeric, 1)) FROM d;
SQL
