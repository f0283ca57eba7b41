-- The full-text index's pending list (GIN fastupdate) is merged into the index by the
-- insert that finds it over gin_pending_list_limit. With the default 4 MB that one insert,
-- inside some channel's group commit, took 80-140 ms (measured under load; ADR 0006), which
-- stalled every sender of that channel. At 64 kB (the smallest allowed) each merge takes a
-- few milliseconds and the CPU per inserted row is the same; turning fastupdate off instead
-- removed the stalls but cost about 60 % more CPU per row.

-- +goose Up
ALTER INDEX messages_tsv SET (gin_pending_list_limit = 64);

-- +goose Down
ALTER INDEX messages_tsv RESET (gin_pending_list_limit);
