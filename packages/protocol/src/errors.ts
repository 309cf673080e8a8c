/**
 * The closed set of error codes a client can receive (in `error` frames) and a
 * gateway can receive from the vault (in failed replies). Messages that go with
 * them are generic: never a stack, an identifier or a payload.
 */
export const ERROR_CODES = [
  /** The frame is not JSON, or does not match its schema. */
  'bad-frame',
  /** The frame's `v` is not a version this server speaks. */
  'unsupported-version',
  /** The frame's `type` is not one the server knows. */
  'unknown-type',
  /** The connection exceeded one of its rates; the frame was dropped. */
  'rate-limited',
  /** The frame needs a joined room and the connection has none. */
  'not-joined',
  /** The connection already joined a room (one room per connection). */
  'already-joined',
  /** The room holds MAX_MEMBERS_PER_ROOM members. */
  'room-full',
  /** The room holds MAX_PENDING_MESSAGES_PER_ROOM messages; try again after some are viewed. */
  'room-busy',
  /** The envelope is larger than MAX_ENVELOPE_BYTES or not of a padding bucket's size. */
  'too-large',
  /** A message id was reused for different content, room or sender. */
  'conflict',
  /** No such message in this room. */
  'not-found',
  /** The message exists, but this member is not one of its recipients. */
  'not-recipient',
  /** The message was already viewed by this member, or has been deleted. */
  'already-gone',
  /** v2: the request names an epoch the room's group has left (or a group it does not have); sync, then try again. */
  'stale-epoch',
  /** v2: nobody else is in the room's group: the message waits on the sender's device until someone joins. */
  'alone',
  /** The request is for another protocol version than the room's (a v1 message in a v2 room or the reverse, or a v2 group created in a room that holds v1 messages). */
  'protocol-mismatch',
  /** The vault did not answer (down, overloaded or timed out); retrying later is safe. */
  'unavailable',
  /** An unexpected failure; nothing internal is disclosed. */
  'internal'
] as const

export type ErrorCode = (typeof ERROR_CODES)[number]

const GENERIC_MESSAGES: Record<ErrorCode, string> = {
  'bad-frame': 'The frame is malformed or does not match the protocol.',
  'unsupported-version': 'This protocol version is not supported.',
  'unknown-type': 'Unknown frame type.',
  'rate-limited': 'Too many requests; slow down.',
  'not-joined': 'Join a room first.',
  'already-joined': 'This connection already joined a room.',
  'room-full': 'The room is full.',
  'room-busy': 'The room has too many unread messages; try again later.',
  'too-large': 'The message is too large.',
  conflict: 'This message id is already used for another message.',
  'not-found': 'No such message.',
  'not-recipient': 'This message is not addressed to you.',
  'already-gone': 'This message was already viewed or has been deleted.',
  'stale-epoch': 'The group has moved to another epoch; catch up and try again.',
  alone: 'Nobody else is in the group yet; the message waits until someone joins.',
  'protocol-mismatch': 'This room uses another protocol version.',
  unavailable: 'The service is unavailable; try again shortly.',
  internal: 'Internal error.'
}

/** The fixed, identifier-free message that accompanies a code. */
export function errorMessage (code: ErrorCode): string {
  return GENERIC_MESSAGES[code]
}

export function isErrorCode (value: unknown): value is ErrorCode {
  return typeof value === 'string' && (ERROR_CODES as readonly string[]).includes(value)
}
