import { sql } from 'kysely'
import t from 'tap'
import { waitFor } from '@ephemeral-chat/testkit'
import { createPool } from '../src/db/database.js'
import { countRows, fakeEnvelope, harness, listenToRoomEvents, newMemberId, newMessageId, newRoomHash, vaultApi } from './helpers.js'

t.test('a resend after the message was viewed and deleted is answered "gone", never stored or delivered again', async (t) => {
  const h = await harness(t)
  await h.startVault()
  const api = vaultApi(h.bus)
  const room = newRoomHash()
  const [alice, bob] = [newMemberId(), newMemberId()]
  await api.join(room, alice)
  await api.join(room, bob)
  const events = await listenToRoomEvents(t, h.bus, room)
  const id = newMessageId()
  const envelope = fakeEnvelope()
  const first = await api.store(room, alice, id, envelope)
  t.match(first, { ok: true, duplicate: false })
  t.match(await api.ack(room, bob, id), { ok: true, gone: true })

  const again = await api.store(room, alice, id, envelope)
  t.match(again, { ok: true, duplicate: true, gone: 'viewed', recipients: [] }, 'the stalled resend learns it was delivered')
  t.equal(await countRows(h.db, 'messages'), 0, 'no row is written again')
  await h.bus.ping()
  t.equal(events.of('message').length, 1, 'no second card is announced')
  t.match(await api.fetch(room, bob, id), { ok: false, code: 'not-found' }, 'there is nothing to reveal twice')
})

t.test('a resend racing the last confirmation is answered "gone": the row that confirmation deletes is not written again', async (t) => {
  const h = await harness(t)
  await h.startVault()
  const api = vaultApi(h.bus)
  const room = newRoomHash()
  const [alice, bob] = [newMemberId(), newMemberId()]
  await api.join(room, alice)
  await api.join(room, bob)
  const events = await listenToRoomEvents(t, h.bus, room)
  const id = newMessageId()
  const envelope = fakeEnvelope()
  t.match(await api.store(room, alice, id, envelope), { ok: true, duplicate: false, recipients: [bob] })

  // Bob's last confirmation, held open: the row is deleted and the tombstone written, neither committed.
  let resend: ReturnType<typeof api.store> | undefined
  await h.db.transaction().execute(async (trx) => {
    const acked = await sql<{ outcome: string }>`select outcome from vault_ack(${[room]}::text[], ${[bob]}::text[], ${[id]}::text[])`.execute(trx)
    t.equal(acked.rows[0]?.outcome, 'gone', 'the confirmation deletes the row (not committed yet)')
    resend = api.store(room, alice, id, envelope)
    // The resend's insert meets the row being deleted and waits for this transaction.
    await waitFor('the resend waiting for the confirmation', async () => {
      const waiting = await sql<{ n: number }>`select count(*)::int as n from pg_stat_activity
        where datname = current_database() and wait_event_type = 'Lock' and query like '%vault_store%'`.execute(h.db)
      return (waiting.rows[0]?.n ?? 0) > 0
    })
  })
  t.match(await resend, { ok: true, duplicate: true, gone: 'viewed', recipients: [] }, 'once the confirmation commits, the resend learns the message was viewed')
  t.equal(await countRows(h.db, 'messages'), 0, 'no row is left for a recipient who already viewed it')
  t.equal(await countRows(h.db, 'message_tombstones'), 1)
  await h.bus.ping()
  t.equal(events.of('message').length, 1, 'no second card is announced')
  t.match(await api.store(room, alice, id, envelope), { ok: true, duplicate: true, gone: 'viewed' }, 'a later resend is answered the same')
})

t.test('a resend after the message went with its recipient is answered "gone" (left)', async (t) => {
  const h = await harness(t)
  await h.startVault()
  const api = vaultApi(h.bus)
  const room = newRoomHash()
  const [alice, bob] = [newMemberId(), newMemberId()]
  await api.join(room, alice)
  await api.join(room, bob)
  const id = newMessageId()
  await api.store(room, alice, id)
  await api.leave(room, bob, 'leave')
  t.match(await api.store(room, alice, id), { ok: true, duplicate: true, gone: 'left' })
  t.equal(await countRows(h.db, 'messages'), 0)
})

t.test('a tombstone lives until the message would have expired; then the sweeper forgets it', async (t) => {
  const h = await harness(t)
  const vault = await h.startVault()
  const api = vaultApi(h.bus)
  const room = newRoomHash()
  const [alice, bob] = [newMemberId(), newMemberId()]
  await api.join(room, alice)
  await api.join(room, bob)
  const id = newMessageId()
  await api.store(room, alice, id)
  await api.ack(room, bob, id)
  t.equal(await countRows(h.db, 'message_tombstones'), 1, 'the id is remembered')
  const kept = await h.db.selectFrom('message_tombstones').selectAll().executeTakeFirstOrThrow()
  t.same(Object.keys(kept).sort(), ['expires_at', 'id', 'reason', 'room_hash', 'sender_id'], 'and nothing else about the message')
  await sql`update message_tombstones set expires_at = now() - interval '1 second'`.execute(h.db)
  await vault.app.sweeper.sweep()
  t.equal(await countRows(h.db, 'message_tombstones'), 0, 'past its expiry it is gone')
  t.match(await api.store(room, alice, id), { ok: true, duplicate: false, recipients: [bob] }, 'and the id may be used again')
})

t.test('the vault\'s connections run READ COMMITTED even where the database defaults to a stricter isolation (the race fix above relies on it)', async (t) => {
  const h = await harness(t)
  await sql.raw(`alter database "${h.database.database}" set default_transaction_isolation = 'serializable'`).execute(h.db)
  t.teardown(async () => { await sql.raw(`alter database "${h.database.database}" reset default_transaction_isolation`).execute(h.db).catch(() => {}) })
  const pool = createPool({ ...h.database, maxConnections: 1 })
  t.teardown(async () => { await pool.end() })
  const shown = await pool.query<{ default_transaction_isolation: string }>('show default_transaction_isolation')
  t.equal(shown.rows[0]?.default_transaction_isolation, 'read committed', 'the vault pool pins it')
})
