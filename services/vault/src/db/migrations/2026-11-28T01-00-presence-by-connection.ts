/**
 * Presence that heals. A presence row is one live WebSocket connection (the
 * gateway's id and its connection's number), not a counter: a disconnect deletes
 * exactly its row, however often it is repeated. And each gateway's set of rows is
 * reconciled with what the gateway really holds: every heartbeat carries a digest
 * of its connections; when the vault's rows disagree (a disconnect lost while NATS
 * was down, a join the gateway gave up on that committed later, rows the sweeper
 * dropped while the gateway could not reach us), the gateway sends its set in
 * chunks and the vault replaces its rows to match.
 *
 * Existing presence rows are dropped: every gateway's next heartbeat finds the
 * digest wrong and sends its set again.
 *
 * Presence counts carry a version (one sequence for all rooms, drawn under the room's
 * lock after the change), so that a gateway receiving two counts of one room from two
 * vault replicas in the wrong order keeps the later one.
 */
import { sql, type Kysely } from 'kysely'
import { JOIN_FUNCTION, LEAVE_FUNCTION } from './2026-11-28T00-00-one-round-trip.js'

/** As this migration defined it (the next one replaces it and restores it on the way down). */
export const SYNC_FUNCTION = String.raw`
-- One chunk of a gateway's presence: the connections numbered from p_from (inclusive) to
-- p_to (exclusive) are exactly these. Rows of connections of members no longer in the
-- room are skipped (the next digest says so). Returns the rooms whose count changed.
CREATE FUNCTION vault_sync_presence(p_gateway text, p_from bigint, p_to bigint, p_connections bigint[], p_rooms text[], p_members text[])
RETURNS TABLE (room text, present int, version bigint)
LANGUAGE plpgsql AS $fn$
DECLARE
  v_touched text[];
BEGIN
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
  -- Rooms in order, as every other statement locks them.
  RETURN QUERY
    SELECT t.room, c.present, c.version
      FROM (SELECT DISTINCT unnest(v_touched) AS room ORDER BY 1) t, LATERAL vault_room_presence(t.room) c;
END
$fn$;
`

