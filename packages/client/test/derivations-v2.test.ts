// Behaviour and bad input of the protocol v2 derivations (the values themselves are
// pinned by vectors-v2.test.ts). Keys come from one derived room so only one PBKDF2 runs.
import { packageRoot } from '@ephemeral-chat/testkit'
import { join } from 'node:path'
import { readFileSync } from 'node:fs'
import t from 'tap'
import {
  computeJoinProof,
  deriveMemberKeysV2,
  deriveRoomKeysV2,
  encodeEpoch,
  GroupInfoError,
  MAX_GROUP_INFO_BYTES,
  MAX_SEALED_GROUP_INFO_BYTES,
  messageAuthenticatedData,
  messageIdFromAuthenticatedData,
  newMemberSecret,
  newMessageId,
  openGroupInfo,
  sealGroupInfo,
  signJoinChallenge,
  verifyJoinChallenge,
  isSmallOrderEd25519Key,
  verifyJoinProof,
  type RoomKeysV2
} from '../src/index.js'
import { sealGroupInfoWithIv } from '../src/v2/group-info.js'
import type { VectorsV2 } from './vectors-v2.test.js'

const vectors = JSON.parse(readFileSync(join(packageRoot(import.meta.url), 'test', 'vectors-v2.json'), 'utf8')) as VectorsV2
const keysPromise = deriveRoomKeysV2(vectors.rooms[1]!.code)
const bytes = (length: number, fill = 7) => new Uint8Array(length).fill(fill)

/** The same keys under another room id (a server that serves one room's data in another). */
function inOtherRoom (keys: RoomKeysV2): RoomKeysV2 {
  return { ...keys, roomIdBytes: bytes(32, 0xbb), roomId: Buffer.from(bytes(32, 0xbb)).toString('base64url') }
}

void t.test('the code keys are non-extractable', async (t) => {
  const keys = await keysPromise
  t.equal(keys.groupInfoKey.extractable, false)
  t.equal(keys.joinKey.extractable, false)
  await t.rejects(crypto.subtle.exportKey('raw', keys.groupInfoKey))
  await t.rejects(crypto.subtle.exportKey('raw', keys.joinKey))
})

void t.test('epochs are uint64 big-endian; anything else is refused', (t) => {
  t.same([...encodeEpoch(0n)], [0, 0, 0, 0, 0, 0, 0, 0])
  t.same([...encodeEpoch(258)], [0, 0, 0, 0, 0, 0, 1, 2])
  t.same([...encodeEpoch(2n ** 64n - 1n)], [255, 255, 255, 255, 255, 255, 255, 255])
  t.throws(() => encodeEpoch(-1n), RangeError)
  t.throws(() => encodeEpoch(2n ** 64n), RangeError)
  t.throws(() => encodeEpoch(1.5), RangeError)
  t.throws(() => encodeEpoch(Number.MAX_SAFE_INTEGER + 1), RangeError)
  t.throws(() => encodeEpoch('1' as unknown as number), TypeError)
  t.end()
})

void t.test('member secrets: wrong length or encoding is refused', async (t) => {
  await t.rejects(deriveMemberKeysV2('A'.repeat(42)), TypeError)
  await t.rejects(deriveMemberKeysV2(Buffer.alloc(31).toString('base64url')), { name: 'TypeError', message: /32 bytes, got 31/ })
  await t.rejects(deriveMemberKeysV2('A'.repeat(42) + '='), TypeError)
  await t.rejects(deriveMemberKeysV2(new Uint8Array(33)), TypeError)
  const member = await deriveMemberKeysV2(newMemberSecret())
  t.equal(member.signingKey.extractable, false)
  t.match(member.memberId, /^[A-Za-z0-9_-]{22}$/)
  t.match(member.fingerprint, /^([0-9A-HJKMNP-TV-Z]{4} ){3}[0-9A-HJKMNP-TV-Z]{4}$/)
})

