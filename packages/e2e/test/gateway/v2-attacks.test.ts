/**
 * Protocol v2's guarantees end to end (real gateways, vault, PostgreSQL, NATS; the SDK's
 * RoomGroup on the pinned ts-mls), as issue 13 lists them: an offline member coming back
 * opens each message sent meanwhile exactly once, across the commits made meanwhile;
 * concurrent commits leave every member on one epoch; the code, the wire, a database dump
 * and ENCRYPTION_KEY together open no message, nor does the reader's state after viewing;
 * a commit the server makes without a valid join proof is refused by every member.
 */
import { decodeBase64url, deriveMemberKeysV2, encodeBase64url, deriveRoomKeysV2, generateRoomCodeV2, GroupCheckError, newMemberSecret, RoomGroup } from '@ephemeral-chat/client'
import { encodeBytes, readApplicationHeader, roomEventsSubject } from '@ephemeral-chat/protocol'
import { roomHashOf } from '@ephemeral-chat/gateway'
import { connectTestBus, waitFor, withSubjectPrefix } from '@ephemeral-chat/testkit'
import { atRestKey, createAtRestCipher } from '@ephemeral-chat/vault'
import t from 'tap'
import { deployment } from '../../src/stack.js'
import { V2Member } from '../../src/v2-member.js'

const hex = (bytes: Uint8Array): string => Buffer.from(bytes).toString('hex')

t.test('an offline member who returns with the same secret after 5 commits and 20 messages opens each exactly once', async (t) => {
  const d = await deployment(t)
  await d.startVault()
  const [g1, g2] = [await d.startGateway(), await d.startGateway()]
  const room = await deriveRoomKeysV2(generateRoomCodeV2())
  const alice = await V2Member.enter(g1, room)
  const bob = await V2Member.enter(g2, room)
  const carol = await V2Member.enter(g1, room)
  for (const member of [alice, bob, carol]) await member.catchUp()
  t.same([alice.epoch, bob.epoch, carol.epoch], [2, 2, 2], 'three members at epoch 2')

  // Bob goes away with his state saved (as sessionStorage keeps it).
  const saved = bob.group.save()
  const bobLeftAt = bob.epoch
  bob.close()

  const sent: string[] = []
  for (let i = 0; i < 20; i++) {
    const sender = i % 2 === 0 ? alice : carol
    await sender.catchUp()
    await sender.send(`message ${i}`)
    sent.push(`message ${i}`)
    if (i % 4 === 3) {
      await sender.catchUp()
      await sender.update()
    }
  }
  await alice.catchUp()
  t.equal(alice.epoch, bobLeftAt + 5, 'five update commits while Bob was away')

  const { member: back, joined } = await V2Member.resume(g2, room, bob.secret, saved)
  const pending = joined.pending as Array<{ id: string, from: string, epoch?: number }>
  t.equal(joined.groupEpoch, bobLeftAt + 5, 'the join tells him the group\'s epoch')
  t.equal(pending.length, 20, 'twenty cards wait for him')
  t.ok(pending.every((card) => typeof card.epoch === 'number' && card.epoch >= bobLeftAt), 'each with its epoch')
  await back.readCards(pending)
  t.same(back.opened.map((m) => m.text).sort(), [...sent].sort(), 'he opens every one')
  t.equal(new Set(back.opened.map((m) => m.id)).size, 20, 'each exactly once')
  t.same(back.opened.map((m) => m.from).filter((from) => from !== alice.memberId && from !== carol.memberId), [], 'each from the member its card names (checked by its MLS sender)')
  await back.catchUp()
  t.equal(back.epoch, bobLeftAt + 5, 'then follows the commits made after the last of them')
  const unviewed = await d.db.selectFrom('messages').select('id').where((eb) => eb(eb.val(back.memberId), '=', eb.fn.any('unviewed'))).execute()
  t.equal(unviewed.length, 0, 'nothing waits for him at the vault any more')
  for (const member of [alice, carol, back]) member.close()
})

