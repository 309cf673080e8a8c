/**
 * Protocol v2 messages (docs/architecture.md §11): an MLS application message is stored
 * for the other members of the room's group, bound to the epoch it was sent in, and only
 * at the room's current epoch. It never waits for a future member. v1 and v2 never mix in
 * one room.
 */
import { randomBytes } from 'node:crypto'
import { sql } from 'kysely'
import t from 'tap'
import { commitBytes, mlsMessage, sealedInfo } from './mls-wire.js'
import { countRows, fakeEnvelope, harness, listenToRoomEvents, newMemberId, newMessageId, newRoomHash, vaultApi, type Harness } from './helpers.js'

/** A v2 room: Alice created the group, Bob joined it (epoch 1); Carol is in the room, not in the group. */
async function v2Room (h: Harness) {
  const api = vaultApi(h.bus)
  const room = newRoomHash()
  const [alice, bob, carol] = [newMemberId(), newMemberId(), newMemberId()]
  for (const member of [alice, bob, carol]) await api.join(room, member, 2)
  const groupId = randomBytes(32).toString('base64url')
  await api.commit(room, alice, { groupId, epoch: 0, groupInfo: sealedInfo() })
  await api.commit(room, bob, { groupId, epoch: 0, handshake: commitBytes(groupId, 0, 'external'), groupInfo: sealedInfo() })
  return { api, room, groupId, alice, bob, carol }
}

t.test('a v2 message is stored for the other members of the group at the current epoch, read once, and deleted when viewed', async (t) => {
  const h = await harness(t)
  await h.startVault()
  const { api, room, groupId, alice, bob, carol } = await v2Room(h)
  const events = await listenToRoomEvents(t, h.bus, room)
  const id = newMessageId()
  const message = mlsMessage(groupId, 1, id)
  const stored = await api.send(room, alice, id, 1, message)
  t.match(stored, { ok: true, duplicate: false, bucket: 256 })
  t.same(stored.ok ? stored.recipients : undefined, [bob], 'for Bob, not for Carol who is not in the group')
  await h.bus.ping()
  t.match(events.of('message'), [{ id, from: alice, recipients: [bob], epoch: 1 }], 'the card names the epoch')
  const again = await api.send(room, alice, id, 1, message)
  t.match(again, { ok: true, duplicate: true }, 'a resend is a duplicate')
  t.same(again.ok ? again.recipients : undefined, [bob])
  t.match(await api.read(room, carol, id), { ok: false, code: 'not-recipient' })
  t.match(await api.fetch(room, bob, id), { ok: false, code: 'not-found' }, 'a v1 fetch does not see it')
  t.match(await api.read(room, bob, id), { ok: true, message }, 'Bob reads it, byte for byte')
  t.match(await api.ack(room, bob, id), { ok: true, gone: true })
  t.equal(await countRows(h.db, 'messages'), 0)
  t.match(await api.send(room, alice, id, 1, message), { ok: true, duplicate: true, gone: 'viewed' }, 'a resend after it was viewed is gone')
})

t.test('a v2 message is accepted only at the room\'s epoch, of its group, from a member of the group, with someone to read it', async (t) => {
  const h = await harness(t)
  await h.startVault()
  const { api, room, groupId, alice, bob, carol } = await v2Room(h)
  const sent = newMessageId()
  const atOne = mlsMessage(groupId, 1, sent)
  t.match(await api.send(room, alice, sent, 1, atOne), { ok: true })
  await api.commit(room, bob, { groupId, epoch: 1, handshake: commitBytes(groupId, 1, 'member'), groupInfo: sealedInfo() })
  const late = newMessageId()
  t.match(await api.send(room, alice, late, 1, mlsMessage(groupId, 1, late)), { ok: false, code: 'stale-epoch' }, 'an epoch the group has left')
  t.match(await api.send(room, alice, sent, 1, atOne), { ok: true, duplicate: true }, 'while a resend of one stored before the commit is still a duplicate')
  const other = newMessageId()
  const otherGroup = randomBytes(32).toString('base64url')
  t.match(await api.send(room, alice, other, 2, mlsMessage(otherGroup, 2, other)), { ok: false, code: 'stale-epoch' }, 'another group')
  const carols = newMessageId()
  t.match(await api.send(room, carol, carols, 2, mlsMessage(groupId, 2, carols)), { ok: false, code: 'not-joined' }, 'Carol is not in the group')
  t.match(await api.store(room, alice, newMessageId()), { ok: false, code: 'protocol-mismatch' }, 'a v1 message in a v2 room')

  // Bob is removed: Alice is alone in the group, and her message may not wait for a future member.
  await api.commit(room, alice, { groupId, epoch: 2, handshake: commitBytes(groupId, 2, 'member'), groupInfo: sealedInfo(), removed: [bob] })
  const alone = newMessageId()
  t.match(await api.send(room, alice, alone, 3, mlsMessage(groupId, 3, alone)), { ok: false, code: 'alone' }, 'nobody else in the group: alone, nothing stored')
  t.equal(await countRows(h.db, 'messages', { column: 'id', value: alone }), 0)

  const v1Room = newRoomHash()
  await api.join(v1Room, alice, 1)
  await api.join(v1Room, bob)
  const v2InV1 = newMessageId()
  t.match(await api.send(v1Room, alice, v2InV1, 0, mlsMessage(groupId, 0, v2InV1)), { ok: false, code: 'protocol-mismatch' }, 'a v2 message in a v1 room')
  t.match(await api.store(v1Room, alice, newMessageId(), fakeEnvelope()), { ok: true }, 'where v1 goes on as before')
})

