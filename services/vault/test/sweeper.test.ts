import { waitFor } from '@ephemeral-chat/testkit'
import { sql } from 'kysely'
import pg from 'pg'
import t from 'tap'
import { countRows, harness, inParallel, listenToRoomEvents, newGatewayId, newMemberId, newMessageId, newRoomHash, vaultApi, type Harness } from './helpers.js'

async function ageGateway (h: Harness, gatewayId: string): Promise<void> {
  await sql`update gateways set last_heartbeat_at = now() - interval '1 hour' where gateway_id = ${gatewayId}`.execute(h.db)
}

const presenceOf = async (h: Harness, roomHash: string): Promise<Array<{ member_id: string, gateway_id: string }>> =>
  h.db.selectFrom('presence').select(['member_id', 'gateway_id']).where('room_hash', '=', roomHash).orderBy('member_id').execute()

const membersOf = async (h: Harness, roomHash: string): Promise<string[]> =>
  (await h.db.selectFrom('members').select('member_id').where('room_hash', '=', roomHash).orderBy('member_id').execute()).map((row) => row.member_id)

t.test('members of a gateway whose heartbeat stopped lose their presence but stay members', async (t) => {
  const h = await harness(t)
  const vault = await h.startVault()
  const deadGateway = vaultApi(h.bus, newGatewayId())
  const liveGateway = vaultApi(h.bus, newGatewayId())
  const room = newRoomHash()
  const [alice, bob, carol] = [newMemberId(), newMemberId(), newMemberId()]
  await deadGateway.join(room, alice)
  await deadGateway.join(room, bob)
  const joined = await liveGateway.join(room, carol)
  t.match(joined, { ok: true, members: 3 }, 'three members present')
  const joinVersion = joined.ok ? joined.presenceVersion : Infinity
  const events = await listenToRoomEvents(t, h.bus, room)

  await ageGateway(h, deadGateway.gatewayId)
  await vault.app.sweeper.sweep()

  t.same(await presenceOf(h, room), [{ member_id: carol, gateway_id: liveGateway.gatewayId }], 'only the live gateway\'s connection is left')
  t.same(await h.db.selectFrom('gateways').select('gateway_id').where('gateway_id', '=', deadGateway.gatewayId).execute(), [], 'the dead gateway is forgotten')
  await waitFor('a presence event', () => events.of('presence').length > 0)
  const presence = events.of('presence')
  t.same(presence.map((e) => e.members), [1], 'the room is told the new count')
  t.ok((presence[0]?.version ?? -1) > joinVersion, 'a later version than the count carol\'s join returned, so no gateway takes it for an old one')
  t.same(await membersOf(h, room), [alice, bob, carol].sort(), 'alice and bob are still members')

  const id = newMessageId()
  t.match(await liveGateway.store(room, carol, id), { ok: true }, 'carol sends while they are away')
  t.same((await h.db.selectFrom('messages').select('recipients').where('id', '=', id).executeTakeFirstOrThrow()).recipients.sort(),
    [alice, bob].sort(), 'the absent members are its recipients')
  t.match(await deadGateway.join(room, alice), { ok: true, members: 2, pending: [{ id, from: carol }] }, 'alice rejoins and gets the pending card')
})

t.test('a gateway that keeps heartbeating keeps its members present', async (t) => {
  const h = await harness(t)
  const vault = await h.startVault()
  const gateway = vaultApi(h.bus, newGatewayId())
  const room = newRoomHash()
  const alice = newMemberId()
  await gateway.join(room, alice)
  const events = await listenToRoomEvents(t, h.bus, room)

  await ageGateway(h, gateway.gatewayId)
  // It says it holds no connection while the vault counts one: it is asked for its set.
  t.same(await gateway.heartbeat(), { v: 1, ok: true, resync: true }, 'the heartbeat is answered')
  const [beat] = await h.db.selectFrom('gateways').select(sql<boolean>`last_heartbeat_at > now() - interval '1 minute'`.as('fresh'))
    .where('gateway_id', '=', gateway.gatewayId).execute()
  t.same(beat, { fresh: true }, 'the heartbeat refreshed the gateway\'s time')
  await vault.app.sweeper.sweep()

  t.same(await presenceOf(h, room), [{ member_id: alice, gateway_id: gateway.gatewayId }], 'its connection is kept')
  await h.bus.ping()
  await new Promise((resolve) => setTimeout(resolve, 100))
  t.same(events.of('presence'), [], 'no presence change is announced')
})

