/**
 * Protocol v2 messages (docs/architecture.md §11): a message of a v2 room is an MLS
 * application message bound to the epoch it was sent in. vault_store takes, per item, the
 * epoch and group id its clear header names (NULL for v1), and in a v2 room:
 *
 * - accepts it only at the room's current epoch of the room's group (else 'stale-epoch':
 *   the sender catches up and sends again under the new epoch's keys);
 * - only from a member of the group (else 'not-joined');
 * - addresses it to the other members of the group, never to members of the room that
 *   are not (yet) in the group: they could not open it;
 * - refuses it when nobody else is in the group ('alone'). It must not wait for a future
 *   member (v1's `waiting`): a future member joins a later epoch and, by forward secrecy,
 *   cannot open it. It waits on the sender's device instead.
 *
 * A v1 item in a v2 room, or a v2 item in a v1 room, is 'protocol-mismatch'. messages.epoch
 * records the epoch (NULL for v1), so that v1 and v2 reads each see only their own kind.
 *
 * The same vault_store also answers a resend racing the last confirmation of its message
 * "gone" instead of storing the message again:
 *
 * vault_store looked for the id's tombstone first and inserted after. A resend
 * arriving while the message's last ack was deleting it saw no tombstone yet
 * (the ack had not committed). Its INSERT ... ON CONFLICT then waited for the ack's
 * transaction, found the conflicting row deleted, and inserted it anew. That
 * answered the sender "stored" with a recipient who had already viewed the
 * message. The recipient's SDK ignores a card id it has seen, so the row stayed
 * until its expiry: an orphan. The fault suite found one under SIGSTOP of a vault,
 * where resends of stalled stores run alongside acks.
 *
 * Now the tombstone is looked for again after the insert (or after the look-up of the
 * row already there); the look-up before it stays, so that a resend of a message deleted
 * long ago writes nothing. Each statement of a function sees what committed before it
 * began, so this look-up sees any deletion the insert waited for. A row inserted
 * over a deleted message is deleted again in the same transaction, so nobody ever
 * sees it. A row found as a duplicate and then deleted by an ack before the
 * tombstone look-up is answered "gone" too: it is. The common path costs one more
 * index probe than before.
 */
import { sql, type Kysely } from 'kysely'