void t.test('a challenge signature verifies only for its challenge, room and key', async (t) => {
  const keys = await keysPromise
  const member = await deriveMemberKeysV2(newMemberSecret())
  const other = await deriveMemberKeysV2(newMemberSecret())
  const challenge = crypto.getRandomValues(new Uint8Array(32))
  const signature = await signJoinChallenge(member.signingKey, challenge, keys.roomIdBytes)
  t.equal(signature.length, 64)
  t.equal(await verifyJoinChallenge(member.signaturePublicKey, challenge, keys.roomIdBytes, signature), true)
  t.equal(await verifyJoinChallenge(other.signaturePublicKey, challenge, keys.roomIdBytes, signature), false, 'another key')
  t.equal(await verifyJoinChallenge(member.signaturePublicKey, bytes(32), keys.roomIdBytes, signature), false, 'another challenge')
  t.equal(await verifyJoinChallenge(member.signaturePublicKey, challenge, bytes(32), signature), false, 'another room')
  const flipped = signature.slice()
  flipped[10]! ^= 1
  t.equal(await verifyJoinChallenge(member.signaturePublicKey, challenge, keys.roomIdBytes, flipped), false, 'a flipped bit')
  t.equal(await verifyJoinChallenge(member.signaturePublicKey, challenge, keys.roomIdBytes, signature.subarray(0, 63)), false, 'a short signature')
  t.equal(await verifyJoinChallenge(member.signaturePublicKey.subarray(0, 31), challenge, keys.roomIdBytes, signature), false, 'a short key')
})

void t.test('a challenge or room id of the wrong length is an error, not a false', async (t) => {
  const keys = await keysPromise
  const member = await deriveMemberKeysV2(newMemberSecret())
  await t.rejects(signJoinChallenge(member.signingKey, bytes(31), keys.roomIdBytes), { name: 'RangeError', message: /challenge must be 32 bytes, got 31/ })
  await t.rejects(signJoinChallenge(member.signingKey, bytes(33), keys.roomIdBytes), RangeError)
  await t.rejects(signJoinChallenge(member.signingKey, bytes(32), bytes(16)), { name: 'RangeError', message: /room id/ })
  await t.rejects(verifyJoinChallenge(member.signaturePublicKey, bytes(31), keys.roomIdBytes, bytes(64)), RangeError)
})

void t.test('a join proof verifies only for its group, epoch and key', async (t) => {
  const keys = await keysPromise
  const member = await deriveMemberKeysV2(newMemberSecret())
  const groupId = bytes(32, 1)
  const proof = await computeJoinProof(keys.joinKey, groupId, 5n, member.signaturePublicKey)
  t.equal(proof.length, 32)
  t.equal(await verifyJoinProof(keys.joinKey, groupId, 5n, member.signaturePublicKey, proof), true)
  t.equal(await verifyJoinProof(keys.joinKey, groupId, 5, member.signaturePublicKey, proof), true, 'a number epoch is the same epoch')
  t.equal(await verifyJoinProof(keys.joinKey, groupId, 6n, member.signaturePublicKey, proof), false, 'another epoch')
  t.equal(await verifyJoinProof(keys.joinKey, bytes(32, 2), 5n, member.signaturePublicKey, proof), false, 'another group')
  t.equal(await verifyJoinProof(keys.joinKey, groupId, 5n, bytes(32, 3), proof), false, 'another key')
  const bad = proof.slice()
  bad[0]! ^= 0x80
  t.equal(await verifyJoinProof(keys.joinKey, groupId, 5n, member.signaturePublicKey, bad), false, 'a flipped bit')
  t.equal(await verifyJoinProof(keys.joinKey, groupId, 5n, member.signaturePublicKey, proof.subarray(0, 16)), false, 'a truncated proof')
  t.equal(await verifyJoinProof(keys.joinKey, groupId, 5n, member.signaturePublicKey, new Uint8Array(0)), false, 'an empty proof')
  const otherRoom = await deriveRoomKeysV2(vectors.rooms[2]!.code)
  t.equal(await verifyJoinProof(otherRoom.joinKey, groupId, 5n, member.signaturePublicKey, proof), false, 'another code')
})

