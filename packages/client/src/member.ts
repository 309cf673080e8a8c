// Member identity (docs/architecture.md §3 "members"). A client keeps one random secret per room
// (sessionStorage in the browser) and sends it when joining; the gateway derives the
// public id from it, so nobody can claim another member's id without its secret.

import { MEMBER_ID_BYTES, MEMBER_SECRET_BYTES, MESSAGE_ID_BYTES } from '@ephemeral-chat/protocol'
import { Base64urlError, decodeBase64url, encodeBase64url } from './base64url.js'
import { randomBytes, sha256 } from './webcrypto.js'

export { MEMBER_ID_BYTES, MEMBER_SECRET_BYTES, MESSAGE_ID_BYTES }

/** 32 random bytes, base64url without padding (43 characters). */
export function newMemberSecret (): string {
  return encodeBase64url(randomBytes(MEMBER_SECRET_BYTES))
}

/**
 * The public member id for a secret: base64url (no padding, 22 characters) of the
 * first 16 bytes of SHA-256 over the secret's 32 DECODED bytes — not over its base64url
 * text. Throws `TypeError` unless `secret` is strict base64url of exactly 32 bytes.
 */
export async function memberIdFromSecret (secret: string): Promise<string> {
  return encodeBase64url((await sha256(decodeMemberSecret(secret))).subarray(0, MEMBER_ID_BYTES))
}

/**
 * The 32 bytes of a member secret (strict base64url, or the bytes themselves, copied), for
 * either protocol version. Throws `TypeError` for anything else. Internal to the SDK.
 */
export function decodeMemberSecret (secret: string | Uint8Array): Uint8Array<ArrayBuffer> {
  let bytes: Uint8Array<ArrayBuffer>
  if (typeof secret === 'string') {
    try {
      bytes = decodeBase64url(secret)
    } catch (error) {
      if (error instanceof Base64urlError) throw new TypeError(`member secret is not base64url: ${error.message}`)
      throw error
    }
  } else if (secret instanceof Uint8Array) {
    bytes = new Uint8Array(secret)
  } else {
    throw new TypeError('member secret must be a base64url string or a Uint8Array')
  }
  if (bytes.length !== MEMBER_SECRET_BYTES) {
    throw new TypeError(`member secret must be ${MEMBER_SECRET_BYTES} bytes, got ${bytes.length}`)
  }
  return bytes
}

/** 16 random bytes, base64url without padding (22 characters); made by the sender of a message. */
export function newMessageId (): string {
  return encodeBase64url(randomBytes(MESSAGE_ID_BYTES))
}
