import { waitFor } from '@ephemeral-chat/testkit'
import t from 'tap'
import { countRows, fakeEnvelope, harness, inParallel, listenToRoomEvents, newMemberId, newMessageId, newRoomHash, vaultApi, type RunningVault } from './helpers.js'

const ROOMS = 100
const MESSAGES_PER_ROOM = 10
const IN_FLIGHT = 50

/** Requests of `operation` one vault has answered, from its Prometheus text (every outcome summed). */
async function served (vault: RunningVault, operation: string): Promise<number> {
  const response = await vault.app.metricsApp.inject({ method: 'GET', url: '/metrics' })
  let total = 0
  for (const line of response.body.split('\n')) {
    if (line.startsWith('vault_operation_duration_seconds_count{') && line.includes(`operation="${operation}"`)) {
      total += Number(line.slice(line.lastIndexOf(' ') + 1))
    }
  }
  return total
}

t.test('two replicas under concurrent load delete every message exactly once, duplicate acks included', async (t) => {
  const h = await harness(t)
  const replicas = [await h.startVault(), await h.startVault()]
  const api = vaultApi(h.bus)
  const events = await listenToRoomEvents(t, h.bus)

  const rooms = Array.from({ length: ROOMS }, () => ({ hash: newRoomHash(), members: [newMemberId(), newMemberId(), newMemberId()] }))
  const joins = await inParallel(rooms.flatMap((room) => room.members.map((member) => ({ room, member }))), IN_FLIGHT,
    async ({ room, member }) => api.join(room.hash, member))
  t.equal(joins.filter((reply) => reply.ok).length, ROOMS * 3, 'every member joined')

  // Ten messages per room, the sender rotating through its three members.
  const messages = rooms.flatMap((room) => Array.from({ length: MESSAGES_PER_ROOM }, (_, i) => {
    const sender = room.members[i % 3] as string
    return { room: room.hash, sender, recipients: room.members.filter((m) => m !== sender), id: newMessageId(), envelope: fakeEnvelope() }
  }))
  const stored = await inParallel(messages, IN_FLIGHT, async (m) => api.store(m.room, m.sender, m.id, m.envelope))
  t.equal(stored.filter((reply, i) => reply.ok && !reply.duplicate &&
    [...reply.recipients].sort().join() === [...(messages[i]?.recipients ?? [])].sort().join()).length, messages.length,
  'every message is stored once, for the two other members')

  // Every recipient fetches and acks, in shuffled order; one delivery in five sends its ack twice at once.
  const deliveries = messages.flatMap((m) => m.recipients.map((member) => ({ message: m, member })))
  for (let i = deliveries.length - 1; i > 0; i--) {
    const j = Math.floor(Math.random() * (i + 1))
    ;[deliveries[i], deliveries[j]] = [deliveries[j] as typeof deliveries[number], deliveries[i] as typeof deliveries[number]]
  }
  const outcomes = await inParallel(deliveries, IN_FLIGHT, async ({ message, member }, index) => {
    const fetched = await api.fetch(message.room, member, message.id)
    const ack = async (): Promise<Awaited<ReturnType<typeof api.ack>>> => api.ack(message.room, member, message.id)
    const acks = index % 5 === 0 ? await Promise.all([ack(), ack()]) : [await ack()]
    return { id: message.id, envelope: message.envelope, fetched, acks }
  })

  t.equal(outcomes.filter((o) => o.fetched.ok && o.fetched.iv === o.envelope.iv && o.fetched.ct === o.envelope.ct).length, deliveries.length,
    'every recipient fetched the exact envelope')
  const acks = outcomes.flatMap((o) => o.acks.map((reply) => ({ id: o.id, reply })))
  const refused = acks.filter((a) => !a.reply.ok).map((a) => a.reply.ok ? 'ok' : a.reply.code)
  t.same([...new Set(refused)].filter((code) => code !== 'already-gone'), [], 'no error reply other than already-gone')
  t.ok(refused.length <= deliveries.length / 5, 'only a duplicate ack can find its message already gone')
  t.equal(acks.length, deliveries.length * 1.2, 'one in five acks was sent twice')
  t.comment(`${refused.length} duplicate acks raced the deleting one and were told already-gone`)

  const deletingAcks = new Map<string, number>()
  for (const a of acks) if (a.reply.ok && a.reply.gone) deletingAcks.set(a.id, (deletingAcks.get(a.id) ?? 0) + 1)
  t.equal(deletingAcks.size, messages.length, 'every message was deleted by an ack')
  t.same([...deletingAcks.values()].filter((n) => n !== 1), [], 'and by exactly one ack')

  await waitFor('a gone event for every message', () => events.of('gone').length >= messages.length, 20_000)
  await h.bus.ping()
  await new Promise((resolve) => setTimeout(resolve, 300)) // room for a duplicate event to show up
  const gone = new Map<string, number>()
  for (const event of events.of('gone')) if (event.reason === 'viewed') gone.set(event.id, (gone.get(event.id) ?? 0) + 1)
  t.equal(events.of('gone').length, messages.length, 'no gone event beyond one per message')
  t.same(messages.filter((m) => gone.get(m.id) !== 1).map((m) => m.id), [], 'exactly one gone event with reason viewed per message')
  const viewed = new Map<string, number>()
  for (const event of events.of('viewed')) viewed.set(event.id, (viewed.get(event.id) ?? 0) + 1)
  t.same(messages.filter((m) => viewed.get(m.id) !== 2).map((m) => m.id), [], 'the sender is told of each recipient view once, duplicates not repeated')
  t.equal(events.invalid(), 0, 'every event matched the protocol')

  t.equal(await countRows(h.db, 'messages'), 0, 'no message row is left')

  for (const [i, replica] of replicas.entries()) {
    t.ok(await served(replica, 'message.ack') > 0, `replica ${i + 1} answered acks`)
  }
})

t.test('across replicas, a repeated ack is harmless: ok while others still have to view, already-gone once deleted', async (t) => {
  const h = await harness(t)
  await h.startVault()
  await h.startVault()
  const api = vaultApi(h.bus)
  const events = await listenToRoomEvents(t, h.bus)
  const room = newRoomHash()
  const [alice, bob, carol] = [newMemberId(), newMemberId(), newMemberId()]
  for (const member of [alice, bob, carol]) await api.join(room, member)
  const id = newMessageId()
  await api.store(room, alice, id)

  const bobTwice = await Promise.all([api.ack(room, bob, id), api.ack(room, bob, id)])
  t.same(bobTwice, [{ v: 1, ok: true, remaining: 1, gone: false }, { v: 1, ok: true, remaining: 1, gone: false }], 'both of bob\'s acks are ok')
  const carolTwice = await Promise.all([api.ack(room, carol, id), api.ack(room, carol, id)])
  t.same(carolTwice.filter((reply) => reply.ok), [{ v: 1, ok: true, remaining: 0, gone: true }], 'one of carol\'s acks deletes the message')
  t.match(carolTwice.filter((reply) => !reply.ok), [{ ok: false, code: 'already-gone' }], 'the other finds it already gone')

  await waitFor('the gone event', () => events.of('gone').length > 0)
  await h.bus.ping()
  await new Promise((resolve) => setTimeout(resolve, 100))
  t.same(events.of('viewed').map((e) => e.remaining), [1, 0], 'alice is told of each view once')
  t.same(events.of('gone'), [{ v: 1, type: 'gone', id, reason: 'viewed' }], 'one gone event')
})
