/**
 * The message lifecycle (docs: store idempotent on the id within its room, fetch
 * by a recipient, ack deleting the row with its last recipient in the same
 * transaction), each for a whole batch of requests in one statement.
 */
import {
  bucketOfCiphertext, bucketOfMlsMessage, GCM_IV_BYTES, HandshakeHeaderError, MAX_PENDING_MESSAGES_PER_ROOM, MESSAGE_AD_LABEL_V2, readApplicationHeader,
  type GoneReason, type GroupSendRequest, type MessageAckRequest, type MessageFetchRequest, type MessageStoreRequest, type PaddingBucket
} from '@ephemeral-chat/protocol'
import type { AtRestCipher } from '../at-rest.js'
import { ACK, byOrd, FETCH, run, STORE, type Queryable } from '../db/statements.js'
import { failure, success, type Result } from '@ephemeral-chat/protocol'

/** The retry hint of a store refused because its room is full. */
export const FULL_ROOM_RETRY_MS = 1000

/** The bytes the at-rest layer binds a row to. */
function binding (id: string, roomHash: string): [Buffer, Buffer] {
  return [Buffer.from(id, 'base64url'), Buffer.from(roomHash, 'hex')]
}

export interface Stored {
  recipients: string[]
  bucket: PaddingBucket
  expiresAt: number
  duplicate: boolean
  /** A resend of a message already deleted: why (it is not stored again, nor announced). */
  gone?: GoneReason
}

/**
 * A store request whose envelope has a padding bucket's size (checked before it queues):
 * v1, IV ‖ ciphertext; v2, the MLS application message with the epoch and group its header names.
 */
export interface StoreItem {
  request: MessageStoreRequest | GroupSendRequest
  envelope: Buffer
  bucket: PaddingBucket
  /** v2 only. */
  group?: { epoch: number, groupId: string }
}

/** The envelope (IV ‖ ciphertext) and its bucket, or undefined when the ciphertext fits no bucket exactly. */
export function storeItem (request: MessageStoreRequest): StoreItem | undefined {
  const ct = Buffer.from(request.ct, 'base64url')
  const bucket = bucketOfCiphertext(ct.length)
  if (bucket === undefined) return undefined
  return { request, envelope: Buffer.concat([Buffer.from(request.iv, 'base64url'), ct]), bucket }
}

const MESSAGE_AD_LABEL = Buffer.from(MESSAGE_AD_LABEL_V2, 'utf8')

/**
 * A v2 send as a store item, or why not: `too-large` when its size is in no bucket's window,
 * `bad-frame` when its clear header is not an application message of the request's epoch
 * whose authenticated data names the request's id. (The group is checked against the room's
 * by the statement.)
 */
export function sendItem (request: GroupSendRequest): StoreItem | 'too-large' | 'bad-frame' {
  const message = Buffer.from(request.message, 'base64url')
  const bucket = bucketOfMlsMessage(message.length)
  if (bucket === undefined) return 'too-large'
  let header: ReturnType<typeof readApplicationHeader>
  try {
    header = readApplicationHeader(message)
  } catch (error) {
    if (error instanceof HandshakeHeaderError) return 'bad-frame'
    throw error
  }
  // A group id is 32 bytes (the room's group's is): any other is malformed, not stale.
  if (header.groupId.length !== 32) return 'bad-frame'
  const expectedAd = Buffer.concat([MESSAGE_AD_LABEL, Buffer.from(request.id, 'base64url')])
  if (header.epoch !== BigInt(request.epoch) || !expectedAd.equals(header.authenticatedData)) return 'bad-frame'
  return { request, envelope: message, bucket, group: { epoch: request.epoch, groupId: Buffer.from(header.groupId).toString('base64url') } }
}

