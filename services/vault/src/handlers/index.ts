/** The vault's NATS API: one handler per `vault.v1.*` subject, in queue group `vault`. */
import type { Subscription } from '@ephemeral-chat/bus'
import { codecs, VAULT_SUBJECTS } from '@ephemeral-chat/protocol'
import type { Kysely } from 'kysely'
import type { AtRestCipher } from '../at-rest.js'
import type { Database } from '../db/schema.js'
import { publishRoomEvent } from '../events.js'
import { ackMessage, fetchMessage, storeMessage } from '../queries/messages.js'
import { success } from '../queries/result.js'
import { joinRoom, leaveRoom, touchGateway } from '../queries/rooms.js'
import { serve, type HandlerContext } from './serve.js'

export interface VaultHandlerDeps extends HandlerContext {
  db: Kysely<Database>
  cipher: AtRestCipher
  messageTtlMs: number
}

export function registerVaultHandlers (deps: VaultHandlerDeps): Subscription[] {
  const { bus, db, cipher } = deps
  return [
    serve(deps, 'room.join', VAULT_SUBJECTS.roomJoin, codecs.roomJoinRequest, async (request) => {
      const result = await joinRoom(db, request.roomHash, request.memberId, request.gatewayId)
      if (result.ok) publishRoomEvent(bus, request.roomHash, { type: 'presence', members: result.value.members })
      return result
    }, (joined) => joined),

    serve(deps, 'room.leave', VAULT_SUBJECTS.roomLeave, codecs.roomLeaveRequest, async (request) => {
      const result = await leaveRoom(db, request.roomHash, request.memberId, request.gatewayId, request.mode)
      if (result.ok) {
        for (const id of result.value.gone) publishRoomEvent(bus, request.roomHash, { type: 'gone', id, reason: 'left' })
        publishRoomEvent(bus, request.roomHash, { type: 'presence', members: result.value.members })
      }
      return result
    }, (left) => ({ members: left.members })),

    serve(deps, 'message.store', VAULT_SUBJECTS.messageStore, codecs.messageStoreRequest,
      async (request) => storeMessage(db, cipher, deps.messageTtlMs, request),
      (stored) => stored),

    serve(deps, 'message.fetch', VAULT_SUBJECTS.messageFetch, codecs.messageFetchRequest,
      async (request) => fetchMessage(db, cipher, request),
      (fetched) => fetched),

    serve(deps, 'message.ack', VAULT_SUBJECTS.messageAck, codecs.messageAckRequest, async (request) => {
      const result = await ackMessage(db, request)
      if (result.ok && result.value.changed) {
        publishRoomEvent(bus, request.roomHash, { type: 'viewed', id: request.id, to: result.value.sender, remaining: result.value.remaining })
        if (result.value.gone) publishRoomEvent(bus, request.roomHash, { type: 'gone', id: request.id, reason: 'viewed' })
      }
      return result
    }, (acked) => ({ remaining: acked.remaining, gone: acked.gone })),

    serve(deps, 'gateway.heartbeat', VAULT_SUBJECTS.gatewayHeartbeat, codecs.gatewayHeartbeatRequest, async (request) => {
      await touchGateway(db, request.gatewayId)
      return success({})
    }, () => ({}))
  ]
}