t.test('a heartbeat from a gateway the vault never saw registers it', async (t) => {
  const h = await harness(t)
  await h.startVault()
  const gateway = vaultApi(h.bus, newGatewayId())
  t.same(await gateway.heartbeat(), { v: 1, ok: true, resync: false }, 'the heartbeat is answered (nothing to reconcile)')
  t.equal(await countRows(h.db, 'gateways', { column: 'gateway_id', value: gateway.gatewayId }), 1, 'a gateways row exists')
})

t.test('a sweep removes a room whose members all left for good and that holds no message, and no other', async (t) => {
  const h = await harness(t)
  const vault = await h.startVault()
  const api = vaultApi(h.bus)
  const [emptied, occupied, holdingMessage] = [newRoomHash(), newRoomHash(), newRoomHash()]
  const [alice, bob, carol] = [newMemberId(), newMemberId(), newMemberId()]
  await api.join(emptied, alice)
  await api.leave(emptied, alice, 'leave')
  await api.join(occupied, bob)
  await api.leave(occupied, bob, 'disconnect')
  await api.join(holdingMessage, carol)
  await api.store(holdingMessage, carol, newMessageId())
  await api.leave(holdingMessage, carol, 'leave')
  t.equal(await countRows(h.db, 'rooms'), 3, 'three rooms before the sweep')

  await vault.app.sweeper.sweep()

  const rooms = (await h.db.selectFrom('rooms').select('room_hash').execute()).map((row) => row.room_hash)
  t.notOk(rooms.includes(emptied), 'the empty room is removed')
  t.ok(rooms.includes(occupied), 'a room with a (disconnected) member is kept')
  t.ok(rooms.includes(holdingMessage), 'a room with a message waiting for its next member is kept')
  t.match(await api.join(emptied, alice), { ok: true, members: 1, pending: [] }, 'the removed room can be joined again afresh')
})

t.test('members absent longer than the message TTL are forgotten, with messages only they awaited', async (t) => {
  const h = await harness(t)
  const vault = await h.startVault({ messageTtlMs: 60_000 })
  const api = vaultApi(h.bus)
  const events = await listenToRoomEvents(t, h.bus)
  const room = newRoomHash()
  const [alice, bob, carol] = [newMemberId(), newMemberId(), newMemberId()]
  for (const member of [alice, bob, carol]) await api.join(room, member)
  await api.leave(room, bob, 'disconnect')
  const [onlyBob, bobAndCarol] = [newMessageId(), newMessageId()]
  await api.store(room, alice, onlyBob)
  await api.store(room, alice, bobAndCarol)
  t.match(await api.ack(room, carol, onlyBob), { ok: true, remaining: 1 }, 'carol viewed one: it now awaits bob alone')
  // Bob was last seen longer ago than the TTL; alice too, but she is still connected.
  await sql`update members set last_seen_at = now() - interval '2 minutes' where member_id in (${bob}, ${alice})`.execute(h.db)

  await vault.app.sweeper.sweep()

  t.same(await membersOf(h, room), [alice, carol].sort(), 'bob is forgotten; the connected alice is not')
  t.same(await h.db.selectFrom('messages').select('id').execute(), [{ id: bobAndCarol }], 'the message only bob awaited is deleted')
  t.same(await h.db.selectFrom('messages').select(['recipients', 'unviewed']).where('id', '=', bobAndCarol).execute(),
    [{ recipients: [carol], unviewed: [carol] }], 'bob is out of the other one\'s recipient set')
  await waitFor('a gone event', () => events.of('gone').length > 0)
  t.same(events.of('gone', room), [{ v: 1, type: 'gone', id: onlyBob, reason: 'left' }], 'the room is told it is gone')
  t.match(await api.join(room, bob), { ok: true, pending: [] }, 'bob coming back is a new member with nothing pending')
  t.match(await api.fetch(room, bob, bobAndCarol), { ok: false, code: 'not-recipient' }, 'and no longer a recipient of the other message')
})

