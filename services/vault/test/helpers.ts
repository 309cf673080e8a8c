/** A vault on a private database and a private subject prefix, with a requester bus to talk to it. */
import type { Bus } from '@ephemeral-chat/bus'
import { codecs, encodeBytes, PROTOCOL_VERSION, VAULT_SUBJECTS, type Codec } from '@ephemeral-chat/protocol'
import { connectTestBus, createTestDatabase, randomPrefix, withSubjectPrefix, type TestDatabase } from '@ephemeral-chat/testkit'
import { createHash, randomBytes } from 'node:crypto'
import { pino } from 'pino'
import type { Kysely } from 'kysely'
import { buildVaultApp } from '../src/app.js'
import { createDatabase, createPool, migrateToLatest } from '../src/db/database.js'
import type { Database } from '../src/db/schema.js'

export const KEY_1 = Buffer.alloc(32, 1)
export const KEY_2 = Buffer.alloc(32, 2)

export interface VaultOptions {
  encryptionKey?: Buffer
  retiredKeys?: Buffer[]
  messageTtlMs?: number
  sweepIntervalMs?: number
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
  stop (): Promise<void>
}

interface TestLike { teardown (fn: () => Promise<void> | void): void }

export async function harness (t: TestLike): Promise<Harness> {
  const database = await createTestDatabase()
  const db = createDatabase(createPool({ ...database, maxConnections: 5 }))
  const migrated = await migrateToLatest(db)
  if (migrated.error !== undefined) throw new Error('migration failed', { cause: migrated.error })
  const prefix = randomPrefix()
  const bus = withSubjectPrefix(await connectTestBus('vault-test-requester'), prefix)
  const vaults: RunningVault[] = []
  const logger = pino({ level: 'silent' })

  const h: Harness = {
    prefix, database, db, bus,
    async startVault (options = {}) {
      const vaultBus = withSubjectPrefix(await connectTestBus('vault-test'), prefix)
      const vaultDb = createDatabase(createPool({ ...database, maxConnections: 10 }))
      const app = await buildVaultApp({
        config: {
          encryptionKey: options.encryptionKey ?? KEY_1,
          retiredKeys: options.retiredKeys ?? [],
          messageTtlMs: options.messageTtlMs ?? 60_000,
          sweepIntervalMs: options.sweepIntervalMs ?? 3_600_000
        },
        logger, bus: vaultBus, db: vaultDb
      })
      await app.ready()
      await vaultBus.ping()
      let stopped = false
      const running: RunningVault = {
        app,
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
      await database.drop()
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
  return {
    join: async (roomHash: string, memberId: string) => call(bus, VAULT_SUBJECTS.roomJoin, { roomHash, memberId, gatewayId }, codecs.roomJoinReply),
    leave: async (roomHash: string, memberId: string, mode: 'leave' | 'disconnect') => call(bus, VAULT_SUBJECTS.roomLeave, { roomHash, memberId, gatewayId, mode }, codecs.roomLeaveReply),
    store: async (roomHash: string, memberId: string, id: string, envelope = fakeEnvelope()) => call(bus, VAULT_SUBJECTS.messageStore, { roomHash, memberId, id, ...envelope }, codecs.messageStoreReply),
    fetch: async (roomHash: string, memberId: string, id: string) => call(bus, VAULT_SUBJECTS.messageFetch, { roomHash, memberId, id }, codecs.messageFetchReply),
    ack: async (roomHash: string, memberId: string, id: string) => call(bus, VAULT_SUBJECTS.messageAck, { roomHash, memberId, id }, codecs.messageAckReply),
    heartbeat: async () => call(bus, VAULT_SUBJECTS.gatewayHeartbeat, { gatewayId }, codecs.gatewayHeartbeatReply),
    gatewayId
  }
}
