/**
 * A resend racing the last confirmation of its message is answered "gone" instead of
 * storing the message again.
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
import { STORE_FUNCTION } from './2026-11-28T00-00-one-round-trip.js'

/** vault_store as this migration defines it (a later migration replaces it and restores it on the way down). */
export const STORE_CHECKING_TOMBSTONE_LAST = String.raw`
CREATE OR REPLACE FUNCTION vault_store(
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
  v_inserted boolean;
  v_existing boolean;
  v_gone_reason text;
  v_gone_expires bigint;
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
    -- A resend of a message deleted long ago is answered without writing anything (no second
    -- sealed copy of a viewed message reaches the WAL); the look-up after the insert below
    -- catches a deletion that commits meanwhile.
    SELECT t.reason, (extract(epoch FROM t.expires_at) * 1000)::bigint INTO v_gone_reason, v_gone_expires
      FROM message_tombstones t WHERE t.room_hash = item.room AND t.id = item.id;
    IF FOUND THEN
      outcome := 'gone'; gone_reason := v_gone_reason; expires := v_gone_expires;
      RETURN NEXT;
      CONTINUE;
    END IF;
    v_inserted := false;
    v_existing := false;
    v_recipients := array_remove(v_members, item.sender);
    IF v_pending < p_max_pending THEN
      -- On a conflict with a row being deleted, this waits for the deleting transaction and
      -- inserts once it committed: the tombstone look-up below catches that case.
      INSERT INTO messages (room_hash, id, sender_id, sealed, key_id, bucket, expires_at, waiting, recipients, unviewed)
      VALUES (item.room, item.id, item.sender, item.sealed, item.key_id, item.bucket, v_expires,
              cardinality(v_recipients) = 0, v_recipients, v_recipients)
      ON CONFLICT DO NOTHING;
      v_inserted := FOUND;
    END IF;
    IF NOT v_inserted THEN
      SELECT m.recipients, (extract(epoch FROM m.expires_at) * 1000)::bigint, m.sender_id, m.sealed, m.key_id, m.bucket
        INTO recipient_ids, expires, stored_sender, stored_sealed, stored_key_id, stored_bucket
        FROM messages m WHERE m.room_hash = item.room AND m.id = item.id;
      v_existing := FOUND;
    END IF;
    -- A new statement, so it sees every deletion committed until now, including one the insert waited for.
    -- (Into variables of its own: a SELECT INTO that finds nothing sets its targets to NULL.)
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
  await sql.raw(STORE_CHECKING_TOMBSTONE_LAST).execute(db)
}

// eslint-disable-next-line @typescript-eslint/no-explicit-any
export async function down (db: Kysely<any>): Promise<void> {
  await sql.raw(STORE_FUNCTION.replace('CREATE FUNCTION', 'CREATE OR REPLACE FUNCTION')).execute(db)
}
