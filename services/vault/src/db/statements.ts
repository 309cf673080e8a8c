/**
 * The statements of the message path: each is one call of a function from the
 * migrations (or one plain statement), run as a prepared statement (a named pg
 * query: parsed and planned once per connection). Every one takes arrays, one
 * element per request of a batch, and returns a row per request numbered by `ord`
 * (1-based position in the arrays).
 *
 * These bypass Kysely's query builder on purpose: the text is fixed, so building it
 * per request would be pure cost; Kysely still types everything else.
 */
import type pg from 'pg'

/** A pool or a client: anything that runs a query. */
export type Queryable = Pick<pg.Pool, 'query'>

interface Statement<Row> {
  readonly name: string
  readonly text: string
  /** Only for typing `run`; never read. */
  readonly row?: Row
}

function statement<Row> (name: string, text: string): Statement<Row> {
  return { name, text }
}

export async function run<Row extends pg.QueryResultRow> (db: Queryable, statement: Statement<Row>, values: unknown[]): Promise<Row[]> {
  const result = await db.query<Row>({ name: statement.name, text: statement.text, values })
  return result.rows
}

export interface StoreRow {
  ord: number
  outcome: 'stored' | 'duplicate' | 'gone' | 'room-busy' | 'not-joined' | 'stale-epoch' | 'alone' | 'protocol-mismatch'
  recipient_ids: string[] | null
  /** Unix milliseconds (bigint, as text). */
  expires: string | null
  stored_sender: string | null
  stored_sealed: Buffer | null
  stored_key_id: string | null
  stored_bucket: number | null
  /** With 'gone': why the earlier copy was deleted. */
  gone_reason: 'viewed' | 'left' | null
}

/** rooms, senders, ids, sealed, key ids, buckets, epochs and group ids (NULL for v1); ttl ms, max pending per room. */
export const STORE = statement<StoreRow>('vault_store',
  'select * from vault_store($1::text[], $2::text[], $3::text[], $4::bytea[], $5::text[], $6::int[], $7::bigint[], $8::text[], $9::bigint, $10::int)')

export interface FetchRow {
  ord: number
  sealed: Buffer | null
  key_id: string | null
  /** Null when no such message (in this room, unexpired). */
  unviewed: boolean | null
  recipient: boolean | null
  /** v2: the epoch it was sent in; null for a v1 message (bigint, as text). */
  epoch: string | null
}

/** rooms, members, ids. Read-only: one plain statement. */
export const FETCH = statement<FetchRow>('vault_fetch', `
  select u.n::int as ord, m.sealed, m.key_id, u.member = any (m.unviewed) as unviewed, u.member = any (m.recipients) as recipient, m.epoch
    from unnest($1::text[], $2::text[], $3::text[]) with ordinality as u(room, member, id, n)
    left join messages m on m.room_hash = u.room and m.id = u.id and m.expires_at > now()`)

export interface AckRow {
  ord: number
  outcome: 'viewed' | 'gone' | 'repeated' | 'already-gone' | 'not-recipient'
  sender: string | null
  remaining: number | null
}

/** rooms, members, ids. */
export const ACK = statement<AckRow>('vault_ack', 'select * from vault_ack($1::text[], $2::text[], $3::text[])')

export interface JoinRow {
  ord: number
  outcome: 'joined' | 'room-full' | 'protocol-mismatch'
  present: number | null
  /** bigint, as text. */
  version: string | null
  /** [id, sender, bucket, expires (Unix ms), epoch (null for v1)] per pending card, oldest first; null when none. */
  cards: Array<[string, string, number, number, number | null]> | null
  /** The member's own messages still stored that somebody viewed: [id, recipients yet to view it]. */
  sent: Array<[string, number]> | null
  /** The member's own messages deleted since: [id, why]. */
  gone: Array<[string, 'viewed' | 'left']> | null
  /** The room's group epoch (bigint, as text); null without a group. */
  group_epoch: string | null
}

/** rooms, members, gateways, connections, protocols; max members per room, max cards per join. */
export const JOIN = statement<JoinRow>('vault_join', 'select * from vault_join($1::text[], $2::text[], $3::text[], $4::bigint[], $5::smallint[], $6::int, $7::int)')

export interface LeaveRow {
  ord: number
  present: number
  /** bigint, as text; null when the room no longer exists. */
  version: string | null
  gone: string[]
}

/** rooms, members, gateways, connections, leave-for-good flags. */
export const LEAVE = statement<LeaveRow>('vault_leave', 'select * from vault_leave($1::text[], $2::text[], $3::text[], $4::bigint[], $5::boolean[])')

/** gateway id, its heartbeat interval, its connections, their digest. */
export const HEARTBEAT = statement<{ resync: boolean }>('vault_heartbeat', 'select vault_heartbeat($1, $2, $3, $4) as resync')

/** gateway id, from, to, connections, rooms, members: rooms whose presence count changed, with it. */
export const SYNC_PRESENCE = statement<{ room: string, present: number, version: string }>('vault_sync_presence',
  'select * from vault_sync_presence($1, $2, $3, $4::bigint[], $5::text[], $6::text[])')

/** v2, one request at a time: room, member, group id, epoch, sealed handshake and its key id (NULL: create), external, sealed GroupInfo and its key id, removed members, ttl ms. */
export const GROUP_COMMIT = statement<{
  outcome: 'committed' | 'stale-epoch' | 'not-joined' | 'protocol-mismatch'
  epoch: string | null
  gone: string[] | null
  /** With stale-epoch: the commit accepted in the request's epoch, to recognise a retry of it. */
  prior_sender: string | null
  prior_sealed: Buffer | null
  prior_key_id: string | null
}>('vault_group_commit',
  'select * from vault_group_commit($1, $2, $3, $4::bigint, $5::bytea, $6, $7::boolean, $8::bytea, $9, $10::text[], $11::bigint)')

/** Results indexed by the request they answer. */
export function byOrd<Row extends { ord: number }> (rows: readonly Row[], count: number): Row[] {
  const ordered = new Array<Row>(count)
  for (const row of rows) ordered[row.ord - 1] = row
  return ordered
}
