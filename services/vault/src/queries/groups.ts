/**
 * Protocol v2: a room's MLS group as the vault keeps it (docs/architecture.md §11).
 * The vault reads only a handshake's clear header (mls-header.ts) to check that it is
 * the commit of the epoch it claims; it opens nothing. Handshakes and GroupInfo are
 * sealed at rest like envelopes, bound to their room and epoch.
 */
import {
  failure, HandshakeHeaderError, MAX_HANDSHAKES_PER_SYNC, readHandshakeHeader, success,
  type GroupCommitRequest, type GroupStateRequest, type GroupStateReply, type Result
} from '@ephemeral-chat/protocol'
import { sql, type Kysely } from 'kysely'
import type { AtRestCipher } from '../at-rest.js'
import type { Database } from '../db/schema.js'
import { GROUP_COMMIT, run, type Queryable } from '../db/statements.js'

/** Handshake bytes one sync reply carries at most (with the fields around them, under the bus payload limit). */
export const MAX_STATE_HANDSHAKE_BYTES = 40 * 1024

const HANDSHAKE_LABEL = Buffer.from('ephemeral-chat/vault/handshake', 'utf8')
const GROUP_INFO_LABEL = Buffer.from('ephemeral-chat/vault/group-info', 'utf8')

/** What a sealed row is bound to besides its room: its kind and epoch (never the same bytes as a 16-byte message id). */
function epochBinding (label: Buffer, epoch: number | bigint): Buffer {
  const bytes = Buffer.alloc(label.length + 8)
  label.copy(bytes)
  bytes.writeBigUInt64BE(BigInt(epoch), label.length)
  return bytes
}

const roomBinding = (roomHash: string): Buffer => Buffer.from(roomHash, 'hex')

export interface Committed {
  /** The room's epoch after the commit. */
  epoch: number
  /** Messages deleted because the members the commit removed were all they waited for. */
  gone: string[]
}

/**
 * Creates the room's group, or applies a commit made in its current epoch (compare-and-set).
 * A handshake whose header is not a commit of this group and epoch is refused as `bad-frame`
 * before it reaches the database.
 */
export async function commitGroup (db: Queryable, cipher: AtRestCipher, ttlMs: number, request: GroupCommitRequest): Promise<Result<Committed>> {
  let external = false
  let handshake: { sealed: Buffer, keyId: string } | undefined
  const bytes = request.handshake === undefined ? undefined : Buffer.from(request.handshake, 'base64url')
  if (bytes !== undefined) {
    try {
      const header = readHandshakeHeader(bytes)
      if (header.contentType !== 'commit') return failure('bad-frame')
      if (header.sender.type !== 'member' && header.sender.type !== 'newMemberCommit') return failure('bad-frame')
      if (Buffer.from(header.groupId).toString('base64url') !== request.groupId || header.epoch !== BigInt(request.epoch)) return failure('bad-frame')
      external = header.sender.type === 'newMemberCommit'
      // An external commit may remove only its sender's own old leaf (RFC 9420 §12.4.3.2): naming anyone else is refused.
      if (external && (request.removed?.length ?? 0) > 0) return failure('bad-frame')
    } catch (error) {
      if (error instanceof HandshakeHeaderError) return failure('bad-frame')
      throw error
    }
    handshake = cipher.seal(epochBinding(HANDSHAKE_LABEL, request.epoch), roomBinding(request.roomHash), bytes)
  }
  const infoEpoch = handshake === undefined ? request.epoch : request.epoch + 1
  const info = cipher.seal(epochBinding(GROUP_INFO_LABEL, infoEpoch), roomBinding(request.roomHash), Buffer.from(request.groupInfo, 'base64url'))
  const [row] = await run(db, GROUP_COMMIT, [
    request.roomHash, request.memberId, request.groupId, request.epoch,
    handshake?.sealed ?? null, handshake?.keyId ?? null, external,
    info.sealed, info.keyId, request.removed ?? [], ttlMs
  ])
  if (row === undefined) throw new Error('vault_group_commit returned no row')
  if (row.outcome === 'stale-epoch' && bytes !== undefined && row.prior_sender === request.memberId && row.prior_sealed !== null && row.prior_key_id !== null) {
    // A retry of the commit that was accepted (its answer was lost): the same answer again.
    const prior = cipher.open(epochBinding(HANDSHAKE_LABEL, request.epoch), roomBinding(request.roomHash), { keyId: row.prior_key_id, sealed: row.prior_sealed })
    if (prior.equals(bytes)) return success({ epoch: request.epoch + 1, gone: [] })
  }
  if (row.outcome !== 'committed') return failure(row.outcome)
  return success({ epoch: Number(row.epoch), gone: row.gone ?? [] })
}

export type GroupState = Omit<Extract<GroupStateReply, { ok: true }>, 'v' | 'ok'>

