import type { ErrorCode } from '@ephemeral-chat/protocol'

/** What a query decided: a value, or the protocol error code to answer with. */
export type Outcome<T> = { ok: true, value: T } | { ok: false, code: ErrorCode, retryAfterMs?: number }

export function success<T> (value: T): Outcome<T> {
  return { ok: true, value }
}

export function failure<T> (code: ErrorCode, retryAfterMs?: number): Outcome<T> {
  return retryAfterMs === undefined ? { ok: false, code } : { ok: false, code, retryAfterMs }
}
