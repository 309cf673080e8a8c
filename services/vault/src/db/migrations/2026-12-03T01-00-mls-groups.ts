/**
 * Protocol v2 (docs/architecture.md §11): a room may run an MLS group. The vault keeps
 * what orders it and what a joiner needs, never anything that opens a message:
 *
 * - rooms: the protocol version (1 until a member creates a group), the group id, the
 *   current epoch, and the latest GroupInfo as the member sealed it (under a key derived
 *   from the room code), sealed again at rest.
 * - members: the epoch from which a member is in the group (NULL: not in it, either not
 *   joined yet or removed), and the epoch up to which it has all handshakes (pruning).
 * - handshakes: one accepted commit per (room, epoch), the compare-and-set of the
 *   epoch; sealed at rest; deleted once every member of the group has it, and at the
 *   message TTL in any case.
 *
 * vault_group_commit is the compare-and-set, one transaction under the room's lock (the
 * lock that membership changes take): create the group, or apply a commit made in the
 * room's current epoch, record the committer's membership, and remove the members the
 * commit removes from the messages addressed to them (those nobody else awaits go, as
 * when a member leaves).
 */
import { sql, type Kysely } from 'kysely'

const GROUP_COMMIT_FUNCTION = String.raw`
CREATE FUNCTION vault_group_commit(
  p_room text, p_member text, p_group_id text, p_epoch bigint,
  p_handshake bytea, p_handshake_key_id text, p_external boolean,
  p_group_info bytea, p_group_info_key_id text, p_removed text[], p_ttl_ms bigint)
RETURNS TABLE (outcome text, epoch bigint, gone text[], prior_sender text, prior_sealed bytea, prior_key_id text)
LANGUAGE plpgsql AS $fn$
DECLARE
  v_room rooms%ROWTYPE;
  v_joined bigint;
  v_removed text[];
  v_gone text[] := '{}';
BEGIN
  SELECT * INTO v_room FROM rooms r WHERE r.room_hash = p_room FOR NO KEY UPDATE;
  IF NOT FOUND THEN
    outcome := 'not-joined'; RETURN NEXT; RETURN;
  END IF;
  SELECT m.joined_epoch INTO v_joined FROM members m WHERE m.room_hash = p_room AND m.member_id = p_member;
  IF NOT FOUND THEN
    outcome := 'not-joined'; RETURN NEXT; RETURN;
  END IF;

  IF p_handshake IS NULL THEN
    -- Creation: only once, at epoch 0.
    IF v_room.group_id = p_group_id AND p_epoch = 0 AND v_joined = 0 THEN
      -- The creator's retry (its answer was lost): the group is its own.
      outcome := 'committed'; epoch := 0; gone := '{}'; RETURN NEXT; RETURN;
    END IF;
    IF v_room.group_id IS NOT NULL OR p_epoch <> 0 THEN
      outcome := 'stale-epoch'; epoch := v_room.epoch; RETURN NEXT; RETURN;
    END IF;
    -- Only in a v2 room: the join that created it said so (migration 2026-12-03T04-00).
    IF v_room.protocol <> 2 THEN
      outcome := 'protocol-mismatch'; RETURN NEXT; RETURN;
    END IF;
    UPDATE rooms r SET protocol = 2, group_id = p_group_id, epoch = 0, group_info = p_group_info, group_info_key_id = p_group_info_key_id
     WHERE r.room_hash = p_room;
    UPDATE members m SET joined_epoch = 0, synced_epoch = 0 WHERE m.room_hash = p_room AND m.member_id = p_member;
    outcome := 'committed'; epoch := 0; gone := '{}'; RETURN NEXT; RETURN;
  END IF;

  IF v_room.group_id IS DISTINCT FROM p_group_id OR v_room.epoch <> p_epoch THEN
    -- The commit accepted in that epoch comes back with the answer: if it is this very one
    -- (a retry whose first answer was lost), the caller answers it as accepted.
    IF v_room.group_id = p_group_id AND p_epoch < v_room.epoch THEN
      SELECT h.sender_id, h.sealed, h.key_id INTO prior_sender, prior_sealed, prior_key_id
        FROM handshakes h WHERE h.room_hash = p_room AND h.epoch = p_epoch;
    END IF;
    outcome := 'stale-epoch'; epoch := v_room.epoch; RETURN NEXT; RETURN;
  END IF;
  -- A member's commit needs a member of the group; an external commit makes one (again).
  IF NOT p_external AND v_joined IS NULL THEN
    outcome := 'not-joined'; RETURN NEXT; RETURN;
  END IF;

  INSERT INTO handshakes (room_hash, epoch, sender_id, sealed, key_id, expires_at)
  VALUES (p_room, p_epoch, p_member, p_handshake, p_handshake_key_id, now() + p_ttl_ms * interval '1 millisecond');
  UPDATE rooms r SET epoch = p_epoch + 1, group_info = p_group_info, group_info_key_id = p_group_info_key_id
   WHERE r.room_hash = p_room;
  UPDATE members m SET joined_epoch = CASE WHEN p_external THEN p_epoch + 1 ELSE m.joined_epoch END, synced_epoch = p_epoch + 1
   WHERE m.room_hash = p_room AND m.member_id = p_member;

  -- Removed members leave the group, and stop being recipients of what they have not viewed.
  WITH leaving AS (
    UPDATE members m SET joined_epoch = NULL, synced_epoch = NULL
     WHERE m.room_hash = p_room AND m.member_id = ANY (coalesce(p_removed, '{}')) AND m.member_id <> p_member AND m.joined_epoch IS NOT NULL
    RETURNING m.member_id
  ) SELECT coalesce(array_agg(leaving.member_id ORDER BY leaving.member_id), '{}') INTO v_removed FROM leaving;
  IF cardinality(v_removed) > 0 THEN
    PERFORM 1 FROM messages m WHERE m.room_hash = p_room AND m.recipients && v_removed ORDER BY m.id FOR UPDATE;
    UPDATE messages m
       SET recipients = ARRAY(SELECT x FROM unnest(m.recipients) AS x WHERE x <> ALL (v_removed)),
           unviewed = ARRAY(SELECT x FROM unnest(m.unviewed) AS x WHERE x <> ALL (v_removed))
     WHERE m.room_hash = p_room AND m.recipients && v_removed;
    WITH dropped AS (
      DELETE FROM messages m WHERE m.room_hash = p_room AND NOT m.waiting AND cardinality(m.unviewed) = 0
      RETURNING m.id, m.sender_id, m.expires_at
    ), kept AS (
      INSERT INTO message_tombstones (room_hash, id, sender_id, reason, expires_at)
      SELECT p_room, dropped.id, dropped.sender_id, 'left', dropped.expires_at FROM dropped ON CONFLICT DO NOTHING
    ) SELECT coalesce(array_agg(dropped.id ORDER BY dropped.id), '{}') INTO v_gone FROM dropped;
  END IF;
  outcome := 'committed'; epoch := p_epoch + 1; gone := v_gone; RETURN NEXT;
END
$fn$;
`

