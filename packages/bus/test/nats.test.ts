import net from 'node:net'
import t from 'tap'
import type { BusLogger } from '../src/bus.js'
import { connectNatsBus, natsConnectionOptions } from '../src/nats.js'
import { busContract, uniquePrefix, waitFor } from './contract.js'

const NATS_URL = process.env.NATS_URL ?? 'nats://127.0.0.1:4222'
const bytes = (text: string): Uint8Array => new TextEncoder().encode(text)
const quiet: BusLogger = { warn: () => {} }

/** Outside CI a machine without NATS skips this file; with CI=true a missing server fails it. */
async function natsAnswers (url: URL): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = net.createConnection({ host: url.hostname, port: Number(url.port === '' ? 4222 : url.port) })
    socket.setTimeout(1000, () => { socket.destroy(); resolve(false) })
    socket.once('connect', () => { socket.destroy(); resolve(true) })
    socket.once('error', () => { resolve(false) })
  })
}
if (!await natsAnswers(new URL(NATS_URL)) && process.env.CI !== 'true') {
  t.plan(0, `skipped: no NATS server answers at ${NATS_URL} (with CI=true this is a failure)`)
  process.exit(0)
}

busContract(t, 'nats', () => connectNatsBus({ servers: NATS_URL, name: 'bus-contract-test', logger: quiet }))

void t.test('nats: reconnects forever, with jitter', (t) => {
  const options = natsConnectionOptions({ servers: [NATS_URL] })
  t.equal(options.maxReconnectAttempts, -1, 'never gives up')
  t.not(options.reconnect, false)
  t.ok((options.reconnectTimeWait ?? 0) > 0 && (options.reconnectJitter ?? 0) > 0, 'waits, with a random spread')
  t.ok(Object.isFrozen(options))
  t.end()
})

void t.test('nats: cannot connect → unavailable', async (t) => {
  const port = await freePort()
  await t.rejects(connectNatsBus({ servers: `nats://127.0.0.1:${port}`, logger: quiet }), { name: 'BusError', code: 'unavailable' })
})

void t.test('nats: survives a lost connection, ping reports it, subscriptions come back', async (t) => {
  const proxy = await startProxy(new URL(NATS_URL))
  t.teardown(() => proxy.stop())
  const server = await connectNatsBus({ servers: `nats://127.0.0.1:${proxy.port}`, logger: quiet })
  const client = await connectNatsBus({ servers: NATS_URL, logger: quiet })
  t.teardown(() => Promise.all([server.close(), client.close()]))
  const subject = `${uniquePrefix()}.survivor`
  server.serve(subject, 'survivor', (data) => data)
  await server.ping()
  t.equal(new TextDecoder().decode(await client.request(subject, bytes('before'))), 'before')

  await proxy.stop()
  // Until the client notices the lost connection a ping may still succeed: retried until it fails.
  let failure: unknown
  await eventually(async () => {
    failure = await server.ping().then(() => { throw new Error('ping still answered') }, (error: unknown) => error)
  })
  t.match(failure, { code: 'unavailable' }, 'ping fails while disconnected, as unavailable')

  await proxy.start()
  await eventually(() => server.ping(), 15_000)
  await client.ping()
  t.equal(new TextDecoder().decode(await client.request(subject, bytes('after'))), 'after', 'served again after reconnect')
})

void t.test('nats: a failed handler is logged without subject or payload', async (t) => {
  const warnings: Array<{ obj: object, msg: string }> = []
  const bus = await connectNatsBus({ servers: NATS_URL, logger: { warn: (obj, msg) => { warnings.push({ obj, msg }) } } })
  t.teardown(() => bus.close())
  const subject = `${uniquePrefix()}.roomhash`
  bus.serve(subject, 'q', () => { throw new RangeError('secret payload') })
  await bus.ping()
  await t.rejects(bus.request(subject, bytes('secret payload'), { timeoutMs: 200 }), { code: 'timeout' })
  await waitFor(() => warnings.length > 0)
  t.same(warnings, [{ obj: { error: 'RangeError' }, msg: 'bus handler failed' }])
})

/** Retries `check` until it resolves; bounded so a broken reconnect fails the test rather than hanging it. */
async function eventually (check: () => Promise<unknown>, timeoutMs = 5_000): Promise<void> {
  const deadline = Date.now() + timeoutMs
  for (;;) {
    try {
      await check()
      return
    } catch (err) {
      if (Date.now() > deadline) throw err
      await new Promise((resolve) => setTimeout(resolve, 50))
    }
  }
}

async function freePort (): Promise<number> {
  const probe = net.createServer()
  await new Promise<void>((resolve) => probe.listen(0, '127.0.0.1', resolve))
  const { port } = probe.address() as net.AddressInfo
  await new Promise((resolve) => probe.close(resolve))
  return port
}

/** A TCP relay to NATS that the test can cut and restore, to cause a real disconnect without touching the shared server. */
async function startProxy (target: URL): Promise<{ port: number, start: () => Promise<void>, stop: () => Promise<void> }> {
  const sockets = new Set<net.Socket>()
  let listener: net.Server | undefined
  const port = await freePort()
  const start = async (): Promise<void> => {
    const server = net.createServer((downstream) => {
      const upstream = net.connect(Number(target.port || 4222), target.hostname)
      for (const socket of [downstream, upstream]) {
        sockets.add(socket)
        socket.on('error', () => {})
        socket.on('close', () => { sockets.delete(socket); downstream.destroy(); upstream.destroy() })
      }
      downstream.pipe(upstream)
      upstream.pipe(downstream)
    })
    await new Promise<void>((resolve) => server.listen(port, '127.0.0.1', resolve))
    listener = server
  }
  const stop = async (): Promise<void> => {
    const server = listener
    listener = undefined
    for (const socket of sockets) socket.destroy()
    if (server !== undefined) await new Promise((resolve) => server.close(resolve))
  }
  await start()
  return { port, start, stop }
}
