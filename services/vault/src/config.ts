/** The vault's configuration, read from the environment once and frozen. */
import { isValidSubjectPrefix } from '@ephemeral-chat/bus'
import { DEFAULT_MESSAGE_TTL_MS } from '@ephemeral-chat/protocol'
import { ConfigError, parseHexKey, readDuration, readInteger, readList, readLogLevel, readOptionalPort, readPort, readString, type Env, type LogLevel } from '@ephemeral-chat/service-kit'
import { userInfo } from 'node:os'
import type { BatcherOptions } from './batch.js'
import type { RoomShareOptions } from './room-share.js'
import type { DatabaseConfig } from './db/database.js'

export interface VaultConfig {
  readonly host: string
  readonly port: number
  /** Port of /metrics (Prometheus), apart from the health checks; unset: not served. */
  readonly metricsPort: number | undefined
  readonly natsUrl: string
  /** Optional namespace for every subject, so several installs can share one NATS. */
  readonly natsSubjectPrefix: string | undefined
  readonly database: DatabaseConfig
  /** The active at-rest key (32 bytes). */
  readonly encryptionKey: Buffer
  /** Older keys that still open rows sealed under them. */
  readonly retiredKeys: readonly Buffer[]
  readonly messageTtlMs: number
  readonly sweepIntervalMs: number
  /** Group commit and admission, per operation of the message path. */
  readonly batch: BatcherOptions
  /** Each room's share of the vault's work: envelope bytes stored, and what joins return (ROOM_SHARE, per vault replica). */
  readonly roomShare: RoomShareOptions
  readonly logLevel: LogLevel
}

export const DEFAULT_VAULT_PORT = 3001
export const DEFAULT_DATABASE = 'ephemeral_chat'

export const DEFAULT_BATCH: BatcherOptions = Object.freeze({ maxItems: 256, concurrency: 2, maxQueued: 20_000, windowMs: 0, maxWaitMs: 1000 })

/** 256 KiB/s (a thousand short messages, or sixteen of the largest) with two seconds' worth at once. */
export const DEFAULT_ROOM_SHARE: RoomShareOptions = Object.freeze({ bytesPerSecond: 256 * 1024, burstBytes: 512 * 1024 })

/** ROOM_SHARE: bytes of envelopes a room may store per second (per vault replica); bursts of twice that. */
function readRoomShare (env: Env): RoomShareOptions {
  const bytesPerSecond = readInteger(env, 'ROOM_SHARE', DEFAULT_ROOM_SHARE.bytesPerSecond, { min: 16 * 1024, max: 1024 * 1024 * 1024 })
  return Object.freeze({ bytesPerSecond, burstBytes: 2 * bytesPerSecond })
}

/** How requests are grouped into statements and how long and many may wait (BATCH_MAX, BATCH_CONCURRENCY, QUEUE_LIMIT, BATCH_WINDOW, QUEUE_WAIT). */
export function loadBatchConfig (env: Env): BatcherOptions {
  return Object.freeze({
    maxItems: readInteger(env, 'BATCH_MAX', DEFAULT_BATCH.maxItems, { min: 1, max: 10_000 }),
    concurrency: readInteger(env, 'BATCH_CONCURRENCY', DEFAULT_BATCH.concurrency, { min: 1, max: 100 }),
    maxQueued: readInteger(env, 'QUEUE_LIMIT', DEFAULT_BATCH.maxQueued, { min: 1, max: 1_000_000 }),
    windowMs: readDuration(env, 'BATCH_WINDOW', DEFAULT_BATCH.windowMs, { minMs: 0, maxMs: 100 }),
    maxWaitMs: readDuration(env, 'QUEUE_WAIT', DEFAULT_BATCH.maxWaitMs, { minMs: 1, maxMs: 60_000 })
  })
}

/** Database settings alone (the migrate command needs nothing else). */
export function loadDatabaseConfig (env: Env): DatabaseConfig {
  return {
    connectionString: readString(env, 'DATABASE_URL'),
    host: readString(env, 'PGHOST'),
    port: readInteger(env, 'PGPORT', 5432, { min: 1, max: 65535 }),
    database: readString(env, 'PGDATABASE', DEFAULT_DATABASE),
    // As libpq does: the operating-system user when PGUSER is not set.
    user: readString(env, 'PGUSER') ?? osUser(),
    password: readString(env, 'PGPASSWORD'),
    maxConnections: readInteger(env, 'PG_POOL_MAX', 10, { min: 1, max: 1000 })
  }
}

function osUser (): string | undefined {
  try {
    return userInfo().username
  } catch {
    return undefined
  }
}

export function loadVaultConfig (env: Env): VaultConfig {
  const key = readString(env, 'ENCRYPTION_KEY')
  if (key === undefined) throw new ConfigError('ENCRYPTION_KEY', 'is required: 64 hexadecimal characters (generate one with `openssl rand -hex 32`)')
  return Object.freeze({
    host: readString(env, 'HOST', '0.0.0.0'),
    port: readPort(env, 'PORT', DEFAULT_VAULT_PORT),
    metricsPort: readOptionalPort(env, 'METRICS_PORT'),
    natsUrl: readString(env, 'NATS_URL', 'nats://127.0.0.1:4222'),
    natsSubjectPrefix: readSubjectPrefix(env),
    database: Object.freeze(loadDatabaseConfig(env)),
    encryptionKey: parseHexKey('ENCRYPTION_KEY', key),
    retiredKeys: Object.freeze(readList(env, 'ENCRYPTION_KEYS_RETIRED').map((value) => parseHexKey('ENCRYPTION_KEYS_RETIRED', value))),
    messageTtlMs: readDuration(env, 'MESSAGE_TTL', DEFAULT_MESSAGE_TTL_MS, { minMs: 1000, maxMs: 30 * 86_400_000 }),
    sweepIntervalMs: readDuration(env, 'SWEEP_INTERVAL', 30_000, { minMs: 100, maxMs: 3_600_000 }),
    batch: loadBatchConfig(env),
    roomShare: readRoomShare(env),
    logLevel: readLogLevel(env)
  })
}

function readSubjectPrefix (env: Env): string | undefined {
  const prefix = readString(env, 'NATS_SUBJECT_PREFIX')
  if (prefix !== undefined && !isValidSubjectPrefix(prefix)) throw new ConfigError('NATS_SUBJECT_PREFIX', 'must be dot-separated tokens of letters, digits, - and _ (no wildcards or spaces)')
  return prefix
}
