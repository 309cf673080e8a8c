/**
 * One round trip per vault operation. Every operation of the message path becomes
 * one call of a function below, taking arrays so that the vault can hand PostgreSQL
 * a whole batch of requests at once (group commit): one statement, one transaction,
 * one WAL flush for the batch, and no lock held while anything waits on the network.
 *
 * Schema changes:
 * - message_recipients (a row per recipient) folds into two arrays on the message:
 *   `recipients` (who it was addressed to) and `unviewed` (who has not confirmed
 *   it yet). A store writes one row; an ack rewrites one row (a HOT update: no
 *   indexed column changes).
 * - A message id is unique within its room only (primary key (room_hash, id)): the
 *   same id in another room is simply another message, so nobody learns whether
 *   an id exists elsewhere.
 * - Identifiers become `text COLLATE "C"`: byte-wise comparison, and a text
 *   parameter can use the indexes (a char(n) column compared with text cannot).
 *
 * Locking, the same in every function: a room's row is locked FOR NO KEY UPDATE by
 * whatever changes the room's membership or adds to it (store, join, leave), then
 * message rows in (room, id) order; acks lock only their message rows. Items of a
 * batch are handled in (room, …) order, so two batches (two vault replicas) take
 * their locks in the same order and cannot deadlock.
 */
import { sql, type Kysely } from 'kysely'

const STORE_FUNCTION = String.raw`
-- Stores sealed envelopes. A sender must be a member; recipients are every other
-- member at that moment (none: the message waits for the next member who joins);
-- a room holds at most p_max_pending messages. A resend of an id stored before is
-- answered with the stored row so the caller can tell a duplicate from a conflict;
-- a resend of one already deleted (its tombstone lives until its expiry) is answered
-- 'gone' with why, and never stored again.
CREATE FUNCTION vault_store(
  p_rooms text[], p_senders text[], p_ids text[], p_sealed bytea[], p_key_ids text[], p_buckets int[],
  p_ttl_ms bigint, p_max_pending int)
RETURNS TABLE (ord int, outcome text, recipient_ids text[], expires bigint,
               stored_sender text, stored_sealed bytea, stored_key_id text, stored_bucket int, gone_reason text)
LANGUAGE plpgsql AS $fn$
DECLARE
  item record;
  v_room text;
  v_room_found boolean := false;
  v_members text[];
  v_pending int;
  v_recipients text[];
  v_expires timestamptz := now() + p_ttl_ms * interval '1 millisecond';
  v_expires_ms bigint := (extract(epoch FROM v_expires) * 1000)::bigint;
BEGIN
  FOR item IN
    SELECT u.room, u.sender, u.id, u.sealed, u.key_id, u.bucket, u.n::int AS n
      FROM unnest(p_rooms, p_senders, p_ids, p_sealed, p_key_ids, p_buckets) WITH ORDINALITY
           AS u(room, sender, id, sealed, key_id, bucket, n)
     ORDER BY u.room, u.n
  LOOP
    ord := item.n; recipient_ids := NULL; expires := NULL;
    stored_sender := NULL; stored_sealed := NULL; stored_key_id := NULL; stored_bucket := NULL; gone_reason := NULL;
    IF v_room IS DISTINCT FROM item.room THEN
      v_room := item.room;
      -- Held for this statement only: membership changes wait, other rooms never do.
      PERFORM 1 FROM rooms r WHERE r.room_hash = item.room FOR NO KEY UPDATE;
      v_room_found := FOUND;
      IF v_room_found THEN
        SELECT coalesce(array_agg(m.member_id), '{}') INTO v_members FROM members m WHERE m.room_hash = item.room;
        SELECT count(*) INTO v_pending FROM messages m WHERE m.room_hash = item.room;
      END IF;
    END IF;
    IF NOT v_room_found OR NOT (item.sender = ANY (v_members)) THEN
      outcome := 'not-joined';
      RETURN NEXT;
      CONTINUE;
    END IF;
    SELECT t.reason, (extract(epoch FROM t.expires_at) * 1000)::bigint INTO gone_reason, expires
      FROM message_tombstones t WHERE t.room_hash = item.room AND t.id = item.id;
    IF FOUND THEN
      outcome := 'gone';
      RETURN NEXT;
      CONTINUE;
    END IF;
    IF v_pending < p_max_pending THEN
      v_recipients := array_remove(v_members, item.sender);
      INSERT INTO messages (room_hash, id, sender_id, sealed, key_id, bucket, expires_at, waiting, recipients, unviewed)
      VALUES (item.room, item.id, item.sender, item.sealed, item.key_id, item.bucket, v_expires,
              cardinality(v_recipients) = 0, v_recipients, v_recipients)
      ON CONFLICT DO NOTHING;
      IF FOUND THEN
        v_pending := v_pending + 1;
        outcome := 'stored'; recipient_ids := v_recipients; expires := v_expires_ms;
        RETURN NEXT;
        CONTINUE;
      END IF;
    END IF;
    SELECT m.recipients, (extract(epoch FROM m.expires_at) * 1000)::bigint, m.sender_id, m.sealed, m.key_id, m.bucket
      INTO recipient_ids, expires, stored_sender, stored_sealed, stored_key_id, stored_bucket
      FROM messages m WHERE m.room_hash = item.room AND m.id = item.id;
    outcome := CASE WHEN FOUND THEN 'duplicate' ELSE 'room-busy' END;
    RETURN NEXT;
  END LOOP;
END
$fn$;
`

