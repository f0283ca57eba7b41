#!/bin/bash
# bench/pgwal/cold.sh — leave the local PostgreSQL's pg_wal as a freshly booted machine has it:
# few recycled segments ready ahead of the insert position, so that the next load's commits
# must create new ones (ADR 0023). It lowers max_wal_size and min_wal_size for a moment,
# switches through ~80 segments with checkpoints (which then remove the used segments
# instead of recycling them), and resets both settings. Needs a superuser.
#
#   bench/pgwal/cold.sh            # then: parley bench fanout … --db-url …  (see its "postgres" line)
set -euo pipefail
PSQL=(psql -h "${PGHOST:-127.0.0.1}" -U "${PGUSER:-postgres}" -d "${PGDATABASE:-postgres}" -v ON_ERROR_STOP=1 -Atq)
# What ALTER SYSTEM had set for the two before (empty: nothing), to put back as it was.
auto() {
  "${PSQL[@]}" -c "SELECT setting FROM pg_file_settings WHERE name = '$1' AND sourcefile LIKE '%postgresql.auto.conf' ORDER BY seqno DESC LIMIT 1"
}
MAX0=$(auto max_wal_size) MIN0=$(auto min_wal_size)
restore() {
  for kv in "max_wal_size=$MAX0" "min_wal_size=$MIN0"; do
    k=${kv%%=*} v=${kv#*=}
    if [ -n "$v" ]; then "${PSQL[@]}" -c "ALTER SYSTEM SET $k = '$v'"; else "${PSQL[@]}" -c "ALTER SYSTEM RESET $k"; fi
  done
  "${PSQL[@]}" -c "SELECT pg_reload_conf()" >/dev/null
}
trap restore EXIT
"${PSQL[@]}" -c "ALTER SYSTEM SET max_wal_size = '96MB'" -c "ALTER SYSTEM SET min_wal_size = '32MB'" -c "SELECT pg_reload_conf()" >/dev/null
"${PSQL[@]}" -c "CREATE TABLE IF NOT EXISTS pgwal_cold_pump (x int)"
for i in $(seq 1 80); do
  echo "INSERT INTO pgwal_cold_pump VALUES (1); SELECT pg_switch_wal();"
  if [ $((i % 10)) = 0 ]; then echo "CHECKPOINT;"; fi
done | "${PSQL[@]}" >/dev/null
"${PSQL[@]}" -c "DROP TABLE pgwal_cold_pump" -c "CHECKPOINT"
"${PSQL[@]}" -c "SELECT count(*) || ' WAL segments ready ahead of the insert position' FROM pg_ls_waldir()
  WHERE name ~ '^[0-9A-F]{24}\$' AND name > pg_walfile_name(pg_current_wal_lsn())"
