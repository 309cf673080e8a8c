import { MAX_FRAME_BYTES, MAX_VIOLATIONS_PER_CONNECTION, RATE_LIMITS } from '@ephemeral-chat/protocol'
import { newMemberSecret, newMessageId, sealMessage } from '@ephemeral-chat/client'
import { waitFor } from '@ephemeral-chat/testkit'
import { existsSync } from 'node:fs'
import { join } from 'node:path'
import t from 'tap'
import WebSocket from 'ws'
import { connectClient, deployment, newRoom, raw } from '../../src/stack.js'
import { repoRoot } from '../../src/spawn.js'

t.test('hostile input gets its documented answer and the gateway keeps serving', async (t) => {
  const d = await deployment(t)
  await d.startVault()
  const gateway = await d.startGateway()
  const { keys } = await newRoom()
  const alice = await connectClient(t, gateway.wsUrl, keys)
  const bob = await connectClient(t, gateway.wsUrl, keys)

  t.test('malformed JSON is a bad frame, the socket stays open', async (t) => {
    const c = await raw(gateway)
    c.send('{"v":1,"type":"ping"')
    t.match(await c.next(), { type: 'error', code: 'bad-frame' })
    c.send({ v: 1, type: 'ping', ref: 'p1' })
    t.match(await c.next((f) => f.type === 'pong'), { ref: 'p1' }, 'still answering')
    c.socket.close()
  })

  t.test('invalid UTF-8 in a text frame is a bad frame too, the socket stays open', async (t) => {
    const c = await raw(gateway)
    c.socket.send(Buffer.from([0x7b, 0x22, 0xff, 0xfe, 0x22, 0x7d]), { binary: false })
    t.match(await c.next(), { type: 'error', code: 'bad-frame' }, 'a typed error, not a 1007 close')
    c.send({ v: 1, type: 'ping', ref: 'u1' })
    t.match(await c.next((f) => f.type === 'pong'), { ref: 'u1' }, 'still answering')
    c.socket.close()
  })

  t.test('an upgrade to an unknown path is a plain 404', async (t) => {
    const unknown = new WebSocket(gateway.wsUrl.replace('/ws', '/elsewhere?who=me'))
    const status = await new Promise<number | undefined>((resolve) => {
      unknown.once('unexpected-response', (_request, response) => { resolve(response.statusCode) })
      unknown.once('open', () => { resolve(101) })
      unknown.once('error', () => { resolve(undefined) })
    })
    t.equal(status, 404)
  })

  const webRoot = join(repoRoot, 'web/dist')
  t.test('the built client is served, its source maps are not', { skip: existsSync(join(webRoot, 'app.js.map')) ? false : 'build the web client first (npm run build)' }, async (t) => {
    const withClient = await d.startGateway({ webRoot })
    t.equal((await fetch(`${withClient.url}/app.js`)).status, 200, 'the bundle is served')
    t.equal((await fetch(`${withClient.url}/app.js.map`)).status, 404, 'its source map, which sits beside it, is not')
  })

  t.test('unknown type, wrong version and missing fields', async (t) => {
    const c = await raw(gateway)
    c.send({ v: 1, type: 'shout', ref: 'a' })
    t.match(await c.next((f) => f.ref === 'a'), { type: 'error', code: 'unknown-type' })
    c.send({ v: 2, type: 'ping', ref: 'b' })
    t.match(await c.next((f) => f.ref === 'b'), { type: 'error', code: 'unsupported-version' })
    c.send({ v: 1, type: 'join', ref: 'c', roomId: keys.roomId })
    t.match(await c.next((f) => f.ref === 'c'), { type: 'error', code: 'bad-frame' }, 'a join without a member secret')
    c.send({ v: 1, type: 'reveal', ref: 'd', id: 'AAAAAAAAAAAAAAAAAAAAAA' })
    t.match(await c.next((f) => f.ref === 'd'), { type: 'error', code: 'not-joined' })
    t.equal(c.closeCode(), undefined, 'the socket is still open')
    c.socket.close()
  })

  t.test('a room id shaped to inject a subject is refused before any room work', async (t) => {
    const c = await raw(gateway)
    for (const [i, roomId] of ['>', '*', 'a.b.c', 'room.*.events', `${keys.roomId.slice(0, 42)}*`, `${keys.roomId.slice(0, 41)}.>`].entries()) {
      c.send({ v: 1, type: 'join', ref: `j${i}`, roomId, memberSecret: newMemberSecret() })
      t.match(await c.next((f) => f.ref === `j${i}`), { type: 'error', code: 'bad-frame' }, JSON.stringify(roomId))
    }
    c.socket.close()
  })

  t.test('an oversize frame closes the socket with 1009', async (t) => {
    const c = await raw(gateway)
    c.send('x'.repeat(MAX_FRAME_BYTES + 1))
    t.equal(await waitFor('close', () => c.closeCode()), 1009)
  })

  t.test("revealing someone else's message is refused", async (t) => {
    const sent = await alice.session.send('for bob only')
    const eve = await connectClient(t, gateway.wsUrl, keys)
    await t.rejects(eve.session.reveal(sent.id), { code: 'not-recipient' }, 'a member who is not a recipient')
    const other = await newRoom()
    const mallory = await connectClient(t, gateway.wsUrl, other.keys)
    await t.rejects(mallory.session.reveal(sent.id), { code: 'not-found' }, 'a member of another room')
    t.equal((await bob.session.reveal(sent.id)).text, 'for bob only', 'the recipient still can')
  })

  t.test('a flood beyond the rate is refused, then closed with 1008', async (t) => {
    const c = await raw(gateway)
    const total = RATE_LIMITS.control.burst + MAX_VIOLATIONS_PER_CONNECTION + 5
    for (let i = 0; i < total; i++) c.send({ v: 1, type: 'ping', ref: `f${i}` })
    t.match(await c.next((f) => f.code === 'rate-limited'), { type: 'error', code: 'rate-limited' })
    t.equal(await waitFor('close', () => c.closeCode()), 1008)
    t.ok(c.frames.filter((f) => f.type === 'pong').length <= RATE_LIMITS.control.burst + 1, 'no more than the burst was served')
  })

  t.test('a foreign Origin is refused with 403 before the upgrade', async (t) => {
    const socket = new WebSocket(gateway.wsUrl, { headers: { origin: 'https://evil.example' } })
    const status = await new Promise<number | undefined>((resolve) => {
      socket.on('unexpected-response', (_request, response) => { resolve(response.statusCode) })
      socket.on('open', () => { resolve(101) })
      socket.on('error', () => { resolve(undefined) })
    })
    t.equal(status, 403)
    const same = await raw(gateway, { origin: gateway.url })
    same.send({ v: 1, type: 'ping', ref: 'o' })
    t.match(await same.next(), { type: 'pong' }, 'the gateway origin itself is allowed')
    same.socket.close()
  })

  t.test('after all that, members still chat', async (t) => {
    const sent = await alice.session.send('still fine')
    await waitFor('card', () => bob.events.card.some((c) => c.id === sent.id))
    t.equal((await bob.session.reveal(sent.id)).text, 'still fine')
  })
})

