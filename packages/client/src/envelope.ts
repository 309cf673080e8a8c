// Message envelopes, protocol v1 (docs/architecture.md §3):
//
//   plaintext = UTF-8 JSON.stringify({ text, nick, sentAt }), keys in that order
//   padded    = plaintext ‖ 0x80 ‖ zeros, to 256, 1024, 4096 or 16384 bytes
//   ct        = AES-256-GCM(messageKey, 96-bit IV, padded, AAD) with the 128-bit tag appended
//   AAD       = UTF-8 "ephemeral-chat/v1/msg" ‖ 32 room id bytes ‖ 16 message id bytes
//
// The AAD binds a ciphertext to its room and message id, so a server that moves an
// envelope to another room or another id is detected when it is opened.

import { GCM_IV_BYTES, GCM_TAG_BYTES } from '@ephemeral-chat/protocol'
import { decodeBase64url, encodeBase64url } from './base64url.js'
import type { RoomKeys } from './keys.js'
import { ROOM_ID_BYTES } from './keys.js'
import { MESSAGE_ID_BYTES } from './member.js'
import { bucketFor, isBucket, MAX_PLAINTEXT_BYTES, pad, unpad, type Bucket } from './padding.js'
import { concatBytes, randomBytes, subtle, utf8 } from './webcrypto.js'
import { ReasonError } from './errors.js'

export const ENVELOPE_AAD_CONTEXT = 'ephemeral-chat/v1/msg'
export const IV_BYTES = GCM_IV_BYTES
export const TAG_BYTES = GCM_TAG_BYTES

export interface MessagePayload {
  text: string
  nick: string
  /** Sender's clock, milliseconds since the epoch. */
  sentAt: number
}

export interface SealedEnvelope {
  /** base64url of the 12-byte IV. */
  iv: string
  /** base64url of ciphertext ‖ 16-byte tag; decoded length is `bucket + 16`. */
  ct: string
  bucket: Bucket
}

export interface SealOptions {
  /** Fixed IV for test vectors only. Reusing an IV under one key breaks AES-GCM: never set it otherwise. */
  iv?: Uint8Array
}

export type EnvelopeErrorReason =
  /** seal: the payload does not fit the largest bucket. */
  | 'too-large'
  /** bad base64url, wrong IV or message id length, ciphertext length not a bucket + 16. */
  | 'malformed'
  /** the tag does not verify: tampered bytes, wrong room, wrong message id or key. */
  | 'authentication'
  /** authentic, but no 0x80 marker or a non-zero byte after it. */
  | 'padding'
  /** authentic and padded, but not UTF-8 JSON of `{ text, nick, sentAt }` (also: seal given such a payload). */
  | 'payload'

export class EnvelopeError extends ReasonError<EnvelopeErrorReason> {
  override readonly name = 'EnvelopeError'
}

/** UTF-8 bytes of the plaintext before padding, for a byte counter next to the text box. */
export function payloadBytes (payload: MessagePayload): number {
  return encodePayload(payload).length
}

export async function sealMessage (
  keys: RoomKeys,
  messageId: string,
  payload: MessagePayload,
  options: SealOptions = {}
): Promise<SealedEnvelope> {
  const plaintext = encodePayload(payload)
  const bucket = bucketFor(plaintext.length)
  if (bucket === undefined) {
    throw new EnvelopeError('too-large', `message is ${plaintext.length} bytes; at most ${MAX_PLAINTEXT_BYTES} fit`)
  }
  const aad = additionalData(keys, decodeExact(messageId, MESSAGE_ID_BYTES, 'message id'))
  const iv = new Uint8Array(options.iv ?? randomBytes(IV_BYTES))
  if (iv.length !== IV_BYTES) throw new EnvelopeError('malformed', `IV must be ${IV_BYTES} bytes`)
  const ct = await subtle().encrypt(
    { name: 'AES-GCM', iv, additionalData: aad, tagLength: TAG_BYTES * 8 },
    keys.messageKey,
    pad(plaintext, bucket)
  )
  return { iv: encodeBase64url(iv), ct: encodeBase64url(new Uint8Array(ct)), bucket }
}