/**
 * Where the room's group stands for a member of the room: its latest GroupInfo (no `since`), or
 * the handshakes from `since` on. A member in the group that asks from `since` has every earlier
 * handshake: that is what lets the sweeper prune them.
 */
export async function groupState (db: Kysely<Database>, cipher: AtRestCipher, request: GroupStateRequest): Promise<Result<GroupState>> {
  const room = await db.selectFrom('members as m').innerJoin('rooms as r', 'r.room_hash', 'm.room_hash')
    .select(['r.protocol', 'r.group_id', 'r.epoch', 'r.group_info', 'r.group_info_key_id', 'm.joined_epoch'])
    .where('m.room_hash', '=', request.roomHash).where('m.member_id', '=', request.memberId)
    .executeTakeFirst()
  if (room === undefined) return failure('not-joined')
  if (room.group_id === null || room.epoch === null || room.group_info === null || room.group_info_key_id === null) {
    if (request.since !== undefined) return failure('stale-epoch')
    return success({ handshakes: [], complete: true, gap: false })
  }
  const epoch = Number(room.epoch)
  if (request.since === undefined) {
    const groupInfo = cipher.open(epochBinding(GROUP_INFO_LABEL, epoch), roomBinding(request.roomHash), { keyId: room.group_info_key_id, sealed: room.group_info })
    if (room.group_info_key_id !== cipher.activeKeyId) {
      // A GroupInfo lives until the next commit, possibly longer than the message TTL after
      // which a retired at-rest key may be destroyed: sealed again under the active key when read.
      const resealed = cipher.seal(epochBinding(GROUP_INFO_LABEL, epoch), roomBinding(request.roomHash), groupInfo)
      await db.updateTable('rooms').set({ group_info: resealed.sealed, group_info_key_id: resealed.keyId })
        .where('room_hash', '=', request.roomHash).where('epoch', '=', String(epoch)).where('group_info_key_id', '=', room.group_info_key_id)
        .execute()
    }
    return success({ group: { groupId: room.group_id, epoch, groupInfo: groupInfo.toString('base64url') }, handshakes: [], complete: true, gap: false })
  }
  const since = request.since
  // Only a member of the group reads its handshakes: from the epoch it joined in, to one the group has reached.
  if (room.joined_epoch === null || since < Number(room.joined_epoch) || since > epoch) return failure('stale-epoch')
  const rows = since === epoch
    ? []
    : await db.selectFrom('handshakes').select(['epoch', 'sealed', 'key_id'])
      .where('room_hash', '=', request.roomHash).where('epoch', '>=', String(since))
      // A commit landing since the room was read is left for the next reply: never past the epoch reported.
      .where('epoch', '<', String(epoch))
      .orderBy('epoch').limit(MAX_HANDSHAKES_PER_SYNC).execute()
  const handshakes: Array<{ epoch: number, handshake: string }> = []
  let bytes = 0
  let gap = false
  for (const row of rows) {
    const at = Number(row.epoch)
    // Epochs are consecutive; a missing one was pruned (the member was away too long).
    if (at !== since + handshakes.length) { gap = true; break }
    const handshake = cipher.open(epochBinding(HANDSHAKE_LABEL, at), roomBinding(request.roomHash), { keyId: row.key_id, sealed: row.sealed })
    if (handshakes.length > 0 && bytes + handshake.length > MAX_STATE_HANDSHAKE_BYTES) break
    bytes += handshake.length
    handshakes.push({ epoch: at, handshake: handshake.toString('base64url') })
  }
  if (since < epoch && handshakes.length === 0) gap = true
  await db.updateTable('members')
    .set((eb) => ({ synced_epoch: eb.fn('greatest', [eb.fn.coalesce('synced_epoch', eb.val(since)), eb.val(since)]) }))
    .where('room_hash', '=', request.roomHash).where('member_id', '=', request.memberId).where('joined_epoch', 'is not', null)
    .execute()
  const complete = !gap && since + handshakes.length === epoch
  return success({ group: { groupId: room.group_id, epoch }, handshakes, complete, gap })
}

/** Deletes handshakes every member of their group already has, and all past their expiry. */
export async function deleteOldHandshakes (db: Kysely<Database>): Promise<number> {
  const expired = await db.deleteFrom('handshakes').where('expires_at', '<=', sql<Date>`now()`).executeTakeFirst()
  const synced = await db.deleteFrom('handshakes as h')
    .where((eb) => eb('h.epoch', '<', eb.selectFrom('members as m').select((inner) => inner.fn.min('m.synced_epoch').as('low'))
      .whereRef('m.room_hash', '=', 'h.room_hash').where('m.joined_epoch', 'is not', null)))
    .executeTakeFirst()
  return Number(expired.numDeletedRows) + Number(synced.numDeletedRows)
}
