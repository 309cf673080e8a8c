/**
 * `npm run bench -w services/vault`: one vault on the local PostgreSQL (a private
 * database, dropped at the end) behind real NATS, driven like a gateway would:
 * N stores, then N fetches, then N acks (each deleting its message), with a
 * bounded number in flight. Prints throughput and latency per phase.
 *
 * BENCH_MESSAGES (default 3000) and BENCH_CONCURRENCY (default 32) tune it;
 * PG* and NATS_URL point it at other servers.
 */
import type { Bus } from '@ephemeral-chat/bus'
import { codecs, encodeBytes, PROTOCOL_VERSION, VAULT_SUBJECTS, type Codec } from '@ephemeral-chat/protocol'
import { connectTestBus, createTestDatabase, randomPrefix, withSubjectPrefix } from '@ephemeral-chat/testkit'
import { createHash, randomBytes } from 'node:crypto'
import { pino } from 'pino'
import { buildVaultApp } from '../src/app.js'
import { createDatabase, createPool, migrateToLatest } from '../src/db/database.js'

const MESSAGES = positive('BENCH_MESSAGES', 3000)
const CONCURRENCY = positive('BENCH_CONCURRENCY', 32)
/** Messages per room: well under MAX_PENDING_MESSAGES_PER_ROOM, and enough rooms that stores (serialised per room) can run side by side. */
const PER_ROOM = 25

function positive (name: string, fallback: number): number {
  const value = Number(process.env[name] ?? fallback)
  if (!Number.isInteger(value) || value < 1) throw new Error(`${name} must be a positive whole number`)
  return value
}

const b64 = (bytes: number): string => randomBytes(bytes).toString('base64url')

interface Message {
  roomHash: string
  sender: string
  recipient: string
  id: string
  iv: string
  ct: string
}

interface PhaseResult {
  name: string
  ops: number
  failures: Map<string, number>
  seconds: number
  latenciesMs: number[]
}

async function call (bus: Bus, subject: string, body: object, reply: Codec<{ ok: boolean }>): Promise<string> {
  const decoded = reply.decode(await bus.request(subject, encodeBytes({ v: PROTOCOL_VERSION, ...body })))
  if (!decoded.ok) return `undecodable reply (${decoded.code})`
  const value = decoded.value as { ok: true } | { ok: false, code: string }
  return value.ok ? 'ok' : value.code
}

/** Runs `op` once per message with at most CONCURRENCY in flight, timing each. */
async function phase (name: string, messages: readonly Message[], op: (m: Message) => Promise<string>): Promise<PhaseResult> {
  const latenciesMs: number[] = []
  const failures = new Map<string, number>()
  let next = 0
  const started = process.hrtime.bigint()
  async function worker (): Promise<void> {
    while (next < messages.length) {
      const message = messages[next++] as Message
      const t0 = process.hrtime.bigint()
      let outcome: string
      try {
        outcome = await op(message)
      } catch (error) {
        outcome = error instanceof Error ? error.name : 'error'
      }
      latenciesMs.push(Number(process.hrtime.bigint() - t0) / 1e6)
      if (outcome !== 'ok') failures.set(outcome, (failures.get(outcome) ?? 0) + 1)
    }
  }
  await Promise.all(Array.from({ length: Math.min(CONCURRENCY, messages.length) }, worker))
  return { name, ops: messages.length, failures, seconds: Number(process.hrtime.bigint() - started) / 1e9, latenciesMs }
}

function percentile (sorted: readonly number[], p: number): number {
  return sorted[Math.min(sorted.length - 1, Math.floor(p * sorted.length))] ?? Number.NaN
}