/** vault_join as this migration defines it (a later migration replaces it and restores it on the way down). */
export const JOIN_BY_CONNECTION = String.raw`-- As before (one-round-trip), with the connection's number (its presence row is its own),
-- and for a member coming back, how its own messages stand: [id, recipients not yet viewed]
-- for those still stored that somebody viewed, [id, reason] for those deleted meanwhile
-- (their tombstones), so
-- receipts it missed while away (a reconnect, an outage) reach it.
CREATE FUNCTION vault_join(p_rooms text[], p_members text[], p_gateways text[], p_connections bigint[], p_max_members int, p_max_cards int)
RETURNS TABLE (ord int, outcome text, present int, version bigint, cards json, sent json, gone json)
LANGUAGE plpgsql AS $fn$
DECLARE
  item record;
  v_new boolean;
  v_assigned int;
BEGIN
  -- A gateway's presence rows are dropped when it stops heartbeating, which needs its row.
  INSERT INTO gateways (gateway_id, last_heartbeat_at)
  SELECT DISTINCT g, now() FROM unnest(p_gateways) AS g ON CONFLICT DO NOTHING;
  FOR item IN
    SELECT u.room, u.member, u.gateway, u.connection, u.n::int AS n
      FROM unnest(p_rooms, p_members, p_gateways, p_connections) WITH ORDINALITY AS u(room, member, gateway, connection, n)
     ORDER BY u.room, u.n
  LOOP
    ord := item.n; present := NULL; version := NULL; cards := NULL; sent := NULL; gone := NULL;
    LOOP
      PERFORM 1 FROM rooms r WHERE r.room_hash = item.room FOR NO KEY UPDATE;
      EXIT WHEN FOUND;
      -- The sweeper may remove an empty room between these two statements: then lock again.
      INSERT INTO rooms (room_hash) VALUES (item.room) ON CONFLICT DO NOTHING;
    END LOOP;
    UPDATE members m SET last_seen_at = now() WHERE m.room_hash = item.room AND m.member_id = item.member;
    v_new := NOT FOUND;
    IF v_new THEN
      -- The count and the insert under the room lock: two joins cannot both take the last place.
      INSERT INTO members (room_hash, member_id, last_seen_at)
      SELECT item.room, item.member, now()
       WHERE (SELECT count(*) FROM members m WHERE m.room_hash = item.room) < p_max_members;
      IF NOT FOUND THEN
        outcome := 'room-full';
        RETURN NEXT;
        CONTINUE;
      END IF;
    END IF;
    -- A repeated join of the same connection changes nothing.
    INSERT INTO presence (room_hash, member_id, gateway_id, connection_id)
    VALUES (item.room, item.member, item.gateway, item.connection)
    ON CONFLICT (gateway_id, connection_id) DO NOTHING;
    UPDATE messages m SET waiting = false, recipients = ARRAY[item.member], unviewed = ARRAY[item.member]
     WHERE m.room_hash = item.room AND m.waiting AND m.sender_id <> item.member;
    GET DIAGNOSTICS v_assigned = ROW_COUNT;
    -- A member new to the room can have no card but those it was just given.
    IF NOT v_new OR v_assigned > 0 THEN
      SELECT json_agg(json_build_array(c.id, c.sender_id, c.bucket, (extract(epoch FROM c.expires_at) * 1000)::bigint) ORDER BY c.expires_at, c.id)
        INTO cards
        FROM (SELECT m.id, m.sender_id, m.bucket, m.expires_at FROM messages m
               WHERE m.room_hash = item.room AND item.member = ANY (m.unviewed) AND m.expires_at > now()
               ORDER BY m.expires_at, m.id LIMIT p_max_cards) c;
    END IF;
    IF NOT v_new THEN
      -- Only those some recipient has viewed: the others have no receipt to give yet.
      SELECT json_agg(json_build_array(m.id, cardinality(m.unviewed)) ORDER BY m.expires_at, m.id) INTO sent
        FROM (SELECT m.id, m.unviewed, m.expires_at FROM messages m
               WHERE m.room_hash = item.room AND m.sender_id = item.member AND NOT m.waiting AND m.expires_at > now()
                 AND cardinality(m.unviewed) < cardinality(m.recipients)
               ORDER BY m.expires_at, m.id LIMIT p_max_cards) m;
      SELECT json_agg(json_build_array(t.id, t.reason) ORDER BY t.expires_at, t.id) INTO gone
        FROM (SELECT t.id, t.reason, t.expires_at FROM message_tombstones t
               WHERE t.room_hash = item.room AND t.sender_id = item.member AND t.expires_at > now()
               ORDER BY t.expires_at DESC, t.id LIMIT p_max_cards) t;
    END IF;
    SELECT c.present, c.version INTO present, version FROM vault_room_presence(item.room) c;
    outcome := 'joined';
    RETURN NEXT;
  END LOOP;
END
$fn$;

`

const FUNCTIONS = String.raw`
-- A room's presence now: how many members have a live connection, and a version that
-- orders this count after every earlier one (taken under the room's lock).
CREATE FUNCTION vault_room_presence(p_room text)
RETURNS TABLE (present int, version bigint)
LANGUAGE plpgsql AS $fn$
BEGIN
  PERFORM 1 FROM rooms r WHERE r.room_hash = p_room FOR NO KEY UPDATE;
  SELECT count(DISTINCT p.member_id)::int INTO present FROM presence p WHERE p.room_hash = p_room;
  version := nextval('presence_version');
  RETURN NEXT;
END
$fn$;

-- The digest of a gateway's presence: how many connections, and the XOR of the first
-- 64 bits of md5(connection:room:member) over them (the gateway keeps the same sum).
CREATE FUNCTION vault_presence_digest(p_gateway text)
RETURNS TABLE (connections bigint, digest text)
LANGUAGE sql STABLE AS $fn$
  SELECT count(*),
         lpad(to_hex(coalesce(bit_xor(('x' || substr(md5(p.connection_id || ':' || p.room_hash || ':' || p.member_id), 1, 16))::bit(64)::bigint), 0)), 16, '0')
    FROM presence p WHERE p.gateway_id = p_gateway
$fn$;

-- A gateway is alive, and beats every p_interval_ms (three missed beats and its presence
-- goes). Returns whether its presence rows differ from what it holds.
CREATE FUNCTION vault_heartbeat(p_gateway text, p_interval_ms int, p_connections bigint, p_digest text)
RETURNS boolean
LANGUAGE plpgsql AS $fn$
DECLARE
  v record;
BEGIN
  INSERT INTO gateways (gateway_id, last_heartbeat_at, heartbeat_ms) VALUES (p_gateway, now(), p_interval_ms)
  ON CONFLICT (gateway_id) DO UPDATE SET last_heartbeat_at = now(), heartbeat_ms = p_interval_ms;
  SELECT * INTO v FROM vault_presence_digest(p_gateway);
  RETURN v.connections <> p_connections OR v.digest <> p_digest;
END
$fn$;

${SYNC_FUNCTION}
${JOIN_BY_CONNECTION}-- As before, with the connection's number: a disconnect deletes that connection's row
-- (and nothing if it is already gone); a leave removes the member everywhere.
CREATE FUNCTION vault_leave(p_rooms text[], p_members text[], p_gateways text[], p_connections bigint[], p_leave boolean[])
RETURNS TABLE (ord int, present int, version bigint, gone text[])
LANGUAGE plpgsql AS $fn$
DECLARE
  item record;
BEGIN
  FOR item IN
    SELECT u.room, u.member, u.gateway, u.connection, u.leave, u.n::int AS n
      FROM unnest(p_rooms, p_members, p_gateways, p_connections, p_leave) WITH ORDINALITY AS u(room, member, gateway, connection, leave, n)
     ORDER BY u.room, u.n
  LOOP
    ord := item.n; gone := '{}'; version := NULL;
    PERFORM 1 FROM rooms r WHERE r.room_hash = item.room FOR NO KEY UPDATE;
    IF NOT FOUND THEN
      present := 0;
      RETURN NEXT;
      CONTINUE;
    END IF;
    IF item.leave THEN
      gone := vault_remove_member(item.room, item.member);
    ELSE
      DELETE FROM presence p WHERE p.gateway_id = item.gateway AND p.connection_id = item.connection;
      UPDATE members m SET last_seen_at = now() WHERE m.room_hash = item.room AND m.member_id = item.member;
    END IF;
    SELECT c.present, c.version INTO present, version FROM vault_room_presence(item.room) c;
    RETURN NEXT;
  END LOOP;
END
$fn$;
`