t.test('a v2 message whose header or size does not fit its request is refused before it queues', async (t) => {
  const h = await harness(t)
  await h.startVault()
  const { api, room, groupId, alice } = await v2Room(h)
  const id = newMessageId()
  const cases: Array<[string, string, string]> = [
    ['its authenticated data names another message id', mlsMessage(groupId, 1, newMessageId()), 'bad-frame'],
    ['its authenticated data lacks the v2 label', mlsMessage(groupId, 1, id, { ad: Buffer.concat([Buffer.from('ephemeral-chat/v1/msg'), Buffer.from(id, 'base64url')]) }), 'bad-frame'],
    ['its header names another epoch', mlsMessage(groupId, 0, id), 'bad-frame'],
    ['a handshake (of a bucket\'s size), not an application message', commitBytes(groupId, 1, 'member', 400), 'bad-frame'],
    ['a size between two buckets', mlsMessage(groupId, 1, id, { bucket: 700 }), 'too-large']
  ]
  for (const [what, message, code] of cases) t.match(await api.send(room, alice, id, 1, message), { ok: false, code }, what)
  const padded = Buffer.concat([Buffer.from(mlsMessage(groupId, 1, id), 'base64url'), Buffer.alloc(3)]).toString('base64url')
  t.match(await api.send(room, alice, id, 1, padded), { ok: false, code: 'bad-frame' }, 'bytes after the ciphertext')
  t.equal(await countRows(h.db, 'messages'), 0, 'nothing was stored')
  for (const bucket of [256, 1024, 4096, 16384]) {
    const ok = newMessageId()
    t.match(await api.send(room, alice, ok, 1, mlsMessage(groupId, 1, ok, { bucket })), { ok: true, bucket }, `the ${bucket} bucket`)
  }
})

t.test('a v2 message is sealed at rest like a v1 envelope', async (t) => {
  const h = await harness(t)
  await h.startVault()
  const { api, room, groupId, alice } = await v2Room(h)
  const marker = randomBytes(16)
  const id = newMessageId()
  await api.send(room, alice, id, 1, mlsMessage(groupId, 1, id, { marker }))
  const dump = await sql<{ hex: string, epoch: string }>`select encode(sealed, 'hex') as hex, epoch from messages`.execute(h.db)
  t.equal(dump.rows.length, 1)
  t.notOk(dump.rows[0]?.hex.includes(marker.toString('hex')), 'none of its bytes in the clear')
  t.equal(dump.rows[0]?.epoch, '1', 'the row records its epoch')
})

t.test('a room keeps the protocol of the join that created it; a v2 join learns the group\'s epoch and its cards\' epochs', async (t) => {
  const h = await harness(t)
  await h.startVault()
  const { api, room, groupId, alice, bob } = await v2Room(h)
  t.match(await api.join(room, newMemberId(), 1), { ok: false, code: 'protocol-mismatch' }, 'a v1 join of a v2 room')
  const v1Room = newRoomHash()
  await api.join(v1Room, alice)
  t.match(await api.join(v1Room, newMemberId(), 2), { ok: false, code: 'protocol-mismatch' }, 'a v2 join of a v1 room (it could turn it into a v2 room, or take its waiting messages)')
  t.match(await api.commit(v1Room, alice, { groupId: randomBytes(32).toString('base64url'), epoch: 0, groupInfo: sealedInfo() }), { ok: false, code: 'protocol-mismatch' }, 'nor can a group be created in a v1 room')

  const id = newMessageId()
  await api.send(room, alice, id, 1, mlsMessage(groupId, 1, id))
  const rejoined = await api.join(room, bob, 2)
  t.match(rejoined, { ok: true, groupEpoch: 1, pending: [{ id, from: alice, epoch: 1 }] }, 'Bob, coming back, learns the epoch and his card\'s')
  t.equal(rejoined.ok ? rejoined.pending.length : -1, 1)
})
