/**
 * Wraps every vault handler the same way: bounded input, schema validation, the
 * request's deadline (a request already late is dropped unanswered before it
 * costs anything), a reply for every other outcome (an error code and its
 * generic message on failure, never a stack or payload; `unavailable` with a
 * retry hint when the vault is at capacity), a latency observation, and a log
 * line that names only the operation and the error class.
 */
import type { Bus, Subscription } from '@ephemeral-chat/bus'
import {
  DEFAULT_REQUEST_TIMEOUT_MS, encodeBytes, errorMessage, MAX_BUS_PAYLOAD_BYTES, PROTOCOL_VERSION, VAULT_OPERATIONS, VAULT_QUEUE_GROUP,
  type Codec, type ErrorCode, type VaultOperation, type VaultRequest, type VaultSuccess
} from '@ephemeral-chat/protocol'
import type { ServiceMetrics, Warner } from '@ephemeral-chat/service-kit'
import { Expired, Overloaded } from '../batch.js'
import type { Result } from '@ephemeral-chat/protocol'

export interface HandlerContext {
  bus: Bus
  metrics: ServiceMetrics
  /** Limited: an outage fails every request, and each would otherwise write a line. */
  logger: Warner
}

function failed (code: ErrorCode, retryAfterMs?: number): Uint8Array {
  return encodeBytes({ v: PROTOCOL_VERSION, ok: false, code, message: errorMessage(code), ...(retryAfterMs === undefined ? {} : { retryAfterMs }) })
}

/** Serves one operation of the protocol's table (its subject, request and reply schemas). */
export function serve<O extends VaultOperation, Value> (
  context: HandlerContext,
  operation: O,
  handle: (request: VaultRequest<O>, deadline: number) => Promise<Result<Value>>,
  toReply: (value: Value) => VaultSuccess<O>
): Subscription {
  const { subject, request: codec } = VAULT_OPERATIONS[operation] as unknown as { subject: string, request: Codec<VaultRequest<O>> }
  return context.bus.serve(subject, VAULT_QUEUE_GROUP, async (data) => {
    const started = performance.now()
    let outcome: string
    let reply: Uint8Array | undefined
    try {
      const decoded = codec.decode(data, MAX_BUS_PAYLOAD_BYTES)
      if (!decoded.ok) {
        outcome = decoded.code
        reply = failed(decoded.code)
      } else {
        const now = Date.now()
        // Clocks of gateways and vaults agree (NTP); a deadline far ahead is held to the longest wait anyone allows.
        const requested = (decoded.value as { deadline?: number }).deadline
        const deadline = Math.min(requested ?? now + DEFAULT_REQUEST_TIMEOUT_MS, now + 60_000)
        if (deadline <= now) throw new Expired()
        const result = await handle(decoded.value, deadline)
        outcome = result.ok ? 'ok' : result.code
        reply = result.ok ? encodeBytes({ v: PROTOCOL_VERSION, ok: true, ...toReply(result.value) }) : failed(result.code, result.retryAfterMs)
      }
    } catch (error) {
      if (error instanceof Expired) {
        outcome = 'expired'
        reply = undefined
      } else if (error instanceof Overloaded) {
        outcome = 'overloaded'
        reply = failed('unavailable', error.retryAfterMs)
      } else {
        outcome = 'internal'
        context.logger.warn({ operation, error: error instanceof Error ? error.name : 'unknown' }, 'vault operation failed')
        reply = failed('internal')
      }
    }
    context.metrics.observe(operation, outcome, (performance.now() - started) / 1000)
    return reply
  })
}
