/**
 * The second layer (docs/architecture.md §3 "at rest"): the vault seals every client envelope
 * again under ENCRYPTION_KEY so a database dump alone reveals nothing. AAD binds a
 * row to its message id and room hash, so rows cannot be swapped between messages.
 */
import { createCipheriv, createDecipheriv, createHash, randomBytes } from 'node:crypto'

const AAD_LABEL = Buffer.from('ephemeral-chat/v1/at-rest', 'utf8')
const IV_BYTES = 12
const TAG_BYTES = 16

export class AtRestError extends Error {
  constructor (message: string) {
    super(message)
    this.name = 'AtRestError'
  }
}

export interface AtRestKey {
  /** First 8 hex digits of SHA-256 of the key, stored with each row. */
  readonly id: string
  readonly key: Buffer
}

export function atRestKey (key: Buffer): AtRestKey {
  if (key.length !== 32) throw new AtRestError('an at-rest key must be 32 bytes')
  return Object.freeze({ id: createHash('sha256').update(key).digest('hex').slice(0, 8), key })
}

export interface Sealed {
  keyId: string
  sealed: Buffer
}

export interface AtRestCipher {
  readonly activeKeyId: string
  seal (messageId: Buffer, roomHash: Buffer, envelope: Uint8Array): Sealed
  /** Throws AtRestError when the key is unknown or the row was tampered with or moved. */
  open (messageId: Buffer, roomHash: Buffer, row: Sealed): Buffer
}

function aad (messageId: Buffer, roomHash: Buffer): Buffer {
  return Buffer.concat([AAD_LABEL, messageId, roomHash])
}

/** New rows use `active`; rows under any of `retired` still open, so keys can rotate without a rewrite. */
export function createAtRestCipher (active: AtRestKey, retired: readonly AtRestKey[] = []): AtRestCipher {
  const keys = new Map<string, Buffer>()
  for (const key of [...retired, active]) keys.set(key.id, key.key)
  return {
    activeKeyId: active.id,
    seal (messageId, roomHash, envelope) {
      const iv = randomBytes(IV_BYTES)
      const cipher = createCipheriv('aes-256-gcm', active.key, iv, { authTagLength: TAG_BYTES })
      cipher.setAAD(aad(messageId, roomHash))
      const body = Buffer.concat([cipher.update(envelope), cipher.final()])
      return { keyId: active.id, sealed: Buffer.concat([iv, body, cipher.getAuthTag()]) }
    },
    open (messageId, roomHash, row) {
      const key = keys.get(row.keyId)
      if (key === undefined) throw new AtRestError('the row was sealed under a key this vault does not hold')
      if (row.sealed.length < IV_BYTES + TAG_BYTES) throw new AtRestError('the sealed row is truncated')
      const iv = row.sealed.subarray(0, IV_BYTES)
      const tag = row.sealed.subarray(row.sealed.length - TAG_BYTES)
      const decipher = createDecipheriv('aes-256-gcm', key, iv, { authTagLength: TAG_BYTES })
      decipher.setAAD(aad(messageId, roomHash))
      decipher.setAuthTag(tag)
      try {
        return Buffer.concat([decipher.update(row.sealed.subarray(IV_BYTES, row.sealed.length - TAG_BYTES)), decipher.final()])
      } catch {
        throw new AtRestError('the sealed row failed authentication')
      }
    }
  }
}