const STORE_BY_EPOCH = String.raw`
CREATE FUNCTION vault_store(
  p_rooms text[], p_senders text[], p_ids text[], p_sealed bytea[], p_key_ids text[], p_buckets int[],
  p_epochs bigint[], p_group_ids text[], p_ttl_ms bigint, p_max_pending int)
RETURNS TABLE (ord int, outcome text, recipient_ids text[], expires bigint,
               stored_sender text, stored_sealed bytea, stored_key_id text, stored_bucket int, gone_reason text)
LANGUAGE plpgsql AS $fn$
DECLARE
  item record;
  v_room text;
  v_room_found boolean := false;
  v_protocol smallint;
  v_group_id text;
  v_room_epoch bigint;
  v_members text[];
  v_group_members text[];
  v_pending int;
  v_recipients text[];
  v_inserted boolean;
  v_existing boolean;
  v_gone_reason text;
  v_gone_expires bigint;
  v_expires timestamptz := now() + p_ttl_ms * interval '1 millisecond';
  v_expires_ms bigint := (extract(epoch FROM v_expires) * 1000)::bigint;
BEGIN
  FOR item IN
    SELECT u.room, u.sender, u.id, u.sealed, u.key_id, u.bucket, u.msg_epoch, u.group_id, u.n::int AS n
      FROM unnest(p_rooms, p_senders, p_ids, p_sealed, p_key_ids, p_buckets, p_epochs, p_group_ids) WITH ORDINALITY
           AS u(room, sender, id, sealed, key_id, bucket, msg_epoch, group_id, n)
     ORDER BY u.room, u.n
  LOOP
    ord := item.n; recipient_ids := NULL; expires := NULL;
    stored_sender := NULL; stored_sealed := NULL; stored_key_id := NULL; stored_bucket := NULL; gone_reason := NULL;
    IF v_room IS DISTINCT FROM item.room THEN
      v_room := item.room;
      -- Held for this statement only: membership changes and commits wait, other rooms never do.
      SELECT r.protocol, r.group_id, r.epoch INTO v_protocol, v_group_id, v_room_epoch
        FROM rooms r WHERE r.room_hash = item.room FOR NO KEY UPDATE;
      v_room_found := FOUND;
      IF v_room_found THEN
        SELECT coalesce(array_agg(m.member_id), '{}'),
               coalesce(array_agg(m.member_id) FILTER (WHERE m.joined_epoch IS NOT NULL), '{}')
          INTO v_members, v_group_members FROM members m WHERE m.room_hash = item.room;
        SELECT count(*) INTO v_pending FROM messages m WHERE m.room_hash = item.room;
      END IF;
    END IF;
    IF NOT v_room_found OR NOT (item.sender = ANY (v_members)) THEN
      outcome := 'not-joined';
      RETURN NEXT;
      CONTINUE;
    END IF;
    IF (v_protocol = 2) IS DISTINCT FROM (item.msg_epoch IS NOT NULL) THEN
      outcome := 'protocol-mismatch';
      RETURN NEXT;
      CONTINUE;
    END IF;
    IF item.msg_epoch IS NOT NULL THEN
      IF NOT (item.sender = ANY (v_group_members)) THEN
        outcome := 'not-joined';
        RETURN NEXT;
        CONTINUE;
      END IF;
    END IF;
    -- A resend of a message deleted long ago is answered without writing anything; the look-up
    -- after the insert below catches a deletion that commits meanwhile (see the header).
    SELECT t.reason, (extract(epoch FROM t.expires_at) * 1000)::bigint INTO v_gone_reason, v_gone_expires
      FROM message_tombstones t WHERE t.room_hash = item.room AND t.id = item.id;
    IF FOUND THEN
      outcome := 'gone'; gone_reason := v_gone_reason; expires := v_gone_expires;
      RETURN NEXT;
      CONTINUE;
    END IF;
    v_inserted := false;
    v_existing := false;
    IF item.msg_epoch IS NULL THEN
      v_recipients := array_remove(v_members, item.sender);
    ELSE
      v_recipients := array_remove(v_group_members, item.sender);
    END IF;
    -- A v2 message of another epoch, or with nobody to read it, is never inserted. A resend of
    -- one stored before (the group may have moved on since) is answered from its row.
    IF item.msg_epoch IS NOT NULL AND (item.group_id IS DISTINCT FROM v_group_id OR item.msg_epoch <> v_room_epoch OR cardinality(v_recipients) = 0) THEN
      SELECT m.recipients, (extract(epoch FROM m.expires_at) * 1000)::bigint, m.sender_id, m.sealed, m.key_id, m.bucket
        INTO recipient_ids, expires, stored_sender, stored_sealed, stored_key_id, stored_bucket
        FROM messages m WHERE m.room_hash = item.room AND m.id = item.id AND m.expires_at > now();
      IF FOUND THEN
        outcome := 'duplicate';
      ELSIF item.group_id IS DISTINCT FROM v_group_id OR item.msg_epoch <> v_room_epoch THEN
        outcome := 'stale-epoch';
      ELSE
        outcome := 'alone';
      END IF;
      RETURN NEXT;
      CONTINUE;
    END IF;
    IF v_pending < p_max_pending THEN
      INSERT INTO messages (room_hash, id, sender_id, sealed, key_id, bucket, expires_at, waiting, recipients, unviewed, epoch)
      VALUES (item.room, item.id, item.sender, item.sealed, item.key_id, item.bucket, v_expires,
              item.msg_epoch IS NULL AND cardinality(v_recipients) = 0, v_recipients, v_recipients, item.msg_epoch)
      ON CONFLICT DO NOTHING;
      v_inserted := FOUND;
    END IF;
    IF NOT v_inserted THEN
      SELECT m.recipients, (extract(epoch FROM m.expires_at) * 1000)::bigint, m.sender_id, m.sealed, m.key_id, m.bucket
        INTO recipient_ids, expires, stored_sender, stored_sealed, stored_key_id, stored_bucket
        FROM messages m WHERE m.room_hash = item.room AND m.id = item.id;
      v_existing := FOUND;
    END IF;
    SELECT t.reason, (extract(epoch FROM t.expires_at) * 1000)::bigint INTO v_gone_reason, v_gone_expires
      FROM message_tombstones t WHERE t.room_hash = item.room AND t.id = item.id;
    IF FOUND THEN
      IF v_inserted THEN
        DELETE FROM messages m WHERE m.room_hash = item.room AND m.id = item.id;
      END IF;
      outcome := 'gone'; gone_reason := v_gone_reason; expires := v_gone_expires; recipient_ids := NULL;
      stored_sender := NULL; stored_sealed := NULL; stored_key_id := NULL; stored_bucket := NULL;
      RETURN NEXT;
      CONTINUE;
    END IF;
    IF v_inserted THEN
      v_pending := v_pending + 1;
      outcome := 'stored'; recipient_ids := v_recipients; expires := v_expires_ms;
    ELSIF v_existing THEN
      outcome := 'duplicate';
    ELSE
      outcome := 'room-busy';
    END IF;
    RETURN NEXT;
  END LOOP;
END
$fn$;
`

// Migrations take Kysely<any>: they describe the database as it was then, not the app's current types.
// eslint-disable-next-line @typescript-eslint/no-explicit-any
export async function up (db: Kysely<any>): Promise<void> {
  // The eight-argument vault_store stays while vault replicas of the previous release run (a
  // rolling deploy): they store v1 messages as before (without the race fix). The next release drops it.
  await sql.raw('ALTER TABLE messages ADD COLUMN epoch bigint').execute(db)
  await sql.raw(STORE_BY_EPOCH).execute(db)
}

// eslint-disable-next-line @typescript-eslint/no-explicit-any
export async function down (db: Kysely<any>): Promise<void> {
  await sql.raw(String.raw`
    DROP FUNCTION vault_store(text[], text[], text[], bytea[], text[], int[], bigint[], text[], bigint, int);
    -- v2 messages have no v1 form: they go with the column that tells them apart.
    DELETE FROM messages WHERE epoch IS NOT NULL;
    ALTER TABLE messages DROP COLUMN epoch;
  `).execute(db)
}
