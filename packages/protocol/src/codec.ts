/**
 * Compiled validators and the JSON codec used on both wires. Decoding never
 * throws: it returns the value or the error code to answer with.
 */
import type { Static, TSchema } from 'typebox'
import Compile, { type Validator } from 'typebox/compile'
import type { ErrorCode } from './errors.js'
import type { Result } from './result.js'
import { CLIENT_FRAME_TYPES, ClientFrame, ServerFrame } from './frames.js'
import { PROTOCOL_VERSION } from './limits.js'
import {
  GatewayHeartbeatReply, GatewayHeartbeatRequest, GatewaySyncReply, GatewaySyncRequest, GroupCommitReply, GroupCommitRequest, GroupReadReply, GroupReadRequest, GroupSendReply, GroupSendRequest, GroupStateReply, GroupStateRequest, MessageAckReply, MessageAckRequest, MessageFetchReply,
  MessageFetchRequest, MessageStoreReply, MessageStoreRequest, RoomEvent, RoomJoinReply, RoomJoinRequest,
  RoomLeaveReply, RoomLeaveRequest
} from './vault-api.js'

const encoder = new TextEncoder()
const decoder = new TextDecoder('utf-8', { fatal: true })

/** A compiled schema: `check` for values, `decode` for raw JSON text or bytes. */
export interface Codec<T> {
  readonly schema: TSchema
  check (value: unknown): value is T
  /** Parses and validates; `maxBytes` bounds the input before any parsing. */
    decode (input: string | Uint8Array, maxBytes?: number): Result<T>
}

function parse (input: string | Uint8Array, maxBytes: number): Result<unknown> {
  const bytes = typeof input === 'string' ? input.length : input.byteLength
  // A string's UTF-16 length is a lower bound of its UTF-8 size; byte-exact limits are enforced by the transports (ws maxPayload, bus payload size).
  if (bytes > maxBytes) return { ok: false, code: 'too-large' }
  try {
    const text = typeof input === 'string' ? input : decoder.decode(input)
    return { ok: true, value: JSON.parse(text) as unknown }
  } catch {
    return { ok: false, code: 'bad-frame' }
  }
}

/** Maps a parsed value that failed its schema to the most useful code: version first, then type. */
function classify (value: unknown, knownTypes?: readonly string[]): ErrorCode {
  if (typeof value !== 'object' || value === null || Array.isArray(value)) return 'bad-frame'
  const record = value as Record<string, unknown>
  if ('v' in record && record.v !== PROTOCOL_VERSION) return 'unsupported-version'
  if (knownTypes !== undefined && typeof record.type === 'string' && !knownTypes.includes(record.type)) return 'unknown-type'
  return 'bad-frame'
}

export function codec<T extends TSchema> (schema: T, knownTypes?: readonly string[]): Codec<Static<T>> {
  const validator: Validator = Compile(schema)
  return {
    schema,
    check: (value: unknown): value is Static<T> => validator.Check(value),
    decode (input, maxBytes = Number.POSITIVE_INFINITY) {
      const parsed = parse(input, maxBytes)
      if (!parsed.ok) return parsed
      if (validator.Check(parsed.value)) return { ok: true, value: parsed.value as Static<T> }
      return { ok: false, code: classify(parsed.value, knownTypes) }
    }
  }
}

/** JSON text of a frame or event. */
export function encodeJson (value: unknown): string {
  return JSON.stringify(value)
}

/** UTF-8 JSON bytes for the bus. */
export function encodeBytes (value: unknown): Uint8Array {
  return encoder.encode(JSON.stringify(value))
}

/** Validators for every message of the protocol. */
export const codecs = {
  clientFrame: codec(ClientFrame, CLIENT_FRAME_TYPES),
  serverFrame: codec(ServerFrame),
  roomJoinRequest: codec(RoomJoinRequest),
  roomJoinReply: codec(RoomJoinReply),
  roomLeaveRequest: codec(RoomLeaveRequest),
  roomLeaveReply: codec(RoomLeaveReply),
  messageStoreRequest: codec(MessageStoreRequest),
  messageStoreReply: codec(MessageStoreReply),
  messageFetchRequest: codec(MessageFetchRequest),
  messageFetchReply: codec(MessageFetchReply),
  messageAckRequest: codec(MessageAckRequest),
  messageAckReply: codec(MessageAckReply),
  gatewayHeartbeatRequest: codec(GatewayHeartbeatRequest),
  gatewayHeartbeatReply: codec(GatewayHeartbeatReply),
  gatewaySyncRequest: codec(GatewaySyncRequest),
  gatewaySyncReply: codec(GatewaySyncReply),
  groupCommitRequest: codec(GroupCommitRequest),
  groupCommitReply: codec(GroupCommitReply),
  groupStateRequest: codec(GroupStateRequest),
  groupStateReply: codec(GroupStateReply),
  groupSendRequest: codec(GroupSendRequest),
  groupSendReply: codec(GroupSendReply),
  groupReadRequest: codec(GroupReadRequest),
  groupReadReply: codec(GroupReadReply),
  roomEvent: codec(RoomEvent)
} as const
