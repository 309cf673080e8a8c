import { errorMessage } from '@ephemeral-chat/protocol'
import { waitFor } from '@ephemeral-chat/testkit'
import t from 'tap'
import { countRows, harness, listenToRoomEvents, newMemberId, newMessageId, newRoomHash, vaultApi } from './helpers.js'

// Long enough that a loaded machine still stores and sweeps once before the expiry; short enough to wait for.
const TTL_MS = 2500

const sleepUntil = async (time: number): Promise<void> => new Promise((resolve) => setTimeout(resolve, Math.max(0, time - Date.now())))

t.test('one sweep after the expiry deletes unviewed messages and tells the room they expired', async (t) => {
  const h = await harness(t)
  const vault = await h.startVault({ messageTtlMs: TTL_MS })
  const api = vaultApi(h.bus)
  const events = await listenToRoomEvents(t, h.bus)
  const [room, lonelyRoom] = [newRoomHash(), newRoomHash()]
  const [alice, bob, carol] = [newMemberId(), newMemberId(), newMemberId()]
  await api.join(room, alice)
  await api.join(room, bob)
  await api.join(lonelyRoom, carol)
  const [id, waiting] = [newMessageId(), newMessageId()]
  const stored = await api.store(room, alice, id)
  const lonely = await api.store(lonelyRoom, carol, waiting)
  t.match(lonely, { ok: true, recipients: [] }, 'a message with nobody to receive it yet')
  if (!stored.ok || !lonely.ok) throw new Error('store failed')
  t.ok(stored.expiresAt > Date.now() && stored.expiresAt <= Date.now() + TTL_MS, 'it expires within the TTL')

  await vault.app.sweeper.sweep()
  t.equal(await countRows(h.db, 'messages'), 2, 'a sweep before the expiry deletes nothing')
  t.same(events.of('gone'), [], 'and announces nothing')

  // Until both have expired: on a loaded machine the second store may come well after the first.
  await sleepUntil(Math.max(stored.expiresAt, lonely.expiresAt) + 100)
  t.same(await api.fetch(room, bob, id), { v: 1, ok: false, code: 'not-found', message: errorMessage('not-found') }, 'past its expiry it cannot be fetched, even unswept')
  t.match(await api.ack(room, bob, id), { ok: false, code: 'already-gone' }, 'nor acknowledged as viewed')
  t.same(events.of('viewed'), [], 'so the sender is never told it was viewed')
  await vault.app.sweeper.sweep()

  t.equal(await countRows(h.db, 'messages'), 0, 'both message rows are deleted')
  await waitFor('two gone events', () => events.of('gone').length === 2)
  t.same(events.of('gone', room), [{ v: 1, type: 'gone', id, reason: 'expired' }], 'the room is told the message expired')
  t.same(events.of('gone', lonelyRoom), [{ v: 1, type: 'gone', id: waiting, reason: 'expired' }], 'and so is the room of the waiting one')
  t.same(await api.fetch(room, bob, id), { v: 1, ok: false, code: 'not-found', message: errorMessage('not-found') }, 'fetch answers not-found')
  t.match(await api.ack(room, bob, id), { ok: false, code: 'already-gone' }, 'a late ack is answered already-gone')
  t.match(await api.join(room, bob), { ok: true, pending: [] }, 'join no longer lists it')
  t.match(await api.join(lonelyRoom, newMemberId()), { ok: true, pending: [] }, 'nor does a newcomer get the waiting one')
  const expired = await vault.app.metricsApp.inject({ method: 'GET', url: '/metrics' })
  t.match(expired.body, /^vault_messages_expired_total 2$/m, 'the expiries are counted')
})

t.test('the sweeper timer deletes an expired message without being asked', async (t) => {
  const h = await harness(t)
  await h.startVault({ messageTtlMs: TTL_MS, sweepIntervalMs: 300 })
  const api = vaultApi(h.bus)
  const events = await listenToRoomEvents(t, h.bus)
  const room = newRoomHash()
  const [alice, bob] = [newMemberId(), newMemberId()]
  await api.join(room, alice)
  await api.join(room, bob)
  const id = newMessageId()
  const stored = await api.store(room, alice, id)
  t.match(stored, { ok: true, recipients: [bob] }, 'stored for bob')
  if (!stored.ok) throw new Error('store failed')

  const gone = await waitFor('a gone event', () => events.of('gone', room)[0], TTL_MS + 5000)
  t.same(gone, { v: 1, type: 'gone', id, reason: 'expired' }, 'the room is told it expired')
  t.ok(Date.now() >= stored.expiresAt, 'not before the message expired')
  t.equal(await countRows(h.db, 'messages'), 0, 'the row is deleted')
  t.match(await api.fetch(room, bob, id), { ok: false, code: 'not-found' }, 'fetch answers not-found')
  t.match(await api.join(room, bob), { ok: true, pending: [] }, 'join no longer lists it')
})

t.test('a viewed message is not announced again when its expiry passes', async (t) => {
  const h = await harness(t)
  const vault = await h.startVault({ messageTtlMs: TTL_MS })
  const api = vaultApi(h.bus)
  const events = await listenToRoomEvents(t, h.bus)
  const room = newRoomHash()
  const [alice, bob] = [newMemberId(), newMemberId()]
  await api.join(room, alice)
  await api.join(room, bob)
  const id = newMessageId()
  const stored = await api.store(room, alice, id)
  t.match(await api.ack(room, bob, id), { ok: true, gone: true }, 'bob viewed it')
  if (!stored.ok) throw new Error('store failed')
  await sleepUntil(stored.expiresAt + 100)
  await vault.app.sweeper.sweep()
  await h.bus.ping()
  await new Promise((resolve) => setTimeout(resolve, 100))
  t.same(events.of('gone'), [{ v: 1, type: 'gone', id, reason: 'viewed' }], 'only the viewed gone event, no expired one')
})
