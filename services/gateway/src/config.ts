/** The gateway's configuration, read from the environment once and frozen. */
import { isValidSubjectPrefix } from '@ephemeral-chat/bus'
import { DEFAULT_REQUEST_TIMEOUT_MS, HEARTBEAT_INTERVAL_MS, MAX_CONNECTIONS_PER_ADDRESS } from '@ephemeral-chat/protocol'
import { ConfigError, readBoolean, readDuration, readInteger, readList, readLogLevel, readPort, readString, type Env, type LogLevel } from '@ephemeral-chat/service-kit'
import { fileURLToPath } from 'node:url'

export interface GatewayConfig {
  readonly host: string
  readonly port: number
  readonly natsUrl: string
  /** Optional namespace for every subject, so several installs can share one NATS. */
  readonly natsSubjectPrefix: string | undefined
  /** Origins allowed to open a WebSocket; empty means the gateway's own origin only. */
  readonly allowedOrigins: readonly string[]
  /** Take the client address from X-Forwarded-For (only behind a proxy you run). */
  readonly trustProxy: boolean
  readonly maxConnectionsPerAddress: number
  readonly requestTimeoutMs: number
  readonly heartbeatIntervalMs: number
  /** Interval of WebSocket pings; a socket that missed one pong is closed. */
  readonly pingIntervalMs: number
  /** Folder of the built web client; served at `/`. */
  readonly webRoot: string
  readonly logLevel: LogLevel
}

export const DEFAULT_WEB_ROOT = fileURLToPath(new URL('../../../../web/dist', import.meta.url))

export function loadGatewayConfig (env: Env): GatewayConfig {
  const allowedOrigins = readList(env, 'ALLOWED_ORIGINS')
  for (const origin of allowedOrigins) {
    if (!/^https?:\/\/[^/\s]+$/.test(origin)) throw new ConfigError('ALLOWED_ORIGINS', 'must be a comma-separated list of origins such as https://chat.example.org (scheme and host, no path)')
  }
  return Object.freeze({
    host: readString(env, 'HOST', '0.0.0.0'),
    port: readPort(env, 'PORT', 3000),
    natsUrl: readString(env, 'NATS_URL', 'nats://127.0.0.1:4222'),
    natsSubjectPrefix: readSubjectPrefix(env),
    allowedOrigins: Object.freeze(allowedOrigins),
    trustProxy: readBoolean(env, 'TRUST_PROXY', false),
    maxConnectionsPerAddress: readInteger(env, 'MAX_CONNECTIONS_PER_ADDRESS', MAX_CONNECTIONS_PER_ADDRESS, { min: 1, max: 100_000 }),
    requestTimeoutMs: readDuration(env, 'REQUEST_TIMEOUT', DEFAULT_REQUEST_TIMEOUT_MS, { minMs: 100, maxMs: 60_000 }),
    heartbeatIntervalMs: readDuration(env, 'HEARTBEAT_INTERVAL', HEARTBEAT_INTERVAL_MS, { minMs: 100, maxMs: 60_000 }),
    pingIntervalMs: readDuration(env, 'WS_PING_INTERVAL', 30_000, { minMs: 100, maxMs: 600_000 }),
    webRoot: readString(env, 'WEB_ROOT', DEFAULT_WEB_ROOT),
    logLevel: readLogLevel(env)
  })
}

function readSubjectPrefix (env: Env): string | undefined {
  const prefix = readString(env, 'NATS_SUBJECT_PREFIX')
  if (prefix !== undefined && !isValidSubjectPrefix(prefix)) throw new ConfigError('NATS_SUBJECT_PREFIX', 'must be dot-separated tokens of letters, digits, - and _ (no wildcards or spaces)')
  return prefix
}
