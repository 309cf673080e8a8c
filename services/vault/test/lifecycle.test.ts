import { codecs, roomEventsSubject, type RoomEvent } from '@ephemeral-chat/protocol'
import { waitFor } from '@ephemeral-chat/testkit'
import t from 'tap'
import { fakeEnvelope, harness, newMemberId, newMessageId, newRoomHash, vaultApi } from './helpers.js'

t.test('a message lives until every recipient viewed it, then row and recipients are gone', async (t) => {
  const h = await harness(t)
  await h.startVault()
  const api = vaultApi(h.bus)
  const room = newRoomHash()
  const [alice, bob, carol] = [newMemberId(), newMemberId(), newMemberId()]
  const events: RoomEvent[] = []
  const subscription = h.bus.subscribe(roomEventsSubject(room), (data) => {
    const decoded = codecs.roomEvent.decode(data)
    if (decoded.ok) events.push(decoded.value)
  })
  t.teardown(() => { subscription.unsubscribe() })
  await h.bus.ping()

  t.match(await api.join(room, alice), { ok: true, members: 1, pending: [] })
  t.match(await api.join(room, bob), { ok: true, members: 2 })
  t.match(await api.join(room, carol), { ok: true, members: 3 })

  const id = newMessageId()
  const envelope = fakeEnvelope(1024)
  const stored = await api.store(room, alice, id, envelope)
  t.match(stored, { ok: true, bucket: 1024, duplicate: false })
  t.same(stored.ok && [...stored.recipients].sort(), [bob, carol].sort(), 'every other member is a recipient')

  t.same(await api.fetch(room, bob, id), { v: 1, ok: true, ...envelope }, 'bob gets the exact envelope back')
  t.same(await api.ack(room, bob, id), { v: 1, ok: true, remaining: 1, gone: false })
  const sets = await h.db.selectFrom('messages').select(['recipients', 'unviewed']).where('id', '=', id).execute()
  t.same(sets.map((row) => ({ recipients: [...row.recipients].sort(), unviewed: row.unviewed })), [{ recipients: [bob, carol].sort(), unviewed: [carol] }],
    'the row stays, bob marked as having viewed it, while carol has not')

  t.same(await api.fetch(room, carol, id), { v: 1, ok: true, ...envelope })
  t.same(await api.ack(room, carol, id), { v: 1, ok: true, remaining: 0, gone: true })

  const message = await h.db.selectFrom('messages').select('id').where('id', '=', id).execute()
  t.same(message, [], 'the message row is deleted, and its recipient set with it')

  await waitFor('viewed and gone events', () => events.filter((e) => e.type === 'viewed').length === 2 && events.some((e) => e.type === 'gone'))
  t.same(events.filter((e) => e.type === 'viewed'), [
    { v: 1, type: 'viewed', id, to: alice, remaining: 1 },
    { v: 1, type: 'viewed', id, to: alice, remaining: 0 }
  ], 'the sender is told each view')
  t.same(events.filter((e) => e.type === 'gone'), [{ v: 1, type: 'gone', id, reason: 'viewed' }])
  t.same(await api.fetch(room, bob, id), { v: 1, ok: false, code: 'not-found', message: 'No such message.' }, 'a deleted message cannot be fetched')
  t.match(await api.ack(room, bob, id), { ok: false, code: 'already-gone' }, 'a late ack is answered "already gone"')
})

t.test('a resend of the same id returns the first result and never a second row', async (t) => {
  const h = await harness(t)
  await h.startVault()
  const api = vaultApi(h.bus)
  const room = newRoomHash()
  const [alice, bob] = [newMemberId(), newMemberId()]
  await api.join(room, alice)
  await api.join(room, bob)
  const id = newMessageId()
  const envelope = fakeEnvelope()
  const first = await api.store(room, alice, id, envelope)
  const again = await Promise.all([api.store(room, alice, id, envelope), api.store(room, alice, id, envelope)])
  t.match(first, { ok: true, duplicate: false, recipients: [bob] })
  for (const reply of again) t.same(reply, { ...first, duplicate: true })
  const { n } = await h.db.selectFrom('messages').select((eb) => eb.fn.countAll<string>().as('n')).where('id', '=', id).executeTakeFirstOrThrow()
  t.equal(Number(n), 1, 'one row')
  t.match(await api.store(room, alice, id, fakeEnvelope()), { ok: false, code: 'conflict' }, 'the same id with other content is a conflict')
  t.match(await api.store(room, bob, id, envelope), { ok: false, code: 'conflict' }, 'the same id from another sender is a conflict')
})

t.test('a message sent to an empty room waits for the first member who joins', async (t) => {
  const h = await harness(t)
  await h.startVault()
  const api = vaultApi(h.bus)
  const room = newRoomHash()
  const [alice, bob, carol] = [newMemberId(), newMemberId(), newMemberId()]
  await api.join(room, alice)
  const id = newMessageId()
  t.match(await api.store(room, alice, id), { ok: true, recipients: [] })
  t.match(await api.join(room, alice), { ok: true, pending: [] }, 'the sender does not receive its own waiting message')
  const joined = await api.join(room, bob)
  t.match(joined, { ok: true, pending: [{ id, from: alice, bucket: 256 }] }, 'bob gets it as a pending card')
  t.match(await api.join(room, carol), { ok: true, pending: [] }, 'carol, who came later, does not')
  t.match(await api.fetch(room, carol, id), { ok: false, code: 'not-recipient' })
})

t.test('pending cards survive a disconnect and come back on rejoin', async (t) => {
  const h = await harness(t)
  await h.startVault()
  const api = vaultApi(h.bus)
  const room = newRoomHash()
  const [alice, bob] = [newMemberId(), newMemberId()]
  await api.join(room, alice)
  await api.join(room, bob)
  t.match(await api.leave(room, bob, 'disconnect'), { ok: true, members: 1 }, 'presence drops to one')
  const id = newMessageId()
  t.match(await api.store(room, alice, id), { ok: true, recipients: [bob] }, 'a disconnected member is still a recipient')
  t.match(await api.join(room, bob), { ok: true, members: 2, pending: [{ id }] })
})

t.test('leaving for good drops the member and messages only it was waiting for', async (t) => {
  const h = await harness(t)
  await h.startVault()
  const api = vaultApi(h.bus)
  const room = newRoomHash()
  const [alice, bob] = [newMemberId(), newMemberId()]
  const events: RoomEvent[] = []
  const subscription = h.bus.subscribe(roomEventsSubject(room), (data) => {
    const decoded = codecs.roomEvent.decode(data)
    if (decoded.ok) events.push(decoded.value)
  })
  t.teardown(() => { subscription.unsubscribe() })
  await h.bus.ping()
  await api.join(room, alice)
  await api.join(room, bob)
  const id = newMessageId()
  await api.store(room, alice, id)
  t.match(await api.leave(room, bob, 'leave'), { ok: true, members: 1 })
  t.same(await h.db.selectFrom('messages').select('id').where('id', '=', id).execute(), [], 'the message nobody else awaited is deleted')
  await waitFor('gone event', () => events.find((e) => e.type === 'gone'))
  t.match(events.find((e) => e.type === 'gone'), { id, reason: 'left' })
  t.same(await h.db.selectFrom('members').select('member_id').where('member_id', '=', bob).execute(), [], 'bob is no longer a member')
})
