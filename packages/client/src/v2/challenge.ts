// Gateway authentication, protocol v2 (docs/architecture.md §10 "gateway challenge"):
//
//   signed = "ephemeral-chat/v2/ws-join" ‖ challenge (32 bytes) ‖ room id bytes (32)
//   join   = { roomId, signature public key, Ed25519(signing key, signed) }
//
// The gateway sends a fresh challenge on connect, checks the signature with
// `verifyJoinChallenge` and derives the member id from the public key itself
// (`memberIdFromPublicKey`). Binding the room id stops a signature made for one room
// from joining another; the fresh challenge stops a replay on another connection.
//
// Both sides live here: this module needs only Web Crypto, which the gateway (Node 20+)
// has too. packages/protocol stays free of crypto.

import { ROOM_ID_BYTES } from '@ephemeral-chat/protocol'
import { concatBytes, subtle, toHex, utf8, type WebCryptoKey } from '../webcrypto.js'
import { copyBytes, requireBytes } from './bytes.js'
import { ED25519_PUBLIC_KEY_BYTES, ED25519_SIGNATURE_BYTES, WS_CHALLENGE_BYTES, WS_JOIN_CONTEXT } from './params.js'

/** The bytes a joining member signs. Throws `RangeError` unless both inputs are 32 bytes. */
export function joinChallengeMessage (challenge: Uint8Array, roomIdBytes: Uint8Array): Uint8Array<ArrayBuffer> {
  requireBytes(challenge, WS_CHALLENGE_BYTES, 'challenge')
  requireBytes(roomIdBytes, ROOM_ID_BYTES, 'room id')
  return concatBytes(utf8(WS_JOIN_CONTEXT), challenge, roomIdBytes)
}

/** The 64-byte Ed25519 signature a member sends with `join` (signing key from `deriveMemberKeysV2`). */
export async function signJoinChallenge (
  signingKey: WebCryptoKey,
  challenge: Uint8Array,
  roomIdBytes: Uint8Array
): Promise<Uint8Array<ArrayBuffer>> {
  const message = joinChallengeMessage(challenge, roomIdBytes)
  return new Uint8Array(await subtle().sign({ name: 'Ed25519' }, signingKey, message))
}

/**
 * Whether `signature` is the member's signature over this challenge and room. The
 * gateway supplies `challenge` and `roomIdBytes`, so a wrong length there throws
 * `RangeError`; the member supplies the public key and signature, so any wrong value
 * there, a wrong length or a point that is not a valid key included, is just `false`.
 */
export async function verifyJoinChallenge (
  signaturePublicKey: Uint8Array,
  challenge: Uint8Array,
  roomIdBytes: Uint8Array,
  signature: Uint8Array
): Promise<boolean> {
  const message = joinChallengeMessage(challenge, roomIdBytes)
  if (!(signaturePublicKey instanceof Uint8Array) || signaturePublicKey.length !== ED25519_PUBLIC_KEY_BYTES) return false
  if (!(signature instanceof Uint8Array) || signature.length !== ED25519_SIGNATURE_BYTES) return false
  if (isSmallOrderEd25519Key(signaturePublicKey)) return false
  const crypto = subtle()
  try {
    const key = await crypto.importKey('raw', copyBytes(signaturePublicKey), { name: 'Ed25519' }, false, ['verify'])
    return await crypto.verify({ name: 'Ed25519' }, key, copyBytes(signature), message)
  } catch {
    // An encoding that is not a curve point: no signature can be valid under it.
    return false
  }
}

/**
 * The encodings of the eight points of small order (the identity, the point of order 2,
 * those of order 4 and 8), as their y coordinate with the sign bit of x cleared, the
 * non-canonical y = p and y = p + 1 included. Web Crypto (OpenSSL) accepts such a public
 * key, and under it a forged signature verifies for every message (for the identity:
 * R = identity, S = 0), so it proves no possession of anything. Computed from the curve
 * equation (the order-8 points have d·y⁴ + 2y² − 1 = 0).
 */
const SMALL_ORDER_Y = [
  '0000000000000000000000000000000000000000000000000000000000000000', // y = 0: order 4
  '0100000000000000000000000000000000000000000000000000000000000000', // y = 1: the identity
  '26e8958fc2b227b045c3f489f2ef98f0d5dfac05d3c63339b13802886d53fc05', // order 8
  'c7176a703d4dd84fba3c0b760d10670f2a2053fa2c39ccc64ec7fd7792ac037a', // order 8
  'ecffffffffffffffffffffffffffffffffffffffffffffffffffffffffffff7f', // y = p − 1: order 2
  'edffffffffffffffffffffffffffffffffffffffffffffffffffffffffffff7f', // y = p (≡ 0): order 4
  'eeffffffffffffffffffffffffffffffffffffffffffffffffffffffffffff7f' // y = p + 1 (≡ 1): the identity
]

/** Whether a 32-byte Ed25519 public key encodes a point of small order (either sign of x). */
export function isSmallOrderEd25519Key (key: Uint8Array): boolean {
  const y = new Uint8Array(key)
  y[ED25519_PUBLIC_KEY_BYTES - 1] = y[ED25519_PUBLIC_KEY_BYTES - 1]! & 0x7f
  return SMALL_ORDER_Y.includes(toHex(y))
}
