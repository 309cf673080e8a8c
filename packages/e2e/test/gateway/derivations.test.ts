/**
 * The gateway computes the room hash and the member id on its own (node:crypto, sync, on
 * the hot path); the client SDK computes them too (Web Crypto). They must agree, or a member
 * would not find its own messages: checked on the published vectors and on random secrets.
 */
import { decodeBase64url, deriveMemberKeysV2, isSmallOrderEd25519Key, memberIdFromPublicKey, memberIdFromSecret, newMemberSecret, roomHashHex, signJoinChallenge, verifyJoinChallenge } from '@ephemeral-chat/client'
import { randomBytes } from 'node:crypto'
import { readFileSync } from 'node:fs'
import t from 'tap'
import { isSmallOrderKey, memberIdOf, memberIdOfPublicKey, roomHashOf, verifyJoinV2 } from '@ephemeral-chat/gateway'
import { join } from 'node:path'
import { repoRoot } from '../../src/spawn.js'

const vectors = JSON.parse(readFileSync(join(repoRoot, 'packages/client/test/vectors.json'), 'utf8')) as { derivation: Array<{ roomId: string, roomHash: string }> }

t.test('room hash: the gateway\'s equals the published vectors and the SDK\'s', async (t) => {
  t.ok(vectors.derivation.length > 0, `${vectors.derivation.length} vectors`)
  for (const { roomId, roomHash } of vectors.derivation) {
    t.equal(roomHashOf(roomId), roomHash, `vector ${roomId.slice(0, 6)}…`)
    t.equal(await roomHashHex(decodeBase64url(roomId)), roomHash)
  }
})

t.test('member id: the gateway\'s equals the SDK\'s for 200 random secrets', async (t) => {
  let same = 0
  for (let i = 0; i < 200; i++) {
    const secret = newMemberSecret()
    if (memberIdOf(secret) === await memberIdFromSecret(secret)) same++
  }
  t.equal(same, 200)
})

const vectorsV2 = JSON.parse(readFileSync(join(repoRoot, 'packages/client/test/vectors-v2.json'), 'utf8')) as {
  rooms: Array<{ code: string, roomId: string }>
  members: Array<{ secret: string, signaturePublicKey: string, memberId: string }>
  challenges: Array<{ code: string, secret: string, challenge: string, signature: string }>
}

t.test('v2: the gateway verifies the published challenge signatures and derives the published member ids, as the SDK does', async (t) => {
  t.ok(vectorsV2.challenges.length > 0 && vectorsV2.members.length > 0)
  for (const { code, secret, challenge, signature } of vectorsV2.challenges) {
    const room = vectorsV2.rooms.find((r) => r.code === code)
    const member = vectorsV2.members.find((m) => m.secret === secret)
    if (room === undefined || member === undefined) throw new Error('the vectors do not hold together')
    const publicKey = Buffer.from(member.signaturePublicKey, 'hex')
    const roomId = Buffer.from(room.roomId, 'base64url')
    t.ok(verifyJoinV2(publicKey, Buffer.from(challenge, 'hex'), roomId, Buffer.from(signature, 'hex')), 'the vector verifies')
    const flipped = Buffer.from(challenge, 'hex')
    flipped[0] = (flipped[0] ?? 0) ^ 1
    t.notOk(verifyJoinV2(publicKey, flipped, roomId, Buffer.from(signature, 'hex')), 'not over another challenge')
  }
  for (const { signaturePublicKey, memberId } of vectorsV2.members) t.equal(memberIdOfPublicKey(Buffer.from(signaturePublicKey, 'hex')), memberId)
})

t.test('v2: for 100 random members, the gateway accepts what the SDK signs and derives the SDK\'s member id; both refuse every small-order key', async (t) => {
  let agree = 0
  for (let i = 0; i < 100; i++) {
    const member = await deriveMemberKeysV2(newMemberSecret())
    const challenge = randomBytes(32)
    const roomId = randomBytes(32)
    const signature = Buffer.from(await signJoinChallenge(member.signingKey, challenge, roomId))
    const publicKey = Buffer.from(member.signaturePublicKey)
    if (verifyJoinV2(publicKey, challenge, roomId, signature) && memberIdOfPublicKey(publicKey) === await memberIdFromPublicKey(member.signaturePublicKey)) agree++
  }
  t.equal(agree, 100)
  // The gateway's list of small-order encodings is the SDK's: all seven, with either sign of x.
  const SMALL_ORDER_Y = ['00', '01', '26e8958fc2b227b045c3f489f2ef98f0d5dfac05d3c63339b13802886d53fc05', 'c7176a703d4dd84fba3c0b760d10670f2a2053fa2c39ccc64ec7fd7792ac037a',
    'ecffffffffffffffffffffffffffffffffffffffffffffffffffffffffffff7f', 'edffffffffffffffffffffffffffffffffffffffffffffffffffffffffffff7f', 'eeffffffffffffffffffffffffffffffffffffffffffffffffffffffffffff7f']
  for (const y of SMALL_ORDER_Y) {
    for (const sign of [0, 0x80]) {
      const key = Buffer.alloc(32)
      Buffer.from(y, 'hex').copy(key)
      key[31] = (key[31] ?? 0) | sign
      t.ok(isSmallOrderKey(key) && isSmallOrderEd25519Key(key), `y=${y.slice(0, 4)}…, sign ${sign}: small order for both`)
    }
  }
  const honest = Buffer.from((await deriveMemberKeysV2(newMemberSecret())).signaturePublicKey)
  t.notOk(isSmallOrderKey(honest) || isSmallOrderEd25519Key(honest), 'an honest key is not')
  // The identity point (y = 1): R = identity, S = 0 "verifies" every message under it.
  const forgery = Buffer.alloc(64)
  forgery[0] = 1
  for (const y of ['01', '00', 'ecffffffffffffffffffffffffffffffffffffffffffffffffffffffffffff7f', 'eeffffffffffffffffffffffffffffffffffffffffffffffffffffffffffff7f']) {
    const key = Buffer.alloc(32)
    Buffer.from(y, 'hex').copy(key)
    for (const sign of [0, 0x80]) {
      key[31] = (key[31] ?? 0) | sign
      t.notOk(verifyJoinV2(key, randomBytes(32), randomBytes(32), forgery), `gateway: y=${y.slice(0, 4)}…, sign ${sign}`)
      t.notOk(await verifyJoinChallenge(key, randomBytes(32), randomBytes(32), forgery), 'SDK too')
    }
  }
})
