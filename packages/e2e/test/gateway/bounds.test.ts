import { VAULT_SUBJECTS } from '@ephemeral-chat/protocol'
import { connectTestBus, waitFor, withSubjectPrefix } from '@ephemeral-chat/testkit'
import { randomBytes } from 'node:crypto'
import t from 'tap'
import WebSocket from 'ws'
import { connectClient, deployment, newRoom, type RunningGateway } from '../../src/stack.js'

async function open (gateway: RunningGateway) {
  const socket = new WebSocket(gateway.wsUrl)
  const frames: Array<Record<string, unknown>> = []
  let closeCode: number | undefined
  socket.on('message', (data: Buffer) => { frames.push(JSON.parse(data.toString('utf8')) as Record<string, unknown>) })
  socket.on('close', (code) => { closeCode = code })
  socket.on('error', () => {})
  await new Promise<void>((resolve, reject) => { socket.once('open', () => { resolve() }); socket.once('error', reject) })
  return { socket, frames, closeCode: () => closeCode }
}

async function metric (gateway: RunningGateway, name: string): Promise<number> {
  const text = (await gateway.app.metricsApp.inject({ method: 'GET', url: '/metrics' })).body
  const line = text.split('\n').find((l) => l.startsWith(`${name} `))
  return Number(line?.split(' ')[1] ?? 0)
}

t.test('beyond MAX_CONNECTIONS a new connection is closed with 1013 and the gateway keeps serving', async (t) => {
  const d = await deployment(t)
  await d.startVault()
  const gateway = await d.startGateway({ maxConnections: 2 })
  const [a, b] = [await open(gateway), await open(gateway)]
  const c = await open(gateway)
  t.equal(await waitFor('the third to be closed', () => c.closeCode()), 1013)
  a.socket.send(JSON.stringify({ v: 1, type: 'ping', ref: 'p' }))
  t.match(await waitFor('pong', () => a.frames.find((f) => f.type === 'pong')), { ref: 'p' }, 'the others are served')
  b.socket.close()
  await waitFor('b closed', () => b.closeCode())
  const again = await open(gateway)
  again.socket.send(JSON.stringify({ v: 1, type: 'ping', ref: 'q' }))
  t.match(await waitFor('pong', () => again.frames.find((f) => f.type === 'pong')), { ref: 'q' }, 'a place frees when one closes')
  a.socket.close()
  again.socket.close()
})

t.test('a client that stops reading is disconnected once MAX_BUFFERED_BYTES wait for it; the others are unaffected', async (t) => {
  const d = await deployment(t)
  await d.startVault()
  const gateway = await d.startGateway({ maxBufferedBytes: 64 * 1024, rates: { send: { perSecond: 5, burst: 20 }, typing: { perSecond: 2, burst: 5 }, reveal: { perSecond: 100_000, burst: 100_000 }, control: { perSecond: 10, burst: 30 } } })
  const { keys } = await newRoom()
  const alice = await connectClient(t, gateway.wsUrl, keys)
  const carol = await connectClient(t, gateway.wsUrl, keys)
  const slow = await open(gateway)
  slow.socket.send(JSON.stringify({ v: 1, type: 'join', ref: 'j', roomId: keys.roomId, memberSecret: 'A'.repeat(43) }))
  await waitFor('joined', () => slow.frames.find((f) => f.type === 'joined'))
  await waitFor('three present', () => alice.events.presence.at(-1)?.members === 3)
  const big = await alice.session.send('x'.repeat(12_000))
  await waitFor('the card', () => slow.frames.find((f) => f.type === 'message' && f.id === big.id))

  // Stop reading, then ask for the 16 KiB envelope again and again: ~22 KB a payload, 2 000 of them.
  const rssBefore = process.memoryUsage().rss
  slow.socket.pause()
  for (let i = 0; i < 2000; i++) slow.socket.send(JSON.stringify({ v: 1, type: 'reveal', ref: `r${i}`, id: big.id }))
  const cut = await waitFor('the slow socket to be cut off', async () => { const n = await metric(gateway, 'gateway_slow_consumers_total'); return n > 0 ? n : undefined }, 20_000)
  t.equal(cut, 1, 'exactly the slow socket was cut off')
  t.comment(`RSS of the test process (gateway, vault and clients) grew by ${((process.memoryUsage().rss - rssBefore) / 1048576).toFixed(1)} MiB meanwhile`)
  await waitFor('presence to drop to two', () => alice.events.presence.at(-1)?.members === 2, 10_000)
  t.pass('its member counts as disconnected')
  const after = await alice.session.send('still here')
  await waitFor('carol gets the next card', () => carol.events.card.some((c) => c.id === after.id))
  t.equal((await carol.session.reveal(after.id)).text, 'still here', 'the others chat on')
})