function report (results: readonly PhaseResult[]): void {
  const rows = results.map((r) => {
    const sorted = [...r.latenciesMs].sort((a, b) => a - b)
    const failed = [...r.failures].map(([code, n]) => `${code}×${n}`).join(' ') || '0'
    return [r.name, String(r.ops), (r.ops / r.seconds).toFixed(0), percentile(sorted, 0.5).toFixed(2), percentile(sorted, 0.99).toFixed(2), (sorted.at(-1) ?? Number.NaN).toFixed(2), failed]
  })
  const header = ['phase', 'ops', 'ops/s', 'p50 ms', 'p99 ms', 'max ms', 'failures']
  const widths = header.map((h, i) => Math.max(h.length, ...rows.map((row) => (row[i] ?? '').length)))
  for (const row of [header, ...rows]) process.stdout.write(`${row.map((cell, i) => cell.padStart(widths[i] ?? 0)).join('  ')}\n`)
}

async function main (): Promise<number> {
  const database = await createTestDatabase()
  const pool = createPool({ ...database, maxConnections: 10 })
  const db = createDatabase(pool)
  const prefix = randomPrefix()
  let vaultBus: Bus | undefined
  let requester: Bus | undefined
  let app: Awaited<ReturnType<typeof buildVaultApp>> | undefined
  try {
    const migrated = await migrateToLatest(db)
    if (migrated.error !== undefined) throw new Error('migration failed')
    vaultBus = withSubjectPrefix(await connectTestBus('vault-bench'), prefix)
    requester = withSubjectPrefix(await connectTestBus('vault-bench-requester'), prefix)
    app = await buildVaultApp({
      config: { encryptionKey: randomBytes(32), retiredKeys: [], messageTtlMs: 3_600_000, sweepIntervalMs: 3_600_000 },
      logger: pino({ level: 'silent' }),
      bus: vaultBus,
      db,
      pool
    })
    await app.ready()
    const bus = requester
    const gatewayId = randomBytes(16).toString('hex')

    const rooms = Array.from({ length: Math.ceil(MESSAGES / PER_ROOM) }, () =>
      ({ roomHash: createHash('sha256').update(randomBytes(32)).digest('hex'), sender: b64(16), recipient: b64(16) }))
    for (const room of rooms) {
      for (const memberId of [room.sender, room.recipient]) {
        const joined = await call(bus, VAULT_SUBJECTS.roomJoin, { roomHash: room.roomHash, memberId, gatewayId }, codecs.roomJoinReply)
        if (joined !== 'ok') throw new Error(`join failed: ${joined}`)
      }
    }
    // Round robin over the rooms, as many independent conversations would arrive; the
    // smallest padding bucket (256 bytes of padded plaintext plus the 16-byte tag).
    const messages: Message[] = Array.from({ length: MESSAGES }, (_, i) =>
      ({ ...(rooms[i % rooms.length] as typeof rooms[number]), id: b64(16), iv: b64(12), ct: b64(256 + 16) }))
    process.stdout.write(`vault bench: ${MESSAGES} messages in ${rooms.length} rooms of 2, ${CONCURRENCY} in flight, PostgreSQL ${database.host}:${database.port}, NATS\n`)

    const results = [
      await phase('store', messages, async (m) => call(bus, VAULT_SUBJECTS.messageStore, { roomHash: m.roomHash, memberId: m.sender, id: m.id, iv: m.iv, ct: m.ct }, codecs.messageStoreReply)),
      await phase('fetch', messages, async (m) => call(bus, VAULT_SUBJECTS.messageFetch, { roomHash: m.roomHash, memberId: m.recipient, id: m.id }, codecs.messageFetchReply)),
      await phase('ack', messages, async (m) => call(bus, VAULT_SUBJECTS.messageAck, { roomHash: m.roomHash, memberId: m.recipient, id: m.id }, codecs.messageAckReply))
    ]
    report(results)

    const { left } = await db.selectFrom('messages').select((eb) => eb.fn.countAll<string>().as('left')).executeTakeFirstOrThrow()
    process.stdout.write(`messages left after the acks: ${left}\n`)
    return results.every((r) => r.failures.size === 0) && Number(left) === 0 ? 0 : 1
  } finally {
    await app?.close()
    await vaultBus?.close()
    await requester?.close()
    await db.destroy()
    await database.drop()
  }
}

process.exitCode = await main()