// Migrations take Kysely<any>: they describe the database as it was then, not the app's current types.
// eslint-disable-next-line @typescript-eslint/no-explicit-any
export async function up (db: Kysely<any>): Promise<void> {
  await sql.raw(String.raw`
    DROP FUNCTION vault_leave(text[], text[], text[], boolean[]);
    DROP FUNCTION vault_join(text[], text[], text[], int, int);
    DELETE FROM presence;
    ALTER TABLE presence DROP CONSTRAINT presence_pk;
    ALTER TABLE presence DROP COLUMN connections;
    ALTER TABLE presence ADD COLUMN connection_id bigint NOT NULL;
    ALTER TABLE presence ADD CONSTRAINT presence_pk PRIMARY KEY (gateway_id, connection_id);
    DROP INDEX presence_gateway_idx;
    CREATE INDEX presence_room_idx ON presence (room_hash, member_id);
    CREATE SEQUENCE presence_version;
    -- How often the gateway beats: three missed beats mark it dead, whatever its interval.
    ALTER TABLE gateways ADD COLUMN heartbeat_ms integer NOT NULL DEFAULT 5000;
  `).execute(db)
  await sql.raw(FUNCTIONS).execute(db)
}

// eslint-disable-next-line @typescript-eslint/no-explicit-any
export async function down (db: Kysely<any>): Promise<void> {
  await sql.raw(String.raw`
    DROP FUNCTION vault_leave(text[], text[], text[], bigint[], boolean[]);
    DROP FUNCTION vault_join(text[], text[], text[], bigint[], int, int);
    DROP FUNCTION vault_sync_presence(text, bigint, bigint, bigint[], text[], text[]);
    DROP FUNCTION vault_heartbeat(text, int, bigint, text);
    ALTER TABLE gateways DROP COLUMN heartbeat_ms;
    DROP FUNCTION vault_presence_digest(text);
    DROP FUNCTION vault_room_presence(text);
    DROP SEQUENCE presence_version;
    DELETE FROM presence;
    DROP INDEX presence_room_idx;
    ALTER TABLE presence DROP CONSTRAINT presence_pk;
    ALTER TABLE presence DROP COLUMN connection_id;
    ALTER TABLE presence ADD COLUMN connections integer NOT NULL CHECK (connections > 0);
    ALTER TABLE presence ADD CONSTRAINT presence_pk PRIMARY KEY (room_hash, member_id, gateway_id);
    CREATE INDEX presence_gateway_idx ON presence (gateway_id);
  `).execute(db)
  await sql.raw([JOIN_FUNCTION, LEAVE_FUNCTION].join('\n')).execute(db)
}