t.test('two concurrent commits leave every member on the same epoch, with the same keys', async (t) => {
  const d = await deployment(t)
  await d.startVault()
  const [g1, g2] = [await d.startGateway(), await d.startGateway()]
  const room = await deriveRoomKeysV2(generateRoomCodeV2())
  const members = [await V2Member.enter(g1, room), await V2Member.enter(g2, room), await V2Member.enter(g1, room)]
  for (const member of members) await member.catchUp()
  const [alice, bob, carol] = members as [V2Member, V2Member, V2Member]
  const before = alice.epoch
  // Alice and Carol commit in the same epoch at once: one wins, the other is told stale-epoch and commits again on top.
  await Promise.all([alice.update(), carol.update()])
  for (const member of members) await member.catchUp()
  t.same(members.map((m) => m.epoch), [before + 2, before + 2, before + 2], 'both commits landed, one after the other; every member is at the same epoch')
  const authenticators = members.map((m) => hex(m.group.state.keySchedule.epochAuthenticator))
  t.equal(new Set(authenticators).size, 1, 'with the same epoch secrets')
  const text = await bob.send('after the race')
  await alice.readCards(alice.takeCards().filter((c) => c.id === text))
  t.match(alice.opened, [{ text: 'after the race', from: bob.memberId }], 'and they talk on')
  for (const member of members) member.close()
})

t.test('given the room code, the frames on the wire, a database dump and ENCRYPTION_KEY, no message opens; nor from the reader\'s state after it viewed them', async (t) => {
  const d = await deployment(t)
  await d.startVault()
  const gateway = await d.startGateway()
  const code = generateRoomCodeV2()
  const room = await deriveRoomKeysV2(code)
  const alice = await V2Member.enter(gateway, room)
  const bob = await V2Member.enter(gateway, room)
  await alice.catchUp()

  // What an observer records: the sealed GroupInfo as a joiner is sent it (epoch 1 now)…
  bob.socket.send({ v: 1, type: 'group', ref: 'wire' })
  const wire = await bob.socket.answer('wire') as { group: { epoch: number, groupInfo: string } }
  const texts = ['the source is', 'meeting at', 'delete this']
  const ids: string[] = []
  for (const text of texts) ids.push(await alice.send(text))
  // …and the database while the messages are stored, with the key that seals its rows.
  const dump = await d.db.selectFrom('messages').select(['id', 'room_hash', 'sealed', 'key_id', 'epoch']).execute()
  t.equal(dump.length, 3, 'three rows in the dump')
  const cipher = createAtRestCipher(atRestKey(Buffer.alloc(32, 7)))
  const stolen = dump.map((row) => ({ id: row.id, epoch: Number(row.epoch), bytes: cipher.open(Buffer.from(row.id, 'base64url'), Buffer.from(row.room_hash, 'hex'), { keyId: row.key_id, sealed: row.sealed }) }))
  t.ok(stolen.every((s) => readApplicationHeader(s.bytes).epoch === 1n), 'ENCRYPTION_KEY opens the at-rest layer: MLS messages of epoch 1')

  // Bob reads them; they are deleted.
  await bob.readCards(bob.takeCards())
  t.same(bob.opened.map((m) => m.text), texts, 'Bob reads all three')
  t.equal((await d.db.selectFrom('messages').select('id').execute()).length, 0, 'and the rows are gone')

  // The attacker has the code: it opens the recorded GroupInfo and joins from it, as a member would.
  const attackerKeys = await deriveMemberKeysV2(newMemberSecret())
  const intruder = await RoomGroup.join(await deriveRoomKeysV2(code), attackerKeys, BigInt(wire.group.epoch), decodeBase64url(wire.group.groupInfo))
  const outcomes: string[] = []
  for (const s of stolen) {
    outcomes.push(await intruder.group.open(s.id, alice.memberId, s.bytes).then(() => 'opened', (error: unknown) => error instanceof GroupCheckError ? error.reason : 'refused'))
  }
  t.same(outcomes, ['unknown-epoch', 'unknown-epoch', 'unknown-epoch'], 'with the code, the wire, the dump and the key, none of the three opens: a join from the recorded GroupInfo lands in the next epoch, whose keys never sealed them')

  // Nor does Bob's state after viewing them (a device seized afterwards).
  const seized = await RoomGroup.load(room, bob.group.member, bob.group.save())
  const again = await Promise.all(stolen.map(async (s) => seized.open(s.id, alice.memberId, s.bytes).then(() => 'opened', () => 'refused')))
  t.same(again, ['refused', 'refused', 'refused'], 'Bob\'s own state, saved after viewing, opens none of them again')
  alice.close()
  bob.close()
})

