// The v2 derivations fit the pinned ts-mls: a member's derived Ed25519 key is its MLS
// leaf signature key, the first member publishes a sealed GroupInfo, a second member
// joins by external commit carrying a join proof in its authenticated data, and an
// application message carries the v2 message authenticated data. Not the v2 client
// (that is later work of issue 13): a check that the pieces of this slice fit MLS.
//
// Choice local to this test, to settle in the v2 client: the basic credential's
// identity is the 16 raw member id bytes.
import t from 'tap'
import {
  acceptAll,
  createApplicationMessage,
  createGroup,
  createGroupInfoWithExternalPubAndRatchetTree,
  decodeMlsMessage,
  defaultCapabilities,
  defaultLifetime,
  encodeMlsMessage,
  generateKeyPackageWithKey,
  joinGroupExternal,
  makePskIndex,
  processMessage,
  type ClientState,
  type PublicMessage
} from 'ts-mls'
import { verifyGroupInfoSignature } from 'ts-mls/groupInfo.js'
import { verifyKeyPackage } from 'ts-mls/keyPackage.js'
import {
  computeJoinProof,
  deriveMemberKeysV2,
  deriveRoomKeysV2,
  generateRoomCodeV2,
  messageAuthenticatedData,
  messageIdFromAuthenticatedData,
  newMemberSecret,
  newMessageId,
  openGroupInfo,
  sealGroupInfo,
  signJoinChallenge,
  verifyJoinChallenge,
  verifyJoinProof,
  type MemberKeysV2,
  type WebCryptoKey
} from '../src/index.js'
import { suite, toHex } from './mls-vectors-support.js'

async function keyPackageFor (member: MemberKeysV2) {
  return generateKeyPackageWithKey(
    { credentialType: 'basic', identity: Buffer.from(member.memberId, 'base64url') },
    defaultCapabilities(),
    defaultLifetime,
    [],
    { signKey: member.signaturePrivateKey, publicKey: member.signaturePublicKey },
    await suite()
  )
}

/** What every member checks before applying a new member's commit: the join proof. */
async function joinProofHolds (joinKey: WebCryptoKey, state: ClientState, commit: PublicMessage): Promise<boolean> {
  const content = commit.content
  if (content.sender.senderType !== 'new_member_commit' || content.contentType !== 'commit') return false
  const leaf = content.commit.path?.leafNode
  if (leaf === undefined) return false
  return verifyJoinProof(joinKey, state.groupContext.groupId, content.epoch, leaf.signaturePublicKey, content.authenticatedData)
}

void t.test('a derived member key signs for MLS and for the gateway alike', async (t) => {
  const cs = await suite()
  const member = await deriveMemberKeysV2(newMemberSecret())
  const { publicPackage } = await keyPackageFor(member)
  t.ok(await verifyKeyPackage(publicPackage, cs.signature), 'ts-mls verifies a KeyPackage signed with the derived seed')
  t.equal(toHex(publicPackage.leafNode.signaturePublicKey), toHex(member.signaturePublicKey), 'the leaf signature key is the derived public key')

  const challenge = crypto.getRandomValues(new Uint8Array(32))
  const roomId = crypto.getRandomValues(new Uint8Array(32))
  const ours = await signJoinChallenge(member.signingKey, challenge, roomId)
  const theirs = await cs.signature.sign(member.signaturePrivateKey, Buffer.concat([Buffer.from('ephemeral-chat/v2/ws-join'), challenge, roomId]))
  t.equal(toHex(theirs), toHex(ours), 'ts-mls signing with the seed gives the SDK signature (Ed25519 is deterministic)')
  t.ok(await verifyJoinChallenge(member.signaturePublicKey, challenge, roomId, theirs), 'the gateway verifies a signature ts-mls made')
})

