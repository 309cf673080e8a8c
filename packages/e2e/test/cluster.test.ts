import { ChatSession, deriveRoomKeys, generateRoomCode, newMemberSecret } from '@ephemeral-chat/client'
import { createTestDatabase, natsAvailable, natsUrl, randomPrefix, reachable, serverParams, strict, waitFor } from '@ephemeral-chat/testkit'
import { createServer } from 'node:net'
import t from 'tap'
import WebSocket from 'ws'
import { cleanEnv, entry, lastLines, start, waitWhileRunning } from '../src/spawn.js'

async function portFree (port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const server = createServer()
    server.once('error', () => { resolve(false) })
    server.listen(port, '127.0.0.1', () => { server.close(() => { resolve(true) }) })
  })
}

/**
 * A base port whose block (base, base + 1 for the two services, base + 10, base + 11 for
 * their metrics) is free, below Linux's ephemeral range (32768 and up), where the
 * outgoing connections of the other test files take their ports.
 */
async function portBlock (): Promise<number> {
  for (;;) {
    const port = 20_000 + Math.floor(Math.random() * 12_000)
    let free = true
    for (const offset of [0, 1, 10, 11]) free &&= await portFree(port + offset)
    if (free) return port
  }
}

t.test('npm run cluster: send through gateway 1, reveal through gateway 2, survive a vault killed with SIGKILL', async (t) => {
  const server = serverParams()
  if ((!await reachable(server.host, server.port) || !await natsAvailable()) && !strict()) {
    t.plan(0, 'skipped: the cluster needs a real PostgreSQL and NATS and none answered here (with CI=true this is a failure)')
    return
  }
  const database = await createTestDatabase()
  t.teardown(() => database.drop())
  const [gatewayPort, vaultPort] = [await portBlock(), await portBlock()]
  const cluster = start(entry('services/standalone/dist/src/cluster.js'), cleanEnv({
    PORT: String(gatewayPort),
    VAULT_PORT: String(vaultPort),
    HOST: '127.0.0.1',
    PGHOST: database.host,
    PGPORT: String(database.port),
    PGUSER: database.user,
    PGDATABASE: database.database,
    NATS_URL: natsUrl(),
    NATS_SUBJECT_PREFIX: randomPrefix(),
    ENCRYPTION_KEY: 'ab'.repeat(32)
  }))
  t.teardown(async () => {
    cluster.process.kill('SIGTERM')
    await cluster.exited
  })
  for (const port of [gatewayPort, gatewayPort + 1, vaultPort, vaultPort + 1]) {
    let last = 'no answer yet'
    const ready = async (): Promise<boolean> => {
      const reply = await fetch(`http://127.0.0.1:${port}/readyz`, { signal: AbortSignal.timeout(2000) })
        .catch((error: unknown) => {
          const cause = error instanceof Error && error.cause instanceof Error ? ` (${error.cause.message})` : ''
          last = `${error instanceof Error ? error.message : 'failed'}${cause}`
          return undefined
        })
      if (reply !== undefined) last = `${reply.status} ${await reply.text()}`
      return reply?.ok === true
    }
    await waitWhileRunning(cluster, `port ${port} ready`, ready, 90_000, 100)
      .catch((error: unknown) => { throw new Error(`${error instanceof Error ? error.message : String(error)} (last: ${last}); the cluster printed: ${lastLines(cluster, 8)}`) })
  }

  const keys = await deriveRoomKeys(generateRoomCode())
  const connect = async (port: number): Promise<ChatSession> => {
    const session = new ChatSession({ url: `ws://127.0.0.1:${port}/ws`, keys, memberSecret: newMemberSecret(), createSocket: (url) => new WebSocket(url) as never })
    t.teardown(() => { session.close() })
    await session.connect()
    return session
  }
  const alice = await connect(gatewayPort)
  const bob = await connect(gatewayPort + 1)
  const cards = new Set<string>()
  bob.on('card', (card) => cards.add(card.id))

  const exchange = async (text: string): Promise<string> => {
    const sent = await alice.send(text)
    await waitFor('card on gateway 2', () => cards.has(sent.id))
    const payload = await bob.reveal(sent.id)
    await bob.viewed(sent.id)
    return payload.text
  }
  t.equal(await exchange('through the cluster'), 'through the cluster', 'sent via gateway 1, revealed via gateway 2')

  const pid = Number(/vault-1: pid (\d+)/.exec(cluster.output())?.[1])
  t.ok(pid > 0, 'vault 1 is a separate process')
  process.kill(pid, 'SIGKILL')
  await waitFor('the cluster notices', () => /vault-1: exited \(SIGKILL\)/.test(cluster.output()))
  const texts: string[] = []
  for (let i = 0; i < 10; i++) texts.push(await exchange(`after the kill ${i}`))
  t.same(texts, Array.from({ length: 10 }, (_, i) => `after the kill ${i}`), 'service continues through the other vault')
  const rows = await fetch(`http://127.0.0.1:${vaultPort + 11}/metrics`).then(async (r) => r.text())
  t.match(rows, /vault_operation_duration_seconds_count\{operation="message.store",outcome="ok"\} \d+/, 'vault 2 served the stores')
})
