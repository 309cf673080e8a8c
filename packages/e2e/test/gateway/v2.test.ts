/**
 * Protocol v2 through a real gateway and vault (PostgreSQL, NATS), with the pinned ts-mls
 * and the SDK's v2 derivations on raw WebSockets (the v2 SDK session is later work):
 * the challenge join, the group's creation, a join by external commit relayed to the
 * other member, and a message sealed by MLS stored for one epoch, read once and deleted.
 */
import {
  computeJoinProof, decodeBase64url, deriveMemberKeysV2, deriveRoomKeysV2, generateRoomCodeV2, memberIdFromPublicKey, messageAuthenticatedData,
  newMemberSecret, newMessageId, openGroupInfo, sealGroupInfo, signJoinChallenge, verifyJoinProof, type MemberKeysV2, type RoomKeysV2
} from '@ephemeral-chat/client'
import t from 'tap'
import {
  acceptAll, createApplicationMessage, createGroup, createGroupInfoWithExternalPubAndRatchetTree, decodeMlsMessage, defaultCapabilities, defaultLifetime,
  encodeMlsMessage, generateKeyPackageWithKey, getCiphersuiteFromName, getCiphersuiteImpl, joinGroupExternal, makePskIndex, processMessage, type CiphersuiteImpl, type ClientState
} from 'ts-mls'
import { waitFor } from '@ephemeral-chat/testkit'
import { deployment, newRoom, raw, type RawSocket, type RunningGateway } from '../../src/stack.js'

const suite = async (): Promise<CiphersuiteImpl> => getCiphersuiteImpl(getCiphersuiteFromName('MLS_128_DHKEMX25519_AES128GCM_SHA256_Ed25519'))
const b64 = (bytes: Uint8Array): string => Buffer.from(bytes).toString('base64url')

/** A connection joined to the room as a v2 member: it signed this connection's challenge. */
async function joinV2 (gateway: RunningGateway, room: RoomKeysV2, member: MemberKeysV2): Promise<RawSocket> {
  const c = await raw(gateway)
  const signature = await signJoinChallenge(member.signingKey, decodeBase64url(await c.challenge()), room.roomIdBytes)
  c.send({ v: 1, type: 'join-v2', ref: 'j', roomId: room.roomId, publicKey: b64(member.signaturePublicKey), signature: b64(signature) })
  const joined = await c.answer('j')
  if (joined.type !== 'joined') throw new Error(`join refused: ${String(joined.code)}`)
  return c
}

async function keyPackage (member: MemberKeysV2, cs: CiphersuiteImpl) {
  return generateKeyPackageWithKey({ credentialType: 'basic', identity: Buffer.from(member.memberId, 'base64url') }, defaultCapabilities(), defaultLifetime, [],
    { signKey: member.signaturePrivateKey, publicKey: member.signaturePublicKey }, cs)
}

async function sealedInfoOf (room: RoomKeysV2, state: ClientState, cs: CiphersuiteImpl): Promise<string> {
  const info = await createGroupInfoWithExternalPubAndRatchetTree(state, [], cs)
  return b64(await sealGroupInfo(room, state.groupContext.epoch, encodeMlsMessage({ version: 'mls10', wireformat: 'mls_group_info', groupInfo: info })))
}

