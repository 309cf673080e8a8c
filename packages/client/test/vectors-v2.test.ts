// The SDK reproduces every published protocol v2 vector in test/vectors-v2.json.
import { packageRoot } from '@ephemeral-chat/testkit'
import { join } from 'node:path'
import { readFileSync } from 'node:fs'
import t from 'tap'
import {
  codeVersion,
  computeJoinProof,
  deriveMemberKeysV2,
  deriveRoomKeysV2,
  joinChallengeMessage,
  messageAuthenticatedData,
  messageIdFromAuthenticatedData,
  normalizeRoomCodeV2,
  openGroupInfo,
  signJoinChallenge,
  verifyJoinChallenge,
  verifyJoinProof,
  type MemberKeysV2,
  type RoomKeysV2
} from '../src/index.js'
import { sealGroupInfoWithIv } from '../src/v2/group-info.js'

export interface VectorsV2 {
  rooms: Array<{ code: string, normalized: string, roomId: string, groupInfoKey: string, joinKey: string }>
  members: Array<{
    secret: string
    signatureSeed: string
    signaturePublicKey: string
    memberId: string
    fingerprint: string
  }>
  challenges: Array<{ code: string, secret: string, challenge: string, signedMessage: string, signature: string }>
  joinProofs: Array<{ code: string, groupId: string, epoch: string, signaturePublicKey: string, proof: string }>
  groupInfos: Array<{ code: string, epoch: string, groupInfo: string, iv: string, sealed: string }>
  messages: Array<{ messageId: string, authenticatedData: string }>
}

const vectors = JSON.parse(readFileSync(join(packageRoot(import.meta.url), 'test', 'vectors-v2.json'), 'utf8')) as VectorsV2

const hex = (text: string) => Uint8Array.from(Buffer.from(text, 'hex'))
const toHex = (bytes: Uint8Array) => Buffer.from(bytes).toString('hex')

// Each code is derived once (PBKDF2 is deliberately slow) and shared by every test.
const derived = new Map<string, Promise<RoomKeysV2>>()
function keysFor (code: string): Promise<RoomKeysV2> {
  const normalised = normalizeRoomCodeV2(code)
  let keys = derived.get(normalised)
  if (keys === undefined) {
    keys = deriveRoomKeysV2(normalised)
    derived.set(normalised, keys)
  }
  return keys
}

function memberFor (secret: string): Promise<MemberKeysV2> {
  return deriveMemberKeysV2(secret)
}

void t.test('the v2 vector file covers what it promises', (t) => {
  t.ok(vectors.rooms.length >= 5)
  t.ok(vectors.rooms.some((v) => v.code !== v.normalized && /[a-z]/.test(v.code) && /[OILoil]/.test(v.code)))
  t.ok(vectors.rooms.some((v) => v.normalized.startsWith('8')) && vectors.rooms.some((v) => v.normalized.startsWith('F')))
  t.ok(vectors.members.length >= 3)
  t.ok(vectors.challenges.length >= 2)
  const epochs = new Set([...vectors.joinProofs, ...vectors.groupInfos].map((v) => v.epoch))
  for (const epoch of ['0', '4294967301', '18446744073709551615']) t.ok(epochs.has(epoch), `epoch ${epoch} is covered`)
  t.ok(vectors.groupInfos.length >= 3)
  t.ok(vectors.messages.length >= 2)
  t.end()
})

