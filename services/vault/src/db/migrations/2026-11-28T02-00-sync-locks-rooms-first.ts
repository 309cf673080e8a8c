/**
 * A gateway's presence chunk takes its rooms' locks before it changes any presence
 * row, in room order, as joins and leaves do. It used to change the rows first and
 * lock the rooms to count them afterwards: against a join batch of the same gateway
 * (which locks a room, then inserts its connection's row) that is a lock cycle, and
 * after a NATS restart, when every gateway re-sends its set while its connections
 * join again, PostgreSQL found such deadlocks and broke them after a second each,
 * while stores of those rooms waited.
 */
import { sql, type Kysely } from 'kysely'
import { SYNC_FUNCTION } from './2026-11-28T01-00-presence-by-connection.js'

const SYNC_LOCKING_ROOMS_FIRST = String.raw`
CREATE OR REPLACE FUNCTION vault_sync_presence(p_gateway text, p_from bigint, p_to bigint, p_connections bigint[], p_rooms text[], p_members text[])
RETURNS TABLE (room text, present int, version bigint)
LANGUAGE plpgsql AS $fn$
DECLARE
  v_touched text[];
BEGIN
  -- Every room the chunk may change: those it names and those of the rows it replaces.
  PERFORM 1 FROM rooms r
   WHERE r.room_hash IN (SELECT unnest(p_rooms)
                         UNION SELECT p.room_hash FROM presence p
                                WHERE p.gateway_id = p_gateway AND p.connection_id >= p_from AND p.connection_id < p_to)
   ORDER BY r.room_hash
   FOR NO KEY UPDATE;
  WITH gone AS (
    DELETE FROM presence p
     WHERE p.gateway_id = p_gateway AND p.connection_id >= p_from AND p.connection_id < p_to
       AND NOT EXISTS (SELECT 1 FROM unnest(p_connections, p_rooms, p_members) AS w(connection_id, room_hash, member_id)
                        WHERE w.connection_id = p.connection_id AND w.room_hash = p.room_hash AND w.member_id = p.member_id)
    RETURNING p.room_hash
  ) SELECT coalesce(array_agg(DISTINCT gone.room_hash), '{}') INTO v_touched FROM gone;
  WITH added AS (
    INSERT INTO presence (room_hash, member_id, gateway_id, connection_id)
    SELECT w.room_hash, w.member_id, p_gateway, w.connection_id
      FROM unnest(p_connections, p_rooms, p_members) AS w(connection_id, room_hash, member_id)
      JOIN members m ON m.room_hash = w.room_hash AND m.member_id = w.member_id
    ON CONFLICT (gateway_id, connection_id) DO NOTHING
    RETURNING room_hash
  ) SELECT v_touched || coalesce(array_agg(DISTINCT added.room_hash), '{}') INTO v_touched FROM added;
  RETURN QUERY
    SELECT t.room, c.present, c.version
      FROM (SELECT DISTINCT unnest(v_touched) AS room ORDER BY 1) t, LATERAL vault_room_presence(t.room) c;
END
$fn$;
`

// Migrations take Kysely<any>: they describe the database as it was then, not the app's current types.
// eslint-disable-next-line @typescript-eslint/no-explicit-any
export async function up (db: Kysely<any>): Promise<void> {
  await sql.raw(SYNC_LOCKING_ROOMS_FIRST).execute(db)
}

// eslint-disable-next-line @typescript-eslint/no-explicit-any
export async function down (db: Kysely<any>): Promise<void> {
  await sql.raw(SYNC_FUNCTION.replace('CREATE FUNCTION', 'CREATE OR REPLACE FUNCTION')).execute(db)
}
