import { BusError, type Bus, type MessageHandler, type RequestHandler, type RequestOptions } from '@ephemeral-chat/bus'
import { newMessageId, sealMessage } from '@ephemeral-chat/client'
import { waitFor } from '@ephemeral-chat/testkit'
import WebSocket from 'ws'
import t, { type Test } from 'tap'
import { connectClient, deployment, newRoom, type GatewayDeployConfig } from '../../src/stack.js'

t.test('with the vault down a send fails as unavailable; the retry after it returns stores exactly one copy', async (t) => {
  const d = await deployment(t)
  let vault = await d.startVault()
  const gateway = await d.startGateway()
  const { keys } = await newRoom()
  const alice = await connectClient(t, gateway.wsUrl, keys, { sendAttempts: 1 })
  const bob = await connectClient(t, gateway.wsUrl, keys)

  await vault.stop()
  const failure = await alice.session.send('sent during the outage').then(() => undefined, (error: unknown) => error)
  t.match(failure, { name: 'SessionError', code: 'unavailable' }, 'a clear unavailable error')
  const id = (failure as { id: string }).id
  t.same(alice.session.unsent, [id], 'the sealed message waits for a retry under its id')

  vault = await d.startVault()
  const sent = await alice.session.retrySend(id)
  t.equal(sent.id, id, 'the retry reuses the message id')
  await alice.session.retrySend(id).then(() => t.fail('a stored message is no longer unsent'), (error: unknown) => t.match(error, { code: 'not-found' }))
  const rows = await d.db.selectFrom('messages').select('id').where('id', '=', id).execute()
  t.equal(rows.length, 1, 'exactly one copy is stored')
  await waitFor('bob gets the card', () => bob.events.card.some((c) => c.id === id))
  t.equal((await bob.session.reveal(id)).text, 'sent during the outage')
})

t.test('the same send frame twice (an answer lost on the way) stores one message and one card', async (t) => {
  const d = await deployment(t)
  await d.startVault()
  const gateway = await d.startGateway()
  const { keys } = await newRoom()
  const alice = await connectClient(t, gateway.wsUrl, keys)
  const bob = await connectClient(t, gateway.wsUrl, keys)
  const id = newMessageId()
  const sealed = await sealMessage(keys, id, { text: 'twice', nick: '', sentAt: 1 })
  const socket = new WebSocket(gateway.wsUrl)
  const answers: Array<Record<string, unknown>> = []
  socket.on('message', (data: Buffer) => { answers.push(JSON.parse(data.toString('utf8')) as Record<string, unknown>) })
  await new Promise((resolve) => socket.once('open', resolve))
  socket.send(JSON.stringify({ v: 1, type: 'join', ref: 'j', roomId: keys.roomId, memberSecret: alice.memberSecret }))
  await waitFor('joined', () => answers.some((a) => a.type === 'joined'))
  for (const ref of ['s1', 's2']) socket.send(JSON.stringify({ v: 1, type: 'send', ref, id, iv: sealed.iv, ct: sealed.ct }))
  const sent = await waitFor('both answered', () => { const s = answers.filter((a) => a.type === 'sent'); return s.length === 2 ? s : undefined })
  t.same(sent.map((s) => s.recipients), [1, 1], 'both answers report the same recipients')
  t.same(sent.map((s) => s.expiresAt), [sent[0]?.expiresAt, sent[0]?.expiresAt], 'and the same expiry: the first result')
  const rows = await d.db.selectFrom('messages').select('id').where('id', '=', id).execute()
  t.equal(rows.length, 1, 'one row')
  await waitFor('bob has the card', () => bob.events.card.some((c) => c.id === id))
  t.equal(bob.events.card.filter((c) => c.id === id).length, 1, 'bob is shown one card')
  socket.close()
})

/**
 * Stands between a gateway and NATS to play the gateway's side of a NATS restart: while
 * `away`, its requests fail as "no responders" and room events do not reach it; `reconnected()`
 * calls its reconnect listeners, as the NATS client does once it is back.
 */