/**
 * Opens an envelope sealed for `messageId` in the room of `keys`. Rejects only with
 * `EnvelopeError` ('malformed', 'authentication', 'padding' or 'payload'); it never
 * returns bytes that did not authenticate.
 */
export async function openMessage (
  keys: RoomKeys,
  messageId: string,
  iv: string,
  ct: string
): Promise<MessagePayload> {
  try {
    return await openChecked(keys, messageId, iv, ct)
  } catch (error) {
    if (error instanceof EnvelopeError) throw error
    // Only reachable through arguments that break the types (e.g. from plain JS).
    throw new EnvelopeError('malformed', 'envelope or room keys are not well formed', { cause: error })
  }
}

async function openChecked (keys: RoomKeys, messageId: string, iv: string, ct: string): Promise<MessagePayload> {
  const aad = additionalData(keys, decodeExact(messageId, MESSAGE_ID_BYTES, 'message id'))
  const ivBytes = decodeExact(iv, IV_BYTES, 'IV')
  const ctBytes = decodeField(ct, 'ciphertext')
  if (!isBucket(ctBytes.length - TAG_BYTES)) {
    throw new EnvelopeError('malformed', 'ciphertext length is not a padding bucket plus the tag')
  }

  let padded: Uint8Array
  try {
    padded = new Uint8Array(
      await subtle().decrypt(
        { name: 'AES-GCM', iv: ivBytes, additionalData: aad, tagLength: TAG_BYTES * 8 },
        keys.messageKey,
        ctBytes
      )
    )
  } catch {
    throw new EnvelopeError('authentication', 'message does not authenticate for this room and id')
  }

  const plaintext = unpad(padded)
  if (plaintext === undefined) throw new EnvelopeError('padding', 'message padding is not well formed')
  return decodePayload(plaintext)
}

export function encodePayload (payload: MessagePayload): Uint8Array<ArrayBuffer> {
  if (!isPayload(payload)) {
    throw new EnvelopeError('payload', 'payload must be { text: string, nick: string, sentAt: finite number }')
  }
  // A fresh literal fixes the key order and drops any extra properties.
  return utf8(JSON.stringify({ text: payload.text, nick: payload.nick, sentAt: payload.sentAt }))
}

const decoder = new TextDecoder('utf-8', { fatal: true, ignoreBOM: true })

export function decodePayload (plaintext: Uint8Array): MessagePayload {
  let parsed: unknown
  try {
    parsed = JSON.parse(decoder.decode(plaintext))
  } catch {
    throw new EnvelopeError('payload', 'message is not UTF-8 JSON')
  }
  if (!isPayload(parsed)) throw new EnvelopeError('payload', 'message is not { text, nick, sentAt }')
  return { text: parsed.text, nick: parsed.nick, sentAt: parsed.sentAt }
}

function isPayload (value: unknown): value is MessagePayload {
  if (typeof value !== 'object' || value === null || Array.isArray(value)) return false
  const candidate = value as Record<string, unknown>
  return (
    typeof candidate.text === 'string' &&
    typeof candidate.nick === 'string' &&
    typeof candidate.sentAt === 'number' &&
    Number.isFinite(candidate.sentAt)
  )
}

function additionalData (keys: RoomKeys, messageIdBytes: Uint8Array): Uint8Array<ArrayBuffer> {
  if (keys.roomIdBytes.length !== ROOM_ID_BYTES) throw new EnvelopeError('malformed', 'room id must be 32 bytes')
  return concatBytes(utf8(ENVELOPE_AAD_CONTEXT), keys.roomIdBytes, messageIdBytes)
}

function decodeField (text: string, what: string): Uint8Array<ArrayBuffer> {
  try {
    return decodeBase64url(text)
  } catch {
    throw new EnvelopeError('malformed', `${what} is not base64url`)
  }
}

function decodeExact (text: string, length: number, what: string): Uint8Array<ArrayBuffer> {
  const bytes = decodeField(text, what)
  if (bytes.length !== length) throw new EnvelopeError('malformed', `${what} must be ${length} bytes`)
  return bytes
}
