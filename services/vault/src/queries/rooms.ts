/**
 * Room membership and presence. A member stays a member (and a recipient) across
 * disconnects; presence counts the members that hold a live connection through
 * some gateway right now.
 */
import { MAX_MEMBERS_PER_ROOM, MAX_PENDING_CARDS_PER_JOIN, type Card, type PaddingBucket } from '@ephemeral-chat/protocol'
import { sql, type Kysely, type Transaction } from 'kysely'
import type { Database } from '../db/schema.js'
import { failure, success, type Outcome } from './result.js'

type Db = Kysely<Database> | Transaction<Database>

/** Serialises every membership and store change of one room across vault replicas. */
export async function lockRoom (trx: Transaction<Database>, roomHash: string): Promise<boolean> {
  const row = await trx.selectFrom('rooms').select('room_hash').where('room_hash', '=', roomHash).forUpdate().executeTakeFirst()
  return row !== undefined
}

export async function presenceCount (db: Db, roomHash: string): Promise<number> {
  const row = await db.selectFrom('presence')
    .select((eb) => eb.fn.count<string>('member_id').distinct().as('members'))
    .where('room_hash', '=', roomHash)
    .executeTakeFirstOrThrow()
  return Number(row.members)
}

export async function touchGateway (db: Db, gatewayId: string): Promise<void> {
  await db.insertInto('gateways').values({ gateway_id: gatewayId, last_heartbeat_at: sql<Date>`now()` })
    .onConflict((oc) => oc.column('gateway_id').doUpdateSet({ last_heartbeat_at: sql<Date>`now()` }))
    .execute()
}

export interface Joined {
  members: number
  pending: Card[]
}

export async function joinRoom (db: Kysely<Database>, roomHash: string, memberId: string, gatewayId: string): Promise<Outcome<Joined>> {
  // Outside the transaction: holding the gateway's row lock until commit would queue every join through one gateway.
  await touchGateway(db, gatewayId)
  return db.transaction().execute(async (trx) => {
    // An upsert that always updates takes the row lock, even when the room exists, so the sweeper cannot remove it under us.
    await trx.insertInto('rooms').values({ room_hash: roomHash })
      .onConflict((oc) => oc.column('room_hash').doUpdateSet({ room_hash: roomHash })).execute()

    // Update first, not select-then-update: a member the sweeper forgets while we wait for its row lock
    // updates nothing and is added again below, where a prior select would have missed it and the
    // presence insert would then break its foreign key.
    const seen = await trx.updateTable('members').set({ last_seen_at: sql<Date>`now()` })
      .where('room_hash', '=', roomHash).where('member_id', '=', memberId).executeTakeFirst()
    if (seen.numUpdatedRows === 0n) {
      const { count } = await trx.selectFrom('members').select((eb) => eb.fn.countAll<string>().as('count'))
        .where('room_hash', '=', roomHash).executeTakeFirstOrThrow()
      if (Number(count) >= MAX_MEMBERS_PER_ROOM) return failure<Joined>('room-full')
      await trx.insertInto('members').values({ room_hash: roomHash, member_id: memberId, last_seen_at: sql<Date>`now()` }).execute()
    }

    await trx.insertInto('presence').values({ room_hash: roomHash, member_id: memberId, gateway_id: gatewayId, connections: 1 })
      .onConflict((oc) => oc.columns(['room_hash', 'member_id', 'gateway_id']).doUpdateSet({ connections: sql<number>`presence.connections + 1` }))
      .execute()

    // Messages sent while nobody else was here belong to the first member who arrives.
    const waiting = await trx.updateTable('messages').set({ waiting: false })
      .where('room_hash', '=', roomHash).where('waiting', '=', true).where('sender_id', '<>', memberId)
      .returning('id').execute()
    if (waiting.length > 0) {
      await trx.insertInto('message_recipients').values(waiting.map(({ id }) => ({ message_id: id, member_id: memberId }))).execute()
    }

    const pending = await trx.selectFrom('messages')
      .innerJoin('message_recipients', 'message_recipients.message_id', 'messages.id')
      .select(['messages.id', 'messages.sender_id', 'messages.bucket', 'messages.expires_at'])
      .where('messages.room_hash', '=', roomHash)
      .where('message_recipients.member_id', '=', memberId)
      .where('message_recipients.viewed', '=', false)
      .where('messages.expires_at', '>', sql<Date>`now()`)
      .orderBy('messages.expires_at').limit(MAX_PENDING_CARDS_PER_JOIN)
      .execute()

    return success({
      members: await presenceCount(trx, roomHash),
      pending: pending.map((row) => ({ id: row.id, from: row.sender_id, bucket: row.bucket as PaddingBucket, expiresAt: row.expires_at.getTime() }))
    })
  })
}

export interface Left {
  members: number
  /** Messages deleted because this member was the last one yet to view them. */
  gone: string[]
}

/** Removes a member for good: its presence, its place in recipient sets, and messages nobody else is waiting for. */
export async function removeMember (trx: Transaction<Database>, roomHash: string, memberId: string): Promise<string[]> {
  await trx.deleteFrom('message_recipients')
    .where('member_id', '=', memberId)
    .where('message_id', 'in', (eb) => eb.selectFrom('messages').select('id').where('room_hash', '=', roomHash))
    .execute()
  await trx.deleteFrom('members').where('room_hash', '=', roomHash).where('member_id', '=', memberId).execute()
  const orphans = await trx.deleteFrom('messages')
    .where('room_hash', '=', roomHash)
    .where('waiting', '=', false)
    .where((eb) => eb.not(eb.exists(eb.selectFrom('message_recipients').select('member_id')
      .whereRef('message_recipients.message_id', '=', 'messages.id').where('message_recipients.viewed', '=', false))))
    .returning('id').execute()
  return orphans.map(({ id }) => id)
}

export async function leaveRoom (db: Kysely<Database>, roomHash: string, memberId: string, gatewayId: string, mode: 'disconnect' | 'leave'): Promise<Outcome<Left>> {
  return db.transaction().execute(async (trx) => {
    if (!await lockRoom(trx, roomHash)) return success({ members: 0, gone: [] })
    let gone: string[] = []
    if (mode === 'leave') {
      gone = await removeMember(trx, roomHash, memberId)
    } else {
      // Delete the last connection first, then count down the others: never both for one row.
      await trx.deleteFrom('presence')
        .where('room_hash', '=', roomHash).where('member_id', '=', memberId).where('gateway_id', '=', gatewayId)
        .where('connections', '<=', 1).execute()
      await trx.updateTable('presence').set({ connections: sql<number>`connections - 1` })
        .where('room_hash', '=', roomHash).where('member_id', '=', memberId).where('gateway_id', '=', gatewayId)
        .where('connections', '>', 1).execute()
      await trx.updateTable('members').set({ last_seen_at: sql<Date>`now()` })
        .where('room_hash', '=', roomHash).where('member_id', '=', memberId).execute()
    }
    return success({ members: await presenceCount(trx, roomHash), gone })
  })
}
