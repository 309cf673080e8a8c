/**
 * Typed requests from the gateway to the vault. Every failure becomes a protocol
 * error code: bus failures (no vault, timeout, closing) are `unavailable`.
 */
import { BusError, type Bus } from '@ephemeral-chat/bus'
import {
  codecs, encodeBytes, PROTOCOL_VERSION, VAULT_SUBJECTS, type Codec, type ErrorCode, type GatewayHeartbeatRequest, type GatewaySyncRequest,
  type MessageAckRequest, type MessageFetchRequest, type MessageStoreRequest, type RoomJoinRequest, type RoomLeaveRequest
} from '@ephemeral-chat/protocol'
import type { ServiceMetrics } from '@ephemeral-chat/service-kit'

export type VaultResult<T> = ({ ok: true } & T) | { ok: false, code: ErrorCode, retryAfterMs?: number }

type Body<T> = Omit<T, 'v' | 'deadline'>
type Success<R> = Omit<Extract<R, { ok: true }>, 'v' | 'ok'>

export interface VaultClient {
  join (body: Body<RoomJoinRequest>): Promise<VaultResult<Success<typeof codecs.roomJoinReply extends Codec<infer R> ? R : never>>>
  leave (body: Body<RoomLeaveRequest>): Promise<VaultResult<Success<typeof codecs.roomLeaveReply extends Codec<infer R> ? R : never>>>
  store (body: Body<MessageStoreRequest>): Promise<VaultResult<Success<typeof codecs.messageStoreReply extends Codec<infer R> ? R : never>>>
  fetch (body: Body<MessageFetchRequest>): Promise<VaultResult<Success<typeof codecs.messageFetchReply extends Codec<infer R> ? R : never>>>
  ack (body: Body<MessageAckRequest>): Promise<VaultResult<Success<typeof codecs.messageAckReply extends Codec<infer R> ? R : never>>>
  heartbeat (body: Body<GatewayHeartbeatRequest>): Promise<VaultResult<{ resync: boolean }>>
  sync (body: Body<GatewaySyncRequest>): Promise<VaultResult<object>>
}

export function createVaultClient (bus: Bus, metrics: ServiceMetrics, timeoutMs: number): VaultClient {
  async function call<R extends { ok: boolean }> (operation: string, subject: string, body: object, codec: Codec<R>): Promise<VaultResult<Success<R>>> {
    const started = process.hrtime.bigint()
    let result: VaultResult<Success<R>>
    try {
      // The deadline travels with the request: a vault that gets to it later drops it unanswered.
      const bytes = await bus.request(subject, encodeBytes({ v: PROTOCOL_VERSION, deadline: Date.now() + timeoutMs, ...body }), { timeoutMs })
      const decoded = codec.decode(bytes)
      if (!decoded.ok) {
        result = { ok: false, code: 'internal' }
      } else {
        const { v: _v, ...rest } = decoded.value as R & { v: number }
        result = rest as unknown as VaultResult<Success<R>>
      }
    } catch (error) {
      result = { ok: false, code: error instanceof BusError ? 'unavailable' : 'internal' }
    }
    metrics.observe(`vault.${operation}`, result.ok ? 'ok' : result.code, Number(process.hrtime.bigint() - started) / 1e9)
    return result
  }
  return {
    join: async (body) => call('room.join', VAULT_SUBJECTS.roomJoin, body, codecs.roomJoinReply),
    leave: async (body) => call('room.leave', VAULT_SUBJECTS.roomLeave, body, codecs.roomLeaveReply),
    store: async (body) => call('message.store', VAULT_SUBJECTS.messageStore, body, codecs.messageStoreReply),
    fetch: async (body) => call('message.fetch', VAULT_SUBJECTS.messageFetch, body, codecs.messageFetchReply),
    ack: async (body) => call('message.ack', VAULT_SUBJECTS.messageAck, body, codecs.messageAckReply),
    heartbeat: async (body) => call('gateway.heartbeat', VAULT_SUBJECTS.gatewayHeartbeat, body, codecs.gatewayHeartbeatReply),
    sync: async (body) => call('gateway.sync', VAULT_SUBJECTS.gatewaySync, body, codecs.gatewaySyncReply)
  }
}
