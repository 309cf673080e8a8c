/** A vault on a private database and a private subject prefix, with a requester bus to talk to it. */
import type { Bus } from '@ephemeral-chat/bus'
import { codecs, encodeBytes, PROTOCOL_VERSION, roomHashOfSubject, VAULT_OPERATIONS, type Codec, type RoomEvent, type VaultOperation, type VaultReply, type VaultRequestBody } from '@ephemeral-chat/protocol'
import { connectTestBus, fileTestDatabase, randomPrefix, withSubjectPrefix, type TestDatabase } from '@ephemeral-chat/testkit'
import { createHash, randomBytes } from 'node:crypto'
import type { FastifyBaseLogger } from 'fastify'
import { pino } from 'pino'
import { Writable } from 'node:stream'
import type { Kysely } from 'kysely'
import { buildVaultApp } from '../src/app.js'
import type { BatcherOptions } from '../src/batch.js'
import type { RoomShareOptions } from '../src/room-share.js'
import { createDatabase, createPool, migrateDatabase } from '../src/db/database.js'
import type { Database } from '../src/db/schema.js'

export const KEY_1 = Buffer.alloc(32, 1)
export const KEY_2 = Buffer.alloc(32, 2)

export interface VaultOptions {
  encryptionKey?: Buffer
  retiredKeys?: Buffer[]
  messageTtlMs?: number
  sweepIntervalMs?: number
  /** Group commit and admission; the defaults otherwise. */
  batch?: BatcherOptions
  roomShare?: RoomShareOptions
  /** Defaults to a silent logger. */
  logger?: FastifyBaseLogger
}

export interface Harness {
  prefix: string
  database: TestDatabase
  db: Kysely<Database>
  /** The requester side, like a gateway. */
  bus: Bus
  startVault (options?: VaultOptions): Promise<RunningVault>
  close (): Promise<void>
}

export interface RunningVault {
  app: Awaited<ReturnType<typeof buildVaultApp>>
  /** The vault's own bus connection and database pool (tests may break them on purpose). */
  bus: Bus
  db: Kysely<Database>
  stop (): Promise<void>
}

interface TestLike { teardown (fn: () => Promise<void> | void): void }

export async function harness (t: TestLike): Promise<Harness> {
  const database = await fileTestDatabase(migrateDatabase)
  const db = createDatabase(createPool({ ...database, maxConnections: 5 }))
  const prefix = randomPrefix()
  const bus = withSubjectPrefix(await connectTestBus('vault-test-requester'), prefix)
  const vaults: RunningVault[] = []
  const logger = pino({ level: 'silent' })

  const h: Harness = {
    prefix, database, db, bus,
    async startVault (options = {}) {
      const vaultBus = withSubjectPrefix(await connectTestBus('vault-test'), prefix)
      const vaultPool = createPool({ ...database, maxConnections: 10 })
      const vaultDb = createDatabase(vaultPool)
      const app = await buildVaultApp({
        config: {
          encryptionKey: options.encryptionKey ?? KEY_1,
          retiredKeys: options.retiredKeys ?? [],
          messageTtlMs: options.messageTtlMs ?? 60_000,
          sweepIntervalMs: options.sweepIntervalMs ?? 3_600_000,
          ...(options.batch === undefined ? {} : { batch: options.batch }),
          ...(options.roomShare === undefined ? {} : { roomShare: options.roomShare })
        },
        logger: options.logger ?? logger, bus: vaultBus, db: vaultDb, pool: vaultPool
      })
      await app.ready()
      await vaultBus.ping()
      let stopped = false
      const running: RunningVault = {
        app,
        bus: vaultBus,
        db: vaultDb,
        async stop () {
          if (stopped) return
          stopped = true
          await app.close()
          await vaultBus.close()
          await vaultDb.destroy()
        }
      }
      vaults.push(running)
      return running
    },
    async close () {
      for (const vault of vaults) await vault.stop()
      await bus.close()
      await db.destroy()
    }
  }
  t.teardown(() => h.close())
  return h
}

/** Sends a request and decodes its reply with the protocol codec. */
export async function call<T> (bus: Bus, subject: string, body: object, reply: Codec<T>): Promise<T> {
  const bytes = await bus.request(subject, encodeBytes({ v: PROTOCOL_VERSION, ...body }))
  const decoded = reply.decode(bytes)
  if (!decoded.ok) throw new Error(`reply did not match its schema (${decoded.code})`)
  return decoded.value
}

/** One operation of the protocol's table, as the gateway would ask it (without a deadline unless given). */
export async function request<O extends VaultOperation> (bus: Bus, operation: O, body: VaultRequestBody<O> & { deadline?: number }): Promise<VaultReply<O>> {
  const { subject, reply } = VAULT_OPERATIONS[operation]
  return call(bus, subject, body, reply as unknown as Codec<VaultReply<O>>)
}

export const b64 = (bytes: number): string => randomBytes(bytes).toString('base64url')
export const newMemberId = (): string => b64(16)
export const newMessageId = (): string => b64(16)
export const newRoomHash = (): string => createHash('sha256').update(randomBytes(32)).digest('hex')
export const newGatewayId = (): string => randomBytes(16).toString('hex')

