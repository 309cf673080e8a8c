/**
 * Protocol v2: the vault keeps a room's MLS group in order without opening anything
 * (docs/architecture.md §11): one creation, then one commit per epoch (compare-and-set),
 * the commit log members catch up from, the latest GroupInfo for joiners, all sealed
 * at rest; removed members stop being recipients; old handshakes are pruned.
 */
import { createHash, randomBytes } from 'node:crypto'
import { sql } from 'kysely'
import { MAX_HANDSHAKE_BYTES, MAX_SEALED_GROUP_INFO_BYTES } from '@ephemeral-chat/protocol'
import t from 'tap'
import { commitBytes, mlsMessage, sealedInfo } from './mls-wire.js'
import { countRows, harness, KEY_1, KEY_2, listenToRoomEvents, newMemberId, newMessageId, newRoomHash, vaultApi, type Harness } from './helpers.js'

const newGroupId = (): string => randomBytes(32).toString('base64url')

async function roomWith (h: Harness, count: number) {
  const api = vaultApi(h.bus)
  const room = newRoomHash()
  const members = Array.from({ length: count }, () => newMemberId())
  for (const member of members) await api.join(room, member, 2)
  return { api, room, members }
}

t.test('the first member creates the group; a second creation is stale and the joiner gets the group instead', async (t) => {
  const h = await harness(t)
  await h.startVault()
  const { api, room, members: [alice, bob] } = await roomWith(h, 2) as { api: ReturnType<typeof vaultApi>, room: string, members: [string, string] }
  t.match(await api.groupState(room, alice), { ok: true, handshakes: [], complete: true, gap: false }, 'no group yet')
  t.notOk((await api.groupState(room, alice) as { group?: unknown }).group, 'and no group in the reply')

  const groupId = newGroupId()
  const info = sealedInfo()
  t.match(await api.commit(room, alice, { groupId, epoch: 0, groupInfo: info }), { ok: true, epoch: 0 }, 'Alice creates it at epoch 0')
  t.match(await api.commit(room, bob, { groupId: newGroupId(), epoch: 0, groupInfo: sealedInfo() }), { ok: false, code: 'stale-epoch' }, 'a second creation loses')
  t.match(await api.groupState(room, bob), { ok: true, group: { groupId, epoch: 0, groupInfo: info } }, 'Bob gets Alice\'s group and its GroupInfo, as she sealed it')
  t.match(await api.commit(room, newMemberId(), { groupId, epoch: 0, groupInfo: info }), { ok: false, code: 'not-joined' }, 'only a member of the room')
  t.match(await api.groupState(newRoomHash(), alice), { ok: false, code: 'not-joined' })
})

t.test('a commit is accepted only in the room\'s current epoch: of two made in the same epoch, exactly one wins', async (t) => {
  const h = await harness(t)
  await h.startVault()
  const { api, room, members } = await roomWith(h, 3)
  const [alice, bob, carol] = members as [string, string, string]
  const events = await listenToRoomEvents(t, h.bus, room)
  const groupId = newGroupId()
  await api.commit(room, alice, { groupId, epoch: 0, groupInfo: sealedInfo() })

  // Bob and Carol both join by external commit on epoch 0, at the same time.
  const [bobCommit, carolCommit] = [commitBytes(groupId, 0, 'external'), commitBytes(groupId, 0, 'external')]
  const results = await Promise.all([
    api.commit(room, bob, { groupId, epoch: 0, handshake: bobCommit, groupInfo: sealedInfo() }),
    api.commit(room, carol, { groupId, epoch: 0, handshake: carolCommit, groupInfo: sealedInfo() })
  ])
  t.same(results.map((r) => r.ok ? 'won' : r.code).sort(), ['stale-epoch', 'won'], 'one wins, the other is told stale-epoch')
  const [winner, loser, loserCommit] = results[0]?.ok === true ? [bob, carol, carolCommit] : [carol, bob, bobCommit]
  t.match(await api.groupState(room, winner), { ok: true, group: { epoch: 1 } }, 'the room is at epoch 1')
  await h.bus.ping()
  t.same(events.of('handshake').map((e) => ({ epoch: e.epoch, from: e.from })), [{ epoch: 0, from: winner }], 'the winning commit alone is announced')

  // The loser catches up and commits again on top.
  t.match(await api.commit(room, loser, { groupId, epoch: 0, handshake: loserCommit, groupInfo: sealedInfo() }), { ok: false, code: 'stale-epoch' }, 'a retry of the same epoch stays stale')
  t.match(await api.commit(room, loser, { groupId, epoch: 1, handshake: commitBytes(groupId, 1, 'external'), groupInfo: sealedInfo() }), { ok: true, epoch: 2 })
  const otherGroup = newGroupId()
  t.match(await api.commit(room, loser, { groupId: otherGroup, epoch: 2, handshake: commitBytes(otherGroup, 2, 'member'), groupInfo: sealedInfo() }), { ok: false, code: 'stale-epoch' }, 'a commit of another group is stale')
  t.equal(await countRows(h.db, 'handshakes'), 2, 'one handshake per epoch')
})

