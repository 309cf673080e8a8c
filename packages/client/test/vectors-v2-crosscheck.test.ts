// Recomputes test/vectors-v2.json from docs/architecture.md §10 with node:crypto alone.
// Nothing here imports the SDK, so a mistake shared by the SDK and its own tests cannot hide.
import { packageRoot } from '@ephemeral-chat/testkit'
import { join } from 'node:path'
import {
  createCipheriv,
  createDecipheriv,
  createHash,
  createHmac,
  createPrivateKey,
  createPublicKey,
  hkdfSync,
  pbkdf2,
  sign,
  verify
} from 'node:crypto'
import { readFileSync } from 'node:fs'
import { promisify } from 'node:util'
import t from 'tap'
import type { VectorsV2 } from './vectors-v2.test.js'

const pbkdf2Async = promisify(pbkdf2)
const vectors = JSON.parse(readFileSync(join(packageRoot(import.meta.url), 'test', 'vectors-v2.json'), 'utf8')) as VectorsV2

const ALPHABET = '0123456789ABCDEFGHJKMNPQRSTVWXYZ'
const label = (text: string) => Buffer.from(text, 'utf8')
const hex = (text: string) => Buffer.from(text, 'hex')

/** The normalisation of docs/architecture.md §3, restricted to v2 codes (first symbol 8–F). */
function normaliseV2 (code: string): string {
  const out = code
    .replace(/[ \t\u2013-]/g, '')
    .toUpperCase()
    .replace(/O/g, '0')
    .replace(/[IL]/g, '1')
  if (!/^[89A-F][0-9A-HJKMNP-TV-Z]{26}$/.test(out)) throw new Error(`not a v2 room code: ${code}`)
  let sum = 0
  ;[...out].reverse().forEach((symbol, index) => {
    const value = ALPHABET.indexOf(symbol) * (index % 2 === 1 ? 2 : 1)
    sum += (value >> 5) + (value & 31)
  })
  if (sum % 32 !== 0) throw new Error(`check symbol fails: ${code}`)
  return out
}

/** The 130-bit number a code's 26 payload symbols spell. */
function payloadValue (normalised: string): bigint {
  let value = 0n
  for (const symbol of normalised.slice(0, 26)) value = (value << 5n) | BigInt(ALPHABET.indexOf(symbol))
  return value
}

const masters = new Map<string, Promise<Buffer>>()
function master (normalised: string): Promise<Buffer> {
  let secret = masters.get(normalised)
  if (secret === undefined) {
    secret = pbkdf2Async(label(normalised), label('ephemeral-chat/v2/room'), 600_000, 32, 'sha256')
    masters.set(normalised, secret)
  }
  return secret
}

const hkdf = (secret: Buffer, info: string) => Buffer.from(hkdfSync('sha256', secret, Buffer.alloc(0), label(info), 32))

async function codeKeys (code: string) {
  const secret = await master(normaliseV2(code))
  return {
    roomId: hkdf(secret, 'ephemeral-chat/v2/room-id'),
    groupInfoKey: hkdf(secret, 'ephemeral-chat/v2/group-info'),
    joinKey: hkdf(secret, 'ephemeral-chat/v2/join')
  }
}

/** RFC 8410 PKCS#8 for an Ed25519 seed, assembled by hand. */
function ed25519PrivateKey (seed: Buffer) {
  const der = Buffer.concat([hex('302e020100300506032b657004220420'), seed])
  return createPrivateKey({ key: der, format: 'der', type: 'pkcs8' })
}

function memberKeys (secret: string) {
  const seed = Buffer.from(hkdfSync('sha256', Buffer.from(secret, 'base64url'), Buffer.alloc(0), label('ephemeral-chat/v2/member-sign'), 32))
  const privateKey = ed25519PrivateKey(seed)
  // SPKI DER of an Ed25519 key is a 12-byte header followed by the 32-byte key.
  const publicKey = createPublicKey(privateKey).export({ format: 'der', type: 'spki' }).subarray(12)
  return { seed, privateKey, publicKey }
}

function epochBytes (epoch: string): Buffer {
  const out = Buffer.alloc(8)
  out.writeBigUInt64BE(BigInt(epoch))
  return out
}

function crockford (bytes: Buffer, symbols: number): string {
  let value = BigInt('0x' + bytes.toString('hex'))
  let out = ''
  for (let i = 0; i < symbols; i++) {
    out = ALPHABET[Number(value % 32n)]! + out
    value /= 32n
  }
  return out
}

