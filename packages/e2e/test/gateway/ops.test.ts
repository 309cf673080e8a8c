import { waitFor } from '@ephemeral-chat/testkit'
import { Writable } from 'node:stream'
import { pino } from 'pino'
import t from 'tap'
import WebSocket from 'ws'
import { loggerOptions } from '@ephemeral-chat/service-kit'
import { connectTestBus, freePort, natsAvailable, randomPrefix, strict, withSubjectPrefix } from '@ephemeral-chat/testkit'
import { createHash } from 'node:crypto'
import { buildGatewayApp } from '@ephemeral-chat/gateway'
import { connectClient, deployment, gatewayConfig, newRoom } from '../../src/stack.js'
import { entry as entryOf, start, waitWhileRunning } from '../../src/spawn.js'

t.test('every page answer carries the strict security headers', async (t) => {
  const bus = withSubjectPrefix(await connectTestBus(), randomPrefix())
  const app = await buildGatewayApp({ config: gatewayConfig(), logger: pino({ level: 'silent' }), bus })
  t.teardown(async () => { await app.close(); await bus.close() })
  const response = await app.inject({ method: 'GET', url: '/healthz' })
  const csp = String(response.headers['content-security-policy'])
  t.match(csp, /script-src 'self'/)
  t.notMatch(csp, /unsafe-inline|unsafe-eval/, 'no inline script or style, no eval')
  t.match(csp, /connect-src 'self'/)
  t.match(csp, /frame-ancestors 'none'/)
  t.equal(response.headers['referrer-policy'], 'no-referrer')
  t.equal(response.headers['x-frame-options'], 'DENY')
  t.same(response.json(), { status: 'ok' })
  t.same((await app.inject({ method: 'GET', url: '/readyz' })).json(), { status: 'ready' })
  t.equal((await app.inject({ method: 'GET', url: '/metrics' })).statusCode, 404, '/metrics is not on the public port')
  t.equal((await app.metricsApp.inject({ method: 'GET', url: '/metrics' })).statusCode, 200, 'but on its own server (METRICS_PORT)')
  const root = await app.inject({ method: 'GET', url: '/' })
  t.equal(root.statusCode, 503, 'without a built client the page says so')
})

t.test('logs and metrics carry no identifier, address or text', async (t) => {
  const d = await deployment(t)
  await d.startVault()
  const lines: string[] = []
  const sink = new Writable({ write (chunk: Buffer, _encoding, done) { lines.push(chunk.toString('utf8')); done() } })
  // The most verbose level, to be sure nothing identifying is logged at any level.
  const logger = pino({ ...loggerOptions('gateway', 'trace') }, sink)
  const bus = withSubjectPrefix(await connectTestBus(), d.prefix)
  const app = await buildGatewayApp({ config: gatewayConfig(), logger, bus })
  await app.listen({ host: '127.0.0.1', port: 0 })
  t.teardown(async () => { await app.close(); await bus.close() })
  const address = app.server.address()
  if (address === null || typeof address === 'string') throw new Error('no port')
  const wsUrl = `ws://127.0.0.1:${address.port}/ws`

  const { code, keys } = await newRoom()
  const alice = await connectClient(t, wsUrl, keys)
  const bob = await connectClient(t, wsUrl, keys)
  const text = 'the secret text of a logged lifecycle'
  const sent = await alice.session.send(text)
  await waitFor('card', () => bob.events.card.some((c) => c.id === sent.id))
  await bob.session.reveal(sent.id)
  await bob.session.viewed(sent.id)
  const bad = new WebSocket(wsUrl)
  await new Promise((resolve) => bad.once('open', resolve))
  bad.send('{not json')
  bad.send(JSON.stringify({ v: 1, type: 'join', roomId: '*', memberSecret: bob.memberSecret }))
  bad.close()
  alice.session.close()
  await waitFor('alice disconnect is processed', async () => (await app.metricsApp.inject({ url: '/metrics' })).body.includes('vault.room.leave'))

  const metrics = (await app.metricsApp.inject({ method: 'GET', url: '/metrics' })).body
  t.match(metrics, /gateway_operation_duration_seconds_count\{operation="frame.send",outcome="ok"\} 1/)
  t.match(metrics, /gateway_connections /)
  const logs = lines.filter((line) => !line.includes('Server listening')).join('\n')
  const secrets = { code, roomId: keys.roomId, roomHash: roomHashHex(keys.roomIdBytes), alice: alice.session.memberId ?? '?', bob: bob.session.memberId ?? '?', secret: bob.memberSecret, id: sent.id, text, ip: '127.0.0.1' }
  for (const [name, value] of Object.entries(secrets)) {
    t.notOk(logs.includes(value), `no ${name} in the logs`)
    if (name !== 'ip') t.notOk(metrics.includes(value), `no ${name} in the metrics`)
  }
  t.comment(`${lines.length} log lines checked`)
})

function roomHashHex (bytes: Uint8Array): string {
  return createHash('sha256').update(bytes).digest('hex')
}

t.test('SIGTERM: the gateway closes sockets with 1001 and exits cleanly within the grace period', async (t) => {
  if (!await natsAvailable() && !strict()) {
    t.plan(0, 'skipped: a gateway process needs a real NATS and none answered here (with CI=true this is a failure)')
    return
  }
  const d = await deployment(t)
  await d.startVault()
  const port = await freePort()
  const metricsPort = await freePort()
  const entry = entryOf('services/gateway/dist/src/server.js')
  const gateway = start(entry, { PATH: process.env.PATH, PORT: String(port), METRICS_PORT: String(metricsPort), HOST: '127.0.0.1', NATS_URL: process.env.NATS_URL ?? 'nats://127.0.0.1:4222', NATS_SUBJECT_PREFIX: d.prefix })
  const { process: child, exited } = gateway
  t.teardown(() => { child.kill('SIGKILL') })

  const { keys } = await newRoom()
  // A process start on a loaded 2-core machine can take many seconds; a gateway that exits ends the wait at once.
  await waitWhileRunning(gateway, 'the gateway listens', async () => fetch(`http://127.0.0.1:${port}/healthz`).then((r) => r.ok, () => false), 90_000, 100)
  t.equal((await fetch(`http://127.0.0.1:${metricsPort}/metrics`)).status, 200, '/metrics is served on METRICS_PORT')
  t.equal((await fetch(`http://127.0.0.1:${port}/metrics`)).status, 404, 'and not on the public port')
  const client = await connectClient(t, `ws://127.0.0.1:${port}/ws`, keys, { reconnect: { initialDelayMs: 60_000, maxDelayMs: 60_000 } })
  t.equal(client.session.state, 'joined')

  const started = Date.now()
  child.kill('SIGTERM')
  const closed = await waitFor('the socket closes', () => client.events.state.find((s) => s.code !== undefined), 10_000)
  t.equal(closed.code, 1001, 'close code 1001 going away')
  t.equal(await exited, 0, 'exit code 0')
  const elapsed = Date.now() - started
  t.ok(elapsed < 25_000, `drained in ${elapsed} ms, inside the 30 s grace period of the manifests`)
  t.notMatch(gateway.output(), /Error|at .*\.js:\d+/, 'no stack trace on the way out')
})