t.test('a retry of an accepted commit (its answer lost) is answered as accepted; the same epoch\'s other commits stay stale', async (t) => {
  const h = await harness(t)
  await h.startVault()
  const { api, room, members } = await roomWith(h, 3)
  const [alice, bob, carol] = members as [string, string, string]
  const groupId = newGroupId()
  const created = { groupId, epoch: 0, groupInfo: sealedInfo() }
  t.match(await api.commit(room, alice, created), { ok: true, epoch: 0 })
  const bobJoin = { groupId, epoch: 0, handshake: commitBytes(groupId, 0, 'external'), groupInfo: sealedInfo() }
  t.match(await api.commit(room, bob, bobJoin), { ok: true, epoch: 1 })
  t.match(await api.commit(room, alice, { groupId, epoch: 1, handshake: commitBytes(groupId, 1, 'member'), groupInfo: sealedInfo() }), { ok: true, epoch: 2 }, 'the group moves on')

  t.match(await api.commit(room, alice, created), { ok: true, epoch: 0 }, 'the creator\'s retry of its creation')
  t.match(await api.commit(room, bob, bobJoin), { ok: true, epoch: 1 }, 'Bob\'s retry of his join, after another commit, is still his')
  t.match(await api.commit(room, carol, { ...bobJoin }), { ok: false, code: 'stale-epoch' }, 'the same bytes from another member are not his')
  t.match(await api.commit(room, bob, { ...bobJoin, handshake: commitBytes(groupId, 0, 'external') }), { ok: false, code: 'stale-epoch' }, 'another commit of Bob\'s in that epoch lost')
  t.match(await api.commit(room, carol, { groupId, epoch: 0, groupInfo: sealedInfo() }), { ok: false, code: 'stale-epoch' }, 'a creation by anyone else')
  t.equal(await countRows(h.db, 'handshakes'), 2, 'nothing was written twice')
  t.match(await api.groupState(room, alice), { ok: true, group: { epoch: 2 } })
})

t.test('a handshake whose clear header is not a commit of this group and epoch is refused as bad-frame, before anything is written', async (t) => {
  const h = await harness(t)
  await h.startVault()
  const { api, room, members: [alice, bob] } = await roomWith(h, 2) as { api: ReturnType<typeof vaultApi>, room: string, members: [string, string] }
  const groupId = newGroupId()
  await api.commit(room, alice, { groupId, epoch: 0, groupInfo: sealedInfo() })
  const base = commitBytes(groupId, 0, 'external')
  const bytes = Buffer.from(base, 'base64url')
  const variants: Array<[string, string]> = [
    ['another epoch in its header', commitBytes(groupId, 5, 'external')],
    ['another group in its header', commitBytes(newGroupId(), 0, 'external')],
    // 5 bytes of version, wire format and id length, the 32-byte id, the 8-byte epoch: sender type at 45, authenticated data length at 46, content type at 47.
    ['a proposal, not a commit', Buffer.concat([bytes.subarray(0, 47), Buffer.from([2]), bytes.subarray(48)]).toString('base64url')],
    ['a private message', Buffer.concat([Buffer.from([0, 1, 0, 2]), bytes.subarray(4)]).toString('base64url')],
    ['truncated in its group id', bytes.subarray(0, 20).toString('base64url')],
    ['an unknown sender type', Buffer.concat([bytes.subarray(0, 45), Buffer.from([9]), bytes.subarray(46)]).toString('base64url')]
  ]
  for (const [what, handshake] of variants) {
    t.match(await api.commit(room, bob, { groupId, epoch: 0, handshake, groupInfo: sealedInfo() }), { ok: false, code: 'bad-frame' }, what)
  }
  t.match(await api.commit(room, bob, { groupId, epoch: 0, handshake: base, groupInfo: sealedInfo(), removed: [alice] }), { ok: false, code: 'bad-frame' },
    'an external commit removing anyone (RFC 9420 §12.4.3.2: it may remove only the joiner\'s own old leaf, which the vault does not track)')
  t.equal(await countRows(h.db, 'handshakes'), 0)
  t.match(await api.commit(room, bob, { groupId, epoch: 0, handshake: base, groupInfo: sealedInfo() }), { ok: true, epoch: 1 }, 'the genuine one still goes through')
  t.match(await api.commit(room, newMemberId(), { groupId, epoch: 1, handshake: commitBytes(groupId, 1, 'member'), groupInfo: sealedInfo() }), { ok: false, code: 'not-joined' })
})