for (const vector of vectors.rooms) {
  void t.test(`room: ${vector.code}`, async (t) => {
    t.equal(normalizeRoomCodeV2(vector.code), vector.normalized)
    t.equal(codeVersion(vector.code), 2)
    const keys = await keysFor(vector.code)
    t.equal(keys.version, 2)
    t.equal(keys.roomId, vector.roomId)
    t.equal(Buffer.from(keys.roomIdBytes).toString('base64url'), vector.roomId)
    // The code keys are non-extractable: what they do is checked instead.
    const aesKey = await crypto.subtle.importKey('raw', hex(vector.groupInfoKey), 'AES-GCM', false, ['encrypt'])
    const iv = new Uint8Array(12)
    const probe = new Uint8Array([1, 2, 3])
    const expected = await crypto.subtle.encrypt({ name: 'AES-GCM', iv }, aesKey, probe)
    t.same(new Uint8Array(await crypto.subtle.encrypt({ name: 'AES-GCM', iv }, keys.groupInfoKey, probe)), new Uint8Array(expected), 'the GroupInfo key is the published one')
    const hmacKey = await crypto.subtle.importKey('raw', hex(vector.joinKey), { name: 'HMAC', hash: 'SHA-256' }, false, ['sign'])
    t.same(
      new Uint8Array(await crypto.subtle.sign('HMAC', keys.joinKey, probe)),
      new Uint8Array(await crypto.subtle.sign('HMAC', hmacKey, probe)),
      'the join key is the published one'
    )
  })
}

for (const vector of vectors.members) {
  void t.test(`member: ${vector.memberId}`, async (t) => {
    const member = await memberFor(vector.secret)
    t.equal(toHex(member.signaturePrivateKey), vector.signatureSeed)
    t.equal(toHex(member.signaturePublicKey), vector.signaturePublicKey)
    t.equal(member.memberId, vector.memberId)
    t.equal(member.fingerprint, vector.fingerprint)
    t.same(await deriveMemberKeysV2(Buffer.from(vector.secret, 'base64url')), member, 'the secret as bytes gives the same member')
  })
}

for (const vector of vectors.challenges) {
  void t.test(`gateway challenge: ${vector.challenge.slice(0, 8)}…`, async (t) => {
    const keys = await keysFor(vector.code)
    const member = await memberFor(vector.secret)
    t.equal(toHex(joinChallengeMessage(hex(vector.challenge), keys.roomIdBytes)), vector.signedMessage)
    t.equal(toHex(await signJoinChallenge(member.signingKey, hex(vector.challenge), keys.roomIdBytes)), vector.signature)
    t.equal(await verifyJoinChallenge(member.signaturePublicKey, hex(vector.challenge), keys.roomIdBytes, hex(vector.signature)), true)
  })
}

for (const vector of vectors.joinProofs) {
  void t.test(`join proof: epoch ${vector.epoch}`, async (t) => {
    const keys = await keysFor(vector.code)
    const args = [hex(vector.groupId), BigInt(vector.epoch), hex(vector.signaturePublicKey)] as const
    t.equal(toHex(await computeJoinProof(keys.joinKey, ...args)), vector.proof)
    t.equal(await verifyJoinProof(keys.joinKey, ...args, hex(vector.proof)), true)
  })
}

for (const vector of vectors.groupInfos) {
  void t.test(`sealed GroupInfo: epoch ${vector.epoch}, ${vector.groupInfo.length / 2} bytes`, async (t) => {
    const keys = await keysFor(vector.code)
    const sealed = await sealGroupInfoWithIv(keys, BigInt(vector.epoch), hex(vector.groupInfo), hex(vector.iv))
    t.equal(toHex(sealed), vector.sealed, 'sealing with the given IV gives the exact bytes')
    t.equal(toHex(await openGroupInfo(keys, BigInt(vector.epoch), hex(vector.sealed))), vector.groupInfo)
  })
}

for (const vector of vectors.messages) {
  void t.test(`message authenticated data: ${vector.messageId}`, (t) => {
    t.equal(toHex(messageAuthenticatedData(vector.messageId)), vector.authenticatedData)
    t.equal(toHex(messageAuthenticatedData(Buffer.from(vector.messageId, 'base64url'))), vector.authenticatedData)
    t.equal(messageIdFromAuthenticatedData(hex(vector.authenticatedData)), vector.messageId)
    t.end()
  })
}