/** A well-formed client envelope of the smallest bucket (the vault cannot tell it from a real one). */
export function fakeEnvelope (bucket = 256): { iv: string, ct: string } {
  return { iv: b64(12), ct: b64(bucket + 16) }
}

export function vaultApi (bus: Bus, gatewayId = newGatewayId()) {
  // One connection of this gateway per member and room, as one open tab would be.
  const connections = new Map<string, number>()
  const connectionId = (roomHash: string, memberId: string): number => {
    const key = `${roomHash}:${memberId}`
    let id = connections.get(key)
    if (id === undefined) connections.set(key, id = connections.size)
    return id
  }
  return {
    join: async (roomHash: string, memberId: string, protocol?: 1 | 2) => request(bus, 'room.join', { roomHash, memberId, gatewayId, connectionId: connectionId(roomHash, memberId), ...(protocol === undefined ? {} : { protocol }) }),
    leave: async (roomHash: string, memberId: string, mode: 'leave' | 'disconnect') => request(bus, 'room.leave', { roomHash, memberId, gatewayId, connectionId: connectionId(roomHash, memberId), mode }),
    store: async (roomHash: string, memberId: string, id: string, envelope = fakeEnvelope()) => request(bus, 'message.store', { roomHash, memberId, id, ...envelope }),
    fetch: async (roomHash: string, memberId: string, id: string) => request(bus, 'message.fetch', { roomHash, memberId, id }),
    ack: async (roomHash: string, memberId: string, id: string) => request(bus, 'message.ack', { roomHash, memberId, id }),
    commit: async (roomHash: string, memberId: string, body: Omit<VaultRequestBody<'group.commit'>, 'roomHash' | 'memberId'>) => request(bus, 'group.commit', { roomHash, memberId, ...body }),
    send: async (roomHash: string, memberId: string, id: string, epoch: number, message: string) => request(bus, 'group.send', { roomHash, memberId, id, epoch, message }),
    read: async (roomHash: string, memberId: string, id: string) => request(bus, 'group.read', { roomHash, memberId, id }),
    groupState: async (roomHash: string, memberId: string, since?: number) => request(bus, 'group.state', { roomHash, memberId, ...(since === undefined ? {} : { since }) }),
    heartbeat: async () => request(bus, 'gateway.heartbeat', { gatewayId, intervalMs: 5000, connections: 0, digest: '0'.repeat(16) }),
    gatewayId
  }
}

export interface RoomEventLog {
  /** Every event received so far, with the room hash of its subject. */
  readonly received: Array<{ roomHash: string, event: RoomEvent }>
  /** Payloads on a room events subject that did not match the protocol (should stay 0). */
  readonly invalid: () => number
  /** Events of one type (and optionally one room). */
  of<T extends RoomEvent['type']> (type: T, roomHash?: string): Array<Extract<RoomEvent, { type: T }>>
}

/** Listens to the events of every room (or one) until the test ends. Resolves once the subscription is live. */
export async function listenToRoomEvents (t: TestLike, bus: Bus, roomHash = '*'): Promise<RoomEventLog> {
  const received: RoomEventLog['received'] = []
  let invalid = 0
  const subscription = bus.subscribe(`room.${roomHash}.events`, (data, subject) => {
    const decoded = codecs.roomEvent.decode(data)
    const hash = roomHashOfSubject(subject)
    if (!decoded.ok || hash === undefined) invalid++
    else received.push({ roomHash: hash, event: decoded.value })
  })
  t.teardown(() => { subscription.unsubscribe() })
  await bus.ping()
  return {
    received,
    invalid: () => invalid,
    of<T extends RoomEvent['type']> (type: T, room?: string) {
      return received.filter((r) => r.event.type === type && (room === undefined || r.roomHash === room))
        .map((r) => r.event as Extract<RoomEvent, { type: T }>)
    }
  }
}

/** Runs `work` over `items` with at most `limit` in flight; results keep the order of `items`. */
export async function inParallel<T, R> (items: readonly T[], limit: number, work: (item: T, index: number) => Promise<R>): Promise<R[]> {
  const results = new Array<R>(items.length)
  let next = 0
  async function worker (): Promise<void> {
    while (next < items.length) {
      const index = next++
      results[index] = await work(items[index] as T, index)
    }
  }
  await Promise.all(Array.from({ length: Math.min(limit, items.length) }, worker))
  return results
}

/** A pino logger at `level` whose lines are kept for the test to read. */
export function capturingLogger (level = 'warn'): { logger: FastifyBaseLogger, lines: string[] } {
  const lines: string[] = []
  const stream = new Writable({
    write (chunk: Buffer, _encoding, done) {
      lines.push(...chunk.toString('utf8').split('\n').filter((line) => line !== ''))
      done()
    }
  })
  return { logger: pino({ level }, stream), lines }
}

/** `select count(*)` of a table under a condition, as a number. */
export async function countRows (db: Kysely<Database>, table: keyof Database, where?: { column: string, value: string }): Promise<number> {
  let query = db.selectFrom(table).select((eb) => eb.fn.countAll<string>().as('n'))
  // The column depends on the table, which the type system cannot follow here.
  if (where !== undefined) query = query.where(where.column as any, '=', where.value)
  const { n } = await query.executeTakeFirstOrThrow()
  return Number(n)
}
