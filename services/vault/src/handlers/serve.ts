/**
 * Wraps every vault handler the same way: bounded input, schema validation, a
 * reply for every outcome (an error code and its generic message on failure,
 * never a stack or payload), a latency observation, and a log line that names
 * only the operation and the error class.
 */
import type { Bus, Subscription } from '@ephemeral-chat/bus'
import { encodeBytes, errorMessage, MAX_BUS_PAYLOAD_BYTES, PROTOCOL_VERSION, VAULT_QUEUE_GROUP, type Codec, type ErrorCode } from '@ephemeral-chat/protocol'
import type { ServiceMetrics } from '@ephemeral-chat/service-kit'
import type { FastifyBaseLogger } from 'fastify'
import type { Outcome } from '../queries/result.js'

export interface HandlerContext {
  bus: Bus
  metrics: ServiceMetrics
  logger: FastifyBaseLogger
}

function failed (code: ErrorCode): Uint8Array {
  return encodeBytes({ v: PROTOCOL_VERSION, ok: false, code, message: errorMessage(code) })
}

export function serve<Request, Value> (
  context: HandlerContext,
  operation: string,
  subject: string,
  codec: Codec<Request>,
  handle: (request: Request) => Promise<Outcome<Value>>,
  toReply: (value: Value) => object
): Subscription {
  return context.bus.serve(subject, VAULT_QUEUE_GROUP, async (data) => {
    const started = process.hrtime.bigint()
    let outcome: string
    let reply: Uint8Array
    try {
      const decoded = codec.decode(data, MAX_BUS_PAYLOAD_BYTES)
      if (!decoded.ok) {
        outcome = decoded.code
        reply = failed(decoded.code)
      } else {
        const result = await handle(decoded.value)
        outcome = result.ok ? 'ok' : result.code
        reply = result.ok ? encodeBytes({ v: PROTOCOL_VERSION, ok: true, ...toReply(result.value) }) : failed(result.code)
      }
    } catch (error) {
      outcome = 'internal'
      context.logger.warn({ operation, error: error instanceof Error ? error.name : 'unknown' }, 'vault operation failed')
      reply = failed('internal')
    }
    context.metrics.observe(operation, outcome, Number(process.hrtime.bigint() - started) / 1e9)
    return reply
  })
}
