/**
 * NATS subjects. Tokens that vary (room hashes) are checked against their exact
 * shape before a subject is built, so no wildcard, dot or space can reach NATS.
 */
import { PATTERNS } from './fields.js'

export const VAULT_QUEUE_GROUP = 'vault'

/** Request subjects served by the vault, `<domain>.v1.<entity>.<verb>`. */
export const VAULT_SUBJECTS = {
  roomJoin: 'vault.v1.room.join',
  roomLeave: 'vault.v1.room.leave',
  messageStore: 'vault.v1.message.store',
  messageFetch: 'vault.v1.message.fetch',
  messageAck: 'vault.v1.message.ack',
  gatewayHeartbeat: 'vault.v1.gateway.heartbeat',
  gatewaySync: 'vault.v1.gateway.sync',
  groupCommit: 'vault.v1.group.commit',
  groupState: 'vault.v1.group.state',
  groupSend: 'vault.v1.group.send',
  groupRead: 'vault.v1.group.read'
} as const
export type VaultSubject = (typeof VAULT_SUBJECTS)[keyof typeof VAULT_SUBJECTS]

export class SubjectTokenError extends Error {
  constructor (what: string) {
    // The offending value is deliberately left out: it may be an identifier.
    super(`refused to build a subject: ${what} is not of the expected shape`)
    this.name = 'SubjectTokenError'
  }
}

const ROOM_HASH = new RegExp(PATTERNS.roomHash)

/** `room.<hash>.events`: every gateway with a local member of the room subscribes to it. */
export function roomEventsSubject (roomHash: string): string {
  if (!ROOM_HASH.test(roomHash)) throw new SubjectTokenError('room hash')
  return `room.${roomHash}.events`
}

/** The room hash inside a `room.<hash>.events` subject, or undefined for any other subject. */
export function roomHashOfSubject (subject: string): string | undefined {
  const parts = subject.split('.')
  if (parts.length !== 3 || parts[0] !== 'room' || parts[2] !== 'events') return undefined
  const hash = parts[1]
  return hash !== undefined && ROOM_HASH.test(hash) ? hash : undefined
}