t.test('a member commit needs a member of the group; an external commit makes one', async (t) => {
  const h = await harness(t)
  await h.startVault()
  const { api, room, members: [alice, bob] } = await roomWith(h, 2) as { api: ReturnType<typeof vaultApi>, room: string, members: [string, string] }
  const groupId = newGroupId()
  await api.commit(room, alice, { groupId, epoch: 0, groupInfo: sealedInfo() })
  t.match(await api.commit(room, bob, { groupId, epoch: 0, handshake: commitBytes(groupId, 0, 'member'), groupInfo: sealedInfo() }), { ok: false, code: 'not-joined' }, 'Bob is in the room, not yet in the group')
  t.match(await api.groupState(room, bob, 0), { ok: false, code: 'stale-epoch' }, 'nor may he read its handshakes')
  await api.commit(room, bob, { groupId, epoch: 0, handshake: commitBytes(groupId, 0, 'external'), groupInfo: sealedInfo() })
  t.match(await api.commit(room, bob, { groupId, epoch: 1, handshake: commitBytes(groupId, 1, 'member'), groupInfo: sealedInfo() }), { ok: true, epoch: 2 }, 'once joined, his own commits go through')
  const rows = await h.db.selectFrom('members').select(['member_id', 'joined_epoch']).where('room_hash', '=', room).execute()
  t.same(Object.fromEntries(rows.map((r) => [r.member_id, Number(r.joined_epoch)])), { [alice]: 0, [bob]: 1 }, 'each is in the group from the epoch it joined')
})

t.test('a member catches up on the handshakes since its epoch, in order; one it can no longer get is a gap', async (t) => {
  const h = await harness(t)
  const vault = await h.startVault()
  const { api, room, members: [alice, bob] } = await roomWith(h, 2) as { api: ReturnType<typeof vaultApi>, room: string, members: [string, string] }
  const groupId = newGroupId()
  await api.commit(room, alice, { groupId, epoch: 0, groupInfo: sealedInfo() })
  const sent: string[] = []
  sent.push(commitBytes(groupId, 0, 'external'))
  await api.commit(room, bob, { groupId, epoch: 0, handshake: sent[0], groupInfo: sealedInfo() })
  for (let epoch = 1; epoch < 6; epoch++) {
    const handshake = commitBytes(groupId, epoch, 'member')
    sent.push(handshake)
    t.match(await api.commit(room, epoch % 2 === 0 ? alice : bob, { groupId, epoch, handshake, groupInfo: sealedInfo() }), { ok: true, epoch: epoch + 1 })
  }
  t.match(await api.groupState(room, alice, 0), { ok: true, group: { groupId, epoch: 6 }, handshakes: sent.map((handshake, epoch) => ({ epoch, handshake })), complete: true, gap: false }, 'from epoch 0: all six, byte for byte')
  t.match(await api.groupState(room, alice, 4), { ok: true, handshakes: [{ epoch: 4, handshake: sent[4] }, { epoch: 5, handshake: sent[5] }], complete: true })
  t.match(await api.groupState(room, bob, 6), { ok: true, handshakes: [], complete: true, gap: false }, 'up to date')
  t.match(await api.groupState(room, bob, 7), { ok: false, code: 'stale-epoch' }, 'an epoch the group has not reached')
  t.match(await api.groupState(room, bob, 0), { ok: false, code: 'stale-epoch' }, 'nor the commits from before Bob joined (at epoch 1)')

  // Alice made the commit of epoch 4 and has none since; Bob has them all: only epoch 5 is kept, for Alice.
  await vault.app.sweeper.sweep()
  t.same((await h.db.selectFrom('handshakes').select('epoch').where('room_hash', '=', room).orderBy('epoch').execute()).map((r) => Number(r.epoch)), [5], 'handshakes every member of the group has are pruned')
  t.match(await api.groupState(room, bob, 2), { ok: true, handshakes: [], complete: false, gap: true }, 'asking for a pruned one is a gap: join again')
  await sql`update handshakes set expires_at = now() - interval '1 second'`.execute(h.db)
  await vault.app.sweeper.sweep()
  t.equal(await countRows(h.db, 'handshakes'), 0, 'and past the TTL, all go')
})

