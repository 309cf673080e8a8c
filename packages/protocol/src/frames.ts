/**
 * WebSocket frames between a client and a gateway (JSON text frames). Every frame
 * carries the protocol version `v` and a `type` discriminator.
 */
import Type from 'typebox'
import { ERROR_CODES } from './errors.js'
import { Bucket, Card, Ciphertext, Count, GoneReason, Iv, MemberId, MemberSecret, MessageId, Ref, RetryAfter, RoomId, Timestamp, Version } from './fields.js'
import { MAX_PENDING_CARDS_PER_JOIN } from './limits.js'

const closed = { additionalProperties: false } as const
const ref = Type.Optional(Ref)

// ── client → gateway ────────────────────────────────────────────────────────

/** Enter a room. The gateway turns roomId into its hash and memberSecret into the member id, then forgets both. */
export const JoinFrame = Type.Object({ v: Version, type: Type.Literal('join'), ref, roomId: RoomId, memberSecret: MemberSecret }, closed)
/** Store a sealed envelope for the other members; answered by `sent` once the vault has it. Resending the same id is safe. */
export const SendFrame = Type.Object({ v: Version, type: Type.Literal('send'), ref, id: MessageId, iv: Iv, ct: Ciphertext }, closed)
/** Ask for the envelope of a card addressed to this member; answered by `payload`. */
export const RevealFrame = Type.Object({ v: Version, type: Type.Literal('reveal'), ref, id: MessageId }, closed)
/** Confirm the text was displayed; the vault forgets this recipient (and the message with its last one). */
export const ViewedFrame = Type.Object({ v: Version, type: Type.Literal('viewed'), ref, id: MessageId }, closed)
/** Typing started (`active`) or stopped. */
export const TypingFrame = Type.Object({ v: Version, type: Type.Literal('typing'), active: Type.Boolean() }, closed)
/** Leave the room for good: this member's pending messages are dropped. */
export const LeaveFrame = Type.Object({ v: Version, type: Type.Literal('leave'), ref }, closed)
/** Application-level keep-alive; answered by `pong`. */
export const PingFrame = Type.Object({ v: Version, type: Type.Literal('ping'), ref }, closed)

export const ClientFrame = Type.Union([JoinFrame, SendFrame, RevealFrame, ViewedFrame, TypingFrame, LeaveFrame, PingFrame])
export type ClientFrame = Type.Static<typeof ClientFrame>
export type ClientFrameType = ClientFrame['type']
export const CLIENT_FRAME_TYPES = ['join', 'send', 'reveal', 'viewed', 'typing', 'leave', 'ping'] as const satisfies readonly ClientFrameType[]

// ── gateway → client ────────────────────────────────────────────────────────

/** The join succeeded: this member's id, how many members are present, and the cards waiting for it. */
export const JoinedFrame = Type.Object({
  v: Version, type: Type.Literal('joined'), ref, memberId: MemberId, members: Count,
  pending: Type.Array(Card, { maxItems: MAX_PENDING_CARDS_PER_JOIN })
}, closed)
/**
 * The vault stored the sender's message; `recipients` is 0 when it waits for the next member to join.
 * `gone`: a resend of a message stored earlier and already deleted since (it is not stored again).
 */
export const SentFrame = Type.Object({ v: Version, type: Type.Literal('sent'), ref, id: MessageId, recipients: Count, expiresAt: Timestamp, gone: Type.Optional(GoneReason) }, closed)
/** A message card for this member: no text, only who, size class and expiry. */
export const MessageFrame = Type.Object({ v: Version, type: Type.Literal('message'), id: MessageId, from: MemberId, bucket: Bucket, expiresAt: Timestamp }, closed)
/** The envelope of a revealed message, still end-to-end encrypted. */
export const PayloadFrame = Type.Object({ v: Version, type: Type.Literal('payload'), ref, id: MessageId, iv: Iv, ct: Ciphertext }, closed)
/** A recipient viewed the sender's message; `remaining` recipients have not yet. */
export const ViewedReceiptFrame = Type.Object({ v: Version, type: Type.Literal('viewed'), ref, id: MessageId, remaining: Count }, closed)
/** The message no longer exists: viewed by everyone, expired, or its recipients left. */
export const GoneFrame = Type.Object({
  v: Version, type: Type.Literal('gone'), id: MessageId,
  reason: GoneReason
}, closed)
/** Another member started or stopped typing. */
export const TypingNoticeFrame = Type.Object({ v: Version, type: Type.Literal('typing'), from: MemberId, active: Type.Boolean() }, closed)
/** How many members are connected to the room now. */
export const PresenceFrame = Type.Object({ v: Version, type: Type.Literal('presence'), members: Count }, closed)
/** The member left: the answer to `leave`. */
export const LeftFrame = Type.Object({ v: Version, type: Type.Literal('left'), ref }, closed)
export const PongFrame = Type.Object({ v: Version, type: Type.Literal('pong'), ref }, closed)
/**
 * A request failed; `ref` and `id` say which, `message` is generic. The connection stays open.
 * With `unavailable`, `retryAfterMs` says when trying again is worthwhile.
 */
export const ErrorFrame = Type.Object({
  v: Version, type: Type.Literal('error'), ref, id: Type.Optional(MessageId),
  code: Type.Enum(ERROR_CODES),
  message: Type.String({ maxLength: 200 }),
  retryAfterMs: Type.Optional(RetryAfter)
}, closed)

export const ServerFrame = Type.Union([
  JoinedFrame, SentFrame, MessageFrame, PayloadFrame, ViewedReceiptFrame, GoneFrame,
  TypingNoticeFrame, PresenceFrame, LeftFrame, PongFrame, ErrorFrame
])
export type ServerFrame = Type.Static<typeof ServerFrame>
export type ServerFrameType = ServerFrame['type']

export type JoinFrame = Type.Static<typeof JoinFrame>
export type SendFrame = Type.Static<typeof SendFrame>
export type RevealFrame = Type.Static<typeof RevealFrame>
export type ViewedFrame = Type.Static<typeof ViewedFrame>
export type TypingFrame = Type.Static<typeof TypingFrame>
export type LeaveFrame = Type.Static<typeof LeaveFrame>
export type PingFrame = Type.Static<typeof PingFrame>
export type JoinedFrame = Type.Static<typeof JoinedFrame>
export type SentFrame = Type.Static<typeof SentFrame>
export type MessageFrame = Type.Static<typeof MessageFrame>
export type PayloadFrame = Type.Static<typeof PayloadFrame>
export type ViewedReceiptFrame = Type.Static<typeof ViewedReceiptFrame>
export type GoneFrame = Type.Static<typeof GoneFrame>
export type TypingNoticeFrame = Type.Static<typeof TypingNoticeFrame>
export type PresenceFrame = Type.Static<typeof PresenceFrame>
export type ErrorFrame = Type.Static<typeof ErrorFrame>
