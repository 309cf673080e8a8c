/**
 * The vault's operations, written once: name (as in metrics), subject, request and reply
 * codecs. The gateway's client, the vault's registration and the tests' client are all
 * made from this table, so none of them can pair a subject with the wrong schema.
 */
import { codecs, type Codec } from './codec.js'
import { VAULT_SUBJECTS } from './subjects.js'

export const VAULT_OPERATIONS = {
  'room.join': { subject: VAULT_SUBJECTS.roomJoin, request: codecs.roomJoinRequest, reply: codecs.roomJoinReply },
  'room.leave': { subject: VAULT_SUBJECTS.roomLeave, request: codecs.roomLeaveRequest, reply: codecs.roomLeaveReply },
  'message.store': { subject: VAULT_SUBJECTS.messageStore, request: codecs.messageStoreRequest, reply: codecs.messageStoreReply },
  'message.fetch': { subject: VAULT_SUBJECTS.messageFetch, request: codecs.messageFetchRequest, reply: codecs.messageFetchReply },
  'message.ack': { subject: VAULT_SUBJECTS.messageAck, request: codecs.messageAckRequest, reply: codecs.messageAckReply },
  'gateway.heartbeat': { subject: VAULT_SUBJECTS.gatewayHeartbeat, request: codecs.gatewayHeartbeatRequest, reply: codecs.gatewayHeartbeatReply },
  'gateway.sync': { subject: VAULT_SUBJECTS.gatewaySync, request: codecs.gatewaySyncRequest, reply: codecs.gatewaySyncReply },
  'group.commit': { subject: VAULT_SUBJECTS.groupCommit, request: codecs.groupCommitRequest, reply: codecs.groupCommitReply },
  'group.state': { subject: VAULT_SUBJECTS.groupState, request: codecs.groupStateRequest, reply: codecs.groupStateReply },
  'group.send': { subject: VAULT_SUBJECTS.groupSend, request: codecs.groupSendRequest, reply: codecs.groupSendReply },
  'group.read': { subject: VAULT_SUBJECTS.groupRead, request: codecs.groupReadRequest, reply: codecs.groupReadReply }
} as const

export type VaultOperation = keyof typeof VAULT_OPERATIONS
export type VaultRequest<O extends VaultOperation> = (typeof VAULT_OPERATIONS)[O]['request'] extends Codec<infer R> ? R : never
export type VaultReply<O extends VaultOperation> = (typeof VAULT_OPERATIONS)[O]['reply'] extends Codec<infer R> ? R : never
/** What a caller fills in: the request without its version and deadline (the client adds them). */
export type VaultRequestBody<O extends VaultOperation> = Omit<VaultRequest<O>, 'v' | 'deadline'>
/** A successful reply without its version and `ok`. */
export type VaultSuccess<O extends VaultOperation> = Omit<Extract<VaultReply<O>, { ok: true }>, 'v' | 'ok'>
/** The verb of an operation (`room.join` → `join`): the method name of the clients made from the table. */
export type VaultVerb<O extends VaultOperation> = O extends `${string}.${infer V}` ? V : never