/** vault_ack as this migration defines it (a later migration replaces it and restores it on the way down). */
export const ACK_FUNCTION = String.raw`
-- A recipient confirms it viewed a message; the last confirmation deletes the row
-- in the same transaction. Outcomes: viewed (remaining > 0), gone (deleted now),
-- repeated (this recipient had confirmed before), already-gone, not-recipient.
CREATE FUNCTION vault_ack(p_rooms text[], p_members text[], p_ids text[])
RETURNS TABLE (ord int, outcome text, sender text, remaining int)
LANGUAGE plpgsql AS $fn$
DECLARE
  item record;
  v_recipient boolean;
BEGIN
  FOR item IN
    SELECT u.room, u.member, u.id, u.n::int AS n
      FROM unnest(p_rooms, p_members, p_ids) WITH ORDINALITY AS u(room, member, id, n)
     ORDER BY u.room, u.id, u.n
  LOOP
    ord := item.n;
    UPDATE messages m SET unviewed = array_remove(m.unviewed, item.member)
     WHERE m.room_hash = item.room AND m.id = item.id AND item.member = ANY (m.unviewed) AND m.expires_at > now()
    RETURNING m.sender_id, cardinality(m.unviewed) INTO sender, remaining;
    IF FOUND THEN
      IF remaining = 0 THEN
        WITH gone AS (DELETE FROM messages m WHERE m.room_hash = item.room AND m.id = item.id RETURNING m.sender_id, m.expires_at)
        INSERT INTO message_tombstones (room_hash, id, sender_id, reason, expires_at)
        SELECT item.room, item.id, gone.sender_id, 'viewed', gone.expires_at FROM gone ON CONFLICT DO NOTHING;
        outcome := 'gone';
      ELSE
        outcome := 'viewed';
      END IF;
    ELSE
      SELECT m.sender_id, cardinality(m.unviewed), item.member = ANY (m.recipients)
        INTO sender, remaining, v_recipient
        FROM messages m WHERE m.room_hash = item.room AND m.id = item.id AND m.expires_at > now();
      IF NOT FOUND THEN
        outcome := 'already-gone'; sender := NULL; remaining := NULL;
      ELSIF v_recipient THEN
        outcome := 'repeated';
      ELSE
        outcome := 'not-recipient'; sender := NULL; remaining := NULL;
      END IF;
    END IF;
    RETURN NEXT;
  END LOOP;
END
$fn$;

`

