import t from 'tap'
import { RoomShare } from '../src/room-share.js'
import { countRows, fakeEnvelope, harness, newMemberId, newMessageId, newRoomHash, vaultApi } from './helpers.js'

t.test('a room gets its burst, then its rate; other rooms are untouched', async (t) => {
  const clock = { now: 0 }
  const share = new RoomShare({ bytesPerSecond: 1000, burstBytes: 2000 }, () => clock.now)
  t.ok(share.take('a', 1500))
  t.notOk(share.take('a', 600), 'over the burst')
  t.ok(share.retryAfterMs('a', 600) >= 100, 'with a hint of when it fits')
  t.ok(share.take('b', 2000), 'room b has its own share')
  clock.now = 1000
  t.ok(share.take('a', 600), 'a second later the rate has refilled it')
  clock.now = 62_000
  share.take('c', 1)
  t.equal(share.rooms, 1, 'rooms quiet for a minute are forgotten')
})

t.test('a room storing over its share is answered room-busy at once; another room is served', async (t) => {
  const h = await harness(t)
  await h.startVault({ roomShare: { bytesPerSecond: 16 * 1024, burstBytes: 9 * 1024 } })
  const api = vaultApi(h.bus)
  const [flooded, quiet] = [newRoomHash(), newRoomHash()]
  const [alice, bob, carol, dave] = [newMemberId(), newMemberId(), newMemberId(), newMemberId()]
  for (const [room, member] of [[flooded, alice], [flooded, bob], [quiet, carol], [quiet, dave]] as const) await api.join(room, member)
  // Envelopes of 4 KiB and a bit (IV and tag): two fit in the 9 KiB burst.
  const replies = await Promise.all(Array.from({ length: 6 }, async () => api.store(flooded, alice, newMessageId(), fakeEnvelope(4096))))
  const busy = replies.filter((r) => !r.ok)
  t.equal(replies.filter((r) => r.ok).length, 2, 'the burst is stored')
  t.equal(busy.length, 4, 'the rest is refused')
  t.ok(busy.every((r) => !r.ok && r.code === 'room-busy' && (r.retryAfterMs ?? 0) >= 50), 'as room-busy, with a retry hint')
  t.match(await api.store(quiet, carol, newMessageId(), fakeEnvelope(4096)), { ok: true }, 'the quiet room is not affected')
  t.equal(await countRows(h.db, 'messages'), 3, 'nothing refused was stored')
})
