import { errorMessage, type ErrorCode } from '@ephemeral-chat/protocol'
import t, { type Test } from 'tap'
import { fakeEnvelope, harness, newMemberId, newMessageId, newRoomHash, vaultApi, type Harness } from './helpers.js'

const refusal = (code: ErrorCode): object => ({ v: 1, ok: false, code, message: errorMessage(code) })

/** A room where alice sent one message to bob; returns what the test needs to probe it. */
async function roomWithOneMessage (h: Harness) {
  await h.startVault()
  const api = vaultApi(h.bus)
  const room = newRoomHash()
  const [alice, bob] = [newMemberId(), newMemberId()]
  await api.join(room, alice)
  await api.join(room, bob)
  const id = newMessageId()
  const envelope = fakeEnvelope()
  const stored = await api.store(room, alice, id, envelope)
  if (!stored.ok) throw new Error('setup: store failed')
  return { api, room, alice, bob, id, envelope }
}

/** The message is untouched: its row is still there with bob as its unviewed recipient, and bob still gets it. */
async function assertUntouched (t: Test, h: Harness, m: Awaited<ReturnType<typeof roomWithOneMessage>>): Promise<void> {
  const recipients = await h.db.selectFrom('messages').select(['recipients', 'unviewed']).where('id', '=', m.id).execute()
  t.same(recipients, [{ recipients: [m.bob], unviewed: [m.bob] }], 'the recipient set is unchanged, nothing marked viewed')
  t.same(await m.api.fetch(m.room, m.bob, m.id), { v: 1, ok: true, ...m.envelope }, 'the real recipient still gets the envelope')
}

t.test('a member who joined after the message is refused fetch and ack with not-recipient', async (t) => {
  const h = await harness(t)
  const m = await roomWithOneMessage(h)
  const carol = newMemberId()
  t.match(await m.api.join(m.room, carol), { ok: true, pending: [] }, 'carol joins and is shown no card')
  t.same(await m.api.fetch(m.room, carol, m.id), refusal('not-recipient'), 'fetch is refused')
  t.same(await m.api.ack(m.room, carol, m.id), refusal('not-recipient'), 'ack is refused')
  await assertUntouched(t, h, m)
})

t.test('a member of another room asking with its own room hash is answered as if the message did not exist', async (t) => {
  const h = await harness(t)
  const m = await roomWithOneMessage(h)
  const otherRoom = newRoomHash()
  const dave = newMemberId()
  t.match(await m.api.join(otherRoom, dave), { ok: true }, 'dave is a member of another room')
  const missing = await m.api.fetch(otherRoom, dave, newMessageId())
  t.same(missing, refusal('not-found'), 'a message id that exists nowhere is not-found')
  t.same(await m.api.fetch(otherRoom, dave, m.id), missing, 'a message of another room gets the very same answer')
  t.same(await m.api.ack(otherRoom, dave, m.id), refusal('already-gone'), 'an ack of it changes nothing')
  await assertUntouched(t, h, m)
})

t.test('a member of another room asking with the right room hash is refused with not-recipient', async (t) => {
  const h = await harness(t)
  const m = await roomWithOneMessage(h)
  const dave = newMemberId()
  await m.api.join(newRoomHash(), dave)
  t.same(await m.api.fetch(m.room, dave, m.id), refusal('not-recipient'), 'fetch is refused')
  t.same(await m.api.ack(m.room, dave, m.id), refusal('not-recipient'), 'ack is refused')
  await assertUntouched(t, h, m)
})

t.test('a made-up member id is refused fetch and ack with not-recipient', async (t) => {
  const h = await harness(t)
  const m = await roomWithOneMessage(h)
  const nobody = newMemberId()
  t.same(await m.api.fetch(m.room, nobody, m.id), refusal('not-recipient'), 'fetch is refused')
  t.same(await m.api.ack(m.room, nobody, m.id), refusal('not-recipient'), 'ack is refused')
  await assertUntouched(t, h, m)
})

t.test('the sender is not a recipient of its own message', async (t) => {
  const h = await harness(t)
  const m = await roomWithOneMessage(h)
  t.same(await m.api.fetch(m.room, m.alice, m.id), refusal('not-recipient'), 'fetch is refused')
  t.same(await m.api.ack(m.room, m.alice, m.id), refusal('not-recipient'), 'ack is refused')
  await assertUntouched(t, h, m)
})

t.test('a store by a non-member is refused with not-joined and stores nothing', async (t) => {
  const h = await harness(t)
  const m = await roomWithOneMessage(h)
  const outsider = newMemberId()
  const inExistingRoom = newMessageId()
  const inUnknownRoom = newMessageId()
  t.same(await m.api.store(m.room, outsider, inExistingRoom), refusal('not-joined'), 'into a room that exists')
  t.same(await m.api.store(newRoomHash(), outsider, inUnknownRoom), refusal('not-joined'), 'into a room that does not')
  const rows = await h.db.selectFrom('messages').select('id').where('id', 'in', [inExistingRoom, inUnknownRoom]).execute()
  t.same(rows, [], 'no row (and so no recipient set) was written')
})
