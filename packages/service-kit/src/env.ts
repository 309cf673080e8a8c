/**
 * Reading configuration from the environment, once, at start. Every reader fails
 * with a ConfigError that names the variable (never echoing its value, which may
 * be a secret).
 */
export type Env = Readonly<Record<string, string | undefined>>

export class ConfigError extends Error {
  readonly variable: string

  constructor (variable: string, problem: string) {
    super(`${variable} ${problem}`)
    this.name = 'ConfigError'
    this.variable = variable
  }
}

function raw (env: Env, name: string): string | undefined {
  const value = env[name]?.trim()
  return value === undefined || value === '' ? undefined : value
}

export function readString (env: Env, name: string, fallback: string): string
export function readString (env: Env, name: string): string | undefined
export function readString (env: Env, name: string, fallback?: string): string | undefined {
  return raw(env, name) ?? fallback
}

export function readInteger (env: Env, name: string, fallback: number, range: { min: number, max: number }): number {
  const value = raw(env, name)
  if (value === undefined) return fallback
  if (!/^\d+$/.test(value)) throw new ConfigError(name, `must be a whole number from ${range.min} to ${range.max}`)
  const parsed = Number(value)
  if (parsed < range.min || parsed > range.max) throw new ConfigError(name, `must be a whole number from ${range.min} to ${range.max}`)
  return parsed
}

const UNITS: Record<string, number> = { ms: 1, s: 1000, m: 60_000, h: 3_600_000, d: 86_400_000 }

/** A duration such as `250ms`, `30s`, `15m`, `24h`, `1d`, or a bare number of milliseconds. Returns milliseconds. */
export function readDuration (env: Env, name: string, fallbackMs: number, range: { minMs: number, maxMs: number }): number {
  const value = raw(env, name)
  if (value === undefined) return fallbackMs
  const match = /^(\d+(?:\.\d+)?)\s*(ms|s|m|h|d)?$/.exec(value)
  const problem = `must be a duration such as 30s, 15m or 24h, from ${range.minMs} ms to ${range.maxMs} ms`
  if (match === null) throw new ConfigError(name, problem)
  const ms = Math.round(Number(match[1]) * (UNITS[match[2] ?? 'ms'] ?? 1))
  if (ms < range.minMs || ms > range.maxMs) throw new ConfigError(name, problem)
  return ms
}

export function readBoolean (env: Env, name: string, fallback: boolean): boolean {
  const value = raw(env, name)?.toLowerCase()
  if (value === undefined) return fallback
  if (['1', 'true', 'yes', 'on'].includes(value)) return true
  if (['0', 'false', 'no', 'off'].includes(value)) return false
  throw new ConfigError(name, 'must be true or false')
}

export function readList (env: Env, name: string): string[] {
  const value = raw(env, name)
  if (value === undefined) return []
  return value.split(',').map((item) => item.trim()).filter((item) => item !== '')
}

/** A key given as 64 hexadecimal characters (32 bytes). */
export function parseHexKey (name: string, value: string): Buffer {
  if (!/^[0-9a-fA-F]{64}$/.test(value)) throw new ConfigError(name, 'must be 64 hexadecimal characters (a 32-byte key, e.g. from `openssl rand -hex 32`)')
  return Buffer.from(value, 'hex')
}

export function readPort (env: Env, name: string, fallback: number): number {
  return readInteger(env, name, fallback, { min: 0, max: 65535 })
}

/** A port that may be left unset (the feature it serves is then off). */
export function readOptionalPort (env: Env, name: string): number | undefined {
  return env[name]?.trim() === undefined || env[name]?.trim() === '' ? undefined : readPort(env, name, 0)
}

export const LOG_LEVELS = ['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent'] as const
export type LogLevel = (typeof LOG_LEVELS)[number]

export function readLogLevel (env: Env, name = 'LOG_LEVEL'): LogLevel {
  const value = raw(env, name) ?? 'warn'
  if (!(LOG_LEVELS as readonly string[]).includes(value)) throw new ConfigError(name, `must be one of ${LOG_LEVELS.join(', ')}`)
  return value as LogLevel
}

/**
 * Loads a service's configuration at start, or stops the process with a one-line
 * message naming the variable (exit 78, EX_CONFIG) instead of a stack trace.
 */
export function loadConfigOrExit<T> (service: string, load: (env: Env) => T, env: Env = process.env): T {
  try {
    return load(env)
  } catch (error) {
    if (!(error instanceof ConfigError)) throw error
    process.stderr.write(`${service}: configuration error: ${error.message}\n`)
    process.exit(78)
  }
}