/** vault_join as this migration defines it (a later migration replaces it and restores it on the way down). */
export const JOIN_FUNCTION = String.raw`
-- A member (re)enters a room through a gateway: room and member are created as
-- needed (at most p_max_members members), its connection is counted, messages
-- that were waiting for somebody become its own, and its pending cards come back
-- as a JSON array of [id, sender, bucket, expires (Unix ms)], oldest first.
CREATE FUNCTION vault_join(p_rooms text[], p_members text[], p_gateways text[], p_max_members int, p_max_cards int)
RETURNS TABLE (ord int, outcome text, present int, cards json)
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
    SELECT u.room, u.member, u.gateway, u.n::int AS n
      FROM unnest(p_rooms, p_members, p_gateways) WITH ORDINALITY AS u(room, member, gateway, n)
     ORDER BY u.room, u.n
  LOOP
    ord := item.n; present := NULL; cards := NULL;
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
    INSERT INTO presence AS p (room_hash, member_id, gateway_id, connections)
    VALUES (item.room, item.member, item.gateway, 1)
    ON CONFLICT (room_hash, member_id, gateway_id) DO UPDATE SET connections = p.connections + 1;
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
    SELECT count(DISTINCT p.member_id) INTO present FROM presence p WHERE p.room_hash = item.room;
    outcome := 'joined';
    RETURN NEXT;
  END LOOP;
END
$fn$;

`

const REMOVE_MEMBER_FUNCTION = String.raw`
-- Removes a member for good: its connections, its place in every recipient set, and
-- the messages nobody else is waiting for (returned). The caller holds the room lock.
CREATE FUNCTION vault_remove_member(p_room text, p_member text)
RETURNS text[]
LANGUAGE plpgsql AS $fn$
DECLARE
  v_gone text[];
BEGIN
  PERFORM 1 FROM messages m WHERE m.room_hash = p_room AND p_member = ANY (m.recipients) ORDER BY m.id FOR UPDATE;
  UPDATE messages m SET recipients = array_remove(m.recipients, p_member), unviewed = array_remove(m.unviewed, p_member)
   WHERE m.room_hash = p_room AND p_member = ANY (m.recipients);
  WITH gone AS (
    DELETE FROM messages m WHERE m.room_hash = p_room AND NOT m.waiting AND cardinality(m.unviewed) = 0 RETURNING m.id, m.sender_id, m.expires_at
  ), kept AS (
    INSERT INTO message_tombstones (room_hash, id, sender_id, reason, expires_at)
    SELECT p_room, gone.id, gone.sender_id, 'left', gone.expires_at FROM gone ON CONFLICT DO NOTHING
  ) SELECT coalesce(array_agg(gone.id), '{}') INTO v_gone FROM gone;
  DELETE FROM members m WHERE m.room_hash = p_room AND m.member_id = p_member;
  RETURN v_gone;
END
$fn$;

`

/** vault_leave as this migration defines it (restored by a later migration's down). */
export const LEAVE_FUNCTION = String.raw`
-- A member's connection ends (p_leave false: it stays a member, its pending
-- messages wait for it) or the member leaves for good (p_leave true).
CREATE FUNCTION vault_leave(p_rooms text[], p_members text[], p_gateways text[], p_leave boolean[])
RETURNS TABLE (ord int, present int, gone text[])
LANGUAGE plpgsql AS $fn$
DECLARE
  item record;
BEGIN
  FOR item IN
    SELECT u.room, u.member, u.gateway, u.leave, u.n::int AS n
      FROM unnest(p_rooms, p_members, p_gateways, p_leave) WITH ORDINALITY AS u(room, member, gateway, leave, n)
     ORDER BY u.room, u.n
  LOOP
    ord := item.n; gone := '{}';
    PERFORM 1 FROM rooms r WHERE r.room_hash = item.room FOR NO KEY UPDATE;
    IF NOT FOUND THEN
      present := 0;
      RETURN NEXT;
      CONTINUE;
    END IF;
    IF item.leave THEN
      gone := vault_remove_member(item.room, item.member);
    ELSE
      -- The last connection goes; otherwise one fewer.
      DELETE FROM presence p
       WHERE p.room_hash = item.room AND p.member_id = item.member AND p.gateway_id = item.gateway AND p.connections <= 1;
      IF NOT FOUND THEN
        UPDATE presence p SET connections = p.connections - 1
         WHERE p.room_hash = item.room AND p.member_id = item.member AND p.gateway_id = item.gateway;
      END IF;
      UPDATE members m SET last_seen_at = now() WHERE m.room_hash = item.room AND m.member_id = item.member;
    END IF;
    SELECT count(DISTINCT p.member_id) INTO present FROM presence p WHERE p.room_hash = item.room;
    RETURN NEXT;
  END LOOP;
END
$fn$;
`