for (const vector of vectors.rooms) {
  void t.test(`room by node:crypto: ${vector.code}`, async (t) => {
    const normalised = normaliseV2(vector.code)
    t.equal(normalised, vector.normalized)
    t.equal(payloadValue(normalised) >> 128n, 1n, 'the two bits above the 128 random bits are 01')
    const keys = await codeKeys(vector.code)
    t.equal(keys.roomId.toString('base64url'), vector.roomId)
    t.equal(keys.groupInfoKey.toString('hex'), vector.groupInfoKey)
    t.equal(keys.joinKey.toString('hex'), vector.joinKey)
  })
}

for (const vector of vectors.members) {
  void t.test(`member by node:crypto: ${vector.memberId}`, (t) => {
    const { seed, publicKey } = memberKeys(vector.secret)
    t.equal(seed.toString('hex'), vector.signatureSeed)
    t.equal(publicKey.toString('hex'), vector.signaturePublicKey)
    const idHash = createHash('sha256').update(label('ephemeral-chat/v2/member-id')).update(publicKey).digest()
    t.equal(idHash.subarray(0, 16).toString('base64url'), vector.memberId)
    const printHash = createHash('sha256').update(label('ephemeral-chat/v2/fingerprint')).update(publicKey).digest()
    t.equal(crockford(printHash.subarray(0, 10), 16).replace(/(.{4})(?=.)/g, '$1 '), vector.fingerprint)
    t.end()
  })
}

for (const vector of vectors.challenges) {
  void t.test(`gateway challenge by node:crypto: ${vector.challenge.slice(0, 8)}…`, async (t) => {
    const { roomId } = await codeKeys(vector.code)
    const { privateKey, publicKey } = memberKeys(vector.secret)
    const message = Buffer.concat([label('ephemeral-chat/v2/ws-join'), hex(vector.challenge), roomId])
    t.equal(message.toString('hex'), vector.signedMessage)
    // Ed25519 is deterministic (RFC 8032): the same key and message give the same signature.
    t.equal(sign(null, message, privateKey).toString('hex'), vector.signature)
    const verifier = createPublicKey({ key: Buffer.concat([hex('302a300506032b6570032100'), publicKey]), format: 'der', type: 'spki' })
    t.ok(verify(null, message, verifier, hex(vector.signature)))
  })
}

for (const vector of vectors.joinProofs) {
  void t.test(`join proof by node:crypto: epoch ${vector.epoch}`, async (t) => {
    const { joinKey } = await codeKeys(vector.code)
    const proof = createHmac('sha256', joinKey)
      .update(label('ephemeral-chat/v2/join'))
      .update(hex(vector.groupId))
      .update(epochBytes(vector.epoch))
      .update(hex(vector.signaturePublicKey))
      .digest('hex')
    t.equal(proof, vector.proof)
  })
}

for (const vector of vectors.groupInfos) {
  void t.test(`sealed GroupInfo by node:crypto: epoch ${vector.epoch}`, async (t) => {
    const { roomId, groupInfoKey } = await codeKeys(vector.code)
    const aad = Buffer.concat([label('ephemeral-chat/v2/group-info'), roomId, epochBytes(vector.epoch)])
    const cipher = createCipheriv('aes-256-gcm', groupInfoKey, hex(vector.iv), { authTagLength: 16 })
    cipher.setAAD(aad)
    const sealed = Buffer.concat([hex(vector.iv), cipher.update(hex(vector.groupInfo)), cipher.final(), cipher.getAuthTag()])
    t.equal(sealed.toString('hex'), vector.sealed)

    const published = hex(vector.sealed)
    const decipher = createDecipheriv('aes-256-gcm', groupInfoKey, published.subarray(0, 12), { authTagLength: 16 })
    decipher.setAAD(aad)
    decipher.setAuthTag(published.subarray(-16))
    const opened = Buffer.concat([decipher.update(published.subarray(12, -16)), decipher.final()])
    t.equal(opened.toString('hex'), vector.groupInfo)
  })
}

for (const vector of vectors.messages) {
  void t.test(`message authenticated data by node:crypto: ${vector.messageId}`, (t) => {
    const id = Buffer.from(vector.messageId, 'base64url')
    t.equal(id.length, 16)
    t.equal(Buffer.concat([label('ephemeral-chat/v2/msg'), id]).toString('hex'), vector.authenticatedData)
    t.end()
  })
}
