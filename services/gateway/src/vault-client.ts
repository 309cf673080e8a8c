/**
 * Typed requests from the gateway to the vault, one method per operation of the protocol's
 * table (VAULT_OPERATIONS). Every failure becomes a protocol error code: bus failures (no
 * vault, timeout, closing) are `unavailable`.
 */
import { BusError, type Bus } from '@ephemeral-chat/bus'
import {
  encodeBytes, PROTOCOL_VERSION, VAULT_OPERATIONS, failure, success, type ErrorCode, type Result, type VaultOperation, type VaultRequestBody, type VaultSuccess, type VaultVerb
} from '@ephemeral-chat/protocol'
import type { ServiceMetrics } from '@ephemeral-chat/service-kit'

export type VaultClient = {
  [O in VaultOperation as VaultVerb<O>]: (body: VaultRequestBody<O>) => Promise<Result<VaultSuccess<O>>>
}

export function createVaultClient (bus: Bus, metrics: ServiceMetrics, timeoutMs: number): VaultClient {
  async function call<O extends VaultOperation> (operation: O, body: VaultRequestBody<O>): Promise<Result<VaultSuccess<O>>> {
    const { subject, reply } = VAULT_OPERATIONS[operation]
    const started = process.hrtime.bigint()
    let result: Result<VaultSuccess<O>>
    try {
      // The deadline travels with the request: a vault that gets to it later drops it unanswered.
      const bytes = await bus.request(subject, encodeBytes({ v: PROTOCOL_VERSION, deadline: Date.now() + timeoutMs, ...body }), { timeoutMs })
      const decoded = reply.decode(bytes)
      if (!decoded.ok) {
        result = { ok: false, code: 'internal' }
      } else {
        const answer = decoded.value as { v: number, ok: true } | { v: number, ok: false, code: ErrorCode, retryAfterMs?: number }
        if (answer.ok) {
          const { v: _v, ok: _ok, ...value } = answer
          result = success(value as unknown as VaultSuccess<O>)
        } else {
          result = failure(answer.code, answer.retryAfterMs)
        }
      }
    } catch (error) {
      result = { ok: false, code: error instanceof BusError ? 'unavailable' : 'internal' }
    }
    metrics.observe(`vault.${operation}`, result.ok ? 'ok' : result.code, Number(process.hrtime.bigint() - started) / 1e9)
    return result
  }
  const client: Record<string, (body: never) => Promise<unknown>> = {}
  for (const operation of Object.keys(VAULT_OPERATIONS) as VaultOperation[]) {
    client[operation.slice(operation.indexOf('.') + 1)] = async (body: never) => call(operation, body)
  }
  return client as unknown as VaultClient
}
