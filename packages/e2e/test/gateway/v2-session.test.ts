/**
 * The SDK's v2 session (`ChatSessionV2`) through a real gateway and vault (PostgreSQL,
 * NATS): the API of v1's session over MLS. Covers the outbox while alone, fingerprints
 * checked on open, a reload (saved state, catch-up, the update after it), cards opened out
 * of order and across commits, leave → removal by the others, and a later member who reads
 * only what was sent after it joined.
 */
import { decodeBase64url, deriveMemberKeysV2, deriveRoomKeysV2, generateRoomCodeV2, GroupCheckError, RoomGroup, type ChatSessionV2 } from '@ephemeral-chat/client'
import { waitFor } from '@ephemeral-chat/testkit'
import t from 'tap'
import { connectClientV2, deployment, receivedFrames, type Client } from '../../src/stack.js'

type V2Client = Client<ChatSessionV2> & { saved: { state?: string } }

/** Opens and confirms every card of `client` not yet opened; returns the texts by id. */
async function readAll (client: V2Client, ids: readonly string[]): Promise<Map<string, { text: string, fingerprint: string | undefined }>> {
  const texts = new Map<string, { text: string, fingerprint: string | undefined }>()
  for (const id of ids) {
    const opened = await client.session.reveal(id)
    texts.set(id, { text: opened.text, fingerprint: opened.fingerprint })
    await client.session.viewed(id)
  }
  return texts
}

async function cardsOf (client: V2Client, count: number): Promise<string[]> {
  await waitFor(`${count} cards`, () => client.events.card.length >= count || undefined, 10_000)
  return client.events.card.map((card) => card.id)
}

/** A deployment (vault, gateway) and a new v2 room with Alice (who creates its group) and Bob in it. */
async function twoInRoom (t: Parameters<typeof deployment>[0], messageTtlMs?: number) {
  const d = await deployment(t, messageTtlMs === undefined ? {} : { messageTtlMs })
  const vault = await d.startVault()
  const gateway = await d.startGateway()
  const room = await deriveRoomKeysV2(generateRoomCodeV2())
  const alice = await connectClientV2(t, gateway.wsUrl, room)
  const bob = await connectClientV2(t, gateway.wsUrl, room)
  return { d, vault, gateway, room, alice, bob }
}

t.test('a v2 room through the session: queued while alone, sent when someone joins, opened with the sender\'s fingerprint, then deleted', async (t) => {
  const d = await deployment(t)
  await d.startVault()
  const gateway = await d.startGateway()
  const room = await deriveRoomKeysV2(generateRoomCodeV2())

  const alice = await connectClientV2(t, gateway.wsUrl, room, { nick: 'alice' })
  t.equal(alice.session.epoch, 0n, 'the first member creates the group at epoch 0')
  t.ok(alice.saved.state !== undefined && alice.saved.state.length > 100, 'the state is saved as soon as there is one')

  // Alone in the group: the message waits on Alice's device (the vault would refuse it: `alone`).
  const early = alice.session.send('before anyone came')
  await waitFor('queued', () => alice.events.queued[0], 5000)
  t.equal(alice.session.unsent.length, 1, 'it is unsent, kept as plaintext on this device only')

  const bob = await connectClientV2(t, gateway.wsUrl, room, { nick: 'bob' })
  t.equal(bob.session.epoch, 1n, 'the second member joined by external commit: epoch 1')
  const sent = await early
  t.equal(sent.recipients, 1, 'the queued message went out once Bob was in the group, for Bob')
  t.same(alice.session.unsent, [], 'and left the outbox')

  const [cardId] = await cardsOf(bob, 1)
  t.equal(bob.events.card[0]?.epoch, 1, 'the card carries the epoch it was sealed in')
  const opened = await bob.session.reveal(cardId ?? '')
  t.equal(opened.text, 'before anyone came')
  t.equal(opened.nick, 'alice')
  t.equal(opened.fingerprint, alice.session.fingerprint, 'the sender\'s fingerprint is the one Alice has in this room')
  await t.rejects(bob.session.reveal(cardId ?? ''), 'read twice before confirming: the key is spent, it does not open again')
  t.same(await bob.session.viewed(cardId ?? ''), { remaining: 0 })
  await waitFor('gone at Alice', () => alice.events.gone.find((g) => g.id === sent.id), 5000)

  const rosterOf = async (client: V2Client): Promise<string[]> => (await client.session.roster()).map((m) => m.fingerprint).sort()
  t.same(await rosterOf(alice), await rosterOf(bob), 'both see the same members')
  t.same(await rosterOf(alice), [alice.session.fingerprint, bob.session.fingerprint].sort(), 'with each member\'s fingerprint')
  const roster = alice.events.roster.at(-1)?.members ?? []
  t.same(roster.filter((m) => m.self).map((m) => m.fingerprint), [alice.session.fingerprint], 'the roster event marks this member')
})

