// Code keys, protocol v2 (docs/architecture.md §10):
//
//   master       = PBKDF2-HMAC-SHA256(UTF-8 normalised v2 code, salt "ephemeral-chat/v2/room",
//                                     600 000 iterations, 256 bits)
//   roomId       = HKDF-SHA256(master, empty salt, info "ephemeral-chat/v2/room-id", 32 bytes)
//   groupInfoKey = HKDF-SHA256(master, empty salt, info "ephemeral-chat/v2/group-info", 32 bytes)
//                  as a non-extractable AES-GCM-256 key
//   joinKey      = HKDF-SHA256(master, empty salt, info "ephemeral-chat/v2/join", 32 bytes)
//                  as a non-extractable HMAC-SHA256 key
//
// No message is ever encrypted under a code key: they only find the room (room id), hide
// the published GroupInfo from the server (groupInfoKey) and prove to the members that a
// joiner knows the code (joinKey). Messages are MLS's business.

import { encodeBase64url } from '../base64url.js'
import { deriveMasterKey, hkdfParams } from '../keys.js'
import { subtle, type WebCryptoKey } from '../webcrypto.js'
import { normalizeRoomCodeV2 } from './code.js'
import {
  CODE_KEY_BYTES,
  HKDF_INFO_GROUP_INFO_KEY,
  HKDF_INFO_JOIN_KEY,
  HKDF_INFO_ROOM_ID_V2,
  PBKDF2_SALT_V2
} from './params.js'

export interface RoomKeysV2 {
  readonly version: 2
  /** base64url (no padding) of `roomIdBytes`: the only room value the server receives. */
  readonly roomId: string
  readonly roomIdBytes: Uint8Array
  /** Non-extractable AES-GCM-256 key (encrypt, decrypt) sealing the published GroupInfo. */
  readonly groupInfoKey: WebCryptoKey
  /** Non-extractable HMAC-SHA256 key (sign, verify) for join proofs. */
  readonly joinKey: WebCryptoKey
}

/**
 * Derives the v2 code keys from a v2 room code in any accepted spelling. Throws
 * `RoomCodeError` if it is not a code and `RoomCodeVersionError` for a v1 code, before
 * any work. Costs one PBKDF2 run at 600 000 iterations: cache the result per room.
 */
export async function deriveRoomKeysV2 (code: string): Promise<RoomKeysV2> {
  const master = await deriveMasterV2(normalizeRoomCodeV2(code))
  const crypto = subtle()
  const roomIdBytes = new Uint8Array(await crypto.deriveBits(hkdfParams(HKDF_INFO_ROOM_ID_V2), master, CODE_KEY_BYTES * 8))
  const groupInfoKey = await crypto.deriveKey(
    hkdfParams(HKDF_INFO_GROUP_INFO_KEY),
    master,
    { name: 'AES-GCM', length: CODE_KEY_BYTES * 8 },
    false,
    ['encrypt', 'decrypt']
  )
  const joinKey = await crypto.deriveKey(
    hkdfParams(HKDF_INFO_JOIN_KEY),
    master,
    { name: 'HMAC', hash: 'SHA-256', length: CODE_KEY_BYTES * 8 },
    false,
    ['sign', 'verify']
  )
  return Object.freeze({ version: 2, roomId: encodeBase64url(roomIdBytes), roomIdBytes, groupInfoKey, joinKey })
}

/**
 * The master secret of a NORMALISED v2 code as a non-extractable HKDF key. Internal:
 * deriveRoomKeysV2 and the test-vector generator (which needs the raw code keys) use it.
 */
export async function deriveMasterV2 (normalisedCode: string): Promise<WebCryptoKey> {
  return deriveMasterKey(normalisedCode, PBKDF2_SALT_V2)
}
