import { codecs, encodeBytes, PROTOCOL_VERSION, roomEventsSubject, VAULT_SUBJECTS, type RoomEvent } from '@ephemeral-chat/protocol'
import { waitFor } from '@ephemeral-chat/testkit'
import { sql } from 'kysely'
import pg from 'pg'
import t, { type Test } from 'tap'
import { call, countRows, fakeEnvelope, harness, newMemberId, newMessageId, newRoomHash, vaultApi, type Harness } from './helpers.js'

/** A room of two whose message path is then held up by a lock on the messages table, released by `release`. */
async function blockedRoom (t: Test, h: Harness) {
  const api = vaultApi(h.bus)
  const room = newRoomHash()
  const [alice, bob] = [newMemberId(), newMemberId()]
  await api.join(room, alice)
  await api.join(room, bob)
  const blocker = new pg.Client({ ...h.database })
  await blocker.connect()
  await blocker.query('begin; lock table messages in exclusive mode')
  let released = false
  const release = async (): Promise<void> => {
    if (released) return
    released = true
    await blocker.query('rollback')
    await blocker.end()
  }
  t.teardown(release)
  return { api, room, alice, bob, release }
}

/** Sessions of the test database waiting for a lock right now. */
async function lockWaits (h: Harness): Promise<number> {
  const { rows } = await sql<{ n: string }>`select count(*) as n from pg_stat_activity where datname = current_database() and wait_event_type = 'Lock'`.execute(h.db)
  return Number(rows[0]?.n)
}

const storeBody = (room: string, member: string, id: string, deadline?: number) =>
  ({ roomHash: room, memberId: member, id, ...fakeEnvelope(), ...(deadline === undefined ? {} : { deadline }) })

t.test('a request whose deadline has passed is dropped unanswered and never stored', async (t) => {
  const h = await harness(t)
  await h.startVault()
  const api = vaultApi(h.bus)
  const room = newRoomHash()
  const [alice, bob] = [newMemberId(), newMemberId()]
  await api.join(room, alice)
  await api.join(room, bob)
  const id = newMessageId()
  const reply = h.bus.request(VAULT_SUBJECTS.messageStore, encodeBytes({ v: PROTOCOL_VERSION, ...storeBody(room, alice, id, Date.now() - 1) }), { timeoutMs: 300 })
  await t.rejects(reply, { name: 'BusError', code: 'timeout' }, 'no answer: nobody is waiting for one')
  t.equal(await countRows(h.db, 'messages'), 0, 'nothing stored')
  t.match(await call(h.bus, VAULT_SUBJECTS.messageStore, storeBody(room, alice, newMessageId(), Date.now() + 5000), codecs.messageStoreReply),
    { ok: true }, 'a request within its deadline is served')
})

t.test('a request whose deadline passes while it queues is dropped before it reaches PostgreSQL', async (t) => {
  const h = await harness(t)
  await h.startVault({ batch: { maxItems: 1, concurrency: 1, maxQueued: 100, windowMs: 0, maxWaitMs: 60_000 } })
  const { room, alice, release } = await blockedRoom(t, h)
  const first = newMessageId()
  const late = newMessageId()
  const running = call(h.bus, VAULT_SUBJECTS.messageStore, storeBody(room, alice, first, Date.now() + 10_000), codecs.messageStoreReply)
  const dropped = h.bus.request(VAULT_SUBJECTS.messageStore, encodeBytes({ v: PROTOCOL_VERSION, ...storeBody(room, alice, late, Date.now() + 300) }), { timeoutMs: 600 })
  await t.rejects(dropped, { name: 'BusError', code: 'timeout' }, 'the queued request gets no answer after its deadline')
  await release()
  t.match(await running, { ok: true }, 'the one that was running completes')
  await h.bus.ping()
  t.same((await h.db.selectFrom('messages').select('id').execute()).map((row) => row.id), [first], 'the late one was never stored')
})