t.test('a reload: the saved state catches up on the commits it missed, opens cards of earlier epochs, and updates its keys', async (t) => {
  const { gateway, room, alice, bob } = await twoInRoom(t)

  // Cards of epoch 1, then commits while Bob is away: he must open them with epoch 1's retained keys.
  const first = await alice.session.send('epoch one, first')
  const second = await alice.session.send('epoch one, second')
  await cardsOf(bob, 2)
  bob.session.close()
  for (let i = 0; i < 3; i++) await alice.session.update()
  t.equal(alice.session.epoch, 4n, 'Alice committed three updates while Bob was away')
  const third = await alice.session.send('epoch four')

  // Bob's tab reloads: a new session, the same secret and the saved state.
  const again = await connectClientV2(t, gateway.wsUrl, room, { memberSecret: bob.memberSecret, store: { load: () => bob.saved.state, save: (s) => { bob.saved.state = s } } })
  t.ok(again.session.epoch !== undefined && again.session.epoch >= 4n, 'caught up from its saved epoch through the commits it missed')
  t.equal(again.session.fingerprint, bob.session.fingerprint, 'the same member: the same fingerprint')
  await waitFor('the update after the reload', () => again.session.epoch === 5n || undefined, 10_000)
  await waitFor('Alice follows it', () => alice.session.epoch === 5n || undefined, 10_000)

  const ids = await cardsOf(again, 3)
  t.same(new Set(ids), new Set([first.id, second.id, third.id]), 'the pending cards came back with the join')
  // Out of order: the newest first, then the two of epoch 1 in reverse.
  const texts = await readAll(again, [third.id, second.id, first.id])
  t.same([...texts.values()].map((m) => m.text), ['epoch four', 'epoch one, second', 'epoch one, first'], 'each opens once, whatever the order and epoch')

  const reply = await again.session.send('back')
  const [aliceCard] = await cardsOf(alice, 1)
  t.equal(aliceCard, reply.id)
  t.equal((await alice.session.reveal(reply.id)).text, 'back', 'Alice opens what Bob sent under the epoch of his update')
})

t.test('many cards of one sender opened newest first: every skipped key is kept until it is used', async (t) => {
  const { alice, bob } = await twoInRoom(t)
  const sent: string[] = []
  for (let i = 0; i < 25; i++) sent.push((await alice.session.send(`m${i}`)).id)
  await cardsOf(bob, 25)
  const texts = await readAll(bob, [...sent].reverse())
  t.same([...texts.values()].map((m) => m.text), sent.map((_, i) => `m${i}`).reverse(), '25 messages, each opened (ts-mls keeps 10 by default: KEY_RETENTION)')
})

t.test('a member who leaves is removed from the group by the others; a later member reads only what is sent after it joined', async (t) => {
  const { gateway, room, alice, bob } = await twoInRoom(t)
  const before = await alice.session.send('only for bob')
  await cardsOf(bob, 1)

  const carol = await connectClientV2(t, gateway.wsUrl, room)
  const after = await alice.session.send('for bob and carol')
  await cardsOf(carol, 1)
  t.same(carol.events.card.map((c) => c.id), [after.id], 'Carol got the card of what was sent after she joined, not before')
  t.equal((await carol.session.reveal(after.id)).text, 'for bob and carol')
  t.not(before.id, after.id)

  await bob.session.leave()
  await waitFor('Bob removed at Alice', () => alice.events.roster.at(-1)?.members.length === 2 || undefined, 10_000)
  await waitFor('Bob removed at Carol', () => carol.events.roster.at(-1)?.members.length === 2 || undefined, 10_000)
  t.equal(alice.session.epoch, carol.session.epoch, 'one removal commit: the first won, the other stood down')
  const ids = (alice.events.roster.at(-1)?.members ?? []).map((m) => m.fingerprint).sort()
  t.same(ids, [alice.session.fingerprint, carol.session.fingerprint].sort(), 'Bob\'s leaf is gone from the group')
  const last = await carol.session.send('after bob left')
  t.equal(last.recipients, 1, 'only Alice is a recipient now')
})