void t.test('join proof inputs of the wrong length are errors', async (t) => {
  const { joinKey } = await keysPromise
  await t.rejects(computeJoinProof(joinKey, bytes(16), 0n, bytes(32)), { name: 'RangeError', message: /group id must be 32 bytes, got 16/ })
  await t.rejects(computeJoinProof(joinKey, bytes(32), 0n, bytes(33)), { name: 'RangeError', message: /signature public key/ })
  await t.rejects(computeJoinProof(joinKey, bytes(32), -1n, bytes(32)), RangeError)
  await t.rejects(verifyJoinProof(joinKey, bytes(31), 0n, bytes(32), bytes(32)), RangeError)
  await t.rejects(verifyJoinProof(joinKey, bytes(32), 2n ** 64n, bytes(32), bytes(32)), RangeError)
})

void t.test('a joiner\'s key of the wrong length (it comes from the commit) makes a join proof false, not an error', async (t) => {
  const { joinKey } = await keysPromise
  const groupId = bytes(32, 1)
  const proof = await computeJoinProof(joinKey, groupId, 5n, bytes(32, 3))
  for (const length of [0, 31, 33]) {
    t.equal(await verifyJoinProof(joinKey, groupId, 5n, bytes(length, 3), proof), false, `a ${length}-byte key`)
  }
})

void t.test('a public key of small order never verifies a challenge, though a forged signature is valid under it', async (t) => {
  const keys = await keysPromise
  const challenge = bytes(32, 9)
  // The identity point as the key, and R = identity, S = 0 as the signature: [S]B = R + [k]A for every message.
  const identity = new Uint8Array(32)
  identity[0] = 1
  const forged = new Uint8Array(64)
  forged[0] = 1
  const raw = await globalThis.crypto.subtle.importKey('raw', identity, { name: 'Ed25519' }, false, ['verify']).then(
    async (key) => globalThis.crypto.subtle.verify({ name: 'Ed25519' }, key, forged, new Uint8Array([1, 2, 3])),
    () => false
  )
  t.comment(`this runtime's Web Crypto ${raw ? 'accepts' : 'refuses'} the forged signature under the identity key`)
  t.equal(await verifyJoinChallenge(identity, challenge, keys.roomIdBytes, forged), false, 'the identity key and the forged signature')
  const smallOrder = [
    '0000000000000000000000000000000000000000000000000000000000000000',
    '0100000000000000000000000000000000000000000000000000000000000000',
    '26e8958fc2b227b045c3f489f2ef98f0d5dfac05d3c63339b13802886d53fc05',
    'c7176a703d4dd84fba3c0b760d10670f2a2053fa2c39ccc64ec7fd7792ac037a',
    'ecffffffffffffffffffffffffffffffffffffffffffffffffffffffffffff7f',
    'edffffffffffffffffffffffffffffffffffffffffffffffffffffffffffff7f',
    'eeffffffffffffffffffffffffffffffffffffffffffffffffffffffffffff7f'
  ]
  for (const hex of smallOrder) {
    for (const signBit of [0, 0x80]) {
      const key = Uint8Array.from(Buffer.from(hex, 'hex'))
      key[31] = key[31]! | signBit
      t.ok(isSmallOrderEd25519Key(key), `${hex.slice(0, 8)}… (sign ${signBit === 0 ? 0 : 1}) is of small order`)
      t.equal(await verifyJoinChallenge(key, challenge, keys.roomIdBytes, forged), false)
    }
  }
  const member = await deriveMemberKeysV2(newMemberSecret())
  t.notOk(isSmallOrderEd25519Key(member.signaturePublicKey), 'a derived member key is not')
})

