import { createHash } from 'node:crypto'
import { codecs, VAULT_SUBJECTS } from '@ephemeral-chat/protocol'
import { waitFor } from '@ephemeral-chat/testkit'
import t from 'tap'
import { call, harness, listenToRoomEvents, newGatewayId, newMemberId, newRoomHash } from './helpers.js'

/** The digest a gateway keeps: XOR of the first 64 bits of md5("connection:room:member"). */
function digest (entries: Array<[number, string, string]>): string {
  let sum = 0n
  for (const [c, r, m] of entries) sum ^= BigInt(`0x${createHash('md5').update(`${c}:${r}:${m}`).digest('hex').slice(0, 16)}`)
  return sum.toString(16).padStart(16, '0')
}

t.test('presence per connection: repeated joins and disconnects of one connection count once', async (t) => {
  const h = await harness(t)
  await h.startVault()
  const gatewayId = newGatewayId()
  const room = newRoomHash()
  const [alice, bob] = [newMemberId(), newMemberId()]
  const join = async (memberId: string, connectionId: number) => call(h.bus, VAULT_SUBJECTS.roomJoin, { roomHash: room, memberId, gatewayId, connectionId }, codecs.roomJoinReply)
  const disconnect = async (memberId: string, connectionId: number) => call(h.bus, VAULT_SUBJECTS.roomLeave, { roomHash: room, memberId, gatewayId, connectionId, mode: 'disconnect' }, codecs.roomLeaveReply)
  t.match(await join(alice, 1), { ok: true, members: 1 })
  t.match(await join(alice, 1), { ok: true, members: 1 }, 'the same connection joining again changes nothing')
  t.match(await join(alice, 2), { ok: true, members: 1 }, 'a second tab of the same member: still one member')
  t.match(await join(bob, 3), { ok: true, members: 2 })
  t.match(await disconnect(alice, 1), { ok: true, members: 2 }, 'alice still has her other connection')
  t.match(await disconnect(alice, 1), { ok: true, members: 2 }, 'a repeated disconnect changes nothing')
  t.match(await disconnect(alice, 2), { ok: true, members: 1 })
})

t.test('a heartbeat whose digest differs asks for the gateway\'s set, which then replaces the vault\'s rows', async (t) => {
  const h = await harness(t)
  await h.startVault()
  const gatewayId = newGatewayId()
  const room = newRoomHash()
  const [alice, bob, carol] = [newMemberId(), newMemberId(), newMemberId()]
  const events = await listenToRoomEvents(t, h.bus, room)
  for (const [memberId, connectionId] of [[alice, 0], [bob, 1], [carol, 2]] as const) {
    await call(h.bus, VAULT_SUBJECTS.roomJoin, { roomHash: room, memberId, gatewayId, connectionId }, codecs.roomJoinReply)
  }
  const heartbeat = async (entries: Array<[number, string, string]>) =>
    call(h.bus, VAULT_SUBJECTS.gatewayHeartbeat, { gatewayId, intervalMs: 5000, connections: entries.length, digest: digest(entries) }, codecs.gatewayHeartbeatReply)
  const all: Array<[number, string, string]> = [[0, room, alice], [1, room, bob], [2, room, carol]]
  t.match(await heartbeat(all), { ok: true, resync: false }, 'the same three connections: nothing to do')

  // Bob's disconnect was lost and carol's connection 2 is now a new connection 4 (say her join was
  // refused at the gateway but committed): the gateway holds alice (0) and carol (4).
  const held: Array<[number, string, string]> = [[0, room, alice], [4, room, carol]]
  t.match(await heartbeat(held), { ok: true, resync: true }, 'the vault sees its rows differ')
  t.match(await call(h.bus, VAULT_SUBJECTS.gatewaySync, {
    gatewayId, from: 0, to: 5, entries: held.map(([connectionId, roomHash, memberId]) => ({ connectionId, roomHash, memberId }))
  }, codecs.gatewaySyncReply), { ok: true })
  t.match(await heartbeat(held), { ok: true, resync: false }, 'after the sync the vault agrees')
  const rows = await h.db.selectFrom('presence').select(['connection_id', 'member_id']).where('gateway_id', '=', gatewayId).orderBy('connection_id').execute()
  t.same(rows.map((r) => [Number(r.connection_id), r.member_id]), [[0, alice], [4, carol]], 'ghosts gone, the missing one added')
  await waitFor('a presence event with the healed count', () => events.of('presence').some((e) => e.members === 2))
})

t.test('a sync leaves connections numbered after its range alone', async (t) => {
  const h = await harness(t)
  await h.startVault()
  const gatewayId = newGatewayId()
  const room = newRoomHash()
  const [alice, bob] = [newMemberId(), newMemberId()]
  await call(h.bus, VAULT_SUBJECTS.roomJoin, { roomHash: room, memberId: alice, gatewayId, connectionId: 0 }, codecs.roomJoinReply)
  // Bob joined through connection 9 after the gateway took its snapshot (numbers 0 to 8).
  await call(h.bus, VAULT_SUBJECTS.roomJoin, { roomHash: room, memberId: bob, gatewayId, connectionId: 9 }, codecs.roomJoinReply)
  await call(h.bus, VAULT_SUBJECTS.gatewaySync, { gatewayId, from: 0, to: 9, entries: [{ connectionId: 0, roomHash: room, memberId: alice }] }, codecs.gatewaySyncReply)
  const rows = await h.db.selectFrom('presence').select('connection_id').where('gateway_id', '=', gatewayId).orderBy('connection_id').execute()
  t.same(rows.map((r) => Number(r.connection_id)), [0, 9])
})