/** The MLS message of a card as it crossed the wire to its reader (`payload-v2`), for an attacker who recorded it. */
function recordedMessage (id: string): Uint8Array {
  for (const text of receivedFrames) {
    const frame = JSON.parse(text) as { type?: string, id?: string, message?: string }
    if (frame.type === 'payload-v2' && frame.id === id && frame.message !== undefined) return decodeBase64url(frame.message)
  }
  throw new Error(`no payload-v2 frame recorded for ${id}`)
}

/** The handshake committed in `epoch`, as it was relayed to the room's members. */
function recordedHandshake (epoch: number): Uint8Array {
  for (const text of receivedFrames) {
    const frame = JSON.parse(text) as { type?: string, epoch?: number, handshake?: string }
    if (frame.type === 'handshake' && frame.epoch === epoch && frame.handshake !== undefined) return decodeBase64url(frame.handshake)
  }
  throw new Error(`no handshake recorded for epoch ${epoch}`)
}

t.test('through the services: a copy of a member\'s state stops working after that member\'s update; a removed member reads nothing of the next epoch', async (t) => {
  const { gateway, room, alice, bob } = await twoInRoom(t)
  const mallory = await connectClientV2(t, gateway.wsUrl, room)
  await waitFor('three in the group', () => alice.session.epoch === 2n && bob.session.epoch === 2n || undefined, 10_000)

  // Someone copies Bob's saved state (a seized or synced disk) and does nothing with it.
  const bobKeys = await deriveMemberKeysV2(bob.memberSecret)
  const copy = await RoomGroup.load(room, bobKeys, bob.saved.state ?? '')
  const beforeUpdate = await alice.session.send('read by the copy too')
  await cardsOf(bob, 1)
  await bob.session.reveal(beforeUpdate.id)
  const opened = await copy.open(beforeUpdate.id, alice.session.memberId ?? '', recordedMessage(beforeUpdate.id))
  t.equal(new TextDecoder().decode(opened.plaintext).includes('read by the copy too'), true, 'until Bob\'s next commit, the copy reads what Bob reads (that is what the update heals)')

  await bob.session.update()
  await waitFor('Alice follows Bob\'s update', () => alice.session.epoch === 3n || undefined, 10_000)
  await t.rejects(copy.applyCommit(recordedHandshake(2)), 'the copy cannot follow Bob\'s own update: its new path secrets were encrypted to the others, not to his old keys')
  const afterUpdate = await alice.session.send('after the update')
  await cardsOf(bob, 2)
  t.equal((await bob.session.reveal(afterUpdate.id)).text, 'after the update', 'Bob reads on')
  const refusal = await copy.open(afterUpdate.id, alice.session.memberId ?? '', recordedMessage(afterUpdate.id)).then(() => 'opened', (error: unknown) => error instanceof GroupCheckError ? error.reason : 'other')
  t.equal(refusal, 'unknown-epoch', 'the copy opens nothing of the next epoch: it holds no keys for it')

  // Mallory is removed (she leaves, the others commit her removal); she kept her state.
  const malloryKeys = await deriveMemberKeysV2(mallory.memberSecret)
  const kept = await RoomGroup.load(room, malloryKeys, mallory.saved.state ?? '')
  const keptEpoch = Number(kept.epoch)
  await mallory.session.leave()
  await waitFor('Mallory removed', () => alice.events.roster.at(-1)?.members.length === 2 || undefined, 10_000)
  const removal = recordedHandshake(keptEpoch)
  const followed: RoomGroup | Error = await kept.applyCommit(removal).catch((error: unknown) => error instanceof Error ? error : new Error(String(error)))
  t.ok(followed instanceof Error || !followed.memberIds().includes(malloryKeys.memberId), 'applying her removal leaves her out of the group')
  const secret = await alice.session.send('after mallory was removed')
  await cardsOf(bob, 3)
  await bob.session.reveal(secret.id)
  t.equal(secret.recipients, 1, 'one recipient, Bob: the removed member is none')
  const mls = recordedMessage(secret.id)
  await t.rejects(kept.open(secret.id, alice.session.memberId ?? '', mls), 'her kept state opens nothing of the next epoch')
  if (!(followed instanceof Error)) await t.rejects(followed.open(secret.id, alice.session.memberId ?? '', mls), 'nor the state after her own removal')
})