export async function storeMessages (db: Queryable, cipher: AtRestCipher, ttlMs: number, items: readonly StoreItem[]): Promise<Array<Result<Stored>>> {
  const sealed = items.map(({ request, envelope }) => cipher.seal(...binding(request.id, request.roomHash), envelope))
  const rows = byOrd(await run(db, STORE, [
    items.map((item) => item.request.roomHash),
    items.map((item) => item.request.memberId),
    items.map((item) => item.request.id),
    sealed.map((s) => s.sealed),
    sealed.map((s) => s.keyId),
    items.map((item) => item.bucket),
    items.map((item) => item.group?.epoch ?? null),
    items.map((item) => item.group?.groupId ?? null),
    ttlMs,
    MAX_PENDING_MESSAGES_PER_ROOM
  ]), items.length)
  return items.map((item, index): Result<Stored> => {
    const row = rows[index]
    if (row === undefined) throw new Error('vault_store returned no row for a request')
    switch (row.outcome) {
      case 'not-joined':
      case 'stale-epoch':
      case 'alone':
      case 'protocol-mismatch':
        return failure(row.outcome)
      case 'room-busy':
        // Full (MAX_PENDING_MESSAGES_PER_ROOM): room for more comes as messages are viewed. The
        // hint also lets the gateways refuse the room's sends themselves meanwhile, so a flood
        // of a full room does not cost a seal and a PostgreSQL round trip per send.
        return failure('room-busy', FULL_ROOM_RETRY_MS)
      case 'stored':
        return success({ recipients: row.recipient_ids ?? [], bucket: item.bucket, expiresAt: Number(row.expires), duplicate: false })
      case 'gone':
        return success({ recipients: [], bucket: item.bucket, expiresAt: Number(row.expires), duplicate: true, gone: row.gone_reason ?? 'viewed' })
      case 'duplicate': {
        // A resend of the same id must be the same message from the same sender.
        if (row.stored_sender !== item.request.memberId || row.stored_sealed === null || row.stored_key_id === null) return failure('conflict')
        const stored = cipher.open(...binding(item.request.id, item.request.roomHash), { keyId: row.stored_key_id, sealed: row.stored_sealed })
        if (!stored.equals(item.envelope)) return failure('conflict')
        return success({ recipients: row.recipient_ids ?? [], bucket: row.stored_bucket as PaddingBucket, expiresAt: Number(row.expires), duplicate: true })
      }
    }
  })
}

export interface Fetched {
  iv: string
  ct: string
}

/** v1 requests get {iv, ct} of v1 messages; v2 requests (group.read) the MLS message of v2 ones. Another kind answers as a missing message. */
export interface FetchItem { request: MessageFetchRequest, v2: boolean }
export type FetchedAny = Fetched | { message: string }

export async function fetchMessages (db: Queryable, cipher: AtRestCipher, items: readonly FetchItem[]): Promise<Array<Result<FetchedAny>>> {
  const requests = items.map((item) => item.request)
  const rows = byOrd(await run(db, FETCH, [
    requests.map((r) => r.roomHash),
    requests.map((r) => r.memberId),
    requests.map((r) => r.id)
  ]), requests.length)
  return requests.map((request, index): Result<FetchedAny> => {
    const row = rows[index]
    // A message of another room answers exactly as a missing one: its existence is not revealed.
    if (row === undefined || row.sealed === null || row.key_id === null || (row.epoch !== null) !== (items[index] as FetchItem).v2) return failure('not-found')
    if (row.recipient !== true) return failure('not-recipient')
    if (row.unviewed !== true) return failure('already-gone')
    const envelope = cipher.open(...binding(request.id, request.roomHash), { keyId: row.key_id, sealed: row.sealed })
    if (row.epoch !== null) return success({ message: envelope.toString('base64url') })
    return success({
      iv: envelope.subarray(0, GCM_IV_BYTES).toString('base64url'),
      ct: envelope.subarray(GCM_IV_BYTES).toString('base64url')
    })
  })
}

export interface Acked {
  sender: string
  remaining: number
  gone: boolean
  /** False when this recipient had already viewed it: nothing changed, nobody needs telling. */
  changed: boolean
}

export async function ackMessages (db: Queryable, requests: readonly MessageAckRequest[]): Promise<Array<Result<Acked>>> {
  const rows = byOrd(await run(db, ACK, [
    requests.map((r) => r.roomHash),
    requests.map((r) => r.memberId),
    requests.map((r) => r.id)
  ]), requests.length)
  return rows.map((row): Result<Acked> => {
    switch (row.outcome) {
      case 'already-gone':
      case 'not-recipient':
        return failure(row.outcome)
      default:
        return success({ sender: row.sender ?? '', remaining: row.remaining ?? 0, gone: row.outcome === 'gone', changed: row.outcome !== 'repeated' })
    }
  })
}
