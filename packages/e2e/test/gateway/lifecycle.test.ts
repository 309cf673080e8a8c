import { waitFor } from '@ephemeral-chat/testkit'
import { sql } from 'kysely'
import { connect } from 'node:net'
import t from 'tap'
import { connectClient, deployment, newRoom, receivedFrames } from '../../src/stack.js'

t.test('a message crosses gateways: card, reveal, viewed receipt, row gone', async (t) => {
  const d = await deployment(t)
  await d.startVault()
  const [g1, g2] = [await d.startGateway(), await d.startGateway()]
  const { keys } = await newRoom()
  const alice = await connectClient(t, g1.wsUrl, keys, { nick: 'alice' })
  const bob = await connectClient(t, g2.wsUrl, keys, { nick: 'bob' })
  await waitFor('alice sees two people', () => alice.events.presence.at(-1)?.members === 2)

  const text = 'meet at the usual place, 7pm — bring the 🗝️'
  const sent = await alice.session.send(text)
  t.equal(sent.recipients, 1)

  const card = await waitFor('bob gets a card', () => bob.events.card.find((c) => c.id === sent.id))
  t.same(card, { id: sent.id, from: alice.session.memberId, bucket: 256, expiresAt: sent.expiresAt }, 'the card has no text, only sender, bucket and expiry')

  const payload = await bob.session.reveal(sent.id)
  t.equal(payload.text, text, 'bob reads the exact text')
  t.equal(payload.nick, 'alice')

  t.same(await bob.session.viewed(sent.id), { remaining: 0 })
  await waitFor('alice gets the viewed receipt', () => alice.events.receipt.find((r) => r.id === sent.id))
  t.same(alice.events.receipt, [{ id: sent.id, remaining: 0 }])
  await waitFor('both see it gone', () => alice.events.gone.some((g) => g.id === sent.id) && bob.events.gone.some((g) => g.id === sent.id))

  const rows = await d.db.selectFrom('messages').select('id').where('id', '=', sent.id).execute()
  t.same(rows, [], 'the message row is gone')
  const naming = await d.db.selectFrom('messages').select('id').where(sql<boolean>`recipients && array[${alice.session.memberId ?? ''}, ${bob.session.memberId ?? ''}]::text[]`).execute()
  t.same(naming, [], 'and no row names either member as a recipient')

  t.notOk(receivedFrames.some((frame) => frame.includes(text) || frame.includes('meet at')), 'no WebSocket frame a client received carries the plaintext')
  t.notOk(receivedFrames.some((frame) => frame.includes(keys.roomId)), 'no frame echoes the room id')
})

t.test('typing and presence cross instances; a later member sees typing but not earlier cards', async (t) => {
  const d = await deployment(t)
  await d.startVault()
  const [g1, g2] = [await d.startGateway(), await d.startGateway()]
  const { keys } = await newRoom()
  const alice = await connectClient(t, g1.wsUrl, keys)
  const bob = await connectClient(t, g2.wsUrl, keys)
  const early = await alice.session.send('before carol came')
  await waitFor('bob has the card', () => bob.events.card.some((c) => c.id === early.id))

  const carol = await connectClient(t, g2.wsUrl, keys)
  await waitFor('alice sees three people', () => alice.events.presence.at(-1)?.members === 3)
  t.equal(carol.events.presence.at(-1)?.members, 3, 'carol is told three people are here')

  alice.session.typing(true)
  await waitFor('typing reaches both', () => bob.events.typing.some((e) => e.active) && carol.events.typing.some((e) => e.active))
  t.same(carol.events.typing[0], { from: alice.session.memberId, active: true })
  alice.session.typing(false)
  await waitFor('typing stops', () => carol.events.typing.some((e) => !e.active))
  t.same(alice.events.typing, [], 'the typist is not told about itself')

  const late = await alice.session.send('after carol came')
  await waitFor('carol gets the later card', () => carol.events.card.some((c) => c.id === late.id))
  t.notOk(carol.events.card.some((c) => c.id === early.id), 'carol never sees a card for the earlier message')
  await t.rejects(carol.session.reveal(early.id), { code: 'not-recipient' }, 'nor can she reveal it')

  bob.session.close()
  await waitFor('presence drops when bob disconnects', () => alice.events.presence.at(-1)?.members === 2)
})