void t.test('a sealed GroupInfo opens only in its room and epoch, untampered', async (t) => {
  const keys = await keysPromise
  const groupInfo = crypto.getRandomValues(new Uint8Array(500))
  const sealed = await sealGroupInfo(keys, 9n, groupInfo)
  t.equal(sealed.length, 12 + 500 + 16)
  t.same(await openGroupInfo(keys, 9n, sealed), groupInfo)
  t.notSame(sealed.subarray(0, 12), (await sealGroupInfo(keys, 9n, groupInfo)).subarray(0, 12), 'a fresh IV each time')

  await t.rejects(openGroupInfo(keys, 10n, sealed), { name: 'GroupInfoError', reason: 'authentication' }, 'another epoch')
  await t.rejects(openGroupInfo(keys, 8n, sealed), { name: 'GroupInfoError', reason: 'authentication' }, 'an older epoch')
  await t.rejects(openGroupInfo(inOtherRoom(keys), 9n, sealed), { name: 'GroupInfoError', reason: 'authentication' }, 'another room')
  const otherRoom = await deriveRoomKeysV2(vectors.rooms[2]!.code)
  await t.rejects(openGroupInfo({ ...otherRoom, roomIdBytes: keys.roomIdBytes }, 9n, sealed), { name: 'GroupInfoError', reason: 'authentication' }, 'another code')
  for (const index of [0, 11, 12, 300, sealed.length - 1]) {
    const tampered = sealed.slice()
    tampered[index]! ^= 1
    await t.rejects(openGroupInfo(keys, 9n, tampered), { name: 'GroupInfoError', reason: 'authentication' }, `byte ${index} flipped`)
  }
  await t.rejects(openGroupInfo(keys, 9n, sealed.subarray(0, sealed.length - 1)), { name: 'GroupInfoError', reason: 'authentication' }, 'truncated')
})

void t.test('GroupInfo sizes are bounded and wrong lengths are refused', async (t) => {
  const keys = await keysPromise
  await t.rejects(sealGroupInfo(keys, 0n, new Uint8Array(0)), { name: 'GroupInfoError', reason: 'size' })
  await t.rejects(sealGroupInfo(keys, 0n, new Uint8Array(MAX_GROUP_INFO_BYTES + 1)), { name: 'GroupInfoError', reason: 'size' })
  const largest = await sealGroupInfo(keys, 0n, new Uint8Array(MAX_GROUP_INFO_BYTES))
  t.equal(largest.length, MAX_SEALED_GROUP_INFO_BYTES)
  t.equal((await openGroupInfo(keys, 0n, largest)).length, MAX_GROUP_INFO_BYTES)
  await t.rejects(openGroupInfo(keys, 0n, new Uint8Array(28)), { name: 'GroupInfoError', reason: 'malformed' }, 'IV and tag but nothing sealed')
  await t.rejects(openGroupInfo(keys, 0n, new Uint8Array(MAX_SEALED_GROUP_INFO_BYTES + 1)), { name: 'GroupInfoError', reason: 'malformed' })
  await t.rejects(sealGroupInfoWithIv(keys, 0n, bytes(10), bytes(16)), { name: 'RangeError', message: /IV must be 12 bytes/ })
  await t.rejects(sealGroupInfo(keys, 2n ** 64n, bytes(10)), RangeError)
  await t.rejects(sealGroupInfo({ ...keys, roomIdBytes: bytes(31) }, 0n, bytes(10)), RangeError)
  t.ok(new GroupInfoError('size', 'x') instanceof Error)
})

void t.test('message authenticated data names its message id and nothing else', (t) => {
  const id = newMessageId()
  const data = messageAuthenticatedData(id)
  t.equal(Buffer.from(data.subarray(0, 21)).toString('utf8'), 'ephemeral-chat/v2/msg')
  t.equal(messageIdFromAuthenticatedData(data), id)
  t.equal(messageIdFromAuthenticatedData(data.subarray(1)), undefined, 'too short')
  const otherLabel = data.slice()
  otherLabel[19] = 0x31 // "v1/msg"
  t.equal(messageIdFromAuthenticatedData(otherLabel), undefined, 'another label')
  t.throws(() => messageAuthenticatedData(Buffer.alloc(15).toString('base64url')), { name: 'RangeError', message: /message id must be 16 bytes, got 15/ })
  t.throws(() => messageAuthenticatedData('not base64url!'), TypeError)
  t.throws(() => messageAuthenticatedData(new Uint8Array(17)), RangeError)
  t.end()
})
