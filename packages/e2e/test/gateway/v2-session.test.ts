/**
 * The SDK's v2 session (`ChatSessionV2`) through a real gateway and vault (PostgreSQL,
 * NATS): the API of v1's session over MLS. Covers the outbox while alone, fingerprints
 * checked on open, a reload (saved state, catch-up, the update after it), cards opened out
 * of order and across commits, leave → removal by the others, and a later member who reads
 * only what was sent after it joined.
 */
import { deriveRoomKeysV2, generateRoomCodeV2, type ChatSessionV2 } from '@ephemeral-chat/client'
import { waitFor } from '@ephemeral-chat/testkit'
import t from 'tap'
import { connectClientV2, deployment, type Client } from '../../src/stack.js'

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
  const d = await deployment(t)
  await d.startVault()
  const gateway = await d.startGateway()
  const room = await deriveRoomKeysV2(generateRoomCodeV2())
  const alice = await connectClientV2(t, gateway.wsUrl, room)
  const bob = await connectClientV2(t, gateway.wsUrl, room)

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
  const d = await deployment(t)
  await d.startVault()
  const gateway = await d.startGateway()
  const room = await deriveRoomKeysV2(generateRoomCodeV2())
  const alice = await connectClientV2(t, gateway.wsUrl, room)
  const bob = await connectClientV2(t, gateway.wsUrl, room)
  const sent: string[] = []
  for (let i = 0; i < 25; i++) sent.push((await alice.session.send(`m${i}`)).id)
  await cardsOf(bob, 25)
  const texts = await readAll(bob, [...sent].reverse())
  t.same([...texts.values()].map((m) => m.text), sent.map((_, i) => `m${i}`).reverse(), '25 messages, each opened (ts-mls keeps 10 by default: KEY_RETENTION)')
})

t.test('a member who leaves is removed from the group by the others; a later member reads only what is sent after it joined', async (t) => {
  const d = await deployment(t)
  await d.startVault()
  const gateway = await d.startGateway()
  const room = await deriveRoomKeysV2(generateRoomCodeV2())
  const alice = await connectClientV2(t, gateway.wsUrl, room)
  const bob = await connectClientV2(t, gateway.wsUrl, room)
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