t.test('a v2 member joins by signing its connection\'s challenge; the gateway derives its member id; forgeries and replays are refused', async (t) => {
  const d = await deployment(t)
  await d.startVault()
  const gateway = await d.startGateway()
  const room = await deriveRoomKeysV2(generateRoomCodeV2())
  const alice = await deriveMemberKeysV2(newMemberSecret())
  const join = { v: 1, type: 'join-v2', roomId: room.roomId, publicKey: b64(alice.signaturePublicKey) }

  const c = await raw(gateway)
  const challenge = decodeBase64url(await c.challenge())
  t.equal(challenge.length, 32, 'every connection gets a 32-byte challenge first')
  const signature = await signJoinChallenge(alice.signingKey, challenge, room.roomIdBytes)

  const refused = async (what: string, frame: Record<string, unknown>, on?: RawSocket): Promise<void> => {
    const socket = on ?? await raw(gateway)
    socket.send({ ...join, ref: 'x', ...frame })
    t.match(await socket.answer('x'), { type: 'error', code: 'bad-frame' }, what)
    if (on === undefined) socket.socket.close()
  }
  const forged = Uint8Array.from(signature)
  forged[0] = (forged[0] ?? 0) ^ 1
  await refused('a signature that does not verify', { signature: b64(forged) }, c)
  const other = await raw(gateway)
  t.not(await other.challenge(), b64(challenge), 'each connection its own challenge')
  await refused('a signature replayed on another connection (another challenge)', { signature: b64(signature) }, other)
  const otherRoom = await deriveRoomKeysV2(generateRoomCodeV2())
  await refused('a signature for another room', { roomId: otherRoom.roomId, signature: b64(signature) })
  const identity = new Uint8Array(32)
  identity[0] = 1
  const zeroSignature = new Uint8Array(64)
  zeroSignature.set(identity)
  await refused('the identity point as a key (under which R = identity, S = 0 verifies everything)', { publicKey: b64(identity), signature: b64(zeroSignature) })

  c.send({ ...join, ref: 'ok', signature: b64(signature) })
  t.match(await c.answer('ok'), { type: 'joined', memberId: await memberIdFromPublicKey(alice.signaturePublicKey) }, 'the genuine one joins (after one failure), under the member id the SDK derives')
  c.send({ v: 1, type: 'send', ref: 'v1', id: newMessageId(), iv: b64(new Uint8Array(12)), ct: b64(new Uint8Array(272)) })
  t.match(await c.answer('v1'), { type: 'error', code: 'protocol-mismatch' }, 'a v1 frame on a v2 connection')
  c.socket.close()

  // A signature check is dear: the third failed join closes the connection.
  for (let i = 0; i < 3; i++) other.send({ ...join, ref: `f${i}`, signature: b64(forged) })
  await waitFor('closed with 1008', () => other.closeCode() === 1008)
  t.equal(other.closeCode(), 1008, 'three failed v2 joins close the connection (1008)')

  // A v1 member cannot use the v2 frames, nor join a v2 room.
  const v1 = await raw(gateway)
  const { keys } = await newRoom()
  v1.send({ v: 1, type: 'join', ref: 'j', roomId: keys.roomId, memberSecret: newMemberSecret() })
  t.match(await v1.answer('j'), { type: 'joined' })
  v1.send({ v: 1, type: 'group', ref: 'g' })
  t.match(await v1.answer('g'), { type: 'error', code: 'protocol-mismatch' }, 'a v2 frame on a v1 connection')
  const intoV2 = await raw(gateway)
  intoV2.send({ v: 1, type: 'join', ref: 'j', roomId: room.roomId, memberSecret: newMemberSecret() })
  t.match(await intoV2.answer('j'), { type: 'error', code: 'protocol-mismatch' }, 'a v1 join of a v2 room')
  v1.socket.close()
  intoV2.socket.close()
})