t.test('two replicas sweeping at once delete each expired message exactly once', async (t) => {
  const h = await harness(t)
  const replicas = [await h.startVault(), await h.startVault()]
  const api = vaultApi(h.bus)
  const events = await listenToRoomEvents(t, h.bus)
  // More than two batches of the sweep query (1 000), so both replicas have work in the same pass.
  const rooms = Array.from({ length: 50 }, () => ({ hash: newRoomHash(), sender: newMemberId(), recipient: newMemberId() }))
  for (const room of rooms) {
    await api.join(room.hash, room.sender)
    await api.join(room.hash, room.recipient)
  }
  const messages = rooms.flatMap((room) => Array.from({ length: 50 }, () => ({ room, id: newMessageId() })))
  const stored = await inParallel(messages, 50, async (m) => api.store(m.room.hash, m.room.sender, m.id))
  t.equal(stored.filter((reply) => reply.ok).length, messages.length, `${messages.length} messages stored`)
  await sql`update messages set expires_at = now() - interval '1 second'`.execute(h.db)

  await Promise.all(replicas.map(async (replica) => replica.app.sweeper.sweep()))

  t.equal(await countRows(h.db, 'messages'), 0, 'every message row is deleted')
  await waitFor('every gone event', () => events.of('gone').length >= messages.length, 15_000)
  await h.bus.ping()
  await new Promise((resolve) => setTimeout(resolve, 300)) // room for a duplicate event to show up
  const gone = new Map<string, number>()
  for (const event of events.of('gone')) if (event.reason === 'expired') gone.set(event.id, (gone.get(event.id) ?? 0) + 1)
  t.equal(events.of('gone').length, messages.length, 'one gone event per message, no more')
  t.same(messages.filter((m) => gone.get(m.id) !== 1).map((m) => m.id), [], 'exactly one expired event for each message')

  const counted = await Promise.all(replicas.map(async (replica) => {
    const metrics = await replica.app.metricsApp.inject({ method: 'GET', url: '/metrics' })
    return Number(/^vault_messages_expired_total (\d+)$/m.exec(metrics.body)?.[1] ?? NaN)
  }))
  t.equal(counted.reduce((a, b) => a + b, 0), messages.length, 'the replicas\' expiry counters add up to the number of messages')
  t.comment(`expired per replica: ${counted.join(' + ')}`)
})

t.test('a member who rejoins while the sweeper is forgetting it is joined again, not refused', async (t) => {
  const h = await harness(t)
  const vault = await h.startVault({ messageTtlMs: 60_000 })
  const api = vaultApi(h.bus)
  const room = newRoomHash()
  const [alice, bob] = [newMemberId(), newMemberId()]
  await api.join(room, alice)
  await api.join(room, bob)
  await api.leave(room, bob, 'disconnect')
  await sql`update members set last_seen_at = now() - interval '2 minutes' where member_id = ${bob}`.execute(h.db)

  // Pause the sweep inside its transaction, right after it claimed bob's row, so bob's join meets it there.
  const blocker = new pg.Client({ ...h.database })
  await blocker.connect()
  // Asked outside the blocker's transaction, which would see one frozen snapshot of pg_stat_activity.
  const waiting = async (n: number): Promise<boolean> => {
    const { rows } = await sql<{ n: string }>`select count(*) as n from pg_stat_activity where datname = current_database() and wait_event_type = 'Lock'`.execute(h.db)
    return Number(rows[0]?.n) >= n
  }
  let sweeping: Promise<void> | undefined
  let rejoined: ReturnType<typeof api.join> | undefined
  try {
    await blocker.query('begin; lock table messages in exclusive mode')
    sweeping = vault.app.sweeper.sweep()
    await waitFor('the sweep to wait for the lock', async () => waiting(1))
    rejoined = api.join(room, bob)
    await waitFor('the join to wait for the sweep', async () => waiting(2))
  } finally {
    await blocker.end()
  }
  await sweeping
  t.match(await rejoined, { ok: true, members: 2, pending: [] }, 'the join succeeds (it used to answer internal)')
  t.same(await membersOf(h, room), [alice, bob].sort(), 'bob is a member (again)')
  t.same((await presenceOf(h, room)).map((row) => row.member_id), [alice, bob].sort(), 'and present')
})
