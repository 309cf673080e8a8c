// Room key derivation, protocol v1 (docs/architecture.md §3):
//
//   master     = PBKDF2-HMAC-SHA256(UTF-8 normalised code, salt "ephemeral-chat/v1/room",
//                                   600 000 iterations, 256 bits)
//   roomId     = HKDF-SHA256(master, salt = empty, info "ephemeral-chat/v1/room-id", 32 bytes)
//   messageKey = HKDF-SHA256(master, salt = empty, info "ephemeral-chat/v1/message-key",
//                            32 bytes) imported as a non-extractable AES-GCM-256 key
//
// The salt is fixed because both members must reach the same keys with no exchange;
// a 128-bit random code makes precomputation hopeless anyway. The master secret never
// leaves this function: it lives only in a non-extractable HKDF key.

import { ROOM_ID_BYTES } from '@ephemeral-chat/protocol'
import { encodeBase64url } from './base64url.js'
import { normalizeRoomCode } from './code.js'
import { encodeCrockford } from './crockford.js'
import { concatBytes, sha256, subtle, toHex, utf8, type WebCryptoKey } from './webcrypto.js'

export const PBKDF2_ITERATIONS = 600_000
export const PBKDF2_SALT = 'ephemeral-chat/v1/room'
export const MASTER_SECRET_BITS = 256
export const HKDF_INFO_ROOM_ID = 'ephemeral-chat/v1/room-id'
export const HKDF_INFO_MESSAGE_KEY = 'ephemeral-chat/v1/message-key'
export { ROOM_ID_BYTES }
export const FINGERPRINT_CONTEXT = 'ephemeral-chat/v1/fingerprint'

export interface RoomKeys {
  /** base64url (no padding) of `roomIdBytes`: the only room value the server receives. */
  readonly roomId: string
  readonly roomIdBytes: Uint8Array
  /** Non-extractable AES-GCM-256 key, usages encrypt and decrypt. Never leaves the client. */
  readonly messageKey: WebCryptoKey
}

/**
 * Derives the room id and message key from a room code in any accepted spelling
 * (throws `RoomCodeError` before any work if it does not normalise). Costs one
 * PBKDF2 run at 600 000 iterations: cache the result per room.
 */
export async function deriveRoomKeys (code: string): Promise<RoomKeys> {
  const master = await deriveMasterKey(normalizeRoomCode(code), PBKDF2_SALT)
  const crypto = subtle()
  const roomIdBytes = new Uint8Array(await crypto.deriveBits(hkdfParams(HKDF_INFO_ROOM_ID), master, ROOM_ID_BYTES * 8))
  const messageKey = await crypto.deriveKey(
    hkdfParams(HKDF_INFO_MESSAGE_KEY),
    master,
    { name: 'AES-GCM', length: 256 },
    false,
    ['encrypt', 'decrypt']
  )
  return Object.freeze({ roomId: encodeBase64url(roomIdBytes), roomIdBytes, messageKey })
}

/**
 * PBKDF2-HMAC-SHA256(UTF-8 normalised code, `salt`, 600 000 iterations, 256 bits) as a
 * non-extractable HKDF key: the master secret of either protocol version (the salt names
 * the version). The raw bits are zeroed once imported. Internal to the SDK.
 */
export async function deriveMasterKey (normalisedCode: string, salt: string): Promise<WebCryptoKey> {
  const crypto = subtle()
  const password = await crypto.importKey('raw', utf8(normalisedCode), 'PBKDF2', false, ['deriveBits'])
  const masterBits = await crypto.deriveBits(
    { name: 'PBKDF2', hash: 'SHA-256', salt: utf8(salt), iterations: PBKDF2_ITERATIONS },
    password,
    MASTER_SECRET_BITS
  )
  const master = await crypto.importKey('raw', masterBits, 'HKDF', false, ['deriveBits', 'deriveKey'])
  new Uint8Array(masterBits).fill(0)
  return master
}

/** HKDF-SHA256 with an empty salt and `info` as UTF-8, as every derivation of both versions uses it. Internal to the SDK. */
export function hkdfParams (info: string) {
  return { name: 'HKDF', hash: 'SHA-256', salt: new Uint8Array(0), info: utf8(info) }
}

/** Hex SHA-256 of the 32 room id bytes: what the gateway computes, stores and names subjects with. */
export async function roomHashHex (roomIdBytes: Uint8Array): Promise<string> {
  return toHex(await sha256(new Uint8Array(roomIdBytes)))
}

/**
 * A short code two members read to each other to confirm they joined the same room:
 * the first 40 bits of SHA-256("ephemeral-chat/v1/fingerprint" ‖ room id bytes) as
 * 8 Crockford symbols in two groups of four, e.g. "7XQ2-M9KD". The domain-separated
 * hash is one-way and unrelated to the room hash, so showing it (or a screenshot of it)
 * reveals neither the room id nor the room hash. 40 bits are plenty for a human
 * comparison; they are not meant to resist a search for a colliding room id.
 */
export async function roomFingerprint (roomIdBytes: Uint8Array): Promise<string> {
  const digest = await sha256(concatBytes(utf8(FINGERPRINT_CONTEXT), roomIdBytes))
  const symbols = encodeCrockford(digest.subarray(0, 5), 8)
  return `${symbols.slice(0, 4)}-${symbols.slice(4)}`
}