// Migrations take Kysely<any>: they describe the database as it was then, not the app's current types.
// eslint-disable-next-line @typescript-eslint/no-explicit-any
export async function up (db: Kysely<any>): Promise<void> {
  await sql.raw(String.raw`
    ALTER TABLE presence DROP CONSTRAINT presence_member_fk;
    ALTER TABLE members DROP CONSTRAINT members_room_hash_fkey;
    ALTER TABLE messages DROP CONSTRAINT messages_room_hash_fkey;

    ALTER TABLE messages ADD COLUMN recipients text[] NOT NULL DEFAULT '{}', ADD COLUMN unviewed text[] NOT NULL DEFAULT '{}';
    UPDATE messages m SET recipients = r.everyone, unviewed = r.pending
      FROM (SELECT message_id,
                   array_agg(member_id::text ORDER BY member_id) AS everyone,
                   coalesce(array_agg(member_id::text ORDER BY member_id) FILTER (WHERE NOT viewed), '{}') AS pending
              FROM message_recipients GROUP BY message_id) r
     WHERE r.message_id = m.id;
    ALTER TABLE messages ALTER COLUMN recipients DROP DEFAULT, ALTER COLUMN unviewed DROP DEFAULT;
    DROP TABLE message_recipients;

    ALTER TABLE rooms ALTER COLUMN room_hash TYPE text COLLATE "C";
    ALTER TABLE members ALTER COLUMN room_hash TYPE text COLLATE "C", ALTER COLUMN member_id TYPE text COLLATE "C";
    ALTER TABLE presence ALTER COLUMN room_hash TYPE text COLLATE "C", ALTER COLUMN member_id TYPE text COLLATE "C",
                         ALTER COLUMN gateway_id TYPE text COLLATE "C";
    ALTER TABLE gateways ALTER COLUMN gateway_id TYPE text COLLATE "C";
    ALTER TABLE messages ALTER COLUMN room_hash TYPE text COLLATE "C", ALTER COLUMN id TYPE text COLLATE "C",
                         ALTER COLUMN sender_id TYPE text COLLATE "C", ALTER COLUMN key_id TYPE text COLLATE "C";

    ALTER TABLE messages DROP CONSTRAINT messages_pkey;
    ALTER TABLE messages ADD CONSTRAINT messages_pk PRIMARY KEY (room_hash, id);
    DROP INDEX messages_room_idx;
    -- Room space on every page, so the ack's rewrite of a row stays on its page (HOT).
    ALTER TABLE messages SET (fillfactor = 70);

    ALTER TABLE members ADD CONSTRAINT members_room_fk FOREIGN KEY (room_hash) REFERENCES rooms (room_hash) ON DELETE CASCADE;
    ALTER TABLE messages ADD CONSTRAINT messages_room_fk FOREIGN KEY (room_hash) REFERENCES rooms (room_hash) ON DELETE CASCADE;
    ALTER TABLE presence ADD CONSTRAINT presence_member_fk FOREIGN KEY (room_hash, member_id)
      REFERENCES members (room_hash, member_id) ON DELETE CASCADE;
  `).execute(db)
  await sql.raw(String.raw`
    -- A deleted message's id, kept until the message would have expired, so that a resend that
    -- arrives after it was viewed (a stall, a retry) is never stored and delivered a second time,
    -- and a sender who was away (reconnecting, an outage) learns on its next join how it ended.
    CREATE TABLE message_tombstones (
      room_hash text COLLATE "C" NOT NULL,
      id text COLLATE "C" NOT NULL,
      sender_id text COLLATE "C" NOT NULL,
      reason text NOT NULL CHECK (reason IN ('viewed', 'left')),
      expires_at timestamptz NOT NULL,
      CONSTRAINT message_tombstones_pk PRIMARY KEY (room_hash, id)
    );
    CREATE INDEX message_tombstones_expires_idx ON message_tombstones (expires_at);
    CREATE INDEX message_tombstones_sender_idx ON message_tombstones (room_hash, sender_id);
  `).execute(db)
  await sql.raw([STORE_FUNCTION, ACK_FUNCTION, JOIN_FUNCTION, REMOVE_MEMBER_FUNCTION, LEAVE_FUNCTION].join('\n')).execute(db)
}

