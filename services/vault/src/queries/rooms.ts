/**
 * Room membership and presence. A member stays a member (and a recipient) across
 * disconnects; presence counts the members that hold a live connection through
 * some gateway right now. Join and leave run a whole batch in one statement.
 */
import {
  MAX_MEMBERS_PER_ROOM, MAX_PENDING_CARDS_PER_JOIN, type Card, type PaddingBucket, type RoomJoinRequest, type RoomLeaveRequest
} from '@ephemeral-chat/protocol'
import type { Kysely } from 'kysely'
import type { Database } from '../db/schema.js'
import { byOrd, HEARTBEAT, JOIN, LEAVE, run, type JoinRow, type Queryable } from '../db/statements.js'
import { failure, success, type Outcome } from './result.js'

export async function presenceCount (db: Kysely<Database>, roomHash: string): Promise<number> {
  const row = await db.selectFrom('presence')
    .select((eb) => eb.fn.count<string>('member_id').distinct().as('members'))
    .where('room_hash', '=', roomHash)
    .executeTakeFirstOrThrow()
  return Number(row.members)
}

export async function touchGateway (db: Queryable, gatewayId: string): Promise<void> {
  await run(db, HEARTBEAT, [gatewayId])
}

export interface Joined {
  members: number
  pending: Card[]
}

function cards (row: JoinRow): Card[] {
  return (row.cards ?? []).map(([id, from, bucket, expiresAt]) => ({ id, from, bucket: bucket as PaddingBucket, expiresAt }))
}

export async function joinRooms (db: Queryable, requests: readonly RoomJoinRequest[]): Promise<Array<Outcome<Joined>>> {
  const rows = byOrd(await run(db, JOIN, [
    requests.map((r) => r.roomHash),
    requests.map((r) => r.memberId),
    requests.map((r) => r.gatewayId),
    MAX_MEMBERS_PER_ROOM,
    MAX_PENDING_CARDS_PER_JOIN
  ]), requests.length)
  return rows.map((row): Outcome<Joined> => row.outcome === 'room-full'
    ? failure('room-full')
    : success({ members: row.present ?? 0, pending: cards(row) }))
}

export interface Left {
  members: number
  /** Messages deleted because this member was the last one yet to view them. */
  gone: string[]
}

export async function leaveRooms (db: Queryable, requests: readonly RoomLeaveRequest[]): Promise<Array<Outcome<Left>>> {
  const rows = byOrd(await run(db, LEAVE, [
    requests.map((r) => r.roomHash),
    requests.map((r) => r.memberId),
    requests.map((r) => r.gatewayId),
    requests.map((r) => r.mode === 'leave')
  ]), requests.length)
  return rows.map((row) => success({ members: row.present, gone: row.gone }))
}
