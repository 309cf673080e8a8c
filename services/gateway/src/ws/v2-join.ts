/**
 * Protocol v2 join (docs/architecture.md §10 "gateway challenge"): a member proves it holds
 * the signing key whose public key names it, over this connection's fresh challenge and the
 * room id, and the gateway derives its member id from that key. node:crypto, synchronous,
 * like the v1 derivations next to it; packages/e2e ties both to the SDK's Web Crypto code.
 */
import { ED25519_PUBLIC_KEY_BYTES, ED25519_SIGNATURE_BYTES, MEMBER_ID_LABEL_V2, ROOM_ID_BYTES, WS_CHALLENGE_BYTES, WS_JOIN_LABEL_V2 } from '@ephemeral-chat/protocol'
import { createHash, createHmac, createPublicKey, randomBytes, verify } from 'node:crypto'

const WS_JOIN_LABEL = Buffer.from(WS_JOIN_LABEL_V2, 'utf8')
const MEMBER_ID_LABEL = Buffer.from(MEMBER_ID_LABEL_V2, 'utf8')

/**
 * The encodings of the Ed25519 points of small order, as y with the sign bit of x cleared
 * (the non-canonical y = p and y = p + 1 included). OpenSSL accepts such a public key, and
 * under it a forged signature verifies for every message: it proves nothing. The same list
 * as the SDK's `isSmallOrderEd25519Key`, computed from the curve equation.
 */
const SMALL_ORDER_Y = new Set([
  '0000000000000000000000000000000000000000000000000000000000000000',
  '0100000000000000000000000000000000000000000000000000000000000000',
  '26e8958fc2b227b045c3f489f2ef98f0d5dfac05d3c63339b13802886d53fc05',
  'c7176a703d4dd84fba3c0b760d10670f2a2053fa2c39ccc64ec7fd7792ac037a',
  'ecffffffffffffffffffffffffffffffffffffffffffffffffffffffffffff7f',
  'edffffffffffffffffffffffffffffffffffffffffffffffffffffffffffff7f',
  'eeffffffffffffffffffffffffffffffffffffffffffffffffffffffffffff7f'
])

/**
 * Each connection's challenge: HMAC-SHA256 under a key this gateway process draws at start,
 * of the connection's number (unique for the process's life). Unpredictable to clients and
 * never repeated, and nothing is kept per connection to remember it.
 */
export function challenges (): (connectionId: number) => Buffer {
  const key = randomBytes(32)
  return (connectionId) => {
    const id = Buffer.alloc(8)
    id.writeBigUInt64BE(BigInt(connectionId))
    return createHmac('sha256', key).update(id).digest()
  }
}

/** Whether a 32-byte Ed25519 public key encodes a point of small order (either sign of x). */
export function isSmallOrderKey (publicKey: Buffer): boolean {
  const y = Buffer.from(publicKey)
  y[ED25519_PUBLIC_KEY_BYTES - 1] = (y[ED25519_PUBLIC_KEY_BYTES - 1] ?? 0) & 0x7f
  return SMALL_ORDER_Y.has(y.toString('hex'))
}

/** Whether `signature` is the holder of `publicKey` signing this challenge and room id. Anything malformed is simply false. */
export function verifyJoinV2 (publicKey: Buffer, challenge: Buffer, roomIdBytes: Buffer, signature: Buffer): boolean {
  if (challenge.length !== WS_CHALLENGE_BYTES || roomIdBytes.length !== ROOM_ID_BYTES) throw new RangeError('the challenge and the room id are 32 bytes each')
  if (publicKey.length !== ED25519_PUBLIC_KEY_BYTES || signature.length !== ED25519_SIGNATURE_BYTES || isSmallOrderKey(publicKey)) return false
  try {
    const key = createPublicKey({ key: { kty: 'OKP', crv: 'Ed25519', x: publicKey.toString('base64url') }, format: 'jwk' })
    return verify(null, Buffer.concat([WS_JOIN_LABEL, challenge, roomIdBytes]), key, signature)
  } catch {
    // Not a point on the curve: no signature is valid under it.
    return false
  }
}

/** The v2 member id of a public key: base64url of the first 16 bytes of SHA-256(label ‖ key). */
export function memberIdOfPublicKey (publicKey: Buffer): string {
  return createHash('sha256').update(MEMBER_ID_LABEL).update(publicKey).digest().subarray(0, 16).toString('base64url')
}