t.test('a commit the server makes without a valid join proof is refused by every member, who talk on', async (t) => {
  const d = await deployment(t)
  await d.startVault()
  const gateway = await d.startGateway()
  const room = await deriveRoomKeysV2(generateRoomCodeV2())
  const alice = await V2Member.enter(gateway, room)
  const bob = await V2Member.enter(gateway, room)
  await alice.catchUp()
  const epoch = alice.epoch

  // The strongest server without the code: it even has the GroupInfo in the clear (say it leaked), but no join key.
  bob.socket.send({ v: 1, type: 'group', ref: 'leak' })
  const leaked = await bob.socket.answer('leak') as { group: { epoch: number, groupInfo: string } }
  const stranger = await RoomGroup.join({ ...room, joinKey: (await deriveRoomKeysV2(generateRoomCodeV2())).joinKey }, await deriveMemberKeysV2(newMemberSecret()), BigInt(leaked.group.epoch), decodeBase64url(leaked.group.groupInfo))
  // It sends the commit to every gateway as the vault would announce an accepted one.
  const server = withSubjectPrefix(await connectTestBus('malicious-server'), d.prefix)
  t.teardown(async () => { await server.close() })
  server.publish(roomEventsSubject(roomHashOf(room.roomId)), encodeBytes({ v: 1, type: 'handshake', epoch, from: stranger.group.member.memberId, handshake: encodeBase64url(stranger.commit) }))

  for (const member of [alice, bob]) {
    await waitFor('the forged commit relayed', () => member.socket.frames.some((f) => f.type === 'handshake' && f.epoch === epoch && f.from === stranger.group.member.memberId))
    const frame = member.socket.frames.find((f) => f.type === 'handshake' && f.from === stranger.group.member.memberId) as { handshake: string }
    await t.rejects(member.group.applyCommit(decodeBase64url(frame.handshake)), { name: 'GroupCheckError', reason: 'join-proof' }, 'refused: no valid join proof')
    member.socket.frames.splice(member.socket.frames.indexOf(frame), 1)
  }
  t.same([alice.epoch, bob.epoch], [epoch, epoch], 'nobody moved to the stranger\'s epoch')
  const id = await bob.send('still just us')
  await alice.readCards(alice.takeCards().filter((c) => c.id === id))
  t.match(alice.opened, [{ text: 'still just us', from: bob.memberId }], 'and they talk on')
  alice.close()
  bob.close()
})

t.test('a member of the group away past the TTL is announced absent; a member still there commits its removal, and the others follow', async (t) => {
  const d = await deployment(t, { messageTtlMs: 60_000 })
  const vault = await d.startVault()
  const gateway = await d.startGateway()
  const room = await deriveRoomKeysV2(generateRoomCodeV2())
  const alice = await V2Member.enter(gateway, room)
  const bob = await V2Member.enter(gateway, room)
  const carol = await V2Member.enter(gateway, room)
  for (const member of [alice, bob]) await member.catchUp()
  carol.close()
  await waitFor('Carol disconnected', async () => (await d.db.selectFrom('presence').select('member_id').where('member_id', '=', carol.memberId).execute()).length === 0)
  await d.db.updateTable('members').set({ last_seen_at: new Date(Date.now() - 120_000) }).where('member_id', '=', carol.memberId).execute()
  await vault.sweep()

  const absent = await alice.socket.next((f) => f.type === 'absent')
  t.match(absent, { memberId: carol.memberId }, 'Alice is told Carol is absent')
  t.match(await bob.socket.next((f) => f.type === 'absent'), { memberId: carol.memberId }, 'and so is Bob')
  const removal = await alice.group.remove([carol.memberId])
  alice.socket.send({ v: 1, type: 'commit', ref: 'rm', groupId: encodeBase64url(alice.group.groupId), epoch: alice.epoch, handshake: encodeBase64url(removal.commit), groupInfo: encodeBase64url(removal.sealedGroupInfo), removed: [carol.memberId] })
  t.match(await alice.socket.answer('rm'), { type: 'committed' })
  alice.group = removal.group
  await bob.catchUp()
  t.same([alice.epoch, bob.epoch], [alice.epoch, alice.epoch], 'Bob follows the removal')
  t.same(bob.group.memberIds().sort(), [alice.memberId, bob.memberId].sort(), 'the group is Alice and Bob')
  const id = await alice.send('just us two')
  await bob.readCards(bob.takeCards().filter((c) => c.id === id))
  t.match(bob.opened, [{ text: 'just us two', from: alice.memberId }])
  alice.close()
  bob.close()
})