t.test('connections per address are capped in memory', async (t) => {
  const d = await deployment(t)
  await d.startVault()
  const gateway = await d.startGateway({ maxConnectionsPerAddress: 2 })
  const a = await raw(gateway)
  const b = await raw(gateway)
  const c = await raw(gateway)
  t.equal(await waitFor('close', () => c.closeCode()), 1013, 'the third connection from one address is closed with 1013')
  a.socket.close()
  await waitFor('a closed', () => a.closeCode())
  const again = await raw(gateway)
  again.send({ v: 1, type: 'ping' })
  t.match(await again.next(), { type: 'pong' }, 'a slot frees when a connection closes')
  b.socket.close()
  again.socket.close()
})

t.test('sends and typing notices beyond their per-connection rates are refused and dropped', async (t) => {
  const d = await deployment(t)
  await d.startVault()
  const gateway = await d.startGateway()
  const { keys } = await newRoom()
  const alice = await connectClient(t, gateway.wsUrl, keys)
  const bob = await connectClient(t, gateway.wsUrl, keys)
  const c = await raw(gateway)
  c.send({ v: 1, type: 'join', ref: 'j', roomId: keys.roomId, memberSecret: alice.memberSecret })
  await c.next((f) => f.type === 'joined')

  const sends = RATE_LIMITS.send.burst + 5
  // Sealed first, then sent in one burst: sealing between sends would let the bucket refill (5/s) on a busy machine.
  const frames = await Promise.all(Array.from({ length: sends }, async (_, i) => {
    const id = newMessageId()
    const sealed = await sealMessage(keys, id, { text: `flood ${i}`, nick: '', sentAt: 1 })
    return { v: 1, type: 'send', ref: `s${i}`, id, iv: sealed.iv, ct: sealed.ct }
  }))
  for (const frame of frames) c.send(frame)
  await waitFor('every send answered', () => c.frames.filter((f) => typeof f.ref === 'string' && f.ref.startsWith('s')).length === sends)
  const limited = c.frames.filter((f) => f.code === 'rate-limited')
  t.ok(limited.length >= 4, `${limited.length} sends over the burst are refused with rate-limited`)
  const { n } = await d.db.selectFrom('messages').select((eb) => eb.fn.countAll<string>().as('n')).executeTakeFirstOrThrow()
  t.equal(Number(n), sends - limited.length, 'a refused send stores nothing')

  // Few enough that, with the refused sends, the connection stays under its violation limit.
  const notices = 12
  for (let i = 0; i < notices; i++) c.send({ v: 1, type: 'typing', active: i % 2 === 0 })
  c.send({ v: 1, type: 'ping', ref: 'after-typing' })
  await c.next((f) => f.ref === 'after-typing')
  await waitFor('typing within the rate reaches bob', () => bob.events.typing.length >= 1)
  // Let any notice still on its way through NATS arrive before counting.
  await new Promise((resolve) => setTimeout(resolve, 300))
  t.ok(bob.events.typing.length <= RATE_LIMITS.typing.burst + 1, `only ${bob.events.typing.length} of ${notices} typing notices reach the others`)
  t.notOk(c.frames.some((f) => f.type === 'error' && f.code === 'rate-limited' && f.ref === undefined), 'dropped typing notices are not answered with errors')
  c.socket.close()
})
