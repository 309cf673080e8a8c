import { MAX_MEMBERS_PER_ROOM, MAX_PENDING_MESSAGES_PER_ROOM } from '@ephemeral-chat/protocol'
import { randomBytes } from 'node:crypto'
import t from 'tap'
import { countRows, fakeEnvelope, harness, inParallel, newMemberId, newMessageId, newRoomHash, vaultApi } from './helpers.js'

t.test(`a room holds ${MAX_MEMBERS_PER_ROOM} members; the next is refused with room-full`, async (t) => {
  const h = await harness(t)
  await h.startVault()
  const api = vaultApi(h.bus)
  const room = newRoomHash()
  const members = Array.from({ length: MAX_MEMBERS_PER_ROOM }, () => newMemberId())
  const joined = await inParallel(members, 10, async (member) => api.join(room, member))
  t.ok(joined.every((reply) => reply.ok), `all ${MAX_MEMBERS_PER_ROOM} join`)
  t.match(await api.join(room, newMemberId()), { ok: false, code: 'room-full' }, 'one more is refused')
  t.equal(await countRows(h.db, 'members'), MAX_MEMBERS_PER_ROOM, 'and not half-added')
  t.match(await api.join(room, members[0] ?? ''), { ok: true }, 'a member already in the room can still come back')
  await api.leave(room, members[1] ?? '', 'leave')
  t.match(await api.join(room, newMemberId()), { ok: true }, 'a place frees when a member leaves for good')
})

t.test(`a room stores ${MAX_PENDING_MESSAGES_PER_ROOM} messages; the next is refused with room-busy, nothing half-stored`, async (t) => {
  const h = await harness(t)
  await h.startVault()
  const api = vaultApi(h.bus)
  const room = newRoomHash()
  const [alice, bob] = [newMemberId(), newMemberId()]
  await api.join(room, alice)
  await api.join(room, bob)
  const ids = Array.from({ length: MAX_PENDING_MESSAGES_PER_ROOM }, () => newMessageId())
  const stored = await inParallel(ids, 16, async (id) => api.store(room, alice, id))
  t.ok(stored.every((reply) => reply.ok), `all ${MAX_PENDING_MESSAGES_PER_ROOM} are stored`)
  const refused = newMessageId()
  t.match(await api.store(room, alice, refused), { ok: false, code: 'room-busy', retryAfterMs: 1000 }, 'with a retry hint of a second')
  t.equal(await countRows(h.db, 'messages'), MAX_PENDING_MESSAGES_PER_ROOM, 'no message row for the refused one')
  const first = ids[0] ?? ''
  await api.fetch(room, bob, first)
  t.match(await api.ack(room, bob, first), { ok: true, gone: true })
  t.match(await api.store(room, alice, refused), { ok: true, duplicate: false }, 'once one is viewed, the same message can be sent again')
})

t.test('an envelope that is not exactly a padding bucket is refused as too-large', async (t) => {
  const h = await harness(t)
  await h.startVault()
  const api = vaultApi(h.bus)
  const room = newRoomHash()
  const alice = newMemberId()
  await api.join(room, alice)
  await api.join(room, newMemberId())
  for (const bytes of [300, 256 + 17, 1024 + 17, 4096 + 15]) {
    const envelope = { iv: fakeEnvelope().iv, ct: randomBytes(bytes).toString('base64url') }
    t.match(await api.store(room, alice, newMessageId(), envelope), { ok: false, code: 'too-large' }, `${bytes} bytes`)
  }
  t.equal(await countRows(h.db, 'messages'), 0, 'nothing stored')
})
