import type { ErrorCode } from './errors.js'

/**
 * The one result shape of the code base: a value, or the protocol error code to answer
 * with (and for `unavailable`/`room-busy`, when to try again). Decoding, the vault's
 * queries and the gateway's vault client all return it.
 */
export type Result<T> = { ok: true, value: T } | { ok: false, code: ErrorCode, retryAfterMs?: number }

export function success<T> (value: T): Result<T> {
  return { ok: true, value }
}

export function failure<T> (code: ErrorCode, retryAfterMs?: number): Result<T> {
  return retryAfterMs === undefined ? { ok: false, code } : { ok: false, code, retryAfterMs }
}