t.test('a full queue answers unavailable at once, with a retry hint, and stores nothing for it', async (t) => {
  const h = await harness(t)
  const vault = await h.startVault({ batch: { maxItems: 1, concurrency: 1, maxQueued: 2, windowMs: 0, maxWaitMs: 60_000 } })
  const { room, alice, release } = await blockedRoom(t, h)
  const deadline = Date.now() + 10_000
  const accepted = [newMessageId(), newMessageId(), newMessageId()]
  const store = async (id: string) => call(h.bus, VAULT_SUBJECTS.messageStore, storeBody(room, alice, id, deadline), codecs.messageStoreReply)
  const queued = async (n: number): Promise<boolean> => new RegExp(`vault_queued_requests ${n}\\b`).test((await vault.app.metricsApp.inject({ method: 'GET', url: '/metrics' })).body)
  // The first runs (held up by the lock), the next two wait: the queue is full.
  const inFlight = [store(accepted[0] ?? '')]
  await waitFor('the first store to run', async () => (await lockWaits(h)) === 1)
  inFlight.push(store(accepted[1] ?? ''), store(accepted[2] ?? ''))
  await waitFor('two stores to queue', async () => queued(2))
  const refusedId = newMessageId()
  const started = performance.now()
  const refused = await call(h.bus, VAULT_SUBJECTS.messageStore, storeBody(room, alice, refusedId, deadline), codecs.messageStoreReply)
  const answeredMs = performance.now() - started
  t.match(refused, { ok: false, code: 'unavailable' })
  t.ok(!refused.ok && refused.retryAfterMs !== undefined && refused.retryAfterMs >= 50, `with a retry hint (${!refused.ok ? refused.retryAfterMs : ''} ms)`)
  t.ok(answeredMs < 1000, `answered at once (${answeredMs.toFixed(0)} ms), not after the blocked work`)
  await release()
  for (const reply of await Promise.all(inFlight)) t.match(reply, { ok: true }, 'the accepted ones complete')
  const ids = (await h.db.selectFrom('messages').select('id').execute()).map((row) => row.id)
  t.same(ids.sort(), [...accepted].sort(), 'the refused one was never stored')
})

t.test('a stored message is announced to the room even when its requester stopped waiting', async (t) => {
  const h = await harness(t)
  await h.startVault()
  const { room, alice, bob, release } = await blockedRoom(t, h)
  const events: RoomEvent[] = []
  const subscription = h.bus.subscribe(roomEventsSubject(room), (data) => {
    const decoded = codecs.roomEvent.decode(data)
    if (decoded.ok) events.push(decoded.value)
  })
  t.teardown(() => { subscription.unsubscribe() })
  await h.bus.ping()
  const id = newMessageId()
  const gaveUp = h.bus.request(VAULT_SUBJECTS.messageStore, encodeBytes({ v: PROTOCOL_VERSION, ...storeBody(room, alice, id, Date.now() + 5000) }), { timeoutMs: 200 })
  await t.rejects(gaveUp, { code: 'timeout' }, 'the requester gives up while the database is held up')
  await release()
  const card = await waitFor('the card', () => events.find((e) => e.type === 'message' && e.id === id))
  t.match(card, { type: 'message', id, from: alice, recipients: [bob] }, 'the recipient is told all the same')
})

t.test('two rooms may use the same message id: each is its own message', async (t) => {
  const h = await harness(t)
  await h.startVault()
  const api = vaultApi(h.bus)
  const [roomA, roomB] = [newRoomHash(), newRoomHash()]
  const [alice, bob, carol, dave] = [newMemberId(), newMemberId(), newMemberId(), newMemberId()]
  for (const [room, member] of [[roomA, alice], [roomA, bob], [roomB, carol], [roomB, dave]] as const) await api.join(room, member)
  const id = newMessageId()
  const [a, b] = [fakeEnvelope(), fakeEnvelope()]
  t.match(await api.store(roomA, alice, id, a), { ok: true, duplicate: false, recipients: [bob] })
  t.match(await api.store(roomB, carol, id, b), { ok: true, duplicate: false, recipients: [dave] }, 'not a conflict: nothing tells carol the id exists elsewhere')
  t.same(await api.fetch(roomA, bob, id), { v: 1, ok: true, ...a })
  t.same(await api.fetch(roomB, dave, id), { v: 1, ok: true, ...b })
})

t.test('many stores, fetches and acks at once: every one answered, each message deleted exactly once', async (t) => {
  const h = await harness(t)
  await h.startVault()
  const api = vaultApi(h.bus)
  const rooms = Array.from({ length: 20 }, () => ({ room: newRoomHash(), alice: newMemberId(), bob: newMemberId(), carol: newMemberId() }))
  for (const r of rooms) for (const member of [r.alice, r.bob, r.carol]) await api.join(r.room, member)
  const messages = rooms.flatMap((r) => Array.from({ length: 10 }, () => ({ ...r, id: newMessageId() })))
  const stored = await Promise.all(messages.map(async (m) => api.store(m.room, m.alice, m.id)))
  t.ok(stored.every((reply) => reply.ok && reply.recipients.length === 2), 'all 200 stored at once, each for its two recipients')
  const acks = await Promise.all(messages.flatMap((m) => [api.ack(m.room, m.bob, m.id), api.ack(m.room, m.carol, m.id), api.ack(m.room, m.carol, m.id)]))
  const gone = acks.filter((reply) => reply.ok && reply.gone).length
  t.equal(gone, messages.length, 'each message is deleted by exactly one ack')
  t.ok(acks.every((reply) => reply.ok || reply.code === 'already-gone'), 'a repeated ack is harmless')
  t.equal(await countRows(h.db, 'messages'), 0)
})