t.test('a client reconnecting to the other gateway with its secret gets its pending cards', async (t) => {
  const d = await deployment(t)
  await d.startVault()
  const [g1, g2] = [await d.startGateway(), await d.startGateway()]
  const { keys } = await newRoom()
  const alice = await connectClient(t, g1.wsUrl, keys)
  const bob = await connectClient(t, g1.wsUrl, keys)
  bob.session.close()
  const sent = await alice.session.send('while you were away')
  t.equal(sent.recipients, 1, 'a disconnected member is still a recipient')

  const again = await connectClient(t, g2.wsUrl, keys, { memberSecret: bob.memberSecret })
  t.equal(again.session.memberId, bob.session.memberId, 'same secret, same member')
  t.same(again.events.card.map((c) => c.id), [sent.id], 'the pending card comes back on rejoin')
  t.equal((await again.session.reveal(sent.id)).text, 'while you were away')
})

t.test('a gateway going away closes with 1001 and the client rejoins through another', async (t) => {
  const d = await deployment(t)
  await d.startVault()
  const [g1, g2] = [await d.startGateway(), await d.startGateway()]
  const { keys } = await newRoom()
  const alice = await connectClient(t, g2.wsUrl, keys)
  // A stand-in for the load balancer: g1 first, g2 once g1 is gone.
  let g1Up = true
  const bob = await connectClient(t, g1.wsUrl, keys, { url: () => g1Up ? g1.wsUrl : g2.wsUrl })
  g1Up = false
  await g1.stop()
  t.equal(bob.events.state.find((s) => s.code !== undefined)?.code, 1001, 'the socket closed with 1001 (going away)')
  await waitFor('bob rejoins', () => bob.session.state === 'joined')
  const sent = await alice.session.send('still here?')
  await waitFor('bob gets the card through g2', () => bob.events.card.some((c) => c.id === sent.id))
  t.equal((await bob.session.reveal(sent.id)).text, 'still here?')
})

/** A client on a raw TCP socket: what it received, and whether the server closed it (it never closes its side first). */
function rawClient (port: number, request: string): { text: () => string, closed: () => boolean } {
  const socket = connect(port, '127.0.0.1')
  let text = ''
  let closed = false
  socket.on('data', (chunk) => { text += chunk.toString('latin1') })
  socket.on('close', () => { closed = true })
  socket.on('error', () => { closed = true })
  socket.write(request)
  return { text: () => text, closed: () => closed }
}

t.test('a gateway\'s shutdown waits for no client: one that ignores the close frame is cut, an upgrade meanwhile is refused and closed', async (t) => {
  const d = await deployment(t)
  await d.startVault()
  const gateway = await d.startGateway()
  const upgrade = [
    'GET /ws HTTP/1.1', `Host: 127.0.0.1:${gateway.port}`, 'Upgrade: websocket', 'Connection: Upgrade',
    'Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==', 'Sec-WebSocket-Version: 13', `Origin: ${gateway.url}`, '', ''
  ].join('\r\n')
  const deaf = rawClient(gateway.port, upgrade)
  await waitFor('the deaf client is upgraded', () => deaf.text().startsWith('HTTP/1.1 101'))

  const stopped = gateway.stop()
  let done = false
  void stopped.then(() => { done = true })
  // The close frame says the gateway is shutting down; a browser reconnecting now must not hold it open.
  await waitFor('the close frame', () => deaf.text().includes('server shutting down'))
  const late = rawClient(gateway.port, upgrade)
  await waitFor('an answer to the late upgrade', () => late.text().includes('\r\n\r\n'))
  t.match(late.text(), /^HTTP\/1\.1 503 .*\r\nConnection: close\r\n/s, 'an upgrade during the shutdown is answered 503 (go elsewhere)')
  await waitFor('the gateway closes the late socket', () => late.closed())
  t.pass('and the gateway closed its socket, though the client kept its side open')
  await waitFor('the shutdown ends', () => done, 15_000)
  t.ok(deaf.closed(), 'the client that never answered the close frame was cut')
})

t.test('the vault accepts a running gateway\'s heartbeats, which keep its members present', async (t) => {
  const d = await deployment(t)
  await d.startVault()
  const gateway = await d.startGateway({ heartbeatIntervalMs: 200 })
  const { keys } = await newRoom()
  const alice = await connectClient(t, gateway.wsUrl, keys, { nick: 'alice' })
  const beat = async (): Promise<{ heartbeat_ms: number, last_heartbeat_at: Date } | undefined> =>
    d.db.selectFrom('gateways').select(['heartbeat_ms', 'last_heartbeat_at']).executeTakeFirst()
  const first = await waitFor('a heartbeat registered the gateway', beat)
  t.equal(first.heartbeat_ms, 200, 'the vault knows how often it beats (the sweeper allows three missed beats of it)')
  await waitFor('a later heartbeat is accepted too', async () => {
    const row = await beat()
    return row !== undefined && row.last_heartbeat_at > first.last_heartbeat_at
  })
  const presence = await d.db.selectFrom('presence').select('member_id').execute()
  t.same(presence.map((row) => row.member_id), [alice.session.memberId], 'alice is present')
})