t.test('a member the commit removes leaves the group and stops being a recipient; what only it awaited goes', async (t) => {
  const h = await harness(t)
  await h.startVault()
  const { api, room, members } = await roomWith(h, 3)
  const [alice, bob, carol] = members as [string, string, string]
  const events = await listenToRoomEvents(t, h.bus, room)
  const groupId = newGroupId()
  await api.commit(room, alice, { groupId, epoch: 0, groupInfo: sealedInfo() })
  await api.commit(room, bob, { groupId, epoch: 0, handshake: commitBytes(groupId, 0, 'external'), groupInfo: sealedInfo() })
  await api.commit(room, carol, { groupId, epoch: 1, handshake: commitBytes(groupId, 1, 'external'), groupInfo: sealedInfo() })
  const [forBoth, forCarol] = [newMessageId(), newMessageId()]
  t.match(await api.send(room, alice, forBoth, 2, mlsMessage(groupId, 2, forBoth)), { ok: true, recipients: { length: 2 } }, 'for Bob and Carol')
  t.match(await api.send(room, alice, forCarol, 2, mlsMessage(groupId, 2, forCarol)), { ok: true })
  await api.ack(room, bob, forCarol)

  t.match(await api.commit(room, alice, { groupId, epoch: 2, handshake: commitBytes(groupId, 2, 'member'), groupInfo: sealedInfo(), removed: [carol] }), { ok: true, epoch: 3 })
  const carolRow = await h.db.selectFrom('members').select('joined_epoch').where('room_hash', '=', room).where('member_id', '=', carol).executeTakeFirstOrThrow()
  t.equal(carolRow.joined_epoch, null, 'Carol is out of the group (still in the room: she may join again)')
  t.match(await api.read(room, carol, forBoth), { ok: false, code: 'not-recipient' }, 'she is no recipient any more')
  t.match(await api.read(room, bob, forBoth), { ok: true }, 'Bob still is')
  t.equal(await countRows(h.db, 'messages', { column: 'id', value: forCarol }), 0, 'the message only she still awaited is gone')
  await h.bus.ping()
  t.same(events.of('gone').map((e) => [e.id, e.reason]), [[forCarol, 'left']], 'and announced as gone')
  t.match(await api.commit(room, carol, { groupId, epoch: 3, handshake: commitBytes(groupId, 3, 'member'), groupInfo: sealedInfo() }), { ok: false, code: 'not-joined' }, 'her member commits are refused')
})

t.test('GroupInfo and handshakes are sealed at rest: the database holds none of their bytes', async (t) => {
  const h = await harness(t)
  await h.startVault()
  const { api, room, members: [alice, bob] } = await roomWith(h, 2) as { api: ReturnType<typeof vaultApi>, room: string, members: [string, string] }
  const groupId = newGroupId()
  const infoMarker = randomBytes(16)
  const commitMarker = randomBytes(16)
  await api.commit(room, alice, { groupId, epoch: 0, groupInfo: sealedInfo(infoMarker) })
  await api.commit(room, bob, { groupId, epoch: 0, handshake: commitBytes(groupId, 0, 'external', Buffer.concat([commitMarker, randomBytes(100)])), groupInfo: sealedInfo(infoMarker) })
  const dump = await sql<{ dump: string }>`select (select string_agg(encode(group_info, 'hex'), '') from rooms) || (select string_agg(encode(sealed, 'hex'), '') from handshakes) as dump`.execute(h.db)
  const hex = dump.rows[0]?.dump ?? ''
  t.ok(hex.length > 0)
  t.notOk(hex.includes(infoMarker.toString('hex')), 'no GroupInfo bytes in the clear')
  t.notOk(hex.includes(commitMarker.toString('hex')), 'no handshake bytes in the clear')

  // A sealed GroupInfo moved to another room does not open: it is bound to its room and epoch.
  const other = await roomWith(h, 1)
  await other.api.commit(other.room, other.members[0] as string, { groupId: newGroupId(), epoch: 0, groupInfo: sealedInfo() })
  await sql`update rooms set group_info = (select group_info from rooms where room_hash = ${room}) where room_hash = ${other.room}`.execute(h.db)
  t.match(await other.api.groupState(other.room, other.members[0] as string), { ok: false, code: 'internal' }, 'a swapped row fails authentication')
})

