// The vault orders a v2 room's commits by reading only their clear header
// (@ephemeral-chat/protocol readHandshakeHeader). This ties that reader to what the
// pinned ts-mls really writes: an external commit (a member joining, with its join
// proof as authenticated data), a member's own commit, and an application message,
// which is not a handshake and must be refused.
import { bucketOfMlsMessage, PADDING_BUCKETS, readApplicationHeader, readHandshakeHeader } from '@ephemeral-chat/protocol'
import t from 'tap'
import {
  createApplicationMessage,
  createCommit,
  createGroup,
  createGroupInfoWithExternalPubAndRatchetTree,
  defaultCapabilities,
  defaultLifetime,
  encodeMlsMessage,
  generateKeyPackageWithKey,
  joinGroupExternal
} from 'ts-mls'
import { deriveMemberKeysV2, messageAuthenticatedData, newMemberSecret, newMessageId, type MemberKeysV2 } from '../src/index.js'
import { suite, toHex } from './mls-vectors-support.js'

async function keyPackageFor (member: MemberKeysV2) {
  return generateKeyPackageWithKey(
    { credentialType: 'basic', identity: Buffer.from(member.memberId, 'base64url') },
    defaultCapabilities(), defaultLifetime, [],
    { signKey: member.signaturePrivateKey, publicKey: member.signaturePublicKey },
    await suite()
  )
}

void t.test('the vault reads group, epoch, sender and content type of the commits ts-mls writes, and refuses its application messages', async (t) => {
  const cs = await suite()
  const [alice, bob] = await Promise.all([deriveMemberKeysV2(newMemberSecret()), deriveMemberKeysV2(newMemberSecret())])
  const groupId = crypto.getRandomValues(new Uint8Array(32))
  const aliceKp = await keyPackageFor(alice)
  const aliceState = await createGroup(groupId, aliceKp.publicPackage, aliceKp.privatePackage, [], cs)
  const groupInfo = await createGroupInfoWithExternalPubAndRatchetTree(aliceState, [], cs)

  const bobKp = await keyPackageFor(bob)
  const proof = crypto.getRandomValues(new Uint8Array(32))
  const joined = await joinGroupExternal(groupInfo, bobKp.publicPackage, bobKp.privatePackage, false, cs, undefined, undefined, proof)
  const external = readHandshakeHeader(encodeMlsMessage({ version: 'mls10', wireformat: 'mls_public_message', publicMessage: joined.publicMessage }))
  t.equal(toHex(external.groupId), toHex(groupId), 'the group id')
  t.equal(external.epoch, 0n, 'the epoch it was made in')
  t.same(external.sender, { type: 'newMemberCommit' }, 'an external commit')
  t.equal(external.contentType, 'commit')
  t.equal(toHex(external.authenticatedData), toHex(proof), 'its authenticated data: where v2 puts the join proof')

  // Bob, now a member at leaf 1, commits an update of his own (a PublicMessage, as v2 sends handshakes).
  const update = await createCommit({ state: joined.newState, cipherSuite: cs }, { wireAsPublicMessage: true })
  const commitBytes = encodeMlsMessage(update.commit)
  const own = readHandshakeHeader(commitBytes)
  t.equal(own.epoch, 1n)
  t.same(own.sender, { type: 'member', leafIndex: 1 }, 'a member commit names its leaf')
  t.equal(own.contentType, 'commit')

  const messageId = newMessageId()
  const sent = await createApplicationMessage(update.newState, new TextEncoder().encode('hello'), cs, messageAuthenticatedData(messageId))
  const application = encodeMlsMessage({ version: 'mls10', wireformat: 'mls_private_message', privateMessage: sent.privateMessage })
  t.throws(() => readHandshakeHeader(application), { name: 'HandshakeHeaderError' }, 'an application message is not a handshake')
  const header = readApplicationHeader(application)
  t.equal(toHex(header.groupId), toHex(groupId), 'an application message\'s group id')
  t.equal(header.epoch, 2n, 'its epoch')
  t.equal(toHex(header.authenticatedData), toHex(messageAuthenticatedData(messageId)), 'its authenticated data names its message id')
  t.throws(() => readApplicationHeader(commitBytes), { name: 'HandshakeHeaderError' }, 'a commit is not an application message')

  // The vault tells a v2 message's bucket from its size: every padded bucket lands in its own window.
  let state = sent.newState
  for (const bucket of PADDING_BUCKETS) {
    const padded = await createApplicationMessage(state, new Uint8Array(bucket), cs, messageAuthenticatedData(newMessageId()))
    state = padded.newState
    const bytes = encodeMlsMessage({ version: 'mls10', wireformat: 'mls_private_message', privateMessage: padded.privateMessage })
    t.equal(bucketOfMlsMessage(bytes.length), bucket, `a ${bucket}-byte plaintext is ${bytes.length} bytes: bucket ${bucket}`)
  }
  for (const cut of [0, 3, 4, 5, 20, 40, 45]) {
    t.throws(() => readHandshakeHeader(commitBytes.subarray(0, cut)), { name: 'HandshakeHeaderError' }, `a commit cut after ${cut} bytes is refused`)
  }
})