// eslint-disable-next-line @typescript-eslint/no-explicit-any
export async function down (db: Kysely<any>): Promise<void> {
  await sql.raw(String.raw`
    DROP FUNCTION vault_leave(text[], text[], text[], boolean[]);
    DROP FUNCTION vault_remove_member(text, text);
    DROP FUNCTION vault_join(text[], text[], text[], int, int);
    DROP FUNCTION vault_ack(text[], text[], text[]);
    DROP FUNCTION vault_store(text[], text[], text[], bytea[], text[], int[], bigint, int);
    DROP TABLE message_tombstones;

    ALTER TABLE presence DROP CONSTRAINT presence_member_fk;
    ALTER TABLE members DROP CONSTRAINT members_room_fk;
    ALTER TABLE messages DROP CONSTRAINT messages_room_fk;
    ALTER TABLE messages RESET (fillfactor);
    ALTER TABLE messages DROP CONSTRAINT messages_pk;
    -- Ids were unique across rooms before: should two rooms hold one id now, this step fails, as it must.
    ALTER TABLE messages ADD CONSTRAINT messages_pkey PRIMARY KEY (id);
    CREATE INDEX messages_room_idx ON messages (room_hash);

    ALTER TABLE rooms ALTER COLUMN room_hash TYPE char(64);
    ALTER TABLE members ALTER COLUMN room_hash TYPE char(64), ALTER COLUMN member_id TYPE varchar(22);
    ALTER TABLE presence ALTER COLUMN room_hash TYPE char(64), ALTER COLUMN member_id TYPE varchar(22), ALTER COLUMN gateway_id TYPE char(32);
    ALTER TABLE gateways ALTER COLUMN gateway_id TYPE char(32);
    ALTER TABLE messages ALTER COLUMN room_hash TYPE char(64), ALTER COLUMN id TYPE varchar(22),
                         ALTER COLUMN sender_id TYPE varchar(22), ALTER COLUMN key_id TYPE char(8);

    CREATE TABLE message_recipients (
      message_id varchar(22) NOT NULL REFERENCES messages (id) ON DELETE CASCADE,
      member_id varchar(22) NOT NULL,
      viewed boolean NOT NULL DEFAULT false,
      CONSTRAINT message_recipients_pk PRIMARY KEY (message_id, member_id)
    );
    CREATE INDEX message_recipients_member_idx ON message_recipients (member_id);
    INSERT INTO message_recipients (message_id, member_id, viewed)
    SELECT m.id, r.member, NOT (r.member = ANY (m.unviewed)) FROM messages m, unnest(m.recipients) AS r(member);
    ALTER TABLE messages DROP COLUMN recipients, DROP COLUMN unviewed;

    ALTER TABLE members ADD CONSTRAINT members_room_hash_fkey FOREIGN KEY (room_hash) REFERENCES rooms (room_hash) ON DELETE CASCADE;
    ALTER TABLE messages ADD CONSTRAINT messages_room_hash_fkey FOREIGN KEY (room_hash) REFERENCES rooms (room_hash) ON DELETE CASCADE;
    ALTER TABLE presence ADD CONSTRAINT presence_member_fk FOREIGN KEY (room_hash, member_id)
      REFERENCES members (room_hash, member_id) ON DELETE CASCADE;
  `).execute(db)
}