// Migrations take Kysely<any>: they describe the database as it was then, not the app's current types.
// eslint-disable-next-line @typescript-eslint/no-explicit-any
export async function up (db: Kysely<any>): Promise<void> {
  await sql.raw(String.raw`
    ALTER TABLE rooms
      ADD COLUMN protocol smallint NOT NULL DEFAULT 1 CHECK (protocol IN (1, 2)),
      ADD COLUMN group_id text COLLATE "C",
      ADD COLUMN epoch bigint CHECK (epoch >= 0),
      ADD COLUMN group_info bytea,
      ADD COLUMN group_info_key_id text COLLATE "C",
      ADD CONSTRAINT rooms_group_ck CHECK (
        (group_id IS NULL) = (epoch IS NULL) AND (group_id IS NULL) = (group_info IS NULL)
        AND (group_info IS NULL) = (group_info_key_id IS NULL) AND (group_id IS NULL OR protocol = 2));
    ALTER TABLE members ADD COLUMN joined_epoch bigint, ADD COLUMN synced_epoch bigint;
    CREATE TABLE handshakes (
      room_hash text COLLATE "C" NOT NULL,
      epoch bigint NOT NULL,
      sender_id text COLLATE "C" NOT NULL,
      sealed bytea NOT NULL,
      key_id text COLLATE "C" NOT NULL,
      expires_at timestamptz NOT NULL,
      CONSTRAINT handshakes_pk PRIMARY KEY (room_hash, epoch),
      CONSTRAINT handshakes_room_fk FOREIGN KEY (room_hash) REFERENCES rooms (room_hash) ON DELETE CASCADE
    );
    CREATE INDEX handshakes_expires_idx ON handshakes (expires_at);
  `).execute(db)
  await sql.raw(GROUP_COMMIT_FUNCTION).execute(db)
}

// eslint-disable-next-line @typescript-eslint/no-explicit-any
export async function down (db: Kysely<any>): Promise<void> {
  await sql.raw(String.raw`
    DROP FUNCTION vault_group_commit(text, text, text, bigint, bytea, text, boolean, bytea, text, text[], bigint);
    DROP TABLE handshakes;
    ALTER TABLE members DROP COLUMN joined_epoch, DROP COLUMN synced_epoch;
    ALTER TABLE rooms DROP CONSTRAINT rooms_group_ck, DROP COLUMN protocol, DROP COLUMN group_id, DROP COLUMN epoch,
      DROP COLUMN group_info, DROP COLUMN group_info_key_id;
  `).execute(db)
}
