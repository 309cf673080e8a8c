-- Setup of lifecycle.pgbench, run once (psql) on a fresh database migrated to
-- the vault's schema. Creates :rooms rooms of two members each; the pgbench
-- script derives the same identifiers from the room number:
--   room hash  = the room number, zero-padded to 64 characters (hex digits only)
--   member ids = 2 × room and 2 × room + 1, zero-padded to 22 characters
-- Variables: rooms (psql -v rooms=N, the same value as pgbench -D rooms=N).
INSERT INTO rooms (room_hash)
SELECT lpad(r::text, 64, '0') FROM generate_series(1, :rooms) AS r;

INSERT INTO members (room_hash, member_id, last_seen_at)
SELECT lpad(r::text, 64, '0'), lpad((2 * r + m)::text, 22, '0'), now()
FROM generate_series(1, :rooms) AS r, generate_series(0, 1) AS m;

VACUUM ANALYZE rooms;
VACUUM ANALYZE members;
