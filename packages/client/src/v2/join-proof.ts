// Join proof, protocol v2 (docs/architecture.md §10 "join proof"):
//
//   proof = HMAC-SHA256(joinKey, "ephemeral-chat/v2/join" ‖ group id (32) ‖ epoch (uint64 BE)
//                       ‖ signature public key (32))
//
// A joiner puts it in its external commit's authenticated data; members reject a commit
// without a valid proof, so only someone who knows the room code can join, and the
// server, which does not know it, cannot add anyone. The epoch is the epoch the external
// commit is made in (the GroupInfo's), and the public key is the joiner's new leaf key,
// so a proof cannot be replayed in another epoch or for another key.

import { concatBytes, subtle, utf8, type WebCryptoKey } from '../webcrypto.js'
import { copyBytes, encodeEpoch, requireBytes } from './bytes.js'
import { ED25519_PUBLIC_KEY_BYTES, GROUP_ID_BYTES, JOIN_PROOF_BYTES, JOIN_PROOF_CONTEXT } from './params.js'

/**
 * The bytes the proof authenticates. Throws `RangeError` for a group id or public key
 * that is not 32 bytes or an epoch outside uint64.
 */
export function joinProofMessage (
  groupId: Uint8Array,
  epoch: bigint | number,
  signaturePublicKey: Uint8Array
): Uint8Array<ArrayBuffer> {
  requireBytes(groupId, GROUP_ID_BYTES, 'group id')
  requireBytes(signaturePublicKey, ED25519_PUBLIC_KEY_BYTES, 'signature public key')
  return concatBytes(utf8(JOIN_PROOF_CONTEXT), groupId, encodeEpoch(epoch), signaturePublicKey)
}

/** The 32-byte join proof (`joinKey` from `deriveRoomKeysV2`). */
export async function computeJoinProof (
  joinKey: WebCryptoKey,
  groupId: Uint8Array,
  epoch: bigint | number,
  signaturePublicKey: Uint8Array
): Promise<Uint8Array<ArrayBuffer>> {
  const message = joinProofMessage(groupId, epoch, signaturePublicKey)
  return new Uint8Array(await subtle().sign({ name: 'HMAC' }, joinKey, message))
}

/**
 * Whether `proof` is valid for this group, epoch and key. Compared in constant time by
 * Web Crypto's HMAC verify. The group id and epoch come from the verifier's own MLS
 * state and are checked like `computeJoinProof`'s (`RangeError`); the key and the proof
 * come from the joiner's commit, so a key or proof of the wrong length is just `false`.
 */
export async function verifyJoinProof (
  joinKey: WebCryptoKey,
  groupId: Uint8Array,
  epoch: bigint | number,
  signaturePublicKey: Uint8Array,
  proof: Uint8Array
): Promise<boolean> {
  requireBytes(groupId, GROUP_ID_BYTES, 'group id')
  encodeEpoch(epoch)
  if (!(signaturePublicKey instanceof Uint8Array) || signaturePublicKey.length !== ED25519_PUBLIC_KEY_BYTES) return false
  if (!(proof instanceof Uint8Array) || proof.length !== JOIN_PROOF_BYTES) return false
  const message = joinProofMessage(groupId, epoch, signaturePublicKey)
  return subtle().verify({ name: 'HMAC' }, joinKey, copyBytes(proof), message)
}
