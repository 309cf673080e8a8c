/**
 * The gateway computes the room hash and the member id on its own (node:crypto, sync, on
 * the hot path); the client SDK computes them too (Web Crypto). They must agree, or a member
 * would not find its own messages: checked on the published vectors and on random secrets.
 */
import { decodeBase64url, memberIdFromSecret, newMemberSecret, roomHashHex } from '@ephemeral-chat/client'
import { readFileSync } from 'node:fs'
import t from 'tap'
import { memberIdOf, roomHashOf } from '@ephemeral-chat/gateway'
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
