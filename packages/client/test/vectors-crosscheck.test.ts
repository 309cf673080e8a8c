// Recomputes test/vectors.json from docs/architecture.md §3 with node:crypto alone. Nothing here
// imports the SDK, so a mistake shared by the SDK and its own tests cannot hide.
import { packageRoot } from '@ephemeral-chat/testkit'
import { join } from 'node:path'
import { createCipheriv, createDecipheriv, createHash, hkdfSync, pbkdf2 } from 'node:crypto'
import { readFileSync } from 'node:fs'
import { promisify } from 'node:util'
import t from 'tap'

const pbkdf2Async = promisify(pbkdf2)

interface Vectors {
  derivation: Array<{ code: string, normalized: string, roomId: string, roomHash: string }>
  envelope: Array<{
    code: string
    messageId: string
    iv: string
    plaintextUtf8: string
    paddedLength: number
    ciphertext: string
  }>
}

const vectors = JSON.parse(readFileSync(join(packageRoot(import.meta.url), 'test', 'vectors.json'), 'utf8')) as Vectors

const ALPHABET = '0123456789ABCDEFGHJKMNPQRSTVWXYZ'

/** docs/architecture.md §3 "normalise", written independently of src/code.ts. */
function normalise (code: string): string {
  const out = code
    .replace(/[ \t\u2013-]/g, '')
    .toUpperCase()
    .replace(/O/g, '0')
    .replace(/[IL]/g, '1')
  if (!/^[0-7][0-9A-HJKMNP-TV-Z]{26}$/.test(out)) throw new Error(`not a room code: ${code}`)
  // Luhn mod 32 validation: from the right, check symbol first, every second value doubled
  // and its base-32 digits summed.
  let sum = 0
  ;[...out].reverse().forEach((symbol, index) => {
    const value = ALPHABET.indexOf(symbol) * (index % 2 === 1 ? 2 : 1)
    sum += (value >> 5) + (value & 31)
  })
  if (sum % 32 !== 0) throw new Error(`check symbol fails: ${code}`)
  return out
}

const masters = new Map<string, Promise<Buffer>>()
function master (normalised: string): Promise<Buffer> {
  let secret = masters.get(normalised)
  if (secret === undefined) {
    secret = pbkdf2Async(Buffer.from(normalised, 'utf8'), Buffer.from('ephemeral-chat/v1/room', 'utf8'), 600_000, 32, 'sha256')
    masters.set(normalised, secret)
  }
  return secret
}

const hkdf = (secret: Buffer, info: string) =>
  Buffer.from(hkdfSync('sha256', secret, Buffer.alloc(0), Buffer.from(info, 'utf8'), 32))

for (const vector of vectors.derivation) {
  void t.test(`derivation by node:crypto: ${vector.code}`, async (t) => {
    const normalised = normalise(vector.code)
    t.equal(normalised, vector.normalized)
    const roomId = hkdf(await master(normalised), 'ephemeral-chat/v1/room-id')
    t.equal(roomId.toString('base64url'), vector.roomId)
    t.equal(createHash('sha256').update(roomId).digest('hex'), vector.roomHash)
  })
}

for (const vector of vectors.envelope) {
  void t.test(`envelope by node:crypto: ${vector.paddedLength}-byte bucket`, async (t) => {
    const secret = await master(normalise(vector.code))
    const roomId = hkdf(secret, 'ephemeral-chat/v1/room-id')
    const messageKey = hkdf(secret, 'ephemeral-chat/v1/message-key')
    const messageId = Buffer.from(vector.messageId, 'base64url')
    const iv = Buffer.from(vector.iv, 'base64url')
    t.equal(messageId.length, 16)
    t.equal(iv.length, 12)

    const parsed = JSON.parse(vector.plaintextUtf8)
    t.same(Object.keys(parsed), ['text', 'nick', 'sentAt'], 'keys in the specified order')
    t.equal(JSON.stringify({ text: parsed.text, nick: parsed.nick, sentAt: parsed.sentAt }), vector.plaintextUtf8)

    const plaintext = Buffer.from(vector.plaintextUtf8, 'utf8')
    const bucket = [256, 1024, 4096, 16384].find((size) => plaintext.length + 1 <= size)
    t.equal(vector.paddedLength, bucket, 'the smallest bucket that fits plaintext and marker')
    const padded = Buffer.alloc(vector.paddedLength)
    plaintext.copy(padded)
    padded[plaintext.length] = 0x80

    const aad = Buffer.concat([Buffer.from('ephemeral-chat/v1/msg', 'utf8'), roomId, messageId])
    const cipher = createCipheriv('aes-256-gcm', messageKey, iv, { authTagLength: 16 })
    cipher.setAAD(aad)
    const ciphertext = Buffer.concat([cipher.update(padded), cipher.final(), cipher.getAuthTag()])
    t.equal(ciphertext.toString('base64url'), vector.ciphertext)

    const published = Buffer.from(vector.ciphertext, 'base64url')
    const decipher = createDecipheriv('aes-256-gcm', messageKey, iv, { authTagLength: 16 })
    decipher.setAAD(aad)
    decipher.setAuthTag(published.subarray(-16))
    const opened = Buffer.concat([decipher.update(published.subarray(0, -16)), decipher.final()])
    t.ok(opened.equals(padded), 'the published ciphertext opens to the padded plaintext')
  })
}