t.test('a GroupInfo sealed under a key since retired is sealed again under the active key when read, so the retired key can go', async (t) => {
  const h = await harness(t)
  const first = await h.startVault({ encryptionKey: KEY_1 })
  const { api, room, members: [alice] } = await roomWith(h, 1) as { api: ReturnType<typeof vaultApi>, room: string, members: [string] }
  const groupId = newGroupId()
  const info = sealedInfo()
  await api.commit(room, alice, { groupId, epoch: 0, groupInfo: info })
  await first.stop()
  await h.startVault({ encryptionKey: KEY_2, retiredKeys: [KEY_1] })
  t.match(await api.groupState(room, alice), { ok: true, group: { groupInfo: info } }, 'read under the retired key')
  const row = await h.db.selectFrom('rooms').select('group_info_key_id').where('room_hash', '=', room).executeTakeFirstOrThrow()
  t.equal(row.group_info_key_id, createHash('sha256').update(KEY_2).digest('hex').slice(0, 8), 'and now sealed under the active one')
})

t.test('a member of the group away longer than the TTL is forgotten and announced absent, so the others commit its removal', async (t) => {
  const h = await harness(t)
  const vault = await h.startVault({ messageTtlMs: 60_000 })
  const { api, room, members } = await roomWith(h, 3)
  const [alice, bob, carol] = members as [string, string, string]
  const groupId = newGroupId()
  await api.commit(room, alice, { groupId, epoch: 0, groupInfo: sealedInfo() })
  await api.commit(room, bob, { groupId, epoch: 0, handshake: commitBytes(groupId, 0, 'external'), groupInfo: sealedInfo() })
  const events = await listenToRoomEvents(t, h.bus, room)
  // Bob (in the group) and Carol (in the room only) went away long ago.
  for (const member of [bob, carol]) await api.leave(room, member, 'disconnect')
  await sql`update members set last_seen_at = now() - interval '2 minutes' where member_id in (${bob}, ${carol})`.execute(h.db)
  await vault.app.sweeper.sweep()
  await h.bus.ping()
  t.same(events.of('absent').map((e) => e.memberId), [bob], 'Bob is announced absent; Carol, never in the group, needs no removal')
  t.equal(await countRows(h.db, 'members', { column: 'member_id', value: bob }), 0, 'and forgotten by the vault')
})

t.test('a handshake over MAX_HANDSHAKE_BYTES or a GroupInfo over MAX_SEALED_GROUP_INFO_BYTES is refused as bad-frame; at the limit both pass', async (t) => {
  const h = await harness(t)
  await h.startVault()
  const { api, room, members: [alice, bob] } = await roomWith(h, 2) as { api: ReturnType<typeof vaultApi>, room: string, members: [string, string] }
  const groupId = newGroupId()
  t.match(await api.commit(room, alice, { groupId, epoch: 0, groupInfo: randomBytes(MAX_SEALED_GROUP_INFO_BYTES + 1).toString('base64url') }), { ok: false, code: 'bad-frame' }, 'a GroupInfo one byte over')
  t.match(await api.commit(room, alice, { groupId, epoch: 0, groupInfo: randomBytes(MAX_SEALED_GROUP_INFO_BYTES).toString('base64url') }), { ok: true, epoch: 0 }, 'one of exactly the limit')
  const header = Buffer.from(commitBytes(groupId, 0, 'external', 0), 'base64url')
  const sized = (bytes: number): string => Buffer.concat([header, randomBytes(bytes - header.length)]).toString('base64url')
  t.match(await api.commit(room, bob, { groupId, epoch: 0, handshake: sized(MAX_HANDSHAKE_BYTES + 1), groupInfo: sealedInfo() }), { ok: false, code: 'bad-frame' }, 'a handshake one byte over')
  t.equal(await countRows(h.db, 'handshakes'), 0)
  t.match(await api.commit(room, bob, { groupId, epoch: 0, handshake: sized(MAX_HANDSHAKE_BYTES), groupInfo: sealedInfo() }), { ok: true, epoch: 1 }, 'one of exactly the limit')
})