t.test('a member away past the TTL is removed by the session of a member still there; back with its saved state, it joins the group again as a new leaf', async (t) => {
  const { d, vault, gateway, room, alice, bob } = await twoInRoom(t, 60_000)
  const bobId = bob.session.memberId ?? ''
  await waitFor('Alice applied Bob\'s join', () => alice.session.epoch === 1n || undefined, 10_000)
  bob.session.close()
  await waitFor('Bob disconnected', async () => (await d.db.selectFrom('presence').select('member_id').where('member_id', '=', bobId).execute()).length === 0)
  await d.db.updateTable('members').set({ last_seen_at: new Date(Date.now() - 120_000) }).where('member_id', '=', bobId).execute()
  await vault.sweep()
  // The epoch moves as the state is adopted; the roster event follows once fingerprints are computed.
  await waitFor('Alice removed Bob', () => (alice.session.epoch === 2n && alice.events.roster.at(-1)?.members.length === 1) || undefined, 10_000)
  t.same(alice.events.roster.at(-1)?.members.map((m) => m.self), [true], 'one removal commit, made by Alice\'s session on the `absent` event: she is alone in the group again')

  // Bob comes back with his saved state: the vault no longer counts him in the group.
  const again = await connectClientV2(t, gateway.wsUrl, room, { memberSecret: bob.memberSecret, store: { load: () => bob.saved.state, save: (s) => { bob.saved.state = s } } })
  t.equal(again.session.memberId, bobId, 'the same member (same secret)')
  await waitFor('Alice sees Bob back', () => alice.events.roster.at(-1)?.members.length === 2 || undefined, 10_000)
  const sent = await alice.session.send('welcome back')
  await cardsOf(again, 1)
  t.equal((await again.session.reveal(sent.id)).text, 'welcome back', 'and they talk on')
})

t.test('a gateway going away: the session reconnects (here to another gateway), catches up on the commits made meanwhile, and sends and reads on', async (t) => {
  const d = await deployment(t)
  await d.startVault()
  const [first, second] = [await d.startGateway(), await d.startGateway()]
  const room = await deriveRoomKeysV2(generateRoomCodeV2())
  const alice = await connectClientV2(t, second.wsUrl, room)
  let target = first.wsUrl
  const bob = await connectClientV2(t, () => target, room)
  const carol = await connectClientV2(t, second.wsUrl, room)
  await waitFor('Bob at epoch 2', () => bob.session.epoch === 2n || undefined, 10_000)

  // Bob's gateway goes; until it is told where to go, his reconnects find nothing there.
  target = 'ws://127.0.0.1:1/ws'
  await first.stop()
  await waitFor('Bob reconnecting', () => bob.events.state.some((s) => s.state === 'reconnecting') || undefined, 10_000)
  // While Bob is away: a key update and a message.
  await alice.session.update()
  const sent = await carol.session.send('while you were switching')
  t.equal(bob.session.epoch, 2n, 'Bob missed the update')
  target = second.wsUrl
  await waitFor('Bob joined again', () => bob.session.state === 'joined' || undefined, 10_000)
  t.equal(bob.session.epoch, 3n, 'Bob caught up on the update made while he was away')
  await cardsOf(bob, 1)
  t.equal((await bob.session.reveal(sent.id)).text, 'while you were switching', 'and reads what was sent meanwhile')
  const reply = await bob.session.send('back')
  t.equal(reply.recipients, 2, 'his message goes to both')
})