t.test('two browsers\' worth of v2: create the group, join by external commit (relayed), exchange an MLS message read once', async (t) => {
  const d = await deployment(t)
  await d.startVault()
  const [g1, g2] = [await d.startGateway(), await d.startGateway()]
  const cs = await suite()
  const code = generateRoomCodeV2()
  const [aliceRoom, bobRoom] = [await deriveRoomKeysV2(code), await deriveRoomKeysV2(code)]
  const [aliceKeys, bobKeys] = [await deriveMemberKeysV2(newMemberSecret()), await deriveMemberKeysV2(newMemberSecret())]

  // Alice, first in the room, creates the group and publishes its GroupInfo.
  const alice = await joinV2(g1, aliceRoom, aliceKeys)
  alice.send({ v: 1, type: 'group', ref: 'g0' })
  const none = await alice.answer('g0')
  t.match(none, { type: 'group', complete: true, gap: false })
  t.same(none.handshakes, [], 'no handshakes')
  t.notOk('group' in none, 'and no group yet')
  const aliceKp = await keyPackage(aliceKeys, cs)
  const groupId = crypto.getRandomValues(new Uint8Array(32))
  let aliceState = await createGroup(groupId, aliceKp.publicPackage, aliceKp.privatePackage, [], cs)
  alice.send({ v: 1, type: 'commit', ref: 'create', groupId: b64(groupId), epoch: 0, groupInfo: await sealedInfoOf(aliceRoom, aliceState, cs) })
  t.match(await alice.answer('create'), { type: 'committed', epoch: 0 })

  // Bob, through the other gateway, knows only the code: he opens the GroupInfo and joins with a proof.
  const bob = await joinV2(g2, bobRoom, bobKeys)
  bob.send({ v: 1, type: 'group', ref: 'g1' })
  const state = await bob.answer('g1') as { group: { groupId: string, epoch: number, groupInfo: string } }
  t.equal(state.group.groupId, b64(groupId))
  const opened = decodeMlsMessage(await openGroupInfo(bobRoom, state.group.epoch, decodeBase64url(state.group.groupInfo)), 0)?.[0]
  if (opened?.wireformat !== 'mls_group_info') throw new Error('not a GroupInfo')
  const bobKp = await keyPackage(bobKeys, cs)
  const proof = await computeJoinProof(bobRoom.joinKey, opened.groupInfo.groupContext.groupId, opened.groupInfo.groupContext.epoch, bobKeys.signaturePublicKey)
  const joined = await joinGroupExternal(opened.groupInfo, bobKp.publicPackage, bobKp.privatePackage, false, cs, undefined, undefined, proof)
  let bobState = joined.newState
  const commit = encodeMlsMessage({ version: 'mls10', wireformat: 'mls_public_message', publicMessage: joined.publicMessage })
  bob.send({ v: 1, type: 'commit', ref: 'join', groupId: b64(groupId), epoch: 0, handshake: b64(commit), groupInfo: await sealedInfoOf(bobRoom, bobState, cs) })
  t.match(await bob.answer('join'), { type: 'committed', epoch: 1 })

  // Alice gets the commit from the gateway, checks the proof, and moves to epoch 1.
  const relayed = await alice.next((f) => f.type === 'handshake') as { epoch: number, from: string, handshake: string }
  t.match(relayed, { epoch: 0, from: bobKeys.memberId }, 'relayed to Alice, naming Bob')
  const decoded = decodeMlsMessage(decodeBase64url(relayed.handshake), 0)?.[0]
  if (decoded?.wireformat !== 'mls_public_message' || decoded.publicMessage.content.contentType !== 'commit') throw new Error('not a commit')
  const leaf = decoded.publicMessage.content.commit.path?.leafNode
  t.ok(leaf !== undefined && await verifyJoinProof(aliceRoom.joinKey, aliceState.groupContext.groupId, decoded.publicMessage.content.epoch, leaf.signaturePublicKey, decoded.publicMessage.content.authenticatedData), 'its join proof holds')
  const aliceAtZero = aliceState
  aliceState = (await processMessage(decoded, aliceState, makePskIndex(aliceState, {}), acceptAll, cs)).newState
  t.equal(aliceState.groupContext.epoch, 1n, 'Alice is at epoch 1')
  t.match(await bob.next((f) => f.type === 'handshake'), { epoch: 0, from: bobKeys.memberId }, 'Bob\'s connection gets it too (his other tabs need it; he has passed that epoch)')

  // Alice sends a message padded to its bucket, bound to its id; Bob reads it once.
  const id = newMessageId()
  const plaintext = new Uint8Array(256)
  plaintext.set(new TextEncoder().encode('hello over MLS'))
  const sent = await createApplicationMessage(aliceState, plaintext, cs, messageAuthenticatedData(id))
  aliceState = sent.newState
  const message = b64(encodeMlsMessage({ version: 'mls10', wireformat: 'mls_private_message', privateMessage: sent.privateMessage }))
  alice.send({ v: 1, type: 'send-v2', ref: 's', id, epoch: 1, message })
  t.match(await alice.answer('s'), { type: 'sent', id, recipients: 1 })
  t.match(await bob.next((f) => f.type === 'message'), { id, from: aliceKeys.memberId, bucket: 256, epoch: 1 }, 'Bob\'s card names the epoch')
  bob.send({ v: 1, type: 'read', ref: 'r', id })
  const payload = await bob.answer('r') as { type: string, message: string }
  t.equal(payload.type, 'payload-v2')
  const received = decodeMlsMessage(decodeBase64url(payload.message), 0)?.[0]
  if (received?.wireformat !== 'mls_private_message') throw new Error('not an application message')
  const opening = await processMessage(received, bobState, makePskIndex(bobState, {}), acceptAll, cs)
  if (opening.kind !== 'applicationMessage') throw new Error('not an application message')
  bobState = opening.newState
  t.equal(new TextDecoder().decode(opening.message).replace(/\0+$/, ''), 'hello over MLS', 'Bob reads Alice\'s text')
  bob.send({ v: 1, type: 'viewed', ref: 'v', id })
  t.match(await bob.answer('v'), { type: 'viewed', remaining: 0 })
  t.match(await alice.next((f) => f.type === 'gone'), { id, reason: 'viewed' }, 'Alice learns it is gone')
  bob.send({ v: 1, type: 'read', ref: 'again', id })
  t.match(await bob.answer('again'), { type: 'error', code: 'not-found' }, 'nothing to read twice')
  t.equal((await d.db.selectFrom('messages').select('id').execute()).length, 0, 'no row left')

  // A message made in an epoch the group has left is refused (the sender catches up first), one whose frame and header disagree too; so is a v1 reveal.
  const late = newMessageId()
  const atZero = b64(encodeMlsMessage({ version: 'mls10', wireformat: 'mls_private_message', privateMessage: (await createApplicationMessage(aliceAtZero, plaintext, cs, messageAuthenticatedData(late))).privateMessage }))
  alice.send({ v: 1, type: 'send-v2', ref: 'late', id: late, epoch: 0, message: atZero })
  t.match(await alice.answer('late'), { type: 'error', code: 'stale-epoch' }, 'made in epoch 0, the group is at 1')
  alice.send({ v: 1, type: 'send-v2', ref: 'mislabelled', id: late, epoch: 1, message: atZero })
  t.match(await alice.answer('mislabelled'), { type: 'error', code: 'bad-frame' }, 'a frame saying epoch 1 for a message of epoch 0')
  bob.send({ v: 1, type: 'reveal', ref: 'v1', id })
  t.match(await bob.answer('v1'), { type: 'error', code: 'protocol-mismatch' })
  alice.socket.close()
  bob.socket.close()
})