t.test('a room the vault called busy is refused at the gateway until the retry hint has passed, without asking the vault again', async (t) => {
  // A share of the two joins (1 KiB each) and a few small envelopes, refilled at 100 B/s: a
  // refused send's hint is then a few seconds, not the 50 ms (at 1 KB/s) that the next frame
  // can take to arrive on a loaded machine.
  const d = await deployment(t, { roomShare: { bytesPerSecond: 100, burstBytes: 4096 } })
  await d.startVault()
  const gateway = await d.startGateway()
  const monitor = withSubjectPrefix(await connectTestBus('store-monitor'), d.prefix)
  t.teardown(async () => { await monitor.close() })
  let storesAsked = 0
  const watching = monitor.subscribe(VAULT_SUBJECTS.messageStore, () => { storesAsked++ })
  t.teardown(() => { watching.unsubscribe() })
  await monitor.ping()

  const { keys } = await newRoom()
  await connectClient(t, gateway.wsUrl, keys)
  const flooder = await open(gateway)
  t.teardown(() => { flooder.socket.close() })
  flooder.socket.send(JSON.stringify({ v: 1, type: 'join', ref: 'j', roomId: keys.roomId, memberSecret: randomBytes(32).toString('base64url') }))
  await waitFor('joined', () => flooder.frames.find((f) => f.type === 'joined'))
  const answerTo = async (ref: string): Promise<Record<string, unknown>> => waitFor(`the answer to ${ref}`, () => flooder.frames.find((f) => f.ref === ref && (f.type === 'sent' || f.type === 'error')))
  const send = async (ref: string): Promise<Record<string, unknown>> => {
    flooder.socket.send(JSON.stringify({ v: 1, type: 'send', ref, id: randomBytes(16).toString('base64url'), iv: randomBytes(12).toString('base64url'), ct: randomBytes(256 + 16).toString('base64url') }))
    return answerTo(ref)
  }

  let refused: Record<string, unknown> | undefined
  for (let i = 0; i < 20 && refused === undefined; i++) {
    const answer = await send(`s${i}`)
    if (answer.type === 'error') refused = answer
  }
  t.match(refused, { code: 'room-busy', retryAfterMs: Number }, 'the vault refused a send as over the room\'s share, with a retry hint')
  const askedBefore = storesAsked
  const again = await send('again')
  t.match(again, { type: 'error', code: 'room-busy' }, 'the next send at once is refused too')
  t.ok(typeof again.retryAfterMs === 'number' && again.retryAfterMs > 0 && again.retryAfterMs <= Number(refused?.retryAfterMs), `with what is left of the hint (${String(again.retryAfterMs)} ms of ${String(refused?.retryAfterMs)} ms)`)
  await monitor.ping()
  t.equal(storesAsked, askedBefore, 'and the vault was not asked')

  await new Promise((resolve) => setTimeout(resolve, Number(again.retryAfterMs) + 50))
  t.match(await send('later'), { type: 'sent' }, 'once the hint has passed the room stores again')
  t.equal(storesAsked, askedBefore + 1, 'asking the vault')
})