function outage (bus: Bus): { bus: Bus, away: boolean, reconnected: () => void } {
  const listeners = new Set<() => void>()
  const control = {
    away: false,
    reconnected: () => { for (const listener of listeners) listener() },
    bus: {
      ...bus,
      request: async (subject: string, data: Uint8Array, options?: RequestOptions) => {
        if (control.away) throw new BusError('unavailable', 'no responders')
        return bus.request(subject, data, options)
      },
      subscribe: (subject: string, handler: MessageHandler) => bus.subscribe(subject, (data, on) => { if (!control.away) handler(data, on) }),
      onReconnect: (listener: () => void) => {
        listeners.add(listener)
        return { unsubscribe: () => { listeners.delete(listener) } }
      },
      ping: async () => bus.ping(),
      close: async () => bus.close(),
      serve: (subject: string, queue: string, handler: RequestHandler) => bus.serve(subject, queue, handler),
      publish: (subject: string, data: Uint8Array) => { bus.publish(subject, data) }
    } satisfies Bus
  }
  return control
}

/** Alice and Bob in one room through two gateways; Bob's gateway reaches NATS through `outage`. */
async function twoGatewaysOneRoom (t: Test, bobsGatewaySettings: Partial<GatewayDeployConfig> = {}) {
  const d = await deployment(t)
  await d.startVault()
  let link: ReturnType<typeof outage> | undefined
  const bobsGateway = await d.startGateway(bobsGatewaySettings, (bus) => (link = outage(bus)).bus)
  const alicesGateway = await d.startGateway()
  if (link === undefined) throw new Error('no link')
  const { keys } = await newRoom()
  const alice = await connectClient(t, alicesGateway.wsUrl, keys)
  const bob = await connectClient(t, bobsGateway.wsUrl, keys)
  await waitFor('both present', () => bob.events.presence.at(-1)?.members === 2)
  return { link, bobsGateway, alice, bob }
}

t.test('after a NATS reconnect that comes before the vault is back, the catch-up is asked again and the card missed meanwhile arrives', async (t) => {
  const { link, bobsGateway, alice, bob } = await twoGatewaysOneRoom(t)

  // Bob's gateway loses NATS; meanwhile Alice's message is stored and its card published.
  link.away = true
  const sent = await alice.session.send('sent while the other gateway was away')
  // NATS is back for the gateway, but not yet for the vault: the first catch-up fails.
  link.reconnected()
  const retries = async (): Promise<number> => {
    const text = (await bobsGateway.app.metricsApp.inject({ method: 'GET', url: '/metrics' })).body
    return Number(/^gateway_catch_up_retries_total (\d+)/m.exec(text)?.[1] ?? 0)
  }
  await waitFor('the first catch-up to fail and be scheduled again', async () => (await retries()) > 0, 5000)
  t.notOk(bob.events.card.some((c) => c.id === sent.id), 'the card did not reach Bob while his gateway was away')
  link.away = false
  await waitFor('the card after the catch-up is asked again', () => bob.events.card.some((c) => c.id === sent.id), 5000)
  t.equal((await bob.session.reveal(sent.id)).text, 'sent while the other gateway was away', 'Bob reads it')
  t.ok(await retries() > 0, 'after at least one retry')
})

t.test('a connection the vault still cannot catch up after CATCH_UP_GIVE_UP is closed with 1013; its client rejoins and gets the card once the vault answers', async (t) => {
  const { link, alice, bob } = await twoGatewaysOneRoom(t, { catchUpGiveUpMs: 600 })

  link.away = true
  const sent = await alice.session.send('sent during a long vault outage')
  const joinsBefore = bob.events.state.filter((event) => event.state === 'joined').length
  const startedAt = performance.now()
  link.reconnected()
  const closedAt = await waitFor('the gateway to give up on Bob\'s catch-up', () => bob.events.state.some((event) => event.code === 1013) ? performance.now() : undefined, 10_000)
  t.ok(closedAt - startedAt >= 600, `closed with 1013, not before CATCH_UP_GIVE_UP (${Math.round(closedAt - startedAt)} ms)`)
  t.notOk(bob.events.card.some((card) => card.id === sent.id), 'no card reached Bob meanwhile')

  link.away = false
  await waitFor('Bob\'s session to rejoin on its own and get the card', () => bob.events.card.some((card) => card.id === sent.id), 10_000)
  t.ok(bob.events.state.filter((event) => event.state === 'joined').length > joinsBefore, 'by joining again')
  t.equal((await bob.session.reveal(sent.id)).text, 'sent during a long vault outage')
})
