/**
 * The session against a scripted gateway (a real WebSocket server on 127.0.0.1) that sends
 * frames in the orders a real deployment produces under races, which a live stack hits only
 * by chance: a presence count that overtakes the join's answer, and a rejoin's pending card
 * for a message whose `gone` already arrived.
 */
import { once } from 'node:events'
import t, { type Test } from 'tap'
import WebSocket, { WebSocketServer } from 'ws'
import { ChatSession, newMemberSecret, newMessageId, type SocketLike } from '../src/index.js'
import { keysFor, ROOM_A } from './fixtures.js'

const MEMBER = 'BBBBBBBBBBBBBBBBBBBBBA'
const OTHER = 'CCCCCCCCCCCCCCCCCCCCCA'

interface Gateway {
  url: string
  /** Closes every connection (1012): the session reconnects and joins again. */
  dropAll (): void
}

/** A gateway that answers the n-th join with `script(ref, n)`, all frames written in one go. */
async function scriptedGateway (t: Test, script: (ref: string, n: number) => unknown[]): Promise<Gateway> {
  const server = new WebSocketServer({ host: '127.0.0.1', port: 0 })
  await once(server, 'listening')
  let joins = 0
  server.on('connection', (socket: WebSocket) => {
    socket.on('message', (data: Buffer) => {
      const frame = JSON.parse(data.toString('utf8')) as { type: string, ref?: string }
      if (frame.type !== 'join') return
      for (const reply of script(frame.ref ?? '', joins++)) socket.send(JSON.stringify(reply))
    })
  })
  t.teardown(async () => {
    for (const client of server.clients) client.terminate()
    await new Promise((resolve) => server.close(resolve))
  })
  const address = server.address()
  if (address === null || typeof address === 'string') throw new Error('no port')
  return {
    url: `ws://127.0.0.1:${address.port}/ws`,
    dropAll () { for (const client of server.clients) client.close(1012, 'restart') }
  }
}

async function open (t: Test, url: string): Promise<{ session: ChatSession, presence: number[], cards: string[] }> {
  const session = new ChatSession({ url, keys: await keysFor(ROOM_A), memberSecret: newMemberSecret(), createSocket: (url) => new WebSocket(url) as unknown as SocketLike, reconnect: { initialDelayMs: 10, maxDelayMs: 20 } })
  const presence: number[] = []
  const cards: string[] = []
  session.on('presence', ({ members }) => { presence.push(members) })
  session.on('card', ({ id }) => { cards.push(id) })
  t.teardown(() => { session.close() })
  return { session, presence, cards }
}

const settle = async (): Promise<void> => { await new Promise((resolve) => setTimeout(resolve, 50)) }

t.test('a presence count that arrives right after the join\'s answer is the one shown last', async (t) => {
  // The gateway got the other member's count (2) just after answering our join (1).
  const gateway = await scriptedGateway(t, (ref) => [
    { v: 1, type: 'presence', members: 1 },
    { v: 1, type: 'joined', ref, memberId: MEMBER, members: 1, pending: [] },
    { v: 1, type: 'presence', members: 2 }
  ])
  const { session, presence } = await open(t, gateway.url)
  await session.connect()
  await settle()
  t.equal(presence.at(-1), 2, `the last count shown is the latest one (shown: ${presence.join(', ')})`)
})

t.test('a card whose message is already gone is not announced again by a rejoin\'s pending list', async (t) => {
  const id = newMessageId()
  const card = { id, from: OTHER, bucket: 256, expiresAt: Date.now() + 60_000 }
  // First join: the card is pending. Second join (after a reconnect): the pending list was read
  // before the deletion, whose `gone` reached us first.
  const gateway = await scriptedGateway(t, (ref, n) => n === 0
    ? [{ v: 1, type: 'joined', ref, memberId: MEMBER, members: 2, pending: [card] }]
    : [{ v: 1, type: 'gone', id, reason: 'viewed' }, { v: 1, type: 'joined', ref, memberId: MEMBER, members: 2, pending: [card] }, { v: 1, type: 'message', ...card }])
  const { session, cards } = await open(t, gateway.url)
  await session.connect()
  await settle()
  t.same(cards, [id], 'announced once on the first join')
  const rejoined = new Promise<void>((resolve) => { session.on('state', ({ state }) => { if (state === 'joined') resolve() }) })
  gateway.dropAll()
  await rejoined
  await settle()
  t.same(cards, [id], 'not announced again after it was gone')
})

t.test('the session remembers at most 10,000 card ids: the oldest is forgotten first', async (t) => {
  const ids = Array.from({ length: 10_001 }, () => newMessageId())
  const card = (id: string): object => ({ v: 1, type: 'message', id, from: OTHER, bucket: 256, expiresAt: Date.now() + 60_000 })
  // 10,001 cards, then the first and the last again.
  const gateway = await scriptedGateway(t, (ref) => [
    { v: 1, type: 'joined', ref, memberId: MEMBER, members: 2, pending: [] },
    ...ids.map(card), card(ids[0] ?? ''), card(ids[10_000] ?? '')
  ])
  const { session, cards } = await open(t, gateway.url)
  await session.connect()
  for (let i = 0; i < 250 && cards.length < 10_002; i++) await new Promise((resolve) => setTimeout(resolve, 20))
  await settle()
  t.equal(cards.length, 10_002, 'each card once, and the first once more: it was the one forgotten')
  t.equal(cards.at(-1), ids[0])
})
