// The SDK reproduces every published vector in test/vectors.json.
import { packageRoot } from '@ephemeral-chat/testkit'
import { join } from 'node:path'
import { readFileSync } from 'node:fs'
import t from 'tap'
import {
  decodeBase64url,
  deriveRoomKeys,
  normalizeRoomCode,
  openMessage,
  roomHashHex,
  sealMessage,
  type MessagePayload,
  type RoomKeys
} from '../src/index.js'

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

// Each code is derived once (PBKDF2 is deliberately slow) and shared by every test.
const derived = new Map<string, Promise<RoomKeys>>()
function keysFor (code: string): Promise<RoomKeys> {
  const normalised = normalizeRoomCode(code)
  let keys = derived.get(normalised)
  if (keys === undefined) {
    keys = deriveRoomKeys(normalised)
    derived.set(normalised, keys)
  }
  return keys
}

void t.test('the vector file covers what it promises', (t) => {
  t.ok(vectors.derivation.length >= 5)
  t.ok(vectors.derivation.some((v) => v.code !== v.normalized && /[a-z]/.test(v.code) && /[OIL oil]/.test(v.code)))
  t.same([...new Set(vectors.envelope.map((v) => v.paddedLength))].sort((a, b) => a - b), [256, 1024, 4096, 16384])
  t.end()
})

for (const vector of vectors.derivation) {
  void t.test(`derivation: ${vector.code}`, async (t) => {
    t.equal(normalizeRoomCode(vector.code), vector.normalized)
    const keys = await keysFor(vector.code)
    t.equal(keys.roomId, vector.roomId)
    t.equal(await roomHashHex(keys.roomIdBytes), vector.roomHash)
  })
}

for (const vector of vectors.envelope) {
  void t.test(`envelope: ${vector.paddedLength}-byte bucket`, async (t) => {
    const keys = await keysFor(vector.code)
    const payload = JSON.parse(vector.plaintextUtf8) as MessagePayload
    const sealed = await sealMessage(keys, vector.messageId, payload, { iv: decodeBase64url(vector.iv) })
    t.equal(sealed.iv, vector.iv)
    t.equal(sealed.bucket, vector.paddedLength)
    t.equal(sealed.ct, vector.ciphertext, 'sealing with the given IV gives the exact ciphertext')

    const opened = await openMessage(keys, vector.messageId, vector.iv, vector.ciphertext)
    t.equal(JSON.stringify(opened), vector.plaintextUtf8, 'opening gives the exact plaintext')
    t.strictSame(opened, payload)
  })
}
