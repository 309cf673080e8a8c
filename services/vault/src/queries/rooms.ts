/**
 * Room membership and presence. A member stays a member (and a recipient) across
 * disconnects; presence counts the members that hold a live connection through
 * some gateway right now. Join and leave run a whole batch in one statement.
 */
import {
  MAX_MEMBERS_PER_ROOM, MAX_PENDING_CARDS_PER_JOIN, type Card, type GatewayHeartbeatRequest, type GoneReason, type GatewaySyncRequest, type PaddingBucket,
  type RoomJoinRequest, type RoomLeaveRequest
} from '@ephemeral-chat/protocol'
import { sql, type Kysely } from 'kysely'
import type { Database } from '../db/schema.js'
import { byOrd, HEARTBEAT, JOIN, LEAVE, run, SYNC_PRESENCE, type JoinRow, type Queryable } from '../db/statements.js'
import { failure, success, type Result } from '@ephemeral-chat/protocol'

/** A room's count of present members now, with its version (takes the room's lock: call in room order). */
export async function roomPresence (db: Kysely<Database>, roomHash: string): Promise<Presence> {
  const { rows } = await sql<{ present: number, version: string }>`select present, version from vault_room_presence(${roomHash})`.execute(db)
  return { members: rows[0]?.present ?? 0, presenceVersion: Number(rows[0]?.version ?? 0) }
}

/** Records that the gateway is alive; true when its presence rows differ from the digest it sent. */
export async function heartbeat (db: Queryable, request: GatewayHeartbeatRequest): Promise<boolean> {
  const rows = await run(db, HEARTBEAT, [request.gatewayId, request.intervalMs, request.connections, request.digest])
  return rows[0]?.resync === true
}

/** Replaces one range of a gateway's presence rows; returns the rooms whose count may have changed. */
export async function syncPresence (db: Queryable, request: GatewaySyncRequest): Promise<Map<string, Presence>> {
  const rows = await run(db, SYNC_PRESENCE, [
    request.gatewayId, request.from, request.to,
    request.entries.map((e) => e.connectionId), request.entries.map((e) => e.roomHash), request.entries.map((e) => e.memberId)
  ])
  return new Map(rows.map((row) => [row.room, { members: row.present, presenceVersion: Number(row.version) }]))
}

/** A room's count of present members, with the version that orders it. */
export interface Presence {
  members: number
  presenceVersion: number
}

export interface Joined extends Presence {
  pending: Card[]
  /** The member's own messages somebody viewed, with how many recipients have not yet. */
  receipts: Array<{ id: string, remaining: number }>
  /** The member's own messages deleted since it was last told. */
  gone: Array<{ id: string, reason: GoneReason }>
  /** v2: the room's group epoch, when it has a group. */
  groupEpoch?: number
}

function cards (row: JoinRow): Card[] {
  return (row.cards ?? []).map(([id, from, bucket, expiresAt, epoch]) => ({ id, from, bucket: bucket as PaddingBucket, expiresAt, ...(epoch === null || epoch === undefined ? {} : { epoch }) }))
}

export async function joinRooms (db: Queryable, requests: readonly RoomJoinRequest[]): Promise<Array<Result<Joined>>> {
  const rows = byOrd(await run(db, JOIN, [
    requests.map((r) => r.roomHash),
    requests.map((r) => r.memberId),
    requests.map((r) => r.gatewayId),
    requests.map((r) => r.connectionId),
    requests.map((r) => r.protocol ?? 1),
    MAX_MEMBERS_PER_ROOM,
    MAX_PENDING_CARDS_PER_JOIN
  ]), requests.length)
  return rows.map((row): Result<Joined> => row.outcome !== 'joined'
    ? failure(row.outcome)
    : success({
      members: row.present ?? 0,
      presenceVersion: Number(row.version ?? 0),
      pending: cards(row),
      receipts: (row.sent ?? []).map(([id, remaining]) => ({ id, remaining })),
      gone: (row.gone ?? []).map(([id, reason]) => ({ id, reason })),
      ...(row.group_epoch === null ? {} : { groupEpoch: Number(row.group_epoch) })
    }))
}

export interface Left extends Presence {
  /** Messages deleted because this member was the last one yet to view them. */
  gone: string[]
}

export async function leaveRooms (db: Queryable, requests: readonly RoomLeaveRequest[]): Promise<Array<Result<Left>>> {
  const rows = byOrd(await run(db, LEAVE, [
    requests.map((r) => r.roomHash),
    requests.map((r) => r.memberId),
    requests.map((r) => r.gatewayId),
    requests.map((r) => r.connectionId),
    requests.map((r) => r.mode === 'leave')
  ]), requests.length)
  return rows.map((row) => success({ members: row.present, presenceVersion: Number(row.version ?? 0), gone: row.gone }))
}
