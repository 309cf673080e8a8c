// Member identity, protocol v2 (docs/architecture.md §10 "signing key", "member id", "fingerprint"):
//
//   seed        = HKDF-SHA256(32 member secret bytes, empty salt, info "ephemeral-chat/v2/member-sign", 32 bytes)
//   signing key = the Ed25519 private key whose RFC 8032 seed is `seed`
//                 (imported into Web Crypto as PKCS#8: the fixed 16-byte prefix ‖ seed)
//   member id   = base64url(first 16 bytes of SHA-256("ephemeral-chat/v2/member-id" ‖ 32-byte public key))
//   fingerprint = Crockford base32 of the first 10 bytes of
//                 SHA-256("ephemeral-chat/v2/fingerprint" ‖ 32-byte public key), "XXXX XXXX XXXX XXXX"
//
// Unlike v1, the member secret is never sent: the gateway sees only the public key and a
// signature (src/v2/challenge.ts), and derives the id from the key itself, so the id is
// self-certifying. The same seed is the MLS leaf signature key: ts-mls takes the raw
// 32-byte seed as `signaturePrivateKey` and wraps it into the same PKCS#8 for Web Crypto.

import { decodeBase64url, encodeBase64url } from '../base64url.js'
import { groupSymbols } from '../code.js'
import { decodeMemberSecret } from '../member.js'
import { encodeCrockford } from '../crockford.js'
import { concatBytes, sha256, subtle, utf8, type WebCryptoKey } from '../webcrypto.js'
import { requireBytes } from './bytes.js'
import { hkdfParams } from '../keys.js'
import {
  ED25519_PUBLIC_KEY_BYTES,
  ED25519_SEED_BYTES,
  HKDF_INFO_MEMBER_SIGN,
  MEMBER_FINGERPRINT_BYTES,
  MEMBER_FINGERPRINT_CONTEXT,
  MEMBER_FINGERPRINT_GROUP_SIZE,
  MEMBER_FINGERPRINT_SEPARATOR,
  MEMBER_ID_BYTES_V2,
  MEMBER_ID_CONTEXT_V2
} from './params.js'

/**
 * DER of PKCS#8 PrivateKeyInfo { version 0, algorithm id-Ed25519 (1.3.101.112),
 * privateKey OCTET STRING { OCTET STRING (32 bytes) } } up to the seed (RFC 8410 §7).
 */
export const ED25519_PKCS8_PREFIX = new Uint8Array([
  0x30, 0x2e, 0x02, 0x01, 0x00, 0x30, 0x05, 0x06, 0x03, 0x2b, 0x65, 0x70, 0x04, 0x22, 0x04, 0x20
])

export interface MemberKeysV2 {
  /** Ed25519 public key, 32 bytes: the MLS leaf signature key and what the gateway sees. */
  readonly signaturePublicKey: Uint8Array
  /**
   * The 32-byte Ed25519 seed, for ts-mls (`signaturePrivateKey`). Secret: it never
   * leaves the client, and it is only as durable as the member secret it comes from.
   */
  readonly signaturePrivateKey: Uint8Array
  /** The same private key as a non-extractable Web Crypto key (usage sign). */
  readonly signingKey: WebCryptoKey
  /** base64url, 22 characters. */
  readonly memberId: string
  /** 16 Crockford symbols in four groups of four, e.g. "7XQ2 M9KD 0ZR4 HT3B". */
  readonly fingerprint: string
}

/**
 * Derives a member's v2 keys from its secret (base64url of 32 bytes, as `newMemberSecret`
 * makes, or the 32 bytes themselves). Throws `TypeError` for anything else.
 */
export async function deriveMemberKeysV2 (secret: string | Uint8Array): Promise<MemberKeysV2> {
  const secretBytes = decodeMemberSecret(secret)
  const crypto = subtle()
  const hkdfKey = await crypto.importKey('raw', secretBytes, 'HKDF', false, ['deriveBits'])
  const seed = new Uint8Array(await crypto.deriveBits(hkdfParams(HKDF_INFO_MEMBER_SIGN), hkdfKey, ED25519_SEED_BYTES * 8))
  const { signingKey, publicKey } = await importEd25519Seed(seed)
  return Object.freeze({
    signaturePublicKey: publicKey,
    signaturePrivateKey: seed,
    signingKey,
    memberId: await memberIdFromPublicKey(publicKey),
    fingerprint: await memberFingerprint(publicKey)
  })
}

/**
 * Imports a 32-byte Ed25519 seed as a non-extractable signing key and computes its
 * public key. Web Crypto cannot derive a public key from a private one directly; a
 * JWK export of the private key carries it (`x`), so the seed is imported once as an
 * extractable key for that export and again, non-extractable, for use.
 */
export async function importEd25519Seed (
  seed: Uint8Array
): Promise<{ signingKey: WebCryptoKey, publicKey: Uint8Array<ArrayBuffer> }> {
  requireBytes(seed, ED25519_SEED_BYTES, 'Ed25519 seed')
  const crypto = subtle()
  const pkcs8 = concatBytes(ED25519_PKCS8_PREFIX, seed)
  try {
    const exportable = await crypto.importKey('pkcs8', pkcs8, { name: 'Ed25519' }, true, ['sign'])
    const jwk = await crypto.exportKey('jwk', exportable)
    if (typeof jwk.x !== 'string') throw new Error('Web Crypto gave an Ed25519 JWK without its public key')
    const publicKey = decodeBase64url(jwk.x)
    if (publicKey.length !== ED25519_PUBLIC_KEY_BYTES) throw new Error('Web Crypto gave an Ed25519 public key of the wrong length')
    const signingKey = await crypto.importKey('pkcs8', pkcs8, { name: 'Ed25519' }, false, ['sign'])
    return { signingKey, publicKey }
  } finally {
    pkcs8.fill(0)
  }
}

/** base64url(first 16 bytes of SHA-256("ephemeral-chat/v2/member-id" ‖ public key)). */
export async function memberIdFromPublicKey (signaturePublicKey: Uint8Array): Promise<string> {
  requireBytes(signaturePublicKey, ED25519_PUBLIC_KEY_BYTES, 'signature public key')
  const digest = await sha256(concatBytes(utf8(MEMBER_ID_CONTEXT_V2), signaturePublicKey))
  return encodeBase64url(digest.subarray(0, MEMBER_ID_BYTES_V2))
}

/**
 * What a person compares to tell members apart (shown next to a nickname): the first
 * 80 bits of SHA-256("ephemeral-chat/v2/fingerprint" ‖ public key) as 16 Crockford
 * symbols, four groups of four. Stable for a member within a room (its key is derived
 * from its per-room secret). No secret: whoever sees the public key (the gateway, every
 * member) can compute it, as they can the member id.
 */
export async function memberFingerprint (signaturePublicKey: Uint8Array): Promise<string> {
  requireBytes(signaturePublicKey, ED25519_PUBLIC_KEY_BYTES, 'signature public key')
  const digest = await sha256(concatBytes(utf8(MEMBER_FINGERPRINT_CONTEXT), signaturePublicKey))
  const symbols = encodeCrockford(digest.subarray(0, MEMBER_FINGERPRINT_BYTES), (MEMBER_FINGERPRINT_BYTES * 8) / 5)
  return groupSymbols(symbols, MEMBER_FINGERPRINT_GROUP_SIZE, MEMBER_FINGERPRINT_SEPARATOR)
}
