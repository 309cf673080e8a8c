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
  // A slow refill (1 KiB/s): on a loaded machine the six stores may spread over a second or two, and only the burst must decide.
  await h.startVault({ roomShare: { bytesPerSecond: 1024, burstBytes: 11 * 1024 } })
  const api = vaultApi(h.bus)
  const [flooded, quiet] = [newRoomHash(), newRoomHash()]
  const [alice, bob, carol, dave] = [newMemberId(), newMemberId(), newMemberId(), newMemberId()]
  for (const [room, member] of [[flooded, alice], [flooded, bob], [quiet, carol], [quiet, dave]] as const) await api.join(room, member)
  // Two joins take 1 KiB each; envelopes of 4 KiB and a bit (IV and tag): two fit in the rest of the 11 KiB burst.
  const replies = await Promise.all(Array.from({ length: 6 }, async () => api.store(flooded, alice, newMessageId(), fakeEnvelope(4096))))
  const busy = replies.filter((r) => !r.ok)
  t.equal(replies.filter((r) => r.ok).length, 2, 'the burst is stored')
  t.equal(busy.length, 4, 'the rest is refused')
  t.ok(busy.every((r) => !r.ok && r.code === 'room-busy' && (r.retryAfterMs ?? 0) >= 50), 'as room-busy, with a retry hint')
  t.match(await api.store(quiet, carol, newMessageId(), fakeEnvelope(4096)), { ok: true }, 'the quiet room is not affected')
  t.equal(await countRows(h.db, 'messages'), 3, 'nothing refused was stored')
})

t.test('debt: work already done is charged, and the room repays it before its next request', async (t) => {
  const clock = { now: 0 }
  const share = new RoomShare({ bytesPerSecond: 1000, burstBytes: 2000 }, () => clock.now)
  t.ok(share.take('a', 100))
  share.charge('a', 5000)
  t.notOk(share.take('a', 1), 'in debt (at most one burst deep): refused')
  t.ok(share.retryAfterMs('a', 1) >= 2000, 'until the debt is repaid')
  clock.now = 2100
  t.ok(share.take('a', 1), 'repaid at the room\'s rate')
})

t.test('a room\'s joins are charged for the cards they return: a flooding room\'s joins are refused room-busy, another room\'s are served', async (t) => {
  const h = await harness(t)
  // Setting up (two joins, ten small stores) takes under 5 KiB of the 8 KiB burst; a join with
  // ten cards then costs 1 KiB + 10 × 1 KiB: the room is in debt and its next join does not fit.
  await h.startVault({ roomShare: { bytesPerSecond: 16 * 1024, burstBytes: 8 * 1024 } })
  const api = vaultApi(h.bus)
  const [busy, quiet] = [newRoomHash(), newRoomHash()]
  const [alice, bob, carol] = [newMemberId(), newMemberId(), newMemberId()]
  await api.join(busy, alice)
  await api.join(busy, bob)
  for (let i = 0; i < 10; i++) t.match(await api.store(busy, alice, newMessageId()), { ok: true })
  t.match(await api.join(busy, bob), { ok: true, pending: { length: 10 } }, 'bob gets his ten cards')
  t.match(await api.join(busy, bob), { ok: false, code: 'room-busy' }, 'joining again at once is over the room\'s share')
  t.match(await api.join(quiet, carol), { ok: true }, 'another room joins')
})

t.test('v2 commits are paid from the room\'s share: a member spamming its group is refused room-busy, another room commits', async (t) => {
  const h = await harness(t)
  // Each commit below carries about 8 KiB of base64url (a 2 KiB handshake, a 4 KiB GroupInfo): two fit the 20 KiB burst after the joins.
  await h.startVault({ roomShare: { bytesPerSecond: 1024, burstBytes: 20 * 1024 } })
  const api = vaultApi(h.bus)
  const [busy, quiet] = [newRoomHash(), newRoomHash()]
  const [alice, carol] = [newMemberId(), newMemberId()]
  await api.join(busy, alice, 2)
  await api.join(quiet, carol, 2)
  const groupId = Buffer.alloc(32, 7).toString('base64url')
  const info = Buffer.alloc(4096, 1).toString('base64url')
  const handshake = (epoch: number): string => {
    const header = Buffer.alloc(4 + 1 + 32 + 8 + 5 + 2)
    header.set([0, 1, 0, 1, 32])
    header.set(Buffer.from(groupId, 'base64url'), 5)
    header.writeBigUInt64BE(BigInt(epoch), 37)
    header.set([1, 0, 0, 0, 0, 0, 3], 45)
    return Buffer.concat([header, Buffer.alloc(2048, 2)]).toString('base64url')
  }
  t.match(await api.commit(busy, alice, { groupId, epoch: 0, groupInfo: info }), { ok: true }, 'created')
  const replies = []
  for (let epoch = 0; epoch < 4; epoch++) replies.push(await api.commit(busy, alice, { groupId, epoch, handshake: handshake(epoch), groupInfo: info }))
  t.ok(replies.some((r) => !r.ok && r.code === 'room-busy' && (r.retryAfterMs ?? 0) > 0), 'past the share: room-busy with a retry hint')
  t.match(await api.commit(quiet, carol, { groupId, epoch: 0, groupInfo: info }), { ok: true }, 'the quiet room is not affected')
})
