import { errorMessage } from '@ephemeral-chat/protocol'
import { createHash } from 'node:crypto'
import t from 'tap'
import { fakeEnvelope, harness, KEY_1, KEY_2, newMemberId, newMessageId, newRoomHash, vaultApi, type Harness } from './helpers.js'

const keyId = (key: Buffer): string => createHash('sha256').update(key).digest('hex').slice(0, 8)

/** Under a vault with KEY_1, alice stores two messages for bob; the vault is then stopped. */
async function storedUnderKey1 (h: Harness) {
  const first = await h.startVault({ encryptionKey: KEY_1 })
  const api = vaultApi(h.bus)
  const room = newRoomHash()
  const [alice, bob] = [newMemberId(), newMemberId()]
  await api.join(room, alice)
  await api.join(room, bob)
  const old = [{ id: newMessageId(), envelope: fakeEnvelope() }, { id: newMessageId(), envelope: fakeEnvelope(4096) }]
  for (const m of old) {
    const stored = await api.store(room, alice, m.id, m.envelope)
    if (!stored.ok) throw new Error('setup: store failed')
  }
  await first.stop()
  return { api, room, alice, bob, old }
}

const keyIdsOf = async (h: Harness, ids: string[]): Promise<string[]> =>
  (await h.db.selectFrom('messages').select('key_id').where('id', 'in', ids).execute()).map((row) => row.key_id)

t.test('after rotation, messages sealed under a retired key still open with the exact envelope', async (t) => {
  const h = await harness(t)
  const { api, room, bob, old } = await storedUnderKey1(h)
  t.same(await keyIdsOf(h, old.map((m) => m.id)), [keyId(KEY_1), keyId(KEY_1)], 'the old rows carry the key id of KEY_1')
  await h.startVault({ encryptionKey: KEY_2, retiredKeys: [KEY_1] })
  for (const m of old) t.same(await api.fetch(room, bob, m.id), { v: 1, ok: true, ...m.envelope }, 'the exact envelope comes back')
  t.same(await keyIdsOf(h, old.map((m) => m.id)), [keyId(KEY_1), keyId(KEY_1)], 'reading does not rewrite them')
})

t.test('after rotation, new messages are sealed under the new key', async (t) => {
  const h = await harness(t)
  const { api, room, alice, bob } = await storedUnderKey1(h)
  await h.startVault({ encryptionKey: KEY_2, retiredKeys: [KEY_1] })
  const id = newMessageId()
  const envelope = fakeEnvelope()
  t.match(await api.store(room, alice, id, envelope), { ok: true, recipients: [bob] }, 'a new message is stored')
  t.same(await keyIdsOf(h, [id]), [keyId(KEY_2)], 'the new row carries the key id of KEY_2')
  t.not(keyId(KEY_2), keyId(KEY_1), 'which differs from the old one')
  t.same(await api.fetch(room, bob, id), { v: 1, ok: true, ...envelope }, 'and opens')
})

t.test('a resend of an old message after rotation is still recognised as a duplicate', async (t) => {
  const h = await harness(t)
  const { api, room, alice, old } = await storedUnderKey1(h)
  await h.startVault({ encryptionKey: KEY_2, retiredKeys: [KEY_1] })
  const [m] = old
  if (m === undefined) throw new Error('setup')
  t.match(await api.store(room, alice, m.id, m.envelope), { ok: true, duplicate: true }, 'the resend is answered as a duplicate')
  t.same(await keyIdsOf(h, [m.id]), [keyId(KEY_1)], 'the row is left as it was')
})

t.test('a vault that does not hold the old key answers internal for old messages and serves new ones', async (t) => {
  const h = await harness(t)
  const { api, room, alice, bob, old } = await storedUnderKey1(h)
  await h.startVault({ encryptionKey: KEY_2 })
  for (const m of old) {
    t.same(await api.fetch(room, bob, m.id), { v: 1, ok: false, code: 'internal', message: errorMessage('internal') }, 'the old message cannot be opened')
  }
  t.equal((await h.db.selectFrom('messages').select('id').where('id', 'in', old.map((m) => m.id)).execute()).length, 2, 'the old rows stay for a vault that holds the key')
  const id = newMessageId()
  const envelope = fakeEnvelope()
  t.match(await api.store(room, alice, id, envelope), { ok: true }, 'a new message is stored')
  t.same(await api.fetch(room, bob, id), { v: 1, ok: true, ...envelope }, 'and opens')
})
