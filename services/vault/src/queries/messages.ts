/**
 * The message lifecycle of DESIGN §4: store (idempotent on the id), fetch by a
 * recipient, and ack, which deletes the row with its last recipient in the same
 * transaction.
 */
import { bucketOfCiphertext, MAX_PENDING_MESSAGES_PER_ROOM, type MessageAckRequest, type MessageFetchRequest, type MessageStoreRequest, type PaddingBucket } from '@ephemeral-chat/protocol'
import { sql, type Kysely } from 'kysely'
import type { AtRestCipher } from '../at-rest.js'
import type { Database } from '../db/schema.js'
import { failure, success, type Outcome } from './result.js'
import { lockRoom } from './rooms.js'

const IV_BYTES = 12

/** The bytes the at-rest layer binds a row to. */
function binding (id: string, roomHash: string): [Buffer, Buffer] {
  return [Buffer.from(id, 'base64url'), Buffer.from(roomHash, 'hex')]
}

export interface Stored {
  recipients: string[]
  bucket: PaddingBucket
  expiresAt: number
  duplicate: boolean
}


function isUniqueViolation (error: unknown): boolean {
  return typeof error === 'object' && error !== null && (error as { code?: unknown }).code === '23505'
}

export async function storeMessage (db: Kysely<Database>, cipher: AtRestCipher, ttlMs: number, request: MessageStoreRequest): Promise<Outcome<Stored>> {
  const iv = Buffer.from(request.iv, 'base64url')
  const ct = Buffer.from(request.ct, 'base64url')
  const bucket = bucketOfCiphertext(ct.length)
  if (bucket === undefined) return failure('too-large')
  const envelope = Buffer.concat([iv, ct])
  const [messageId, roomHash] = binding(request.id, request.roomHash)

  try {
    return await db.transaction().execute(async (trx): Promise<Outcome<Stored>> => {
      if (!await lockRoom(trx, request.roomHash)) return failure('not-joined')
      const sender = await trx.selectFrom('members').select('member_id')
        .where('room_hash', '=', request.roomHash).where('member_id', '=', request.memberId).executeTakeFirst()
      if (sender === undefined) return failure('not-joined')

      const existing = await trx.selectFrom('messages').selectAll().where('id', '=', request.id).executeTakeFirst()
      if (existing !== undefined) {
        // A resend of the same id must be the same message from the same sender in the same room.
        if (existing.room_hash !== request.roomHash || existing.sender_id !== request.memberId) return failure('conflict')
        const stored = cipher.open(messageId, roomHash, { keyId: existing.key_id, sealed: existing.sealed })
        if (!stored.equals(envelope)) return failure('conflict')
        const recipients = await trx.selectFrom('message_recipients').select('member_id').where('message_id', '=', request.id).execute()
        return success({ recipients: recipients.map((r) => r.member_id), bucket: existing.bucket as PaddingBucket, expiresAt: existing.expires_at.getTime(), duplicate: true })
      }

      const { count } = await trx.selectFrom('messages').select((eb) => eb.fn.countAll<string>().as('count'))
        .where('room_hash', '=', request.roomHash).executeTakeFirstOrThrow()
      if (Number(count) >= MAX_PENDING_MESSAGES_PER_ROOM) return failure('room-busy')

      const members = await trx.selectFrom('members').select('member_id')
        .where('room_hash', '=', request.roomHash).where('member_id', '<>', request.memberId).execute()
      const recipients = members.map((m) => m.member_id)
      const sealed = cipher.seal(messageId, roomHash, envelope)
      const inserted = await trx.insertInto('messages').values({
        id: request.id,
        room_hash: request.roomHash,
        sender_id: request.memberId,
        sealed: sealed.sealed,
        key_id: sealed.keyId,
        bucket,
        expires_at: sql<Date>`now() + ${ttlMs} * interval '1 millisecond'`,
        waiting: recipients.length === 0
      }).returning('expires_at').executeTakeFirstOrThrow()
      if (recipients.length > 0) {
        await trx.insertInto('message_recipients').values(recipients.map((member_id) => ({ message_id: request.id, member_id }))).execute()
      }
      return success({ recipients, bucket, expiresAt: inserted.expires_at.getTime(), duplicate: false })
    })
  } catch (error) {
    // The same id was stored at the same moment in another room: one of them wins, the other is a conflict.
    if (isUniqueViolation(error)) return failure('conflict')
    throw error
  }
}

export interface Fetched {
  iv: string
  ct: string
}

export async function fetchMessage (db: Kysely<Database>, cipher: AtRestCipher, request: MessageFetchRequest): Promise<Outcome<Fetched>> {
  const row = await db.selectFrom('messages')
    .leftJoin('message_recipients', (join) => join
      .onRef('message_recipients.message_id', '=', 'messages.id')
      .on('message_recipients.member_id', '=', request.memberId))
    .select(['messages.sealed', 'messages.key_id', 'message_recipients.viewed'])
    .where('messages.id', '=', request.id)
    .where('messages.room_hash', '=', request.roomHash)
    .where('messages.expires_at', '>', sql<Date>`now()`)
    .executeTakeFirst()
  // A message of another room answers exactly as a missing one: its existence is not revealed.
  if (row === undefined) return failure('not-found')
  if (row.viewed === null) return failure('not-recipient')
  if (row.viewed) return failure('already-gone')
  const [messageId, roomHash] = binding(request.id, request.roomHash)
  const envelope = cipher.open(messageId, roomHash, { keyId: row.key_id, sealed: row.sealed })
  return success({
    iv: envelope.subarray(0, IV_BYTES).toString('base64url'),
    ct: envelope.subarray(IV_BYTES).toString('base64url')
  })
}

export interface Acked {
  sender: string
  remaining: number
  gone: boolean
  /** False when this recipient had already viewed it: nothing changed, nobody needs telling. */
  changed: boolean
}

export async function ackMessage (db: Kysely<Database>, request: MessageAckRequest): Promise<Outcome<Acked>> {
  return db.transaction().execute(async (trx): Promise<Outcome<Acked>> => {
    // The row lock serialises acks of one message across replicas: exactly one of them deletes it.
    const message = await trx.selectFrom('messages').select(['id', 'sender_id'])
      .where('id', '=', request.id).where('room_hash', '=', request.roomHash)
      // Expired but not yet swept is gone too: it must not count as viewed.
      .where('expires_at', '>', sql<Date>`now()`)
      .forUpdate().executeTakeFirst()
    if (message === undefined) return failure('already-gone')
    const recipient = await trx.selectFrom('message_recipients').select('viewed')
      .where('message_id', '=', request.id).where('member_id', '=', request.memberId).executeTakeFirst()
    if (recipient === undefined) return failure('not-recipient')

    if (!recipient.viewed) {
      await trx.updateTable('message_recipients').set({ viewed: true })
        .where('message_id', '=', request.id).where('member_id', '=', request.memberId).execute()
    }
    const { remaining } = await trx.selectFrom('message_recipients').select((eb) => eb.fn.countAll<string>().as('remaining'))
      .where('message_id', '=', request.id).where('viewed', '=', false).executeTakeFirstOrThrow()
    const left = Number(remaining)
    if (left === 0) {
      await trx.deleteFrom('messages').where('id', '=', request.id).execute()
    }
    return success({ sender: message.sender_id, remaining: left, gone: left === 0, changed: !recipient.viewed })
  })
}
