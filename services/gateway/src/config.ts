/** The gateway's configuration, read from the environment once and frozen. */
import { isValidSubjectPrefix } from '@ephemeral-chat/bus'
import { DEFAULT_REQUEST_TIMEOUT_MS, HEARTBEAT_INTERVAL_MS, MAX_CONNECTIONS_PER_ADDRESS, RATE_LIMITS, type RateLimit } from '@ephemeral-chat/protocol'
import { ConfigError, readBoolean, readDuration, readInteger, readList, readLogLevel, readOptionalPort, readPort, readString, type Env, type LogLevel } from '@ephemeral-chat/service-kit'
import { fileURLToPath } from 'node:url'

export interface GatewayConfig {
  readonly host: string
  readonly port: number
  /** Port of /metrics (Prometheus), apart from the public one; unset: not served. */
  readonly metricsPort: number | undefined
  readonly natsUrl: string
  /** Optional namespace for every subject, so several installs can share one NATS. */
  readonly natsSubjectPrefix: string | undefined
  /** Origins allowed to open a WebSocket; empty means the gateway's own origin only. */
  readonly allowedOrigins: readonly string[]
  /** Take the client address from X-Forwarded-For (only behind a proxy you run). */
  readonly trustProxy: boolean
  readonly maxConnectionsPerAddress: number
  /** Open WebSockets this gateway holds at most (MAX_CONNECTIONS); more are closed with 1013 at once. */
  readonly maxConnections: number
  /** Bytes a socket may have waiting to be sent (MAX_BUFFERED_BYTES); a client that reads slower is disconnected. */
  readonly maxBufferedBytes: number
  /** Per-connection token buckets (RATE_SEND, RATE_TYPING, RATE_REVEAL, RATE_CONTROL as `<per second>/<burst>`). */
  readonly rates: Readonly<Record<RateName, RateLimit>>
  readonly requestTimeoutMs: number
  /** Most sends and joins waiting for the vault at once; beyond it they are refused as `unavailable` (MAX_NEW_WORK_IN_FLIGHT). */
  readonly maxNewWorkInFlight: number
  readonly heartbeatIntervalMs: number
  /** Interval of WebSocket pings; a socket that missed one pong is closed. */
  readonly pingIntervalMs: number
  /** After a NATS reconnect, how long a connection the vault cannot answer yet is asked to catch up again before it is closed with 1013 (CATCH_UP_GIVE_UP). */
  readonly catchUpGiveUpMs: number
  /** Folder of the built web client; served at `/`. */
  readonly webRoot: string
  readonly logLevel: LogLevel
}

export type RateName = keyof typeof RATE_LIMITS

export const DEFAULT_MAX_NEW_WORK_IN_FLIGHT = 1024
/** Well under the usual open-file limits, so the gateway refuses politely before the kernel refuses everyone. */
export const DEFAULT_MAX_CONNECTIONS = 10_000
/** 1 MiB: some forty of the largest v1 payloads, or eighteen of the largest v2 frames (a catch-up's `group`); a client this far behind is not reading. */
export const DEFAULT_MAX_BUFFERED_BYTES = 1024 * 1024

/** 30 s: a vault back within it is caught up with; a longer outage sends the clients back to rejoin on their own backoff. */
export const DEFAULT_CATCH_UP_GIVE_UP_MS = 30_000

export const DEFAULT_WEB_ROOT = fileURLToPath(new URL('../../../../web/dist', import.meta.url))

export function loadGatewayConfig (env: Env): GatewayConfig {
  const allowedOrigins = readList(env, 'ALLOWED_ORIGINS')
  for (const origin of allowedOrigins) {
    if (!/^https?:\/\/[^/\s]+$/.test(origin)) throw new ConfigError('ALLOWED_ORIGINS', 'must be a comma-separated list of origins such as https://chat.example.org (scheme and host, no path)')
  }
  return Object.freeze({
    host: readString(env, 'HOST', '0.0.0.0'),
    port: readPort(env, 'PORT', 3000),
    metricsPort: readOptionalPort(env, 'METRICS_PORT'),
    natsUrl: readString(env, 'NATS_URL', 'nats://127.0.0.1:4222'),
    natsSubjectPrefix: readSubjectPrefix(env),
    allowedOrigins: Object.freeze(allowedOrigins),
    trustProxy: readBoolean(env, 'TRUST_PROXY', false),
    maxConnectionsPerAddress: readInteger(env, 'MAX_CONNECTIONS_PER_ADDRESS', MAX_CONNECTIONS_PER_ADDRESS, { min: 1, max: 100_000 }),
    maxConnections: readInteger(env, 'MAX_CONNECTIONS', DEFAULT_MAX_CONNECTIONS, { min: 1, max: 10_000_000 }),
    maxBufferedBytes: readInteger(env, 'MAX_BUFFERED_BYTES', DEFAULT_MAX_BUFFERED_BYTES, { min: 128 * 1024, max: 1024 * 1024 * 1024 }),
    rates: Object.freeze({
      send: readRate(env, 'RATE_SEND', RATE_LIMITS.send),
      typing: readRate(env, 'RATE_TYPING', RATE_LIMITS.typing),
      reveal: readRate(env, 'RATE_REVEAL', RATE_LIMITS.reveal),
      control: readRate(env, 'RATE_CONTROL', RATE_LIMITS.control)
    }),
    requestTimeoutMs: readDuration(env, 'REQUEST_TIMEOUT', DEFAULT_REQUEST_TIMEOUT_MS, { minMs: 100, maxMs: 60_000 }),
    maxNewWorkInFlight: readInteger(env, 'MAX_NEW_WORK_IN_FLIGHT', DEFAULT_MAX_NEW_WORK_IN_FLIGHT, { min: 1, max: 1_000_000 }),
    heartbeatIntervalMs: readDuration(env, 'HEARTBEAT_INTERVAL', HEARTBEAT_INTERVAL_MS, { minMs: 100, maxMs: 60_000 }),
    pingIntervalMs: readDuration(env, 'WS_PING_INTERVAL', 30_000, { minMs: 100, maxMs: 600_000 }),
    catchUpGiveUpMs: readDuration(env, 'CATCH_UP_GIVE_UP', DEFAULT_CATCH_UP_GIVE_UP_MS, { minMs: 100, maxMs: 3_600_000 }),
    webRoot: readString(env, 'WEB_ROOT', DEFAULT_WEB_ROOT),
    logLevel: readLogLevel(env)
  })
}

/** A token bucket written `<per second>/<burst>`, e.g. `5/20`. */
function readRate (env: Env, name: string, fallback: RateLimit): RateLimit {
  const value = readString(env, name)
  if (value === undefined) return fallback
  const match = /^(\d+(?:\.\d+)?)\/(\d+)$/.exec(value)
  const perSecond = Number(match?.[1])
  const burst = Number(match?.[2])
  if (match === null || perSecond <= 0 || perSecond > 1_000_000 || burst < 1 || burst > 1_000_000) {
    throw new ConfigError(name, 'must be <per second>/<burst>, e.g. 5/20 (both positive, at most 1000000)')
  }
  return Object.freeze({ perSecond, burst })
}

function readSubjectPrefix (env: Env): string | undefined {
  const prefix = readString(env, 'NATS_SUBJECT_PREFIX')
  if (prefix !== undefined && !isValidSubjectPrefix(prefix)) throw new ConfigError('NATS_SUBJECT_PREFIX', 'must be dot-separated tokens of letters, digits, - and _ (no wildcards or spaces)')
  return prefix
}
