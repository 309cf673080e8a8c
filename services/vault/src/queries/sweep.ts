/**
 * Periodic clean-up. Every statement claims its rows with FOR UPDATE SKIP LOCKED
 * (or deletes them outright), so several vault replicas sweeping at once never
 * handle the same row twice.
 */
import { HEARTBEAT_MISSES_ALLOWED } from '@ephemeral-chat/protocol'
import { sql, type Kysely, type Transaction } from 'kysely'
import type { Database } from '../db/schema.js'
import { roomPresence, type Presence } from './rooms.js'

const BATCH = 1000

export interface Expired {
  id: string
  roomHash: string
}

/** Deletes messages past their expiry, in batches. */
export async function deleteExpiredMessages (db: Kysely<Database>): Promise<Expired[]> {
  const rows = await db.deleteFrom('messages')
    .where((eb) => eb(eb.refTuple('room_hash', 'id'), 'in', eb.selectFrom('messages').select(['room_hash', 'id'])
      .where('expires_at', '<=', sql<Date>`now()`).limit(BATCH).forUpdate().skipLocked().$asTuple('room_hash', 'id')))
    .returning(['id', 'room_hash']).execute()
  return rows.map((row) => ({ id: row.id, roomHash: row.room_hash }))
}

/** Forgets the ids of deleted messages once they would have expired: then a resend is simply a new message. */
export async function deleteExpiredTombstones (db: Kysely<Database>): Promise<number> {
  const rows = await db.deleteFrom('message_tombstones')
    .where((eb) => eb(eb.refTuple('room_hash', 'id'), 'in', eb.selectFrom('message_tombstones').select(['room_hash', 'id'])
      .where('expires_at', '<=', sql<Date>`now()`).limit(BATCH).forUpdate().skipLocked().$asTuple('room_hash', 'id')))
    .executeTakeFirst()
  return Number(rows.numDeletedRows)
}

/** Forgets gateways that stopped heartbeating and their connections. Returns each affected room with its new presence count. */
export async function dropDeadGateways (db: Kysely<Database>): Promise<Map<string, Presence>> {
  return db.transaction().execute(async (trx) => {
    // Silent for more than the beats it may miss, at the interval it said it beats at.
    const dead = await trx.deleteFrom('gateways')
      .where('gateway_id', 'in', (eb) => eb.selectFrom('gateways').select('gateway_id')
        .where('last_heartbeat_at', '<', sql<Date>`now() - heartbeat_ms * ${HEARTBEAT_MISSES_ALLOWED} * interval '1 millisecond'`)
        .forUpdate().skipLocked())
      .returning('gateway_id').execute()
    const rooms = new Map<string, Presence>()
    if (dead.length === 0) return rooms
    const deadIds = dead.map((g) => g.gateway_id)
    // Their rooms locked first, in order, as joins lock them: deleting the rows first and then
    // locking the rooms deadlocked with a join of the same gateway (back after an outage) that
    // held a room and waited for its connection's row.
    await trx.selectFrom('rooms').select('room_hash')
      .where('room_hash', 'in', (eb) => eb.selectFrom('presence').select('room_hash').where('gateway_id', 'in', deadIds))
      .orderBy('room_hash').forNoKeyUpdate().execute()
    const affected = await trx.deleteFrom('presence')
      .where('gateway_id', 'in', deadIds)
      .returning(['room_hash', 'member_id']).execute()
    const now = sql<Date>`now()`
    for (const row of affected) {
      await trx.updateTable('members').set({ last_seen_at: now }).where('room_hash', '=', row.room_hash).where('member_id', '=', row.member_id).execute()
    }
    for (const roomHash of [...new Set(affected.map((row) => row.room_hash))].sort()) {
      rooms.set(roomHash, await roomPresence(trx, roomHash))
    }
    return rooms
  })
}

/** Members with no live connection, last seen longer than `ttlMs` ago. */
function absentMembers (trx: Transaction<Database>, ttlMs: number) {
  return trx.selectFrom('members').select(['room_hash', 'member_id', 'joined_epoch'])
    .where('last_seen_at', '<', sql<Date>`now() - ${ttlMs} * interval '1 millisecond'`)
    .where((eb) => eb.not(eb.exists(eb.selectFrom('presence').select('gateway_id')
      .whereRef('presence.room_hash', '=', 'members.room_hash').whereRef('presence.member_id', '=', 'members.member_id'))))
}

/**
 * Forgets members absent longer than the message TTL (nothing addressed to them can
 * still be waiting). Takes each room's lock first, as joins and stores do, so no store
 * can address a member while it is being forgotten; rooms busy right now wait for the
 * next sweep. Returns deleted message ids by room.
 */
export interface Forgotten {
  /** Messages deleted because the forgotten members were all they awaited. */
  gone: Expired[]
  /** v2: forgotten members who were in their room's MLS group: the others should commit their removal. */
  absent: Array<{ roomHash: string, memberId: string }>
}

export async function forgetAbsentMembers (db: Kysely<Database>, ttlMs: number): Promise<Forgotten> {
  return db.transaction().execute(async (trx) => {
    const candidates = await absentMembers(trx, ttlMs).limit(BATCH).execute()
    const rooms = [...new Set(candidates.map((member) => member.room_hash))]
    if (rooms.length === 0) return { gone: [], absent: [] }
    const locked = await trx.selectFrom('rooms').select('room_hash').where('room_hash', 'in', rooms).forUpdate().skipLocked().execute()
    if (locked.length === 0) return { gone: [], absent: [] }
    // Asked again under the room locks: a member who came back meanwhile is not absent any more.
    const absent = await absentMembers(trx, ttlMs).where('room_hash', 'in', locked.map((room) => room.room_hash)).limit(BATCH).execute()
    const forgotten: Forgotten = { gone: [], absent: [] }
    for (const member of absent) {
      const removed = await sql<{ gone: string[] }>`select vault_remove_member(${member.room_hash}, ${member.member_id}) as gone`.execute(trx)
      for (const id of removed.rows[0]?.gone ?? []) forgotten.gone.push({ id, roomHash: member.room_hash })
      if (member.joined_epoch !== null) forgotten.absent.push({ roomHash: member.room_hash, memberId: member.member_id })
    }
    return forgotten
  })
}

/** Removes rooms with no members and no messages. */
export async function deleteEmptyRooms (db: Kysely<Database>): Promise<number> {
  const rows = await db.deleteFrom('rooms')
    .where('room_hash', 'in', (eb) => eb.selectFrom('rooms').select('room_hash')
      .where((inner) => inner.not(inner.exists(inner.selectFrom('members').select('member_id').whereRef('members.room_hash', '=', 'rooms.room_hash'))))
      .where((inner) => inner.not(inner.exists(inner.selectFrom('messages').select('id').whereRef('messages.room_hash', '=', 'rooms.room_hash'))))
      .limit(BATCH).forUpdate().skipLocked())
    .returning('room_hash').execute()
  return rows.length
}