void t.test('create, publish a sealed GroupInfo, join by external commit with a join proof, send a message', async (t) => {
  const cs = await suite()
  const code = generateRoomCodeV2()
  const [aliceRoom, bobRoom] = await Promise.all([deriveRoomKeysV2(code), deriveRoomKeysV2(code)])
  const alice = await deriveMemberKeysV2(newMemberSecret())
  const bob = await deriveMemberKeysV2(newMemberSecret())

  // Alice creates the group and publishes its GroupInfo, sealed for the room and epoch.
  const aliceKp = await keyPackageFor(alice)
  let aliceState = await createGroup(crypto.getRandomValues(new Uint8Array(32)), aliceKp.publicPackage, aliceKp.privatePackage, [], cs)
  const groupInfo = await createGroupInfoWithExternalPubAndRatchetTree(aliceState, [], cs)
  t.ok(await verifyGroupInfoSignature(groupInfo, alice.signaturePublicKey, cs.signature), 'the GroupInfo is signed with the derived key')
  const epoch = aliceState.groupContext.epoch
  const sealed = await sealGroupInfo(aliceRoom, epoch, encodeMlsMessage({ version: 'mls10', wireformat: 'mls_group_info', groupInfo }))

  // Bob, knowing only the code, opens it and joins with a proof.
  await t.rejects(openGroupInfo(bobRoom, epoch + 1n, sealed), { name: 'GroupInfoError' }, 'a GroupInfo served as another epoch does not open')
  const opened = decodeMlsMessage(await openGroupInfo(bobRoom, epoch, sealed), 0)?.[0]
  if (opened?.wireformat !== 'mls_group_info') throw new Error('not a GroupInfo')
  const bobKp = await keyPackageFor(bob)
  const proof = await computeJoinProof(bobRoom.joinKey, opened.groupInfo.groupContext.groupId, opened.groupInfo.groupContext.epoch, bob.signaturePublicKey)
  const joined = await joinGroupExternal(opened.groupInfo, bobKp.publicPackage, bobKp.privatePackage, false, cs, undefined, undefined, proof)
  let bobState = joined.newState

  // Alice checks the proof, then applies the commit; a commit without it is refused.
  t.ok(await joinProofHolds(aliceRoom.joinKey, aliceState, joined.publicMessage), 'the proof in the commit holds')
  const forged: PublicMessage = { ...joined.publicMessage, content: { ...joined.publicMessage.content, authenticatedData: new Uint8Array(32) } }
  t.notOk(await joinProofHolds(aliceRoom.joinKey, aliceState, forged), 'a commit with a wrong proof is refused')
  const afterJoin = await processMessage({ wireformat: 'mls_public_message', publicMessage: joined.publicMessage }, aliceState, makePskIndex(aliceState, {}), acceptAll, cs)
  aliceState = afterJoin.newState
  t.equal(aliceState.groupContext.epoch, epoch + 1n, 'the join moved the group to the next epoch')
  t.equal(toHex(aliceState.keySchedule.epochAuthenticator), toHex(bobState.keySchedule.epochAuthenticator), 'both are in the same epoch')

  // Bob sends an application message bound to its message id.
  const messageId = newMessageId()
  const sent = await createApplicationMessage(bobState, new TextEncoder().encode('hello'), cs, messageAuthenticatedData(messageId))
  bobState = sent.newState
  t.equal(messageIdFromAuthenticatedData(sent.privateMessage.authenticatedData), messageId, 'the authenticated data travels in clear with the message')
  const received = await processMessage({ wireformat: 'mls_private_message', privateMessage: sent.privateMessage }, aliceState, makePskIndex(aliceState, {}), acceptAll, cs)
  if (received.kind !== 'applicationMessage') throw new Error('not an application message')
  t.equal(new TextDecoder().decode(received.message), 'hello', 'Alice reads the message')

  // A server that moves the ciphertext to another message id is detected. (Checked
  // against Alice's state before she read it, whose key for it is still unused, so only
  // the authenticated data can make it fail.)
  const moved = { ...sent.privateMessage, authenticatedData: messageAuthenticatedData(newMessageId()) }
  await t.rejects(
    processMessage({ wireformat: 'mls_private_message', privateMessage: moved }, aliceState, makePskIndex(aliceState, {}), acceptAll, cs),
    'the ciphertext under another message id does not open'
  )
  const again = await processMessage({ wireformat: 'mls_private_message', privateMessage: sent.privateMessage }, aliceState, makePskIndex(aliceState, {}), acceptAll, cs)
  t.equal(again.kind, 'applicationMessage', 'while the same state opens the genuine one')
})
